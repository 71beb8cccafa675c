"""HQ dashboard pages of the billing area: runs, invoices, detail with explanations, PDFs, credits, payments.

Views only parse, call a billing service and render; changes commit once here.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from standards.loader import InvalidFiles

from .. import audit
from ..models.billing import Invoice
from ..dashboard import snapshot as dashboard_snapshot
from ..paging import page_number
from ..web import converters, db, settings
from ..web.access import HQ_ALL, HQ_FINANCE, roles_required
from ..web.lookups import row_or_404, site_or_404
from . import BillingError, invoices, pages, parse_period, plans, preview, reads, shift_period
from .downloads import pdf_response

bp = Blueprint("billing", __name__, url_prefix="/hq/billing", template_folder="templates")

PER_PAGE = 50


def _today() -> date:
    """Today in HQ's zone: an invoice is overdue from the day after its due date there."""
    return datetime.now(ZoneInfo(settings().timezone)).date()


def _page_arg() -> int:
    return converters.page()


def _csv(name: str, text: str) -> Response:
    """A CSV download (with a BOM so spreadsheet programs read the Chinese names right)."""
    return Response("\ufeff" + text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _invoice_filter() -> pages.InvoiceFilter:
    args = request.args
    status = args.get("status", "").strip()
    if status and status not in pages.invoice_statuses():
        abort(400, _("Unknown invoice status."))
    period = args.get("period", "").strip()
    if period:
        try:
            parse_period(period)
        except BillingError as exc:
            abort(400, str(exc))
    return pages.InvoiceFilter(period=period, status=status, franchisee=args.get("franchisee", "").strip(),
                               number=args.get("number", "").strip())


def _invoice_csv_rows(rows, today: date):
    for inv, partner, agreement in rows:
        yield (inv.number or "", inv.period, partner.code, partner.legal_name, agreement.number, inv.status.value,
               "yes" if inv.is_overdue(today) else "", inv.total, inv.amount_paid, inv.amount_credited, inv.balance,
               inv.due_date.isoformat() if inv.due_date else "")


@bp.route("/")
@roles_required(HQ_ALL)
def index():
    """Invoices filtered (by period, status incl. open and overdue, partner, number) with the filtered totals."""
    session = db()
    flt = _invoice_filter()
    today = _today()
    if request.args.get("format") == "csv":
        rows = pages.invoice_rows(session=session, flt=flt, today=today)
        return _csv("invoices", pages.to_csv(
            ["number", "period", "partner", "partner_name", "agreement", "status", "overdue", "total", "paid",
             "credited", "balance", "due_date"], _invoice_csv_rows(rows, today)))
    listing = pages.invoice_list(session=session, flt=flt, today=today, page=_page_arg(), per_page=PER_PAGE)
    choices = reads.invoice_filter_choices(session=session)
    runs, periods, partners = choices["runs"], choices["periods"], choices["partners"]
    money, money_as_of = dashboard_snapshot.monthly_money(session=session, today=today,
                                                          now=datetime.now(timezone.utc))
    return render_template("billing/index.html", rows=listing.items, page=listing, runs=runs, query=flt,
                           periods=periods, partners=partners, statuses=pages.invoice_statuses(), today=today,
                           money=money, money_as_of=money_as_of)


@bp.route("/receivables")
@roles_required(HQ_ALL)
def receivables():
    """What partners owe, by how long past due, largest balance first; the network's total on top."""
    session = db()
    today = _today()
    overdue_only = request.args.get("overdue") == "1"
    if request.args.get("format") == "csv":
        listing, total = pages.receivables(session=session, today=today, overdue_only=overdue_only, limit=100_000)
        rows = [(a.code, a.name, a.invoices, *[a.buckets[b] for b in pages.BUCKETS], a.balance,
                 a.oldest_due.isoformat() if a.oldest_due else "") for a in listing.items]
        return _csv(f"receivables-{today.isoformat()}", pages.to_csv(
            ["partner", "partner_name", "invoices", *pages.BUCKETS, "balance", "oldest_due"], rows))
    listing, total = pages.receivables(session=session, today=today, page=_page_arg(), per_page=PER_PAGE,
                                       overdue_only=overdue_only)
    return render_template("billing/receivables.html", page=listing, total=total, today=today,
                           buckets=pages.BUCKETS, overdue_only=overdue_only)


@bp.route("/periods/<period>")
@roles_required(HQ_ALL)
def run_period(period: str):
    """One billing period: invoices and totals against the month before, runs, estimates, left-out agreements,
    credit notes and payments."""
    session = db()
    try:
        args = request.args
        found = pages.run_page(session=session, period=period, today=_today(), page=_page_arg(), per_page=PER_PAGE,
                               estimated_page=page_number(args, "estimated_page"),
                               left_page=page_number(args, "left_page"),
                               credits_page=page_number(args, "credits_page"),
                               payments_page=page_number(args, "payments_page"))
    except BillingError:
        abort(404)
    if request.args.get("format") == "csv":
        rows = pages.invoice_rows(session=session, flt=pages.InvoiceFilter(period=period), today=_today())
        return _csv(f"billing-{period}", pages.to_csv(
            ["number", "period", "partner", "partner_name", "agreement", "status", "overdue", "total", "paid",
             "credited", "balance", "due_date"], _invoice_csv_rows(rows, _today())))
    return render_template("billing/run.html", run=found, page=found.invoices, today=_today())


@bp.route("/revenue-reports")
@roles_required(HQ_ALL)
def revenue_reports():
    """Every partner's monthly revenue reports: reported, late, estimated, corrected, missing."""
    session = db()
    args = request.args
    state = args.get("state", "").strip()
    period = args.get("period", "").strip()
    if state and state not in pages.REPORT_STATES:
        abort(400, _("Unknown report state."))
    if period:
        try:
            parse_period(period)
        except BillingError as exc:
            abort(400, str(exc))
    flt = pages.ReportFilter(period=period, franchisee=args.get("franchisee", "").strip(), state=state)
    common = dict(session=session, flt=flt, today=_today(), due_day=settings().revenue_report_due_day,
                  tz=settings().timezone)
    if args.get("format") == "csv":
        listing, totals = pages.revenue_reports(**common, limit=100_000)
        rows = [(r.period, r.code, r.name, r.expected, r.reported, r.corrected, r.estimated, r.late, r.missing,
                 r.revenue) for r in listing.items]
        return _csv("revenue-reports", pages.to_csv(
            ["period", "partner", "partner_name", "sites_expected", "reported", "corrected", "estimated", "late",
             "missing", "gross_revenue"], rows))
    listing, totals = pages.revenue_reports(**common, page=_page_arg(), per_page=PER_PAGE)
    partners = reads.partner_choices(session=session)
    return render_template("billing/revenue_reports.html", page=listing, totals=totals, query=flt,
                           partners=partners, states=pages.REPORT_STATES,
                           periods=pages.recent_months(_today(), 12)[::-1])


@bp.route("/invoices/<int:invoice_id>")
@roles_required(HQ_ALL)
def invoice(invoice_id: int):
    session = db()
    found = row_or_404(Invoice, invoice_id)
    return render_template("billing/invoice.html", **reads.invoice_page(session=session, invoice=found,
                                                                         today=date.today()))


@bp.route("/invoices/<int:invoice_id>.pdf")
@roles_required(HQ_ALL)
def invoice_pdf(invoice_id: int):
    found = row_or_404(Invoice, invoice_id)
    return pdf_response(db(), found)


@bp.route("/invoices/<int:invoice_id>/credit-notes", methods=["POST"])
@roles_required(HQ_FINANCE)
def credit(invoice_id: int):
    session = db()
    found = row_or_404(Invoice, invoice_id)
    try:
        invoices.credit_note(session=session, number=found.number or "", reason=request.form.get("reason", ""),
                             amount=converters.amount(request.form.get("amount"), _("amount"), required=True),
                             actor=audit.Actor.of(current_user), now=datetime.now(timezone.utc))
    except (BillingError, converters.BadInput) as exc:
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
    found = row_or_404(Invoice, invoice_id)
    try:
        paid_on = converters.day(request.form.get("paid_on"), "paid_on", required=True)
    except converters.BadInput:
        flash(_("The payment date must look like 2026-11-05."), "error")
        return redirect(url_for(".invoice", invoice_id=invoice_id))
    try:
        invoices.mark_paid(session=session, number=found.number or "", paid_on=paid_on,
                           amount=converters.amount(request.form.get("amount"), _("amount"), required=True),
                           actor=audit.Actor.of(current_user),
                           today=datetime.now(ZoneInfo(settings().timezone)).date())
    except (BillingError, converters.BadInput) as exc:
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
    site = site_or_404(code)
    reports, lines = reads.site_money(session=session, site=site)
    return render_template("billing/site.html", site=site, reports=reports, lines=lines)


@bp.route("/review")
@roles_required(HQ_ALL)
def review():
    """The dry run of a period as a page: the review table finance checks before issuing (reads only)."""
    local_today = datetime.now(ZoneInfo(settings().timezone)).date()
    period = request.args.get("period", "").strip() or shift_period(
        f"{local_today.year:04d}-{local_today.month:02d}", -1)
    args = request.args
    try:
        parse_period(period)
        table = preview.review_page(session=db(), period=period, plans=plans(settings().royalty_dir),
                                    today=datetime.now(timezone.utc).date(), now=datetime.now(timezone.utc),
                                    page=page_number(args), partners_page=page_number(args, "partners_page"),
                                    items_page=page_number(args, "items_page"),
                                    left_page=page_number(args, "left_page"))
    except (BillingError, InvalidFiles) as exc:
        db().rollback()
        return render_template("billing/review.html", period=period, review=None, error=str(exc)), 400
    db().commit()  # only the preview just computed, if any (a review writes no estimate: preview keeps it alone)
    return render_template("billing/review.html", period=period, review=table, error=None)


# issue 11: revenue checks, versions side by side, disputes, billing-run diff (their own module)
from . import trust_views  # noqa: E402,F401
