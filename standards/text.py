"""What text the hub refuses to store, wherever it comes from (a form, a CSV row, a YAML file).

NUL and other control characters (but tab, newline, carriage return) break PostgreSQL
or terminals and hide in names; directional overrides and isolates make a name display
as something else. Plain direction marks (U+200E, U+200F) are fine.
"""
from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """Why ``value`` may not be stored as text, or None when it is fine."""
    if max_length is not None and len(value) > max_length:
        return f"longer than {max_length} characters"
    for ch in value:
        if ch in _ALLOWED_CONTROLS:
            continue
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs"):
            return f"contains the control character U+{ord(ch):04X}"
    return None
