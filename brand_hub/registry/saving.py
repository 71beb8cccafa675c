"""Create or update partners, agreements and sites, each change with its audit event."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from .. import audit, tenure
from ..models import Agreement, Franchisee, Site, utcnow
from .errors import InvalidRecord
from .fields import clean_agreement, clean_franchisee, clean_site
from .refs import References


@dataclass
class Saved:
    """What a save did: the object, and whether it was new or changed at all."""

    obj: Any
    created: bool
    changed: bool


def _apply(obj, fields: dict[str, Any]) -> bool:
    changed = False
    for name, value in fields.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def save_franchisee(*, session: Session, actor: audit.Actor, values: dict,
                    existing: Franchisee | None = None, new: bool = False) -> Saved:
    """Create a partner, or update ``existing`` (or the one with the same code).

    ``new`` (a "new partner" form) refuses a code that is taken instead of
    updating that partner.
    """
    fields = clean_franchisee(values)
    franchisee = existing or session.exec(select(Franchisee).where(Franchisee.code == fields["code"])).first()
    if (new and franchisee is not None) or (existing is not None and fields["code"] != existing.code):
        _must_be_free(session, Franchisee, Franchisee.code, fields["code"], "code")
    return _save(session, actor, "franchisee", franchisee, Franchisee, fields)


def save_agreement(*, session: Session, actor: audit.Actor, values: dict,
                   existing: Agreement | None = None, new: bool = False) -> Saved:
    """Create an agreement, or update ``existing`` (or the one with the same number; not when ``new``)."""
    fields = clean_agreement(values)
    fields["franchisee_id"] = References(session).partner_id(fields.pop("franchisee"))
    agreement = existing or session.exec(select(Agreement).where(Agreement.number == fields["number"])).first()
    if (new and agreement is not None) or (existing is not None and fields["number"] != existing.number):
        _must_be_free(session, Agreement, Agreement.number, fields["number"], "number")
    return _save(session, actor, "agreement", agreement, Agreement, fields)



def save_site(*, session: Session, actor: audit.Actor, values: dict, existing: Site | None = None,
              new: bool = False) -> Saved:
    """Create a site, or update ``existing`` (or the one with the same code; not when ``new``)."""
    fields = References(session).site_fields(clean_site(values))
    site = existing or session.exec(select(Site).where(Site.code == fields["code"])).first()
    if (new and site is not None) or (existing is not None and fields["code"] != existing.code):
        _must_be_free(session, Site, Site.code, fields["code"], "code")
    return _save(session, actor, "site", site, Site, fields)


def _must_be_free(session: Session, model, column, value: str, name: str) -> None:
    if session.exec(select(model).where(column == value)).first() is not None:
        raise InvalidRecord({name: _l("%(value)s is taken already", value=value)})


def _save(session: Session, actor: audit.Actor, kind: str, obj, model, fields: dict[str, Any],
          created: list | None = None) -> Saved:
    """Create or update one object with its audit event.

    Bulk imports pass ``created``: new objects are collected there and
    inserted together by ``_insert_created`` (one batch instead of a round
    trip per row); their audit events follow once they have ids.
    """
    moved = False
    if kind == "site":  # issue 17: a new partner or agreement is a move (a new tenure), never a silent rewrite
        fields, moved = tenure.hand_over_if_moved(session=session, actor=actor, site=obj, fields=fields)
    if obj is None:
        obj = model(**fields)
        session.add(obj)
        if created is not None:
            created.append(obj)
        else:
            _insert_created(session, actor, kind, [obj])
        return Saved(obj, created=True, changed=True)
    before = audit.snapshot(obj)
    if not _apply(obj, fields):
        return Saved(obj, created=False, changed=moved)
    if hasattr(obj, "updated_at"):
        obj.updated_at = utcnow()
    session.add(obj)
    after = audit.snapshot(obj)
    before.pop("updated_at", None), after.pop("updated_at", None)
    audit.record(session=session, actor=actor, action=f"{kind}.update", entity_type=kind,
                 entity_id=_entity_id(obj), before=before, after=after)
    return Saved(obj, created=False, changed=True)


def _insert_created(session: Session, actor: audit.Actor, kind: str, objects: list) -> None:
    session.flush()
    for obj in objects:
        audit.record(session=session, actor=actor, action=f"{kind}.create", entity_type=kind,
                     entity_id=_entity_id(obj), after=audit.snapshot(obj))


def _entity_id(obj) -> str:
    """Registry objects are named in the audit log by code or number, as people know them."""
    return str(getattr(obj, "code", None) or getattr(obj, "number", None) or obj.id)

