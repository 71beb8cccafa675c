"""User accounts: creation, password checks with lock-out after repeated failures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit
from .models import Franchisee, Role, User

MIN_PASSWORD_LENGTH = 10


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Compared against when the e-mail is unknown, so a miss costs as long as a hit (hashed on first use)."""
    return generate_password_hash("not-a-real-password-at-all")


class AccountError(Exception):
    """A request about accounts the hub refuses, with the reason for the user (translatable)."""


class LockedOut(AccountError):
    def __init__(self, until: datetime):
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


def create_user(*, session: Session, actor: audit.Actor, email: str, password: str, role: Role | str,
                name: str = "", franchisee_code: str | None = None, locale: str = "") -> User:
    """Create a user; portal roles need their partner, HQ roles must not have one."""
    role = Role(role)
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(_l("not an e-mail address: %(value)r", value=email))
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_l("password too short: at least %(n)s characters", n=MIN_PASSWORD_LENGTH))
    if session.exec(select(User).where(User.email == email)).first():
        raise AccountError(_l("a user with e-mail %(email)s exists already", email=email))
    franchisee_id = None
    if role.is_hq:
        if franchisee_code:
            raise AccountError(_l("HQ users do not belong to a partner"))
    else:
        if not franchisee_code:
            raise AccountError(_l("role %(role)s needs --franchisee (the partner's code)", role=role.value))
        franchisee = session.exec(select(Franchisee).where(Franchisee.code == franchisee_code)).first()
        if franchisee is None:
            raise AccountError(_l("no partner with code %(code)s", code=franchisee_code))
        franchisee_id = franchisee.id
    user = User(email=email, name=name, password_hash=generate_password_hash(password), role=role,
                franchisee_id=franchisee_id, locale=locale)
    session.add(user)
    session.flush()
    audit.record(session=session, actor=actor, action="user.create", entity_type="user", entity_id=user.id,
                 after=audit.snapshot(user))
    return user


def authenticate(*, session: Session, email: str, password: str, max_failures: int, lockout_minutes: int,
                 now: datetime | None = None) -> User | None:
    """Check a password. After ``max_failures`` misses in a row the account locks for a while.

    Returns the user on success, None on a wrong e-mail or password, raises
    ``LockedOut`` while locked (even with the right password).
    """
    now = now or datetime.now(timezone.utc)
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return None
    if user.locked_until and user.locked_until > now:
        raise LockedOut(user.locked_until)
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_logins = 0
            session.add(user)
            raise LockedOut(user.locked_until)
        session.add(user)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    return user


def set_active(*, session: Session, actor: audit.Actor, user: User, active: bool) -> None:
    """Let a user sign in again, or stop them (their history stays; accounts are never deleted)."""
    if not active and actor.user_id == user.id:
        raise AccountError(_l("you cannot deactivate your own account"))
    if user.active == active:
        return
    before = audit.snapshot(user, ["active"])
    user.active = active
    if active:
        user.failed_logins = 0
        user.locked_until = None
    session.add(user)
    audit.record(session=session, actor=actor, action="user.activate" if active else "user.deactivate",
                 entity_type="user", entity_id=user.id, before=before, after=audit.snapshot(user, ["active"]))
