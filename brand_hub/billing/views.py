"""HQ dashboard pages of the billing area: runs, invoices, detail with explanations, PDFs, credits, payments.

Views only parse, call a billing service and render; changes commit once here.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from standards.loader import InvalidFiles

from .. import audit
from ..models import Agreement, Franchisee, Site
from ..models.billing import BillingRun, CreditNote, Invoice, InvoiceLine, InvoiceStatus, Payment, RevenueReport
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_FINANCE, roles_required

from . import BillingError, invoices, parse_period, pdf, plans, runs, shift_period
from .revenue import parse_amount

bp = Blueprint("billing", __name__, url_prefix="/hq/billing", template_folder="templates")

PER_PAGE = 50


@bp.route("/")
@roles_required(HQ_ALL)
def index():
    session = db()
    query = {k: request.args.get(k, "").strip() for k in ("period", "status", "franchisee", "number")}
    stmt = select(Invoice, Franchisee, Agreement).join(Franchisee, Franchisee.id == Invoice.franchisee_id) \
        .join(Agreement, Agreement.id == Invoice.agreement_id)
    if query["period"]:
        stmt = stmt.where(Invoice.period == query["period"])
    if query["status"] in {s.value for s in InvoiceStatus}:
        stmt = stmt.where(Invoice.status == InvoiceStatus(query["status"]))
    if query["franchisee"]:
        stmt = stmt.where(Franchisee.code == query["franchisee"])
    if query["number"]:
        stmt = stmt.where(Invoice.number.contains(query["number"]))
    rows = session.exec(stmt.order_by(Invoice.period.desc(), Agreement.number).limit(PER_PAGE)).all()
    runs = session.exec(select(BillingRun).order_by(BillingRun.id.desc()).limit(10)).all()
    periods = session.exec(select(Invoice.period).distinct().order_by(Invoice.period.desc())).all()
    partners = session.exec(select(Franchisee.code, Franchisee.legal_name).order_by(Franchisee.code)).all()
    return render_template("billing/index.html", rows=rows, runs=runs, query=query, periods=periods,
                           partners=partners, statuses=[s.value for s in InvoiceStatus], today=date.today())


def _invoice_or_404(invoice_id: int) -> Invoice:
    invoice = db().get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


@bp.route("/invoices/<int:invoice_id>")
@roles_required(HQ_ALL)
def invoice(invoice_id: int):
    session = db()
    found = _invoice_or_404(invoice_id)
    return render_template("billing/invoice.html", **invoice_page(session, found))


def invoice_page(session, found: Invoice) -> dict:
    """What an invoice page shows, on the dashboard and in the portal."""
    lines = invoices.invoice_lines(session=session, invoice_id=found.id)
    reports = {r.id: r for r in session.exec(select(RevenueReport).where(
        RevenueReport.id.in_([line.revenue_report_id for line in lines if line.revenue_report_id]))).all()}
    corrected = {i.id: i for i in session.exec(select(Invoice).where(
        Invoice.id.in_([line.corrects_invoice_id for line in lines if line.corrects_invoice_id]))).all()}
    return dict(
        invoice=found, lines=lines, reports=reports, corrected=corrected,
        sites=invoices.site_names(session=session, site_ids={line.site_id for line in lines if line.site_id}),
        franchisee=session.get(Franchisee, found.franchisee_id), agreement=session.get(Agreement, found.agreement_id),
        credit_notes=session.exec(select(CreditNote).where(CreditNote.invoice_id == found.id)
                                  .order_by(CreditNote.id)).all(),
        payments=session.exec(select(Payment).where(Payment.invoice_id == found.id).order_by(Payment.id)).all(),
        has_pdf=found.pdf_sha256 is not None, today=date.today())


@bp.route("/invoices/<int:invoice_id>.pdf")
@roles_required(HQ_ALL)
def invoice_pdf(invoice_id: int):
    found = _invoice_or_404(invoice_id)
    return pdf_response(db(), found)


def pdf_response(session, found: Invoice) -> Response:
    """The stored PDF as sent to the partner (404 while it has not been rendered)."""
    data = pdf.stored_pdf(session=session, invoice=found)
    if data is None:
        abort(404)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{found.number}.pdf"'})


@bp.route("/invoices/<int:invoice_id>/credit-notes", methods=["POST"])
@roles_required(HQ_FINANCE)
def credit(invoice_id: int):
    session = db()
    found = _invoice_or_404(invoice_id)
    try:
        invoices.credit_note(session=session, number=found.number or "", reason=request.form.get("reason", ""),
                             amount=parse_amount(request.form.get("amount", ""), _("amount")),
                             actor=audit.Actor.of(current_user), now=datetime.now(timezone.utc))
    except BillingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".invoice", invoice_id=invoice_id))
    session.commit()
    flash(_("Credit note issued."), "success")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.route("/invoices/<int:invoice_id>/payments", methods=["POST"])
@roles_required(HQ_FINANCE)
def payment(invoice_id: int):
    session = db()
    found = _invoice_or_404(invoice_id)
    try:
        paid_on = date.fromisoformat(request.form.get("paid_on", ""))
    except ValueError:
        flash(_("The payment date must look like 2026-11-05."), "error")
        return redirect(url_for(".invoice", invoice_id=invoice_id))
    try:
        invoices.mark_paid(session=session, number=found.number or "", paid_on=paid_on,
                           amount=parse_amount(request.form.get("amount", ""), _("amount")),
                           actor=audit.Actor.of(current_user),
                           today=datetime.now(ZoneInfo(settings().timezone)).date())
    except BillingError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".invoice", invoice_id=invoice_id))
    session.commit()
    flash(_("Payment recorded."), "success")
    return redirect(url_for(".invoice", invoice_id=invoice_id))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_billing(code: str):
    session = db()
    site = session.exec(select(Site).where(Site.code == code)).first()
    if site is None:
        abort(404)
    reports = session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)
                           .order_by(RevenueReport.period.desc(), RevenueReport.version.desc())).all()
    lines = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                         .where(InvoiceLine.site_id == site.id)
                         .order_by(Invoice.period.desc(), InvoiceLine.position).limit(200)).all()
    return render_template("billing/site.html", site=site, reports=reports, lines=lines)


@bp.route("/review")
@roles_required(HQ_ALL)
def review():
    """The dry run of a period as a page: the review table finance checks before issuing (reads only)."""
    local_today = datetime.now(ZoneInfo(settings().timezone)).date()
    period = request.args.get("period", "").strip() or shift_period(
        f"{local_today.year:04d}-{local_today.month:02d}", -1)
    try:
        parse_period(period)
        table = runs.review_table(session=db(), period=period, plans=plans(settings().royalty_dir),
                                  today=datetime.now(timezone.utc).date())
    except (BillingError, InvalidFiles) as exc:
        db().rollback()
        return render_template("billing/review.html", period=period, review=None, error=str(exc)), 400
    db().rollback()  # the estimates a run would store are never written by a review
    return render_template("billing/review.html", period=period, review=table, error=None)
