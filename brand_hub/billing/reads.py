"""What billing's pages show beyond finance's lists (those are in ``billing.pages``): an invoice's page,
for HQ and the portal alike, and the revenue checks of issue 11.

Read-only, from explicit arguments (no request): an invoice with its lines, reports,
credit notes and payments; what waits for HQ finance, the implausible reports in
force, the assessments of given reports, the periods and partners a billing-run
diff offers. The views parse, call these and render.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from ..models.billing import BillingRun, CreditNote, Invoice, InvoiceLine, Payment, RevenueReport
from ..models.trust import CorrectionReview, InvoiceDispute, ReviewStatus, RevenueAssessment
from . import corrections, invoices, plausibility

PER_PAGE = 50


def invoice_page(*, session: Session, invoice: Invoice, today: date) -> dict:
    """What an invoice page shows, on the dashboard and in the portal (the caller has checked the scope)."""
    lines = invoices.invoice_lines(session=session, invoice_id=invoice.id)
    reports = {r.id: r for r in session.exec(select(RevenueReport).where(
        RevenueReport.id.in_([line.revenue_report_id for line in lines if line.revenue_report_id]))).all()}
    corrected = {i.id: i for i in session.exec(select(Invoice).where(
        Invoice.id.in_([line.corrects_invoice_id for line in lines if line.corrects_invoice_id]))).all()}
    return dict(
        invoice=invoice, lines=lines, reports=reports, corrected=corrected,
        sites=invoices.site_names(session=session, site_ids={line.site_id for line in lines if line.site_id}),
        franchisee=session.get(Franchisee, invoice.franchisee_id),
        agreement=session.get(Agreement, invoice.agreement_id),
        credit_notes=session.exec(select(CreditNote).where(CreditNote.invoice_id == invoice.id)
                                  .order_by(CreditNote.id)).all(),
        payments=session.exec(select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id)).all(),
        has_pdf=invoice.pdf_sha256 is not None, today=today)


def checks_counts(*, session: Session) -> dict[str, int]:
    """What waits for HQ finance: corrections to review, open disputes, implausible reports (for the banner).

    One statement (issue 10: the banner is on every billing page): the three counts as scalar subqueries, the
    implausible reports counted over the very list the checks page shows."""
    corrections = select(func.count()).select_from(CorrectionReview).where(
        CorrectionReview.status == ReviewStatus.pending).scalar_subquery()
    disputes = select(func.count()).select_from(InvoiceDispute).where(InvoiceDispute.status == "open").scalar_subquery()
    implausible = select(func.count()).select_from(
        _implausible_stmt(period=None).with_only_columns(RevenueAssessment.id).order_by(None).subquery()) \
        .scalar_subquery()
    found = session.execute(select(corrections, disputes, implausible)).one()
    return {"corrections": int(found[0] or 0), "disputes": int(found[1] or 0), "implausible": int(found[2] or 0)}


def _implausible_stmt(*, period: str | None):
    """The list ``implausible_in_force`` reads (the banner counts its rows)."""
    stmt = select(RevenueAssessment, RevenueReport, Site).join(
        RevenueReport, RevenueReport.id == RevenueAssessment.report_id).join(Site, Site.id == RevenueAssessment.site_id) \
        .where(RevenueAssessment.verdict == "implausible", corrections.in_force_clause())
    if period:
        stmt = stmt.where(RevenueAssessment.period == period)
    newest = select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v")) \
        .where(corrections.in_force_clause()).group_by(RevenueReport.site_id, RevenueReport.period).subquery()
    return stmt.join(newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
                     & (RevenueReport.version == newest.c.v)).order_by(RevenueAssessment.period.desc(), Site.code)


def implausible_in_force(*, session: Session, period: str | None, limit: int | None = PER_PAGE):
    """(assessment, report, site) of every implausible report still in force, newest period first."""
    stmt = _implausible_stmt(period=period)
    if limit:
        stmt = stmt.limit(limit)
    return session.exec(stmt).all()


def implausible_reported(*, session: Session, period: str | None) -> list[tuple[RevenueAssessment, Site]]:
    """(assessment, site) of every implausible *reported* figure in force, newest period first, then by site code.

    What ``brandhub revenue doubts`` lists. It differs from ``implausible_in_force`` (the checks
    page and its banner count) on purpose and is kept apart: "in force" here is
    ``plausibility.in_force``, the version the plausibility check itself judges, which leaves
    estimates out, so an implausible assessment of an estimate in force is not listed here;
    and there is no page limit (the command prints them all).
    """
    stmt = select(RevenueAssessment, Site).join(Site, Site.id == RevenueAssessment.site_id).where(
        RevenueAssessment.verdict == "implausible").order_by(RevenueAssessment.period.desc(), Site.code)
    if period:
        stmt = stmt.where(RevenueAssessment.period == period)
    found = session.exec(stmt).all()
    in_force = {r.id for r in plausibility.in_force(session=session, periods={a.period for a, _ in found})}
    return [(a, s) for a, s in found if a.report_id in in_force]


def assessments(*, session: Session, report_ids: list[int]) -> dict[int, RevenueAssessment]:
    """The plausibility assessment of each of these reports, by report id."""
    if not report_ids:
        return {}
    return {a.report_id: a for a in session.exec(select(RevenueAssessment).where(
        RevenueAssessment.report_id.in_(report_ids))).all()}


def invoice_periods(*, session: Session) -> list[str]:
    """Every period with an invoice, newest first (what the billing-run diff offers)."""
    return list(session.exec(select(Invoice.period).distinct().order_by(Invoice.period.desc())).all())


def partner_names(*, session: Session) -> dict[str, str]:
    """Partner code → legal name."""
    return dict(session.exec(select(Franchisee.code, Franchisee.legal_name)).all())


def invoice_line(*, session: Session, line_id: int) -> InvoiceLine | None:
    return session.get(InvoiceLine, line_id)


def invoice_filter_choices(*, session: Session) -> dict[str, list]:
    """What the invoices page offers: the last ten billing runs, the periods billed (three years), partners."""
    return {"runs": list(session.exec(select(BillingRun).order_by(BillingRun.id.desc()).limit(10))),
            "periods": list(session.exec(select(Invoice.period).distinct().order_by(Invoice.period.desc()).limit(36))),
            "partners": partner_choices(session=session)}


def partner_choices(*, session: Session, limit: int = 500) -> list | None:
    """Partners (code, name) for a filter's list; None past ``limit`` partners, where the filter takes a typed code
    (a list cut at ``limit`` left every partner after it out of reach, and 2,000 options weigh 45 KB a page)."""
    found = list(session.exec(select(Franchisee.code, Franchisee.legal_name).order_by(Franchisee.code)
                              .limit(limit + 1)))
    return found if len(found) <= limit else None


def site_money(*, session: Session, site: Site, lines: int = 200) -> tuple[list, list]:
    """A site's revenue reports (every version, newest first) and its latest invoice lines with their invoices."""
    reports = list(session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)
                                .order_by(RevenueReport.period.desc(), RevenueReport.version.desc())))
    found = list(session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                              .where(InvoiceLine.site_id == site.id)
                              .order_by(Invoice.period.desc(), InvoiceLine.position).limit(lines)))
    return reports, found


def correction_reviews(*, session: Session, report_ids: list[int]) -> dict[int, CorrectionReview]:
    """The HQ review of each of these revenue reports that has one, by report id."""
    if not report_ids:
        return {}
    return {r.report_id: r for r in session.exec(select(CorrectionReview).where(
        CorrectionReview.report_id.in_(report_ids)))}
