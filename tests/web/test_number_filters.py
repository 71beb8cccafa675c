"""The ``number`` and ``percent`` filters parse their pattern once (issue 10, speed: a page prints hundreds of
figures); what they print is Flask-Babel's ``format_decimal`` / ``format_percent``, character for character."""
from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from flask_babel import Babel, format_decimal, format_percent

from brand_hub.web import filters

VALUES = [0, 1, -1, 0.05, 0.15, 2.5, 1234567.891, -0.04999, Decimal("12.345"), Decimal("-1e5"), 1e-9, 99.95, 7,
          Decimal("0.125"), 1 / 3,
          # issue 10 (Python's decimal formatting in place of Babel's pattern): ties, floats whose binary value is
          # below the tie, signed zeros, large and tiny values, exponents, and what is not a finite number
          0.35, 2.675, 0.25, 1.005, -0.0, Decimal("-0.05"), Decimal("-0"), Decimal("1E+3"), Decimal("12345678.9E+2"),
          123456789012.5, 1e21, 5e-324, 999.9999, -999.95, 73.456, float("nan"), float("inf"), float("-inf"),
          Decimal("NaN")]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_filters_print_what_flask_babel_prints(locale):
    app = Flask(__name__)
    app.config["BABEL_DEFAULT_LOCALE"] = locale
    Babel(app)
    with app.test_request_context():
        for value in VALUES:
            for digits in (0, 1, 2, 3):
                assert filters.number(value, digits) == format_decimal(
                    value, format=f"#,##0.{'0' * digits}" if digits else "#,##0")
                assert filters.percent(value, digits) == format_percent(
                    value, format=f"#,##0.{'0' * digits}%" if digits else "#,##0%")
        assert filters.number(None) == filters.percent(None) == "—"
