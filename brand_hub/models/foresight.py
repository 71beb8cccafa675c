"""Tables of the decisions ahead: saved drafts of royalty plans, renewal decisions.

A draft is the text of a plan file HQ is trying out; it is validated like the file it
would become and never used for billing until published as a file. A renewal decision
is HQ's word on an agreement's term end, kept with the recommendation it was made
against, so the record shows both.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime, enum_column


class PlanDraft(SQLModel, table=True):
    """A royalty plan HQ is drafting: the YAML text, named, compared in the simulator."""

    __tablename__ = "plan_draft"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    plan_id: str = Field(max_length=80)          # the id inside the text: the plan it revises, or a new one
    plan_version: int = 1
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    published_by: str = Field(default="", max_length=200)


class RenewalOutcome(str, enum.Enum):
    renew = "renew"
    renew_with_conditions = "renew_with_conditions"
    not_renewed = "not_renewed"


class RenewalDecision(SQLModel, table=True):
    """HQ's decision on one term end of an agreement (one per agreement and term end)."""

    __tablename__ = "renewal_decision"
    __table_args__ = (UniqueConstraint("agreement_id", "term_end", name="uq_renewal_decision_term"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    term_end: date                                  # the end date this decision was about
    outcome: RenewalOutcome = Field(sa_column=Column(enum_column(RenewalOutcome, "renewal_outcome"), nullable=False))
    new_end_date: Optional[date] = None
    conditions: str = Field(default="", max_length=2000)
    recommendation: str = Field(default="", max_length=40)   # what the rules recommended when HQ decided
    decided_by: str = Field(default="", max_length=200)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
