"""Words and markup the standards pages use, in HQ and in the portal alike."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

CATEGORIES = {"space": _l("Space"), "service": _l("Service"), "community": _l("Community"),
              "data_privacy": _l("Data and privacy"), "iot": _l("IoT")}


def helpers() -> dict:
    """``category_label(word)`` and ``requirement(text)`` for the HQ and portal pages that show standards."""
    return {"category_label": lambda word: str(CATEGORIES.get(word, word)), "requirement": requirement_html}


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def requirement_html(text: str) -> Markup:
    """A standard's requirement text as HTML: paragraphs per line and **bold**, everything else escaped."""
    lines = [line.strip() for line in str(escape(text)).splitlines() if line.strip()]
    return Markup("".join("<p>" + _BOLD.sub(r"<strong>\1</strong>", line) + "</p>" for line in lines))
