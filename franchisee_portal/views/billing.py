"""Portal pages of the billing area: revenue reports, invoices, the calculation behind each line, PDFs.

Every lookup goes through ``franchisee_portal.scope``: another partner's report,
invoice or PDF is simply not found (404). Drafts are HQ's work in progress and
are not shown to partners.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user


from brand_hub import tenure
from brand_hub.billing import BillingError, corrections, parse_period, shift_period
from brand_hub.billing.revenue import BREAKDOWN_KEYS, newest_report, parse_amount, submit_report
from brand_hub.billing import reads
from brand_hub.billing.downloads import pdf_response
from brand_hub.models import Site
from brand_hub.models.billing import Invoice, InvoiceStatus, ReportSource, ReportStatus, RevenueReport
from brand_hub.paging import page_number, paginate
from brand_hub.web import converters, db
from brand_hub.web.access import PORTAL_ADMINS, PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned, get_owned_by, held_sites_select, owned_select


def _default_period() -> str:
    today = datetime.now(timezone.utc).date()
    return shift_period(f"{today.year:04d}-{today.month:02d}", -1)


@bp.route("/revenue", methods=["GET", "POST"])
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def revenue():
    session = db()
    sites = session.exec(held_sites_select().order_by(Site.code)).all()  # issue 17: a past month of a site held before
    form = {"site": request.form.get("site", ""), "period": request.form.get("period", _default_period()),
            "gross_revenue": request.form.get("gross_revenue", "")}
    form.update({k: request.form.get(k, "") for k in BREAKDOWN_KEYS})
    if request.method == "POST":
        site = get_owned_by(session, Site, code=form["site"])
        try:
            period = converters.month(form["period"], _("period"), default="")
            tenure.require_month_holder(session=session, site=site, period=period,
                                        franchisee_id=current_franchisee_id())  # issue 17
            gross = converters.amount(form["gross_revenue"], _("gross revenue"), required=True)
            labels = {"desks": _("Desks"), "offices": _("Private offices"), "meeting_rooms": _("Meeting rooms"),
                      "services": _("Services")}  # the form's own labels, so a refusal names the field shown
            breakdown = {k: converters.amount(form[k], labels[k]) for k in BREAKDOWN_KEYS if form[k].strip()}
            corrections.check_breakdown(gross, breakdown, labels)  # issue 11: the refusal names the field shown
            confirm = _confirmation(session, site, form, gross)  # issue 11: a change above 20 % is confirmed
            if confirm is not None:
                return render_template("portal/revenue.html", sites=sites, form=form, confirm=confirm,
                                       **_revenue_lists(session, sites))
            report, written = submit_report(session=session, site=site, period=period,
                                            gross_revenue=gross, breakdown=breakdown, source=ReportSource.portal,
                                            submitted_by=current_user.email,
                                            today=datetime.now(timezone.utc).date())
        except (BillingError, tenure.TenureError, converters.BadInput) as exc:
            session.rollback()
            flash(str(exc), "error")
        else:
            held = written and corrections.review_of(session=session, report_id=report.id) is not None
            session.commit()
            if held:
                flash(_("Correction saved as version %(version)s; it waits for HQ finance to review it. "
                        "Until then the figure in force stays.", version=report.version), "success")
            else:
                flash(_("Revenue report saved (version %(version)s).", version=report.version) if written
                      else _("Nothing changed: this report is already in force."), "success")
            return redirect(url_for("portal.revenue"))
    return render_template("portal/revenue.html", sites=sites, form=form, confirm=None,
                           **_revenue_lists(session, sites))


def _revenue_lists(session, sites) -> dict:
    """One page of the partner's reports (every version, newest first), with the review of each correction."""
    page = paginate(session, owned_select(RevenueReport).order_by(RevenueReport.period.desc(),
                                                                  RevenueReport.site_id,
                                                                  RevenueReport.version.desc()),
                    page=page_number(request.args))
    reports = page.items
    reviews = reads.correction_reviews(session=session, report_ids=[r.id for r in reports])
    return dict(reports=reports, page=page, reviews=reviews, site_codes={s.id: s for s in sites},
                breakdown_keys=BREAKDOWN_KEYS)


def _confirmation(session, site: Site, form: dict, gross) -> dict | None:
    """Issue 11: when the new figure differs from the one in force by more than 20 %, show both and ask."""
    try:
        period = form["period"].strip()
        parse_period(period)
    except BillingError:
        return None  # submit_report says what is wrong with the month
    current = newest_report(session=session, site_id=site.id, period=period)
    if current is None or current.status == ReportStatus.estimated:
        return None
    if not corrections.needs_confirmation(current.gross_revenue, gross):
        return None
    if request.form.get("confirm_gross") == str(gross):
        return None  # the partner saw the two figures and confirmed this one
    share = corrections.change_share(current.gross_revenue, gross)
    return {"old": current.gross_revenue, "new": gross, "share": share * 100, "version": current.version,
            "lower": gross < current.gross_revenue}


@bp.route("/invoices")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoices():
    page = paginate(db(), owned_select(Invoice).where(Invoice.status != InvoiceStatus.draft)
                    .order_by(Invoice.period.desc(), Invoice.number), page=page_number(request.args))
    return render_template("portal/invoices.html", invoices=page.items, page=page,
                           today=datetime.now(timezone.utc).date())


def _own_issued(invoice_id: int) -> Invoice:
    found = get_owned(db(), Invoice, invoice_id)
    if found.status == InvoiceStatus.draft:
        abort(404)
    return found


@bp.route("/invoices/<int:invoice_id>")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoice(invoice_id: int):
    return render_template("portal/invoice.html", **reads.invoice_page(session=db(), invoice=_own_issued(invoice_id),
                                                                       today=date.today()))


@bp.route("/invoices/<int:invoice_id>.pdf")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoice_pdf(invoice_id: int):
    return pdf_response(db(), _own_issued(invoice_id))
