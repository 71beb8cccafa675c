"""Tables of the compliance area: flags, their timeline, corrective action plans, the mail outbox.

A flag's identity is site (or partner) + rule + subject. ``open_key`` holds that
identity while the flag is not resolved and NULL after, so a unique index allows
at most one current flag per identity while keeping every resolved one as history.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime, enum_column


class FlagState(str, enum.Enum):
    pending = "pending"
    open = "open"
    acknowledged = "acknowledged"
    plan_submitted = "plan_submitted"
    plan_accepted = "plan_accepted"
    escalated = "escalated"
    waived = "waived"
    no_data = "no_data"
    resolved = "resolved"


class Severity(str, enum.Enum):
    info = "info"
    minor = "minor"
    warning = "warning"
    major = "major"
    critical = "critical"


class PlanStatus(str, enum.Enum):
    submitted = "submitted"
    accepted = "accepted"
    rejected = "rejected"


class OutboxState(str, enum.Enum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Flag(SQLModel, table=True):
    """One finding about a site (or a partner) under one rule, followed from first sight to its fix."""

    __tablename__ = "flag"
    __table_args__ = (Index("ix_flag_rule_state", "rule", "state"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: Optional[int] = Field(default=None, foreign_key="site.id", index=True)
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    rule: str = Field(max_length=120)
    subject: str = Field(default="", max_length=120)
    open_key: Optional[str] = Field(default=None, max_length=300, unique=True)
    severity: Severity = Field(default=Severity.minor,
                               sa_column=Column(enum_column(Severity, "flag_severity"), nullable=False))
    state: FlagState = Field(default=FlagState.pending,
                             sa_column=Column(enum_column(FlagState, "flag_state"), nullable=False, index=True))
    pending_since: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    opened_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime, index=True)
    last_seen_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    clear_since: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    resolved_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    resolution: str = Field(default="", max_length=500)
    waived_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    ack_due_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    ack_reminded_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    escalation_level: int = 0  # 0 partner, 1 regional manager, 2 brand HQ
    previous_id: Optional[int] = Field(default=None, foreign_key="flag.id")
    occurrence: int = 1
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FlagEvent(SQLModel, table=True):
    """One append-only step of a flag's timeline: who or what, when, from, to, why."""

    __tablename__ = "flag_event"

    id: Optional[int] = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor: str = Field(max_length=200)  # e-mail, "cli:<user>" or "system"
    actor_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    kind: str = Field(max_length=40)
    from_state: Optional[str] = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    reason: str = Field(default="", max_length=1000)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CorrectiveActionPlan(SQLModel, table=True):
    """What a partner will do about a flag, who does it, by when, and HQ's answer."""

    __tablename__ = "corrective_action_plan"

    id: Optional[int] = Field(default=None, primary_key=True)
    flag_id: int = Field(foreign_key="flag.id", index=True)
    what: str = Field(sa_column=Column(Text, nullable=False))
    who: str = Field(max_length=200)
    due_on: date
    status: PlanStatus = Field(default=PlanStatus.submitted,
                               sa_column=Column(enum_column(PlanStatus, "plan_status"), nullable=False))
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    submitted_by: str = Field(default="", max_length=200)
    answer: str = Field(default="", max_length=2000)
    answered_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    answered_by: str = Field(default="", max_length=200)
    overdue_notified_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # the due-date mail went out


class OutboxMessage(SQLModel, table=True):
    """One e-mail to send. Kept until the mail server took it; ``dedupe_key`` makes enqueueing idempotent."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_state_next", "state", "next_attempt_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    message_id: str = Field(max_length=200, unique=True)  # the Message-ID header, fixed before the first try
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    flag_id: Optional[int] = Field(default=None, foreign_key="flag.id", index=True)
    state: OutboxState = Field(default=OutboxState.queued,
                               sa_column=Column(enum_column(OutboxState, "outbox_state"), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    claimed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str = Field(default="", max_length=100)
    sent_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class EvaluationRun(SQLModel, table=True):
    """One evaluation of the rules: what it looked at, what changed, and every error it kept going past."""

    __tablename__ = "flag_evaluation_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    sites: int = 0
    observations: int = 0
    opened: int = 0
    resolved: int = 0
    events: int = 0
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
