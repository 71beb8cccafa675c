"""The money filter's digits are Babel's ``#,##0.00`` to the character (issue 10: written faster)."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale

from brand_hub.web.filters import _AMOUNT, amount_digits

SAMPLES = [Decimal(v) for v in ("0", "0.00", "0.005", "0.015", "0.025", "1", "12.3", "999.995", "1000", "1234.5",
                                "1234.565", "1234.575", "33500.00", "99999999999.99", "1E+3", "5E-3", "0.0049999")]


@pytest.mark.parametrize("locale", ["zh_CN", "en", "en_US", "de_DE", "fr_FR", "hi_IN"])
def test_amount_digits_are_babel_s_to_the_character(locale):
    rng = random.Random(10)
    values = SAMPLES + [Decimal(rng.randrange(10 ** 13)) / Decimal(10 ** rng.randrange(0, 5)) for _ in range(3000)]
    for value in values:
        assert amount_digits(value, locale) == _AMOUNT.apply(value, Locale.parse(locale), decimal_quantization=True)
