"""Sign-in state kept on the server: open sessions, and the throttle on failed sign-ins."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class UserSession(SQLModel, table=True):
    """One signed-in browser. The cookie carries a random token; only its SHA-256 is stored.

    A session is good while it is not revoked (logout, deactivation, password change),
    has been used within the idle lifetime and is younger than the absolute lifetime.
    """

    __tablename__ = "user_session"

    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    revoked_reason: str = Field(default="", max_length=40)  # logout, deactivated, password, expired


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per key: ``account:<e-mail>`` (known or not) and ``address:<client>``.

    After the free attempts every further failure doubles the wait before the next try
    (``blocked_until``), up to a cap; a success clears the key.
    """

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=260)
    failures: int = 0
    last_failure_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    blocked_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
