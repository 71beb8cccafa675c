"""Display names for the registry's stored words (statuses, tiers, regions, roles).

The database keeps stable English words; pages show them in the reader's
language through ``label(value)``. Words not listed here are shown as stored.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    # site / partner / agreement statuses
    "onboarding": _l("onboarding"),
    "active": _l("active"),
    "suspended": _l("suspended"),
    "terminated": _l("terminated"),
    "prospect": _l("prospect"),
    "on_notice": _l("on notice"),
    "draft": _l("draft"),
    "expired": _l("expired"),
    # tiers
    "flagship": _l("flagship"),
    "standard": _l("standard"),
    "lite": _l("lite"),
    # regions
    "east": _l("East China"),
    "north": _l("North China"),
    "south": _l("South China"),
    "west": _l("West China"),
    # roles
    "hq_admin": _l("HQ administrator"),
    "hq_manager": _l("HQ manager"),
    "hq_finance": _l("HQ finance"),
    "hq_viewer": _l("HQ viewer"),
    "franchisee_admin": _l("partner administrator"),
    "franchisee_staff": _l("partner staff"),
    # a partner's standing (brand_hub.standing)
    "termination_review": _l("termination review"),
}


def label(value) -> str:
    """The reader's word for a stored value (enum members and plain strings alike)."""
    key = getattr(value, "value", value)
    return str(LABELS.get(key, key if key not in (None, "") else "—"))
