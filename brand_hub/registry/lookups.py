"""Partners, sites and agreements by the code or number people know them by."""
from __future__ import annotations

from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from .errors import NotFound, no_agreement, no_partner, no_site


def get_site(*, session: Session, code: str, franchisee_id: int | None = None) -> Site:
    """The site with this code (``NotFound`` when there is none): services, commands, jobs, the demo and HQ views
    (through ``web.lookups.site_or_404``) look a site up by its code this way; portal views use
    ``franchisee_portal.scope.get_owned_by``, which adds the partner's and the staff member's scope.

    ``franchisee_id`` scopes the look-up to one partner's sites: another
    partner's site is "not found", never "not yours".
    """
    stmt = select(Site).where(Site.code == code)
    if franchisee_id is not None:
        stmt = stmt.where(Site.franchisee_id == franchisee_id)
    site = session.exec(stmt).first()
    if site is None:
        raise NotFound(str(no_site(code)))
    return site


def get_franchisee(*, session: Session, code: str) -> Franchisee:
    franchisee = session.exec(select(Franchisee).where(Franchisee.code == code)).first()
    if franchisee is None:
        raise NotFound(str(no_partner(code)))
    return franchisee


def get_agreement(*, session: Session, number: str) -> Agreement:
    agreement = session.exec(select(Agreement).where(Agreement.number == number)).first()
    if agreement is None:
        raise NotFound(str(no_agreement(number)))
    return agreement

