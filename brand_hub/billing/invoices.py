"""Issued invoices: gap-free numbers, credit notes, payments and the export for accounting.

Numbers come from one ``document_counter`` row per series and year, locked with
SELECT … FOR UPDATE in the same transaction that issues the invoices, so two
``issue`` commands racing on PostgreSQL take turns and neither leaves a gap. The
database itself refuses later edits of an issued invoice (see the migration).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l, lazy_pgettext
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.db import is_postgres
from brand_hub.models import Agreement, Franchisee, Site
from brand_hub.models.billing import CreditNote, DocumentCounter, Invoice, InvoiceLine, InvoiceStatus, Payment

from . import BillingError, NotFound, parse_period
from .calc import fen

INVOICE_SERIES = "BH"
CREDIT_SERIES = "CN"


def next_number(*, session: Session, prefix: str, year: int) -> str:
    """The next number of ``prefix`` in ``year`` (``BH-2026-000001``); holds the counter row until commit."""
    series = f"{prefix}-{year}"
    dialect = postgresql if is_postgres(session) else sqlite
    session.execute(dialect.insert(DocumentCounter).values(series=series, last_value=0)
                    .on_conflict_do_nothing(index_elements=["series"]))
    counter = session.exec(select(DocumentCounter).where(DocumentCounter.series == series)
                           .with_for_update().execution_options(populate_existing=True)).one()
    counter.last_value += 1
    session.flush()
    return f"{series}-{counter.last_value:06d}"


def issue_period(*, session: Session, period: str, actor: audit.Actor, now: datetime,
                 due_days: int) -> list[Invoice]:
    """Number and issue every draft of ``period``; a draft another command issued meanwhile is skipped.

    A draft without a single line is never numbered (runs no longer write one; an older
    one waits for the next run to delete it), so the series holds only invoices accounting
    receives in the export.
    """
    parse_period(period)
    has_lines = select(InvoiceLine.id).where(InvoiceLine.invoice_id == Invoice.id).exists()
    drafts = session.exec(select(Invoice).join(Agreement, Agreement.id == Invoice.agreement_id)
                          .where(Invoice.period == period, Invoice.status == InvoiceStatus.draft, has_lines)
                          .order_by(Agreement.number).with_for_update(of=Invoice)
                          .execution_options(populate_existing=True)).all()
    issued = []
    for invoice in drafts:
        invoice.number = next_number(session=session, prefix=INVOICE_SERIES, year=now.year)
        invoice.status = InvoiceStatus.issued
        invoice.issued_at = now
        invoice.due_date = now.date() + timedelta(days=due_days)
        session.flush()
        audit.record(session=session, actor=actor, action="invoice.issue", entity_type="invoice",
                     entity_id=invoice.id, after={"number": invoice.number, "period": period,
                                                  "total": invoice.total})
        issued.append(invoice)
    return issued


def get_invoice(*, session: Session, number: str) -> Invoice:
    invoice = session.exec(select(Invoice).where(Invoice.number == number)).first()
    if invoice is None:
        raise NotFound(_l("no issued invoice numbered %(number)s", number=repr(number)))
    return invoice


def _locked(session: Session, number: str) -> Invoice:
    invoice = session.exec(select(Invoice).where(Invoice.number == number).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if invoice is None:
        raise NotFound(_l("no issued invoice numbered %(number)s", number=repr(number)))
    return invoice


def settle_status(invoice: Invoice) -> InvoiceStatus:
    """The status the amounts say: paid, credited, partially paid or still issued."""
    if invoice.balance <= 0:
        return InvoiceStatus.credited if invoice.amount_paid == 0 else InvoiceStatus.paid
    if invoice.amount_paid > 0 or invoice.amount_credited > 0:
        return InvoiceStatus.partially_paid
    return InvoiceStatus.issued


# What the amount checks call the amount they refuse (lazy: read in the request's language).
CREDIT = lazy_pgettext("amount", "credit")
PAYMENT = lazy_pgettext("amount", "payment")


def _check_amount(amount: Decimal, remaining: Decimal, what, number: str) -> Decimal:
    """``what`` names the amount in the message (a lazy translation, e.g. ``CREDIT``)."""
    if amount <= 0:
        raise BillingError(_l("%(what)s must be above zero, not %(amount)s", what=what, amount=amount))
    if amount != fen(amount):
        raise BillingError(_l("%(what)s %(amount)s has more than two decimals (fen)", what=what, amount=amount))
    if amount > remaining:
        raise BillingError(_l("%(what)s %(amount)s is more than the %(remaining)s that remains on %(number)s",
                              what=what, amount=amount, remaining=remaining, number=number))
    return amount


def credit_note(*, session: Session, number: str, amount: Decimal, reason: str, actor: audit.Actor,
                now: datetime) -> CreditNote:
    """Credit part or all of what remains on an issued invoice, in the credit-note series."""
    invoice = _locked(session, number)
    if not reason.strip():
        raise BillingError(_l("a credit note needs a reason"))
    _check_amount(amount, invoice.balance, CREDIT, number)
    note = CreditNote(number=next_number(session=session, prefix=CREDIT_SERIES, year=now.year),
                      invoice_id=invoice.id, amount=amount, reason=reason.strip(), issued_at=now,
                      issued_by=actor.label)
    session.add(note)
    before = audit.snapshot(invoice, ["amount_credited", "status"])
    invoice.amount_credited += amount
    invoice.status = settle_status(invoice)
    session.flush()
    audit.record(session=session, actor=actor, action="invoice.credit_note", entity_type="invoice",
                 entity_id=invoice.id, before=before,
                 after=audit.snapshot(invoice, ["amount_credited", "status"]) | {"credit_note": note.number})
    return note


def mark_paid(*, session: Session, number: str, amount: Decimal, paid_on: date, actor: audit.Actor,
              today: date | None = None) -> Payment:
    """Record a (partial) payment; paying more than the balance is refused.

    The date is when the money arrived, and late fees count days up to it, so a date in
    the future (after ``today``, the entry point's local date; UTC when not given) or
    before the invoice was issued is refused.
    """
    invoice = _locked(session, number)
    today = today or datetime.now(timezone.utc).date()
    if paid_on > today:
        raise BillingError(_l("payment date %(date)s is in the future (today is %(today)s)",
                              date=paid_on.isoformat(), today=today.isoformat()))
    if invoice.issued_at is not None and paid_on < invoice.issued_at.date():
        raise BillingError(_l("payment date %(date)s is before %(number)s was issued on %(issued)s",
                              date=paid_on.isoformat(), number=number, issued=invoice.issued_at.date().isoformat()))
    _check_amount(amount, invoice.balance, PAYMENT, number)
    payment = Payment(invoice_id=invoice.id, amount=amount, paid_on=paid_on, recorded_by=actor.label)
    session.add(payment)
    before = audit.snapshot(invoice, ["amount_paid", "status"])
    invoice.amount_paid += amount
    invoice.status = settle_status(invoice)
    session.flush()
    audit.record(session=session, actor=actor, action="invoice.payment", entity_type="invoice",
                 entity_id=invoice.id, before=before, after=audit.snapshot(invoice, ["amount_paid", "status"]))
    return payment


def invoice_lines(*, session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                             .order_by(InvoiceLine.position)).all())


def export_period(*, session: Session, period: str) -> list[dict[str, Any]]:
    """One record per invoice of the month, amounts as exact decimal strings, for accounting."""
    parse_period(period)
    invoices = session.exec(select(Invoice).where(Invoice.period == period).order_by(Invoice.number,
                                                                                    Invoice.id)).all()
    agreements = {a.id: a for a in session.exec(select(Agreement)).all()}
    franchisees = {f.id: f for f in session.exec(select(Franchisee)).all()}
    ids = [i.id for i in invoices]
    lines_by_invoice: dict[int, list[InvoiceLine]] = {i: [] for i in ids}
    if ids:
        for line in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(ids))
                                 .order_by(InvoiceLine.invoice_id, InvoiceLine.position)).all():
            lines_by_invoice[line.invoice_id].append(line)
    return [{
        "number": inv.number or "",
        "agreement": agreements[inv.agreement_id].number,
        "franchisee": franchisees[inv.franchisee_id].code,
        "franchisee_name": franchisees[inv.franchisee_id].legal_name,
        "period": inv.period,
        "status": inv.status.value,
        "issued_at": inv.issued_at.isoformat() if inv.issued_at else None,
        "due_date": inv.due_date.isoformat() if inv.due_date else None,
        "lines": [{"site": line.site_code, "kind": line.kind, "description": line.description,
                   "service_period": line.service_period, "band": line.band, "base": str(line.base),
                   "rate": format(line.rate.normalize(), "f"), "amount": str(line.amount), "estimated": line.estimated}
                  for line in lines_by_invoice[inv.id]],
        "subtotal": str(inv.subtotal), "vat": str(inv.vat), "total": str(inv.total),
        "amount_paid": str(inv.amount_paid), "amount_credited": str(inv.amount_credited),
        "currency": inv.currency,
    } for inv in invoices]


def site_names(*, session: Session, site_ids: set[int]) -> dict[int, Site]:
    if not site_ids:
        return {}
    return {s.id: s for s in session.exec(select(Site).where(Site.id.in_(site_ids))).all()}


def overdue(*, session: Session, today: date) -> tuple[int, Decimal]:
    """How many issued invoices are past their due date with money still owed, and how much."""
    open_invoices = session.exec(select(Invoice).where(
        Invoice.status.in_([InvoiceStatus.issued, InvoiceStatus.partially_paid]), Invoice.due_date < today)).all()
    late = [invoice for invoice in open_invoices if invoice.is_overdue(today)]
    return len(late), sum((invoice.balance for invoice in late), Decimal("0.00"))
