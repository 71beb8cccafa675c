"""Personal data never leaves the site: comments are scrubbed before they are stored (agent) and again when pulled (hub)."""
from __future__ import annotations

import re

# 18-digit resident ID: 6-digit area, birth date 18/19/20YYMMDD, 3-digit sequence, check digit or X.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                        r"\d{3}[\dXx](?![0-9A-Za-z])")
# Mainland mobile: 1[3-9] and nine more digits, optionally +86 / 0086 and spaces or dashes as 3-4-4.
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

REPLACEMENTS = (
    (_EMAIL, "[email]"),
    (_ID_NUMBER, "[id]"),
    (_MOBILE, "[phone]"),
)


def scrub(text: str | None) -> str:
    """``text`` with e-mail addresses, 18-digit ID numbers and mobile numbers replaced by markers.

    ID numbers go before mobiles so that the digits of an ID are never half taken as a phone.
    """
    if not text:
        return ""
    for pattern, marker in REPLACEMENTS:
        text = pattern.sub(marker, text)
    return text.strip()
