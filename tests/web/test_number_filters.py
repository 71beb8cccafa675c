"""The ``number`` and ``percent`` filters parse their pattern once (issue 10, speed: a page prints hundreds of
figures); what they print is Flask-Babel's ``format_decimal`` / ``format_percent``, character for character."""
from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from flask_babel import Babel, format_decimal, format_percent

from brand_hub.web import filters

VALUES = [0, 1, -1, 0.05, 0.15, 2.5, 1234567.891, -0.04999, Decimal("12.345"), Decimal("-1e5"), 1e-9, 99.95, 7,
          Decimal("0.125"), 1 / 3]


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
