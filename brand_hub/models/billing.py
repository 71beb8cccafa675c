"""Tables of royalty billing: revenue reports, runs, invoices and their lines, credit notes, payments.

Issued invoices and their lines are immutable: database triggers (created in the
billing migration) refuse any UPDATE or DELETE except the payment and credit
bookkeeping columns, so no code path (or hand-written SQL) can change what a
partner was sent. Numbers come from ``document_counter`` rows, one per series
and year, locked in the issuing transaction so they are gap-free.
"""
from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import Money, UTCDateTime, enum_column

ZERO = Decimal("0")


class ReportStatus(str, enum.Enum):
    reported = "reported"
    estimated = "estimated"
    corrected = "corrected"


class ReportSource(str, enum.Enum):
    portal = "portal"
    import_ = "import"
    estimate = "estimate"


class InvoiceStatus(str, enum.Enum):
    draft = "draft"
    issued = "issued"
    paid = "paid"
    partially_paid = "partially_paid"
    credited = "credited"


class RevenueReport(SQLModel, table=True):
    """One version of a site's gross revenue for a month; the newest version is in force."""

    __tablename__ = "revenue_report"
    __table_args__ = (UniqueConstraint("site_id", "period", "version", name="uq_revenue_report_version"),
                      Index("ix_revenue_report_franchisee_period", "franchisee_id", "period"))

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    period: str = Field(max_length=7, index=True)
    # the partner that held the site in ``period`` (``tenure.partner_of_month``), written with the report and
    # rewritten when the site moves (``tenure.move_site``): what HQ's revenue-reports page groups by, rather than
    # finding each report's holder through the tenures on every request (issue 10). Only rows written by hand
    # without it are NULL; the application always sets it.
    franchisee_id: Optional[int] = Field(default=None, foreign_key="franchisee.id")
    version: int = 1
    gross_revenue: Decimal = Field(sa_type=Money(18, 2))
    breakdown: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: ReportStatus = Field(default=ReportStatus.reported,
                                 sa_column=Column(enum_column(ReportStatus, "report_status"), nullable=False))
    source: ReportSource = Field(default=ReportSource.portal,
                                 sa_column=Column(enum_column(ReportSource, "report_source"), nullable=False))
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    submitted_by: str = Field(default="", max_length=200)


class BillingRun(SQLModel, table=True):
    """One real billing run for a period: when, by whom, what it wrote."""

    __tablename__ = "billing_run"

    id: Optional[int] = Field(default=None, primary_key=True)
    period: str = Field(max_length=7, index=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    started_by: str = Field(default="", max_length=200)
    drafts: int = 0
    skipped_issued: int = 0
    total: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    left_out: int = 0  # active agreements not billed (nothing to bill, unknown plan); the reasons are audited


class Invoice(SQLModel, table=True):
    """One agreement's invoice for one month; a draft until issued, immutable after."""

    __tablename__ = "invoice"
    __table_args__ = (UniqueConstraint("agreement_id", "period", name="uq_invoice_agreement_period"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    number: Optional[str] = Field(default=None, max_length=32, unique=True)
    agreement_id: int = Field(foreign_key="agreement.id", index=True)
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    run_id: Optional[int] = Field(default=None, foreign_key="billing_run.id")
    period: str = Field(max_length=7, index=True)
    status: InvoiceStatus = Field(default=InvoiceStatus.draft,
                                  sa_column=Column(enum_column(InvoiceStatus, "invoice_status"), nullable=False, index=True))
    plan_id: str = Field(max_length=80)
    plan_version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    issued_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    due_date: Optional[date] = None
    subtotal: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    vat_rate: Decimal = Field(default=ZERO, sa_type=Money(8, 4))
    vat: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    total: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    amount_paid: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    amount_credited: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    currency: str = Field(default="CNY", max_length=3)
    pdf_sha256: Optional[str] = Field(default=None, max_length=64)

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid - self.amount_credited

    def is_overdue(self, today: date) -> bool:
        return (self.status in (InvoiceStatus.issued, InvoiceStatus.partially_paid) and self.due_date is not None
                and self.due_date < today and self.balance > 0)


class InvoiceLine(SQLModel, table=True):
    """One amount on an invoice, with every input it was computed from."""

    __tablename__ = "invoice_line"
    __table_args__ = (Index("ix_invoice_line_site_period", "site_id", "service_period"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    site_id: Optional[int] = Field(default=None, foreign_key="site.id")
    site_code: str = Field(default="", max_length=32)
    kind: str = Field(max_length=20)  # royalty, minimum_topup, brand_fund, tech_fee, late_fee, true_up
    description: str = Field(max_length=300)
    service_period: str = Field(max_length=7)  # the month the amount is for (true-ups: the corrected month)
    band: str = Field(default="", max_length=60)
    base: Decimal = Field(default=ZERO, sa_type=Money(18, 2))
    rate: Decimal = Field(default=ZERO, sa_type=Money(12, 6))
    amount: Decimal = Field(sa_type=Money(18, 2))
    estimated: bool = False
    revenue_report_id: Optional[int] = Field(default=None, foreign_key="revenue_report.id")
    revenue_report_version: Optional[int] = None
    corrects_invoice_id: Optional[int] = Field(default=None, foreign_key="invoice.id")
    plan_id: str = Field(max_length=80)
    plan_version: int = 1
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class InvoiceDocument(SQLModel, table=True):
    """The PDF a partner was sent, kept byte for byte (its SHA-256 is on the invoice)."""

    __tablename__ = "invoice_document"

    invoice_id: int = Field(foreign_key="invoice.id", primary_key=True)
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)
    rendered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CreditNote(SQLModel, table=True):
    """A credit against an issued invoice, numbered in its own gap-free series."""

    __tablename__ = "credit_note"

    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: Decimal = Field(sa_type=Money(18, 2))
    reason: str = Field(max_length=500)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    issued_by: str = Field(default="", max_length=200)


class Payment(SQLModel, table=True):
    """Money received against an invoice (partial payments allowed)."""

    __tablename__ = "payment"

    id: Optional[int] = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: Decimal = Field(sa_type=Money(18, 2))
    paid_on: date
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    recorded_by: str = Field(default="", max_length=200)


class DocumentCounter(SQLModel, table=True):
    """The last number used in one series and year (``BH-2026``, ``CN-2026``); locked to number."""

    __tablename__ = "document_counter"

    series: str = Field(primary_key=True, max_length=20)
    last_value: int = 0
