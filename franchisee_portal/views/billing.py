"""Portal pages of the billing area: revenue reports, invoices, the calculation behind each line, PDFs.

Every lookup goes through ``franchisee_portal.scope``: another partner's report,
invoice or PDF is simply not found (404). Drafts are HQ's work in progress and
are not shown to partners.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub.billing import BillingError, shift_period
from brand_hub.billing.revenue import BREAKDOWN_KEYS, parse_amount, submit_report
from brand_hub.billing.views import invoice_page, pdf_response
from brand_hub.models import Site
from brand_hub.models.billing import Invoice, InvoiceStatus, ReportSource, RevenueReport
from brand_hub.web import db
from brand_hub.web.access import PORTAL_ADMINS, roles_required

from ..blueprint import bp
from ..scope import get_owned, get_owned_by, owned_select


def _default_period() -> str:
    today = datetime.now(timezone.utc).date()
    return shift_period(f"{today.year:04d}-{today.month:02d}", -1)


@bp.route("/revenue", methods=["GET", "POST"])
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def revenue():
    session = db()
    sites = session.exec(owned_select(Site).order_by(Site.code)).all()
    form = {"site": request.form.get("site", ""), "period": request.form.get("period", _default_period()),
            "gross_revenue": request.form.get("gross_revenue", "")}
    form.update({k: request.form.get(k, "") for k in BREAKDOWN_KEYS})
    if request.method == "POST":
        site = get_owned_by(session, Site, code=form["site"])
        try:
            gross = parse_amount(form["gross_revenue"], _("gross revenue"))
            labels = {"desks": _("Desks"), "offices": _("Private offices"), "meeting_rooms": _("Meeting rooms"),
                      "services": _("Services")}  # the form's own labels, so a refusal names the field shown
            breakdown = {k: parse_amount(form[k], labels[k]) for k in BREAKDOWN_KEYS if form[k].strip()}
            report, written = submit_report(session=session, site=site, period=form["period"].strip(),
                                            gross_revenue=gross, breakdown=breakdown, source=ReportSource.portal,
                                            submitted_by=current_user.email,
                                            today=datetime.now(timezone.utc).date())
        except BillingError as exc:
            session.rollback()
            flash(str(exc), "error")
        else:
            session.commit()
            flash(_("Revenue report saved (version %(version)s).", version=report.version) if written
                  else _("Nothing changed: this report is already in force."), "success")
            return redirect(url_for("portal.revenue"))
    reports = session.exec(owned_select(RevenueReport).order_by(RevenueReport.period.desc(),
                                                                RevenueReport.site_id,
                                                                RevenueReport.version.desc()).limit(200)).all()
    return render_template("portal/revenue.html", sites=sites, reports=reports, form=form,
                           site_codes={s.id: s for s in sites}, breakdown_keys=BREAKDOWN_KEYS)


@bp.route("/invoices")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoices():
    rows = db().exec(owned_select(Invoice).where(Invoice.status != InvoiceStatus.draft)
                     .order_by(Invoice.period.desc(), Invoice.number)).all()
    return render_template("portal/invoices.html", invoices=rows, today=datetime.now(timezone.utc).date())


def _own_issued(invoice_id: int) -> Invoice:
    found = get_owned(db(), Invoice, invoice_id)
    if found.status == InvoiceStatus.draft:
        abort(404)
    return found


@bp.route("/invoices/<int:invoice_id>")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoice(invoice_id: int):
    return render_template("portal/invoice.html", **invoice_page(db(), _own_issued(invoice_id)))


@bp.route("/invoices/<int:invoice_id>.pdf")
@roles_required(PORTAL_ADMINS)  # money: partner admins only
def invoice_pdf(invoice_id: int):
    return pdf_response(db(), _own_issued(invoice_id))
