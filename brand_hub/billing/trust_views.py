"""HQ pages of issue 11 on the billing blueprint: revenue checks (implausible reports, corrections
waiting for review, open disputes), a month's versions side by side, and the billing-run diff.

Views only parse, call a billing service and render; decisions commit once here.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func
from sqlmodel import select

from .. import audit
from ..models import Franchisee, Site
from ..models.billing import Invoice, RevenueReport
from ..models.trust import CorrectionReview, DisputeAttachment, InvoiceDispute, ReviewStatus, RevenueAssessment
from ..web.lookups import site_or_404
from ..web import db
from ..web.access import HQ_ALL, HQ_FINANCE, roles_required
from . import BillingError, corrections, diff, disputes, parse_period, plans, plausibility, runs, shift_period
from . import trust_words
from .revenue import parse_amount
from .views import bp

PER_PAGE = 50


@bp.app_template_global("trust_words")
def _trust_words():
    """The words of issue 11 for templates (findings, verdicts, states, diff causes)."""
    return trust_words


@bp.app_template_global("revenue_checks_counts")
def revenue_checks_counts() -> dict[str, int]:
    """What waits for HQ finance: corrections to review, open disputes, implausible reports (for the banner)."""
    session = db()
    return {
        "corrections": session.exec(select(func.count()).select_from(CorrectionReview).where(
            CorrectionReview.status == ReviewStatus.pending)).one(),
        "disputes": session.exec(select(func.count()).select_from(InvoiceDispute).where(
            InvoiceDispute.status == "open")).one(),
        "implausible": len(_implausible_in_force(session, None, limit=None)),
    }


def _implausible_in_force(session, period: str | None, limit: int | None = PER_PAGE):
    stmt = select(RevenueAssessment, RevenueReport, Site).join(
        RevenueReport, RevenueReport.id == RevenueAssessment.report_id).join(Site, Site.id == RevenueAssessment.site_id) \
        .where(RevenueAssessment.verdict == "implausible", corrections.in_force_clause())
    if period:
        stmt = stmt.where(RevenueAssessment.period == period)
    newest = select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v")) \
        .where(corrections.in_force_clause()).group_by(RevenueReport.site_id, RevenueReport.period).subquery()
    stmt = stmt.join(newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
                     & (RevenueReport.version == newest.c.v)).order_by(RevenueAssessment.period.desc(), Site.code)
    if limit:
        stmt = stmt.limit(limit)
    return session.exec(stmt).all()


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
    assessed = {a.report_id: a for a in session.exec(select(RevenueAssessment).where(
        RevenueAssessment.report_id.in_([r.id for _, r, _ in pending]))).all()} if pending else {}
    return render_template("billing/revenue_checks.html", period=period, pending=pending, assessed=assessed,
                           implausible=_implausible_in_force(session, period or None),
                           disputes=disputes.listing(session=session, status="open"),
                           finance=_is_finance())


@bp.route("/corrections/<int:review_id>", methods=["POST"])
@roles_required(HQ_FINANCE)
def decide_correction(review_id: int):
    session = db()
    accept = request.form.get("decision") == "accept"
    try:
        corrections.decide(session=session, review_id=review_id, accept=accept,
                           reason=request.form.get("reason", "")[:500], actor=audit.Actor.of(current_user),
                           now=datetime.now(timezone.utc))
    except BillingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".revenue_checks"))
    session.commit()
    flash(_("Correction accepted: the next run trues it up.") if accept else _("Correction refused."), "success")
    return redirect(url_for(".revenue_checks"))


@bp.route("/disputes/<int:dispute_id>", methods=["POST"])
@roles_required(HQ_FINANCE)
def resolve_dispute(dispute_id: int):
    session = db()
    decision = request.form.get("decision", "")
    try:
        granted = parse_amount(request.form.get("amount", ""), _("amount granted")) \
            if decision == "partly" else None
        disputes.resolve(session=session, dispute_id=dispute_id, decision=decision,
                         reason=request.form.get("reason", "")[:1000], granted=granted,
                         actor=audit.Actor.of(current_user), now=datetime.now(timezone.utc))
    except BillingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(request.form.get("back") == "invoice" and url_for(
            ".invoice", invoice_id=_dispute_invoice(dispute_id)) or url_for(".revenue_checks"))
    session.commit()
    flash(_("Dispute decided; the partner is told by mail."), "success")
    return redirect(url_for(".revenue_checks"))


def _dispute_invoice(dispute_id: int) -> int:
    found = db().get(InvoiceDispute, dispute_id)
    if found is None:
        abort(404)
    return found.invoice_id


@bp.route("/disputes/<int:dispute_id>/attachments/<int:attachment_id>")
@roles_required(HQ_ALL)
def dispute_attachment(dispute_id: int, attachment_id: int):
    found = db().get(DisputeAttachment, attachment_id)
    if found is None or found.dispute_id != dispute_id:
        abort(404)
    return attachment_response(found)


def attachment_response(found: DisputeAttachment) -> Response:
    """A stored attachment as a download (never rendered inline: it is the partner's file)."""
    safe = "".join(c for c in found.filename if c.isalnum() or c in "._-") or "attachment"
    return Response(found.data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})


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
    assessed = {a.report_id: a for a in session.exec(select(RevenueAssessment).where(
        RevenueAssessment.report_id.in_([v.report.id for v in versions]))).all()}
    return render_template("billing/report_versions.html", site=site, period=period, versions=versions,
                           assessed=assessed, keys=sorted({k for v in versions for k in (v.report.breakdown or {})}))


@bp.route("/diff")
@roles_required(HQ_ALL)
def run_diff():
    session = db()
    latest = session.exec(select(Invoice.period).order_by(Invoice.period.desc()).limit(1)).first()
    period = request.args.get("period", "").strip() or (latest or "")
    against = request.args.get("against", "").strip()
    result, error = None, ""
    if period:
        try:
            parse_period(period)
            if against == "last-run":
                drafts = runs.compute(session=session, period=period, plans=plans(),
                                      today=datetime.now(timezone.utc).date(), problems=[])
                result = diff.rerun(session=session, period=period, drafts=drafts)
            else:
                against = against or shift_period(period, -1)
                result = diff.months(session=session, period=period, against=against)
        except BillingError as exc:
            error = str(exc)
        session.rollback()
    periods = session.exec(select(Invoice.period).distinct().order_by(Invoice.period.desc())).all()
    partners = dict(session.exec(select(Franchisee.code, Franchisee.legal_name)).all())
    return render_template("billing/run_diff.html", period=period, against=against, result=result, error=error,
                           periods=periods, partners=partners)


@bp.app_template_global("invoice_disputes")
def invoice_disputes(invoice_id: int):
    """An invoice's disputes with their attachments, oldest first (HQ and portal invoice pages)."""
    return disputes.of_invoice(session=db(), invoice_id=invoice_id)


@bp.app_template_global("invoice_line")
def invoice_line(line_id: int):
    from ..models.billing import InvoiceLine

    return db().get(InvoiceLine, line_id)
