"""Partners, sites and agreements by the code or number people know them by."""
from __future__ import annotations

from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from .errors import NotFound, no_agreement, no_partner


def get_site(*, session: Session, code: str) -> Site:
    """The site with this code (every area looks sites up this way)."""
    site = session.exec(select(Site).where(Site.code == code)).first()
    if site is None:
        raise NotFound(f"no site with code {code}")
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

