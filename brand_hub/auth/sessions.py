"""Server-side sessions: the cookie only names a session row, so the hub can end it.

The browser's (signed) cookie carries a random token; the hub stores its SHA-256 in
``user_session`` with the user, when it was opened and when it was last used. Every
request checks the row: revoked (logout, deactivation, password change), idle too long
or too old ends the session. Services here never commit; the caller does.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import update
from sqlmodel import Session, select

from ..models import User, UserSession

# last_seen_at is written at most this often, so reading pages does not write on every request.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(*, session: Session, user: User, now: datetime | None = None) -> str:
    """Start a session for ``user``; returns the token for the cookie (never stored in clear)."""
    now = now or datetime.now(timezone.utc)
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_hash(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def current_session(*, session: Session, token: str | None, user_id: int, idle: timedelta,
                    absolute: timedelta, now: datetime | None = None) -> UserSession | None:
    """The live session ``token`` names for ``user_id``, or None when it is unknown, revoked or expired.

    An expired session is marked revoked (reason ``expired``) so it can never come back.
    """
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(timezone.utc)
    row = session.exec(select(UserSession).where(UserSession.token_hash == _hash(token))).first()
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return None
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.revoked_at, row.revoked_reason = now, "expired"
        session.add(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return row


def revoke(*, session: Session, token: str | None, reason: str = "logout",
           now: datetime | None = None) -> None:
    """End the one session ``token`` names (sign-out)."""
    if not token:
        return
    now = now or datetime.now(timezone.utc)
    session.execute(update(UserSession)
                    .where(UserSession.token_hash == _hash(token), UserSession.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason=reason))


def revoke_all(*, session: Session, user_id: int, reason: str, now: datetime | None = None) -> None:
    """End every open session of a user (deactivated, password changed)."""
    now = now or datetime.now(timezone.utc)
    session.execute(update(UserSession)
                    .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason=reason))
