"""The one way the portal reads data: scoped to the signed-in franchisee.

Every portal view fetches through ``owned_select`` / ``get_owned``. A model is
owned through its ``franchisee_id`` column, or through ``site_id`` → Site, or
through ``agreement_id`` → Agreement. An object of another partner is simply
not found (404): the portal never says it exists.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from brand_hub.models import Agreement, Franchisee, Site


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
    if hasattr(model, "franchisee_id"):
        return stmt.where(model.franchisee_id == franchisee_id)
    if hasattr(model, "site_id"):
        return stmt.where(model.site_id.in_(select(Site.id).where(Site.franchisee_id == franchisee_id)))
    if hasattr(model, "agreement_id"):
        return stmt.where(model.agreement_id.in_(
            select(Agreement.id).where(Agreement.franchisee_id == franchisee_id)))
    raise ScopeError(f"{model.__name__} has no owner column the portal can scope by")


def owned_select(model) -> SelectOfScalar:
    """``select(model)`` limited to the signed-in partner's rows."""
    return scope_to(select(model), model, current_franchisee_id())


def get_owned(session: Session, model, object_id) -> object:
    """The partner's own object with this id, or 404 (also for another partner's)."""
    primary_key = model.__table__.primary_key.columns.values()[0]
    obj = session.exec(owned_select(model).where(primary_key == object_id)).first()
    if obj is None:
        abort(404)
    return obj


def get_owned_by(session: Session, model, **criteria) -> object:
    """Like ``get_owned`` but by other columns, e.g. ``code="SH-01"``."""
    stmt = owned_select(model)
    for name, value in criteria.items():
        stmt = stmt.where(getattr(model, name) == value)
    obj = session.exec(stmt).first()
    if obj is None:
        abort(404)
    return obj
