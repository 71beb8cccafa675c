"""Tables that keep reported numbers honest (issue 11): plausibility assessments of revenue
reports, HQ's review of corrections, disputes of invoice lines, and what each billing run wrote.

Nothing here changes an issued invoice: a dispute is settled by a credit note (its own
gap-free series), a correction by a true-up line in a later run.
"""
from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import Money, UTCDateTime, enum_column

ZERO = Decimal("0")


class RevenueAssessment(SQLModel, table=True):
    """The plausibility verdict on one revenue report version, with its reasons and the signals read."""

    __tablename__ = "revenue_assessment"

    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="revenue_report.id", unique=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    period: str = Field(max_length=7, index=True)
    verdict: str = Field(max_length=20, index=True)  # plausible | implausible | insufficient_data
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    signals: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    method_version: int = 1
    assessed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ReviewStatus(str, enum.Enum):
    pending = "pending"
    accepted = "accepted"
    refused = "refused"


class CorrectionReview(SQLModel, table=True):
    """A correction HQ finance must accept before it is in force (a billed month, or a large cut)."""

    __tablename__ = "correction_review"

    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="revenue_report.id", unique=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    period: str = Field(max_length=7)
    status: ReviewStatus = Field(default=ReviewStatus.pending,
                                 sa_column=Column(enum_column(ReviewStatus, "review_status"), nullable=False, index=True))
    why: str = Field(max_length=200)  # why it needs review: billed month, large cut
    previous_gross: Decimal = Field(sa_type=Money(18, 2))
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    requested_by: str = Field(default="", max_length=200)
    decided_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=500)  # HQ's words (required to refuse)


class DisputeStatus(str, enum.Enum):
    open = "open"
    accepted = "accepted"
    partly_accepted = "partly_accepted"
    rejected = "rejected"


class InvoiceDispute(SQLModel, table=True):
    """A partner disputes one line of an issued invoice; the rest of the invoice stays due."""

    __tablename__ = "invoice_dispute"
    __table_args__ = (Index("ix_invoice_dispute_invoice_status", "invoice_id", "status"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id")
    invoice_line_id: int = Field(foreign_key="invoice_line.id", index=True)
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    disputed_amount: Decimal = Field(sa_type=Money(18, 2))  # the line's amount when disputed
    proposed_amount: Decimal = Field(sa_type=Money(18, 2))  # what the partner says the line should be
    reason: str = Field(max_length=1000)
    status: DisputeStatus = Field(default=DisputeStatus.open,
                                  sa_column=Column(enum_column(DisputeStatus, "dispute_status"), nullable=False, index=True))
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    opened_by: str = Field(default="", max_length=200)
    decided_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    decided_by: str = Field(default="", max_length=200)
    decision_reason: str = Field(default="", max_length=1000)
    credited: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    credit_note_id: Optional[int] = Field(default=None, foreign_key="credit_note.id")


class DisputeAttachment(SQLModel, table=True):
    """A file the partner sent with a dispute (a contract page, a bank statement), kept byte for byte."""

    __tablename__ = "dispute_attachment"

    id: Optional[int] = Field(default=None, primary_key=True)
    dispute_id: int = Field(foreign_key="invoice_dispute.id", index=True)
    filename: str = Field(max_length=200)
    content_type: str = Field(default="application/octet-stream", max_length=100)
    size: int = 0
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class RunLine(SQLModel, table=True):
    """One line as a billing run wrote it (drafts are replaced; this stays), so runs can be compared."""

    __tablename__ = "billing_run_line"
    __table_args__ = (Index("ix_billing_run_line_run", "run_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="billing_run.id")
    period: str = Field(max_length=7, index=True)
    agreement_id: int = Field(foreign_key="agreement.id")
    franchisee_id: int = Field(foreign_key="franchisee.id")
    site_id: Optional[int] = Field(default=None, foreign_key="site.id")
    site_code: str = Field(default="", max_length=32)
    kind: str = Field(max_length=20)
    service_period: str = Field(max_length=7)
    band: str = Field(default="", max_length=60)
    base: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    rate: Decimal = Field(default=ZERO, sa_type=Money(12, 6))
    amount: Decimal = Field(sa_type=Money(18, 2))
    estimated: bool = False
    revenue_report_version: Optional[int] = None
    plan_id: str = Field(max_length=80)
    plan_version: int = 1
