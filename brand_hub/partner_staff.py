"""A partner administrator's team: staff accounts (site managers) and the sites each may see.

Services in the house style: keyword-only, never commit, every change audited
with the partner admin as the actor. A partner admin can only touch users and
sites of their own partner; anything else is ``TeamError`` (the portal shows a 404).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from . import accounts, audit
from .models import Franchisee, Role, Site, User
from .models.partner_staff import SiteAssignment


class TeamError(Exception):
    """A team change refused (another partner's user or site, an admin where staff is meant)."""


def staff_of(*, session: Session, franchisee_id: int) -> list[User]:
    """The partner's portal users, admins first, then by e-mail."""
    return list(session.exec(select(User).where(User.franchisee_id == franchisee_id)
                             .order_by(User.role, User.email)).all())


def assignments(*, session: Session, franchisee_id: int) -> dict[int, set[int]]:
    """Per staff user id, the ids of the sites assigned to them."""
    rows = session.exec(select(SiteAssignment.user_id, SiteAssignment.site_id)
                        .join(User, User.id == SiteAssignment.user_id)
                        .where(User.franchisee_id == franchisee_id)).all()
    out: dict[int, set[int]] = {}
    for user_id, site_id in rows:
        out.setdefault(user_id, set()).add(site_id)
    return out


def create_staff(*, session: Session, actor: audit.Actor, franchisee: Franchisee, email: str, name: str,
                 password: str, site_ids: list[int]) -> User:
    """A new site manager of ``franchisee`` who sees ``site_ids`` (which must be the partner's)."""
    user = accounts.create_user(session=session, actor=actor, email=email, password=password,
                                role=Role.franchisee_staff, name=name.strip()[:100], franchisee_code=franchisee.code)
    set_sites(session=session, actor=actor, franchisee_id=franchisee.id, user=user, site_ids=site_ids)
    return user


def _own_staff(session: Session, franchisee_id: int, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.franchisee_id != franchisee_id:
        raise TeamError(_l("no such colleague"))
    if Role(user.role) is not Role.franchisee_staff:
        raise TeamError(_l("administrators see every site; only staff are assigned sites"))
    return user


def get_staff(*, session: Session, franchisee_id: int, user_id: int) -> User:
    return _own_staff(session, franchisee_id, user_id)


def set_sites(*, session: Session, actor: audit.Actor, franchisee_id: int, user: User, site_ids: list[int]) -> None:
    """Give a staff member exactly ``site_ids`` (sites of their partner); the change is audited."""
    user = _own_staff(session, franchisee_id, user.id)
    wanted = set(site_ids)
    own = set(session.exec(select(Site.id).where(Site.franchisee_id == franchisee_id, Site.id.in_(wanted))).all())
    if own != wanted:
        raise TeamError(_l("a site is not one of this partner's"))
    current = {a.site_id: a for a in session.exec(select(SiteAssignment).where(SiteAssignment.user_id == user.id))}
    if set(current) == wanted:
        return
    codes = dict(session.exec(select(Site.id, Site.code).where(Site.id.in_(wanted | set(current)))).all())
    for site_id, row in current.items():
        if site_id not in wanted:
            session.delete(row)
    for site_id in wanted - set(current):
        session.add(SiteAssignment(user_id=user.id, site_id=site_id, assigned_by=actor.label))
    session.flush()
    audit.record(session=session, actor=actor, action="user.sites", entity_type="user", entity_id=user.id,
                 before={"sites": sorted(codes[i] for i in current)}, after={"sites": sorted(codes[i] for i in wanted)})


def set_staff_active(*, session: Session, actor: audit.Actor, franchisee_id: int, user_id: int, active: bool) -> User:
    user = _own_staff(session, franchisee_id, user_id)
    accounts.set_active(session=session, actor=actor, user=user, active=active)
    return user
