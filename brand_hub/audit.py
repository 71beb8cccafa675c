"""The audit log: every change made at HQ leaves one append-only event."""
from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, SQLModel

from .models import AuditEvent, User


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user, a CLI user, or the system itself."""

    label: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(label=user.email, user_id=user.id)


SYSTEM = Actor("system")


def snapshot(obj: SQLModel | None, fields: list[str] | None = None) -> dict[str, Any] | None:
    """A JSON-safe picture of ``obj``'s columns, for the before/after of an event."""
    if obj is None:
        return None
    data = obj.model_dump(include=set(fields) if fields else None)
    return {k: _jsonable(v) for k, v in data.items() if k not in {"password_hash", "agent_token_hash"}}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def record(*, session: Session, actor: Actor, action: str, entity_type: str, entity_id: object = "",
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEvent:
    """Add an audit event to ``session`` (the caller commits it with the change itself)."""
    if before is not None and after is not None:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        before = {k: before.get(k) for k in sorted(changed)}
        after = {k: after.get(k) for k in sorted(changed)}
    event = AuditEvent(actor=actor.label, actor_id=actor.user_id, action=action,
                       entity_type=entity_type, entity_id=str(entity_id),
                       before=_jsonable(before) if before is not None else None,
                       after=_jsonable(after) if after is not None else None)
    session.add(event)
    return event
