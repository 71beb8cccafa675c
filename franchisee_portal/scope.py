"""The one way the portal reads data: scoped to the signed-in franchisee.

Every portal view fetches through ``owned_select`` / ``get_owned``. A model is
owned through its ``franchisee_id`` column, or through ``site_id`` → Site, or
through ``agreement_id`` → Agreement. An object of another partner is simply
not found (404): the portal never says it exists.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import false
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from brand_hub import tenure
from brand_hub.scope import Scope
from brand_hub.models import Agreement, Franchisee, Site, User
from brand_hub.models.billing import Invoice, InvoiceLine


class ScopeError(Exception):
    """A model the portal does not know how to scope: refuse rather than leak."""


def current_franchisee_id() -> int:
    franchisee_id = getattr(current_user, "franchisee_id", None)
    if not franchisee_id:
        abort(403)
    return franchisee_id


def scope_to(stmt, model, franchisee_id: int):
    """Add the ownership condition for ``model`` to ``stmt``."""
    if model is Franchisee:
        return stmt.where(Franchisee.id == franchisee_id)
    if tenure.is_time_tied(model):  # issue 17: rows of a site and a time belong to who held the site then
        return stmt.where(tenure.held_by(model, franchisee_id))
    if model is InvoiceLine:  # a line is its invoice's (the invoice names the agreement that billed it)
        return stmt.where(InvoiceLine.invoice_id.in_(select(Invoice.id).where(Invoice.franchisee_id == franchisee_id)))
    if hasattr(model, "franchisee_id"):
        return stmt.where(model.franchisee_id == franchisee_id)
    if hasattr(model, "site_id"):
        return stmt.where(model.site_id.in_(select(Site.id).where(Site.franchisee_id == franchisee_id)))
    if hasattr(model, "agreement_id"):
        return stmt.where(model.agreement_id.in_(
            select(Agreement.id).where(Agreement.franchisee_id == franchisee_id)))
    raise ScopeError(f"{model.__name__} has no owner column the portal can scope by")


def owned_select(model) -> SelectOfScalar:
    """``select(model)`` limited to the signed-in partner's rows (and, for staff, their assigned sites')."""
    return staff_scope(scope_to(select(model), model, current_franchisee_id()), model, current_user)


def get_owned(session: Session, model, object_id) -> object:
    """The partner's own object with this id, or 404 (also for another partner's)."""
    primary_key = model.__table__.primary_key.columns.values()[0]
    obj = session.exec(_reachable_select(model).where(primary_key == object_id)).first()
    if obj is None:
        abort(404)
    return obj


def get_owned_by(session: Session, model, **criteria) -> object:
    """Like ``get_owned`` but by other columns, e.g. ``code="SH-01"``."""
    stmt = _reachable_select(model)
    for name, value in criteria.items():
        stmt = stmt.where(getattr(model, name) == value)
    obj = session.exec(stmt).first()
    if obj is None:
        abort(404)
    return obj


# ---------------------------------------------------------------- ownership over time (issue 17)
#
# Lists of "my sites" (``owned_select(Site)``) are the sites the partner holds today.
# A site it held before is still reachable by its own pages (``get_owned`` /
# ``get_owned_by``), for its past only: every row of a site and a time is scoped
# above by ``tenure.held_by`` (the partner's tenures), and the per-site pages ask
# ``site_holding`` which span of the site's life to show.


def held_sites_select() -> SelectOfScalar:
    """The sites the signed-in partner holds today or held before (for pages about its past)."""
    stmt = select(Site).where(Site.id.in_(tenure.sites_ever_held(current_franchisee_id())))
    return staff_scope(stmt, Site, current_user)  # a site manager: only the sites assigned to them


def _reachable_select(model) -> SelectOfScalar:
    return held_sites_select() if model is Site else owned_select(model)


def site_holding(session: Session, site: Site) -> tenure.Holding:
    """The signed-in partner's tenures of ``site`` (``holds_now``: it is the partner's today)."""
    return tenure.holding(session=session, site=site, franchisee_id=current_franchisee_id())


# ---------------------------------------------------------------- partner staff (issue 10)
# A ``franchisee_staff`` user (a site manager) sees only the sites a partner admin
# assigned to them, and none of the money. This narrows what ``scope_to`` already
# limited to the partner; admins pass through unchanged.

MONEY_TABLES = frozenset({"agreement", "invoice", "invoice_line", "invoice_document", "credit_note", "payment",
                          "revenue_report", "billing_run"})


def is_staff(user) -> bool:
    return getattr(getattr(user, "role", None), "value", getattr(user, "role", None)) == "franchisee_staff"


def assigned_site_ids(user):
    """A subquery of the site ids assigned to ``user``."""
    from brand_hub.models.partner_staff import SiteAssignment

    return select(SiteAssignment.site_id).where(SiteAssignment.user_id == user.id)


def staff_scope(stmt, model, user):
    """For staff: only rows of their assigned sites, none of the money, themselves among the users."""
    if not is_staff(user):
        return stmt
    table = getattr(model, "__tablename__", "")
    if table in MONEY_TABLES:
        return stmt.where(false())
    if model is Site:
        return stmt.where(Site.id.in_(assigned_site_ids(user)))
    if model is Franchisee:
        return stmt
    if model is User:
        return stmt.where(User.id == user.id)
    if hasattr(model, "site_id"):  # rows about the partner as a whole (no site) stay with the admins
        return stmt.where(model.site_id.in_(assigned_site_ids(user)))
    return stmt.where(false())  # a model staff scoping does not know: refuse rather than leak


def visible_site_ids(session: Session) -> list[int]:
    """The ids of the sites the signed-in portal user may see (all the partner's for an admin)."""
    stmt = scope_to(select(Site.id), Site, current_franchisee_id())
    return list(session.exec(staff_scope(stmt, Site, current_user)))


def visible_site_codes(session: Session) -> dict[int, str]:
    """``visible_site_ids`` with each site's code: id → code of the sites the signed-in portal user may see."""
    stmt = scope_to(select(Site.id, Site.code), Site, current_franchisee_id())
    return dict(session.exec(staff_scope(stmt, Site, current_user)).all())


def portal_scope(session: Session) -> Scope:
    """The signed-in portal user's scope for the read modules: the partner, narrowed to a site manager's sites."""
    if is_staff(current_user):
        return Scope.partner(current_franchisee_id(), visible_site_ids(session))
    return Scope.partner(current_franchisee_id())
