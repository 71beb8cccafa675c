"""Portal routes of issue 11: a partner disputes lines of an issued invoice and downloads what it sent.

Every lookup goes through ``franchisee_portal.scope``: another partner's invoice or
attachment is simply not found (404). Disputing is money: partner admins only.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub import audit
from brand_hub.billing import BillingError, disputes
from brand_hub.billing.revenue import parse_amount
from brand_hub.billing.downloads import attachment_response
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.trust import DisputeAttachment, InvoiceDispute
from brand_hub.web import converters, db
from brand_hub.web.access import PORTAL_ADMINS, roles_required

from ..blueprint import bp
from ..scope import get_owned


def _own_issued(invoice_id: int) -> Invoice:
    found = get_owned(db(), Invoice, invoice_id)
    if found.status == InvoiceStatus.draft:
        abort(404)
    return found


@bp.route("/invoices/<int:invoice_id>/disputes", methods=["POST"])
@roles_required(PORTAL_ADMINS)
def dispute_lines(invoice_id: int):
    session = db()
    invoice = _own_issued(invoice_id)
    files = [(f.filename or "attachment", f.mimetype or "", f.read(disputes.MAX_ATTACHMENT_BYTES + 1))
             for f in request.files.getlist("attachments") if f and f.filename]
    try:
        line_id = converters.record_id(request.form.get("line"), "line")  # an id the database can hold, or refused
        if line_id is None:
            raise ValueError
    except (ValueError, converters.BadInput):
        flash(_("Choose the line you dispute."), "error")
        return redirect(url_for("portal.invoice", invoice_id=invoice_id))
    try:
        proposed = parse_amount(request.form.get("proposed_amount", ""), _("proposed amount"))
        disputes.open_dispute(session=session, invoice=invoice, line_id=line_id, proposed_amount=proposed,
                              reason=request.form.get("reason", "")[:1000], attachments=files,
                              actor=audit.Actor.of(current_user), now=datetime.now(timezone.utc))
    except BillingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("portal.invoice", invoice_id=invoice_id))
    session.commit()
    flash(_("Dispute sent to HQ finance. The rest of the invoice stays due; no late fee accrues on the "
            "disputed amount while HQ looks at it."), "success")
    return redirect(url_for("portal.invoice", invoice_id=invoice_id))


@bp.route("/invoices/<int:invoice_id>/disputes/<int:dispute_id>/attachments/<int:attachment_id>")
@roles_required(PORTAL_ADMINS)
def dispute_attachment(invoice_id: int, dispute_id: int, attachment_id: int):
    session = db()
    invoice = _own_issued(invoice_id)
    dispute = session.get(InvoiceDispute, dispute_id)
    found = session.get(DisputeAttachment, attachment_id)
    if dispute is None or dispute.invoice_id != invoice.id or found is None or found.dispute_id != dispute.id:
        abort(404)
    return attachment_response(found)
