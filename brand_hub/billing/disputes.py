"""Disputes, line by line: a partner contests lines of an issued invoice; the rest stays due.

A dispute names one line, the amount the partner says is right (below the line's
amount), the reason and optional attachments. HQ finance accepts it (a credit note for
the difference, with VAT, referencing the line), partly accepts it (a credit note for
the part granted) or rejects it with a reason. The partner is told through the mail
outbox and sees the history on the invoice. While a dispute is open, its amount earns
no late fee (``open_amounts`` is subtracted from the overdue balance by the run).
Issued invoices are never changed: only credit notes move the balance.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.compliance import outbox
from brand_hub.models import Franchisee, Role, User
from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus
from brand_hub.models.trust import DisputeAttachment, DisputeStatus, InvoiceDispute

from . import BillingError, NotFound, invoices
from .calc import fen

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
DECISIONS = {"accept": DisputeStatus.accepted, "partly": DisputeStatus.partly_accepted,
             "reject": DisputeStatus.rejected}
OPEN_STATES = (InvoiceStatus.issued, InvoiceStatus.partially_paid)


def open_dispute(*, session: Session, invoice: Invoice, line_id: int, proposed_amount: Decimal, reason: str,
                 attachments: list[tuple[str, str, bytes]] = (), actor: audit.Actor, now: datetime) -> InvoiceDispute:
    """Dispute one line of an issued invoice (the caller has checked the partner owns the invoice)."""
    if invoice.status not in OPEN_STATES:
        raise BillingError(_l("only an issued invoice with money still due can be disputed"))
    line = session.get(InvoiceLine, line_id)
    if line is None or line.invoice_id != invoice.id:
        raise NotFound(_l("line %(id)s is not on invoice %(number)s", id=line_id, number=invoice.number))
    if line.amount <= 0:
        raise BillingError(_l("line %(position)s is a credit; there is nothing to dispute", position=line.position))
    if not reason.strip():
        raise BillingError(_l("a dispute needs a reason"))
    if proposed_amount < 0 or proposed_amount >= line.amount:
        raise BillingError(_l("the proposed amount must be at least 0 and below the line's %(amount)s",
                              amount=line.amount))
    if proposed_amount != fen(proposed_amount):
        raise BillingError(_l("the proposed amount has more than two decimals (fen)"))
    if session.exec(select(InvoiceDispute.id).where(InvoiceDispute.invoice_line_id == line.id,
                                                    InvoiceDispute.status == DisputeStatus.open)).first():
        raise BillingError(_l("line %(position)s is already disputed", position=line.position))
    files = [a for a in attachments if a[2]]
    if len(files) > MAX_ATTACHMENTS:
        raise BillingError(_l("at most %(n)s attachments", n=MAX_ATTACHMENTS))
    for name, _, data in files:
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise BillingError(_l("attachment %(name)s is larger than 5 MB", name=name[:80]))
    dispute = InvoiceDispute(invoice_id=invoice.id, invoice_line_id=line.id, franchisee_id=invoice.franchisee_id,
                             disputed_amount=line.amount, proposed_amount=proposed_amount,
                             reason=reason.strip()[:1000], opened_at=now, opened_by=actor.label)
    session.add(dispute)
    session.flush()
    for name, content_type, data in files:
        session.add(DisputeAttachment(dispute_id=dispute.id, filename=(name or "attachment")[:200],
                                      content_type=(content_type or "application/octet-stream")[:100],
                                      size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data,
                                      uploaded_at=now))
    audit.record(session=session, actor=actor, action="invoice.dispute", entity_type="invoice", entity_id=invoice.id,
                 after={"dispute": dispute.id, "line": line.position, "amount": line.amount,
                        "proposed": proposed_amount, "attachments": len(files)})
    session.flush()
    return dispute


def resolve(*, session: Session, dispute_id: int, decision: str, reason: str, actor: audit.Actor, now: datetime,
            granted: Decimal | None = None) -> InvoiceDispute:
    """Decide a dispute: ``accept`` (credit the whole difference), ``partly`` (credit ``granted``, below the
    difference) or ``reject``; a credit note carries VAT and names the line; the partner is mailed."""
    dispute = session.exec(select(InvoiceDispute).where(InvoiceDispute.id == dispute_id).with_for_update()
                           .execution_options(populate_existing=True)).first()
    if dispute is None:
        raise NotFound(_l("no dispute %(id)s", id=dispute_id))
    if dispute.status != DisputeStatus.open:
        raise BillingError(_l("dispute %(id)s was already decided", id=dispute_id))
    if decision not in DECISIONS:
        raise BillingError(_l("decide with accept, partly or reject, not %(value)s", value=repr(decision)))
    difference = dispute.disputed_amount - dispute.proposed_amount
    if decision == "accept":
        credit = difference
    elif decision == "partly":
        if granted is None or not 0 < granted < difference:
            raise BillingError(_l("a partial acceptance grants more than 0 and less than %(difference)s",
                                  difference=difference))
        credit = granted
    else:
        credit = Decimal("0")
    if decision != "accept" and not reason.strip():
        raise BillingError(_l("say why, in words the partner reads"))
    invoice = session.get(Invoice, dispute.invoice_id)
    line = session.get(InvoiceLine, dispute.invoice_line_id)
    if credit > 0:
        gross = fen(credit * (1 + invoice.vat_rate))
        note = invoices.credit_note(
            session=session, number=invoice.number or "", amount=min(gross, invoice.balance),
            reason=(f"dispute #{dispute.id}, line {line.position} ({line.kind} {line.site_code} "
                    f"{line.service_period}): {reason.strip() or 'accepted'}")[:500], actor=actor, now=now)
        dispute.credit_note_id = note.id
    dispute.status, dispute.credited = DECISIONS[decision], credit
    dispute.decided_at, dispute.decided_by, dispute.decision_reason = now, actor.label, reason.strip()[:1000]
    session.add(dispute)
    session.flush()
    audit.record(session=session, actor=actor, action=f"invoice.dispute.{decision}", entity_type="invoice",
                 entity_id=invoice.id, after={"dispute": dispute.id, "line": line.position, "credited": credit,
                                              "reason": dispute.decision_reason})
    _tell_partner(session, invoice, line, dispute, now)
    return dispute


def _tell_partner(session: Session, invoice: Invoice, line: InvoiceLine, dispute: InvoiceDispute,
                  now: datetime) -> None:
    partner = session.get(Franchisee, invoice.franchisee_id)
    recipients = list(session.exec(select(User.email).where(
        User.franchisee_id == invoice.franchisee_id, User.active.is_(True),
        User.role == Role.franchisee_admin)).all()) + ([partner.contact_email] if partner else [])
    words = {"accepted": ("已接受", "accepted"), "partly_accepted": ("部分接受", "partly accepted"),
             "rejected": ("已驳回", "rejected")}[dispute.status.value]
    body = (f"您对账单 {invoice.number} 第 {line.position} 行（{line.site_code} {line.service_period}）的异议{words[0]}。\n"
            f"原金额 {line.amount}，您提出 {dispute.proposed_amount}，贷记 {dispute.credited}（不含税）。\n"
            f"说明：{dispute.decision_reason or '—'}\n\n"
            f"Your dispute of line {line.position} of invoice {invoice.number} ({line.site_code} "
            f"{line.service_period}) was {words[1]}.\nLine {line.amount}, proposed {dispute.proposed_amount}, "
            f"credited {dispute.credited} (before VAT).\nReason: {dispute.decision_reason or '—'}\n")
    outbox.enqueue(session=session, dedupe_key=f"dispute:{dispute.id}:{dispute.status.value}", recipients=recipients,
                   subject=f"账单异议{words[0]} Dispute {words[1]}: {invoice.number} #{line.position}", body=body,
                   flag_id=None, now=now)


def open_amounts(*, session: Session, invoice_ids: list[int]) -> dict[int, Decimal]:
    """Per invoice, what its open disputes contest (with VAT): no late fee accrues on it meanwhile."""
    if not invoice_ids:
        return {}
    rows = session.exec(select(InvoiceDispute, Invoice.vat_rate).join(Invoice, Invoice.id == InvoiceDispute.invoice_id)
                        .where(InvoiceDispute.invoice_id.in_(invoice_ids),
                               InvoiceDispute.status == DisputeStatus.open)).all()
    out: dict[int, Decimal] = defaultdict(Decimal)
    for dispute, vat_rate in rows:
        out[dispute.invoice_id] += fen((dispute.disputed_amount - dispute.proposed_amount) * (1 + vat_rate))
    return dict(out)


def of_invoice(*, session: Session, invoice_id: int) -> list[tuple[InvoiceDispute, list[DisputeAttachment]]]:
    """The invoice's disputes, oldest first, each with its attachments (the history the partner sees)."""
    disputes = session.exec(select(InvoiceDispute).where(InvoiceDispute.invoice_id == invoice_id)
                            .order_by(InvoiceDispute.id)).all()
    files: dict[int, list[DisputeAttachment]] = defaultdict(list)
    if disputes:
        for a in session.exec(select(DisputeAttachment).where(
                DisputeAttachment.dispute_id.in_([d.id for d in disputes])).order_by(DisputeAttachment.id)).all():
            files[a.dispute_id].append(a)
    return [(d, files[d.id]) for d in disputes]


def listing(*, session: Session, status: str | None = "open", limit: int = 200
            ) -> list[tuple[InvoiceDispute, Invoice, InvoiceLine, Franchisee]]:
    stmt = (select(InvoiceDispute, Invoice, InvoiceLine, Franchisee)
            .join(Invoice, Invoice.id == InvoiceDispute.invoice_id)
            .join(InvoiceLine, InvoiceLine.id == InvoiceDispute.invoice_line_id)
            .join(Franchisee, Franchisee.id == InvoiceDispute.franchisee_id))
    if status:
        stmt = stmt.where(InvoiceDispute.status == DisputeStatus(status))
    return list(session.exec(stmt.order_by(InvoiceDispute.opened_at, InvoiceDispute.id).limit(limit)).all())
