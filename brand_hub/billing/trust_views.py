"""HQ pages of issue 11 on the billing blueprint: revenue checks (implausible reports, corrections
waiting for review, open disputes), a month's versions side by side, and the billing-run diff.

Views only parse, call a billing service and render; decisions commit once here.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..models.trust import DisputeAttachment, InvoiceDispute
from ..web.lookups import row_or_404, site_or_404
from ..paging import page_number
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_FINANCE, roles_required
from ..web.refusals import refused
from . import BillingError, corrections, disputes, parse_period, plans, preview, shift_period
from . import reads
from .downloads import attachment_response
from .revenue import parse_amount
from .views import bp


def _is_finance() -> bool:
    return getattr(current_user, "role", None) in HQ_FINANCE


@bp.route("/revenue-checks")
@roles_required(HQ_ALL)
def revenue_checks():
    session = db()
    period = request.args.get("period", "").strip()
    if period:
        try:
            parse_period(period)
        except BillingError as exc:
            flash(str(exc), "error")
            period = ""
    pending = corrections.pending(session=session)
    assessed = reads.assessments(session=session, report_ids=[r.id for _, r, _ in pending])
    return render_template("billing/revenue_checks.html", period=period, pending=pending, assessed=assessed,
                           implausible=reads.implausible_in_force(session=session, period=period or None),
                           disputes=disputes.listing(session=session, status="open"),
                           finance=_is_finance())


@bp.route("/corrections/<int:review_id>", methods=["POST"])
@roles_required(HQ_FINANCE)
def decide_correction(review_id: int):
    session = db()
    accept = request.form.get("decision") == "accept"
    with refused(BillingError) as refusal:
        corrections.decide(session=session, review_id=review_id, accept=accept,
                           reason=request.form.get("reason", "")[:500], actor=audit.Actor.of(current_user),
                           now=datetime.now(timezone.utc))
    if refusal:
        return redirect(url_for(".revenue_checks"))
    session.commit()
    flash(_("Correction accepted: the next run trues it up.") if accept else _("Correction refused."), "success")
    return redirect(url_for(".revenue_checks"))


@bp.route("/disputes/<int:dispute_id>", methods=["POST"])
@roles_required(HQ_FINANCE)
def resolve_dispute(dispute_id: int):
    session = db()
    decision = request.form.get("decision", "")
    with refused(BillingError) as refusal:
        granted = parse_amount(request.form.get("amount", ""), _("amount granted")) \
            if decision == "partly" else None
        disputes.resolve(session=session, dispute_id=dispute_id, decision=decision,
                         reason=request.form.get("reason", "")[:1000], granted=granted,
                         actor=audit.Actor.of(current_user), now=datetime.now(timezone.utc))
    if refusal:
        return redirect(request.form.get("back") == "invoice" and url_for(
            ".invoice", invoice_id=_dispute_invoice(dispute_id)) or url_for(".revenue_checks"))
    session.commit()
    flash(_("Dispute decided; the partner is told by mail."), "success")
    return redirect(url_for(".revenue_checks"))


def _dispute_invoice(dispute_id: int) -> int:
    return row_or_404(InvoiceDispute, dispute_id).invoice_id


@bp.route("/disputes/<int:dispute_id>/attachments/<int:attachment_id>")
@roles_required(HQ_ALL)
def dispute_attachment(dispute_id: int, attachment_id: int):
    found = db().get(DisputeAttachment, attachment_id)
    if found is None or found.dispute_id != dispute_id:
        abort(404)
    return attachment_response(found)


@bp.route("/reports/<code>/<period>")
@roles_required(HQ_ALL)
def report_versions(code: str, period: str):
    session = db()
    site = site_or_404(code)  # the one site-by-code lookup
    try:
        parse_period(period)
    except BillingError:
        abort(404)
    versions = corrections.versions(session=session, site_id=site.id, period=period)
    if not versions:
        abort(404)
    assessed = reads.assessments(session=session, report_ids=[v.report.id for v in versions])
    return render_template("billing/report_versions.html", site=site, period=period, versions=versions,
                           assessed=assessed, keys=sorted({k for v in versions for k in (v.report.breakdown or {})}))


@bp.route("/diff")
@roles_required(HQ_ALL)
def run_diff():
    session = db()
    periods = reads.invoice_periods(session=session)
    period = request.args.get("period", "").strip() or (periods[0] if periods else "")
    against = request.args.get("against", "").strip()
    found, error = None, ""
    if period:
        try:
            parse_period(period)
            if against != "last-run":
                against = against or shift_period(period, -1)
            found = preview.diff_page(session=session, period=period, against=against,
                                      plans=plans(settings().royalty_dir),
                                      today=datetime.now(timezone.utc).date(), now=datetime.now(timezone.utc),
                                      page=page_number(request.args))
        except BillingError as exc:
            error = str(exc)
            session.rollback()
        else:
            session.commit()  # only the preview just computed, if any (a diff writes nothing else)
    return render_template("billing/run_diff.html", period=period, against=against,
                           result=found.result if found else None, rows_page=found.rows_page if found else None,
                           computed_at=found.computed_at if found else None, error=error, periods=periods)
