"""The navigation of both front doors: an entry shows once its area registers the endpoint."""
from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..models import Role

# (endpoint, label, roles that see it; None = everyone of that front door)
HQ_NAV = (
    ("dashboard.overview", _l("Overview"), None),
    ("dashboard.partners", _l("Partners"), None),
    ("dashboard.sites", _l("Sites"), None),
    ("collection.agents", _l("Agents"), None),
    ("distribution.standards", _l("Standards"), None),
    ("distribution.configs", _l("Configs"), None),
    ("scores.index", _l("Scores"), None),
    ("compliance.queue", _l("Flags"), None),
    ("billing.index", _l("Billing"), None),
    ("simulator.index", _l("Simulator"), {Role.hq_admin, Role.hq_finance}),
    ("renewals.index", _l("Renewals"), None),
    ("dashboard.users", _l("Users"), {Role.hq_admin}),
    ("dashboard.audit", _l("Audit log"), {Role.hq_admin, Role.hq_manager}),
)
PORTAL_NAV = (
    ("portal.home", _l("My company"), None),
    ("portal.sites", _l("My sites"), None),
    ("portal.agreements", _l("Agreements"), None),
    ("portal.agents", _l("Data feeds"), None),
    ("portal.standards", _l("Standards"), None),
    ("portal.configs", _l("Configs"), None),
    ("portal.scores", _l("Scorecards"), None),
    ("portal.flags", _l("Flags"), None),
    ("portal.revenue", _l("Revenue reports"), None),
    ("portal.invoices", _l("Invoices"), None),
    ("portal.team", _l("Team"), {Role.franchisee_admin}),
)


def nav_for(user) -> list[tuple[str, object]]:
    """The entries ``user`` may see whose endpoint exists in this app."""
    if not getattr(user, "is_authenticated", False):
        return []
    table = HQ_NAV if user.is_hq else PORTAL_NAV
    role = Role(user.role)
    views = current_app.view_functions
    return [(endpoint, label) for endpoint, label, roles in table
            if endpoint in views and (roles is None or role in roles)
            and role in getattr(views[endpoint], "allowed_roles", {role})]  # e.g. staff see no money pages


__all__ = ["nav_for", "HQ_NAV", "PORTAL_NAV", "current_user"]
