"""User accounts: creation, password checks with lock-out after repeated failures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, registry
from .auth.sessions import revoke_all
from .models import LoginThrottle, Role, User

MIN_PASSWORD_LENGTH = 10


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Compared against when the e-mail is unknown, so a miss costs as long as a hit (hashed on first use)."""
    return generate_password_hash("not-a-real-password-at-all")


class AccountError(Exception):
    """A request about accounts the hub refuses, with the reason for the user (translatable)."""


class LockedOut(AccountError):
    """Too many failed sign-ins for this e-mail or from this address: wait until ``until``."""

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
        try:
            franchisee_id = registry.get_franchisee(session=session, code=franchisee_code).id
        except registry.NotFound as exc:
            raise AccountError(str(exc)) from None
    user = User(email=email, name=name, password_hash=generate_password_hash(password), role=role,
                franchisee_id=franchisee_id, locale=locale)
    session.add(user)
    session.flush()
    audit.record(session=session, actor=actor, action="user.create", entity_type="user", entity_id=user.id,
                 after=audit.snapshot(user))
    return user


def user_by_email(*, session: Session, email: str) -> User | None:
    """The user with this e-mail (compared trimmed and in lower case, as stored), or None."""
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def _throttle_row(session: Session, key: str, now: datetime, forget_after: timedelta) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0)
    elif row.last_failure_at is not None and now - row.last_failure_at > forget_after \
            and (row.blocked_until is None or row.blocked_until <= now):
        row.failures, row.blocked_until = 0, None  # quiet long enough: start afresh
    return row


def _count_failure(row: LoginThrottle, *, free: int, first_delay: int, longest: timedelta, now: datetime) -> None:
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= free:
        seconds = first_delay * 2 ** min(row.failures - free, 30)
        row.blocked_until = now + min(timedelta(seconds=seconds), longest)


def authenticate(*, session: Session, email: str, password: str, max_failures: int, lockout_minutes: int,
                 address: str = "", delay_seconds: int = 2, address_max_failures: int = 20,
                 now: datetime | None = None) -> User | None:
    """Check a password, throttled by account and by client address.

    Unknown and known e-mails are treated alike (the password hash always runs, failures
    count against the e-mail either way) so the answer tells nothing about which accounts
    exist. After ``max_failures`` misses for an e-mail (``address_max_failures`` from one
    address) each further miss doubles a wait, from ``delay_seconds`` up to
    ``lockout_minutes``; while waiting every try is refused with ``LockedOut``, even the
    right password, without counting. A success clears the e-mail's count.
    """
    now = now or datetime.now(timezone.utc)
    email = email.strip().lower()[:254]
    longest = timedelta(minutes=max(lockout_minutes, 0))
    forget_after = max(longest, timedelta(minutes=15))
    account = _throttle_row(session, f"account:{email}", now, forget_after)
    client = _throttle_row(session, f"address:{address[:200]}", now, forget_after) if address else None
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    known = user is not None and user.active
    password_ok = check_password_hash(user.password_hash if known else _dummy_hash(), password)
    waits = [r.blocked_until for r in (account, client) if r is not None and r.blocked_until and r.blocked_until > now]
    if waits:
        raise LockedOut(max(waits))
    if known and password_ok:
        if account.failures or account.blocked_until:
            session.merge(LoginThrottle(key=account.key, failures=0))
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        session.add(user)
        return user
    _count_failure(account, free=max_failures, first_delay=delay_seconds, longest=longest, now=now)
    session.merge(account)
    if client is not None:
        _count_failure(client, free=address_max_failures, first_delay=delay_seconds, longest=longest, now=now)
        session.merge(client)
    if user is not None:
        user.failed_logins += 1
        user.locked_until = account.blocked_until
        session.add(user)
    waits = [r.blocked_until for r in (account, client) if r is not None and r.blocked_until and r.blocked_until > now]
    if waits:
        raise LockedOut(max(waits))
    return None


def set_password(*, session: Session, actor: audit.Actor, user: User, password: str) -> None:
    """Set a new password; every session of the user ends (a stolen cookie stops working)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_l("password too short: at least %(n)s characters", n=MIN_PASSWORD_LENGTH))
    user.password_hash = generate_password_hash(password)
    session.add(user)
    revoke_all(session=session, user_id=user.id, reason="password")
    audit.record(session=session, actor=actor, action="user.password", entity_type="user", entity_id=user.id)


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
        session.merge(LoginThrottle(key=f"account:{user.email}", failures=0))
    else:
        revoke_all(session=session, user_id=user.id, reason="deactivated")
    session.add(user)
    audit.record(session=session, actor=actor, action="user.activate" if active else "user.deactivate",
                 entity_type="user", entity_id=user.id, before=before, after=audit.snapshot(user, ["active"]))
