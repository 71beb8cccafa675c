"""Billing runs: one invoice per active agreement and month, lines per site.

``compute`` reads and writes nothing, so the dry run is ``compute`` plus the review
table. ``write_drafts`` replaces the period's drafts and never touches an issued
invoice; it runs in the caller's one transaction, so a run killed half way leaves
nothing behind and the re-run ends exactly like an uninterrupted one.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models import Agreement, AgreementStatus, Franchisee, Site, SiteStatus
from brand_hub.models.billing import (
    BillingRun,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ReportSource,
    ReportStatus,
    RevenueReport,
)
from standards.royalty_plan import RoyaltyPlan

from . import BillingError, calc, period_end, period_start, shift_period
from .revenue import newest_reports

BILLED_SITES = (SiteStatus.active, SiteStatus.suspended)
REVENUE_KINDS = ("royalty", "minimum_topup", "brand_fund", "true_up")


@dataclass
class DraftInvoice:
    """One agreement's computed invoice, before anything is written."""

    agreement: Agreement
    franchisee: Franchisee
    plan: RoyaltyPlan
    sites: list[Site]
    lines: list[calc.Line]
    totals: calc.Totals
    existing: Invoice | None
    estimates: dict[int, Decimal] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        """True when the month is already issued for this agreement: the run leaves it alone."""
        return self.existing is not None and self.existing.status != InvoiceStatus.draft


def compute(*, session: Session, period: str, plans: dict[str, RoyaltyPlan], today: date,
            problems: list[str] | None = None) -> list[DraftInvoice]:
    """The invoice every active agreement would get for ``period``; reads only.

    An agreement naming a royalty plan that does not exist cannot be billed. With a
    ``problems`` list, each such agreement is left out and said there (the run goes on
    for everyone else: one bad agreement never holds up the network's billing); without
    one, the whole computation is refused.
    """
    start, end = period_start(period), period_end(period)
    agreements = session.exec(select(Agreement).where(
        Agreement.status == AgreementStatus.active, Agreement.start_date <= end,
        or_(Agreement.end_date.is_(None), Agreement.end_date >= start)).order_by(Agreement.number)).all()
    unknown = sorted({a.royalty_plan_id for a in agreements} - set(plans))
    if unknown and problems is None:
        raise BillingError(_l("agreements name royalty plans that do not exist: %(plans)s", plans=", ".join(unknown)))
    for agreement in agreements:
        if agreement.royalty_plan_id not in plans:
            problems.append(f"agreement {agreement.number}: royalty plan '{agreement.royalty_plan_id}' does not "
                            f"exist; not billed for {period} (known plans: {', '.join(sorted(plans)) or 'none'})")
    agreements = [a for a in agreements if a.royalty_plan_id in plans]
    sites_by_agreement: dict[int, list[Site]] = defaultdict(list)
    for site in session.exec(select(Site).where(Site.agreement_id.in_([a.id for a in agreements]),
                                                Site.status.in_(BILLED_SITES)).order_by(Site.code)).all():
        sites_by_agreement[site.agreement_id].append(site)
    site_ids = [s.id for sites in sites_by_agreement.values() for s in sites]
    months = max((p.estimate_months for p in plans.values()), default=3)
    history_periods = [shift_period(period, -i) for i in range(months, 0, -1)]
    reports = newest_reports(session=session, site_ids=site_ids, periods=history_periods + [period])
    existing = {i.agreement_id: i for i in session.exec(select(Invoice).where(Invoice.period == period)).all()}
    franchisees = {f.id: f for f in session.exec(select(Franchisee)).all()}
    true_ups = _true_up_sources(session=session, site_ids=site_ids, period=period)
    corrections = newest_reports(session=session, site_ids=list(true_ups),
                                 periods=sorted({b.service_period for items in true_ups.values() for b in items}))
    late = _overdue_invoices(session=session, agreement_ids=[a.id for a in agreements], period=period)
    disputed = _disputed(session, late)  # issue 11: no late fee on an amount while its dispute is open
    drafts = []
    for agreement in agreements:
        plan = plans[agreement.royalty_plan_id]
        sites = sites_by_agreement.get(agreement.id, [])
        draft = DraftInvoice(agreement=agreement, franchisee=franchisees[agreement.franchisee_id], plan=plan,
                             sites=sites, lines=[], totals=calc.totals([], plan.vat_rate),
                             existing=existing.get(agreement.id))
        for site in sites:
            month = _site_month(plan, site, period, history_periods, reports)
            if month.estimated:
                draft.estimates[site.id] = month.revenue
            draft.lines += calc.site_lines(plan, month, period)
            draft.lines += _true_up_lines(plan, site, true_ups.get(site.id, []), corrections)
        draft.lines += _late_fee_lines(plan, late.get(agreement.id, []), today, disputed)
        for line in draft.lines:
            line.inputs.setdefault("plan", f"{plan.id} v{plan.version}")
        draft.totals = calc.totals(draft.lines, plan.vat_rate)
        drafts.append(draft)
    return drafts


def _site_month(plan: RoyaltyPlan, site: Site, period: str, history_periods: list[str],
                reports: dict[tuple[int, str], RevenueReport]) -> calc.SiteMonth:
    report = reports.get((site.id, period))
    if report is not None and report.status != ReportStatus.estimated:
        return calc.SiteMonth(site.id, site.code, site.desks, report.gross_revenue, False, report.id, report.version)
    history = [reports[(site.id, p)].gross_revenue for p in history_periods
               if (site.id, p) in reports and reports[(site.id, p)].status != ReportStatus.estimated]
    revenue = calc.estimate_revenue(plan, history)
    return calc.SiteMonth(site.id, site.code, site.desks, revenue, True,
                          report.id if report else None, report.version if report else None)


@dataclass(frozen=True)
class _Billed:
    """What issued invoices charged for one site and month, and the report version they used."""

    service_period: str
    amount: Decimal
    version: int
    invoice_id: int
    invoice_number: str


def _true_up_sources(*, session: Session, site_ids: list[int], period: str) -> dict[int, list[_Billed]]:
    """Earlier months of these sites that issued invoices charged, grouped per site and month."""
    if not site_ids:
        return {}
    rows = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
        InvoiceLine.site_id.in_(site_ids), InvoiceLine.kind.in_(REVENUE_KINDS),
        InvoiceLine.service_period < period, Invoice.status != InvoiceStatus.draft)).all()
    grouped: dict[tuple[int, str], list[tuple[InvoiceLine, Invoice]]] = defaultdict(list)
    for line, invoice in rows:
        grouped[(line.site_id, line.service_period)].append((line, invoice))
    result: dict[int, list[_Billed]] = defaultdict(list)
    for (site_id, month), items in sorted(grouped.items()):
        original = min((inv for line, inv in items if line.kind == "royalty"), key=lambda inv: inv.id,
                       default=items[0][1])
        result[site_id].append(_Billed(month, sum((line.amount for line, _ in items), Decimal("0")),
                                       max(line.revenue_report_version or 0 for line, _ in items),
                                       original.id, original.number or ""))
    return result


def _true_up_lines(plan: RoyaltyPlan, site: Site, billed: list[_Billed],
                   newest: dict[tuple[int, str], RevenueReport]) -> list[calc.Line]:
    """A credit or debit for every invoiced month whose report was corrected after it was billed."""
    lines = []
    for item in billed:
        report = newest.get((site.id, item.service_period))
        if report is None or report.version <= item.version or report.status == ReportStatus.estimated:
            continue
        line = calc.true_up(plan, corrected_revenue=report.gross_revenue, billed=item.amount,
                            invoice_id=item.invoice_id, invoice_number=item.invoice_number)
        if line is None:
            continue
        line.site_id, line.site_code, line.service_period = site.id, site.code, item.service_period
        line.revenue_report_id, line.revenue_report_version = report.id, report.version
        line.inputs.update({"corrected_period": item.service_period, "billed_version": item.version})
        lines.append(line)
    return lines


def _overdue_invoices(*, session: Session, agreement_ids: list[int],
                      period: str) -> dict[int, list[tuple[Invoice, int]]]:
    """Each agreement's unpaid issued invoices of earlier months, with the late days already charged."""
    if not agreement_ids:
        return {}
    invoices = session.exec(select(Invoice).where(
        Invoice.agreement_id.in_(agreement_ids), Invoice.period < period,
        Invoice.status.in_((InvoiceStatus.issued, InvoiceStatus.partially_paid)))).all()
    if not invoices:
        return {}
    charged: dict[int, int] = defaultdict(int)
    for line, _ in session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
            InvoiceLine.kind == "late_fee", InvoiceLine.corrects_invoice_id.in_([i.id for i in invoices]),
            Invoice.status != InvoiceStatus.draft)).all():
        charged[line.corrects_invoice_id] += int(line.inputs.get("days", 0))
    result: dict[int, list[tuple[Invoice, int]]] = defaultdict(list)
    for invoice in sorted(invoices, key=lambda i: i.id):
        result[invoice.agreement_id].append((invoice, charged[invoice.id]))
    return result


def _keep_lines(session: Session, run: BillingRun, drafts: list[DraftInvoice]) -> None:
    from .diff import keep_run_lines

    keep_run_lines(session=session, run=run, drafts=drafts)


def _disputed(session: Session, late: dict[int, list[tuple[Invoice, int]]]) -> dict[int, Decimal]:
    """Issue 11: per overdue invoice, the amount its open disputes contest."""
    from .disputes import open_amounts

    return open_amounts(session=session, invoice_ids=[i.id for items in late.values() for i, _ in items])


def _late_fee_lines(plan: RoyaltyPlan, overdue: list[tuple[Invoice, int]], today: date,
                    disputed: dict[int, Decimal] | None = None) -> list[calc.Line]:
    lines = []
    for invoice, days_charged in overdue:
        if invoice.due_date is None:
            continue
        line = calc.late_fee(plan, invoice_id=invoice.id, invoice_number=invoice.number or "",
                             balance=invoice.balance - (disputed or {}).get(invoice.id, Decimal("0")),
                             due_date=invoice.due_date, today=today,
                             days_already_charged=days_charged)
        if line is not None:
            line.service_period = invoice.period
            lines.append(line)
    return lines


def write_drafts(*, session: Session, period: str, drafts: list[DraftInvoice], actor: audit.Actor,
                 progress: Callable[[DraftInvoice], None] | None = None) -> BillingRun:
    """Replace the period's drafts with ``drafts``; issued invoices are skipped, never changed."""
    run = BillingRun(period=period, started_by=actor.label)
    session.add(run)
    session.flush()
    for draft in drafts:
        if draft.blocked:
            run.skipped_issued += 1
            continue
        invoice = _replace_draft(session, period, draft, run)
        run.drafts += 1
        run.total += invoice.total
        if progress is not None:
            progress(draft)
    run.finished_at = datetime.now(timezone.utc)
    _keep_lines(session, run, drafts)  # issue 11: what this run wrote, for billing-run diffs
    audit.record(session=session, actor=actor, action="billing.run", entity_type="billing_run", entity_id=run.id,
                 after={"period": period, "drafts": run.drafts, "skipped_issued": run.skipped_issued,
                        "total": run.total})
    session.flush()
    return run


def _replace_draft(session: Session, period: str, draft: DraftInvoice, run: BillingRun) -> Invoice:
    invoice = draft.existing
    if invoice is None:
        invoice = Invoice(agreement_id=draft.agreement.id, franchisee_id=draft.agreement.franchisee_id,
                          period=period, plan_id=draft.plan.id)
        session.add(invoice)
    else:
        session.exec(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    invoice.run_id = run.id
    invoice.plan_id, invoice.plan_version = draft.plan.id, draft.plan.version
    invoice.vat_rate, invoice.currency = draft.plan.vat_rate, draft.plan.currency
    invoice.subtotal, invoice.vat, invoice.total = draft.totals.subtotal, draft.totals.vat, draft.totals.total
    invoice.created_at = datetime.now(timezone.utc)
    session.flush()
    estimate_ids = _store_estimates(session, period, draft)
    for position, line in enumerate(draft.lines, start=1):
        report_id = line.revenue_report_id
        if line.estimated and report_id is None and line.site_id in estimate_ids:
            report_id, line.revenue_report_version = estimate_ids[line.site_id]
        session.add(InvoiceLine(
            invoice_id=invoice.id, position=position, site_id=line.site_id, site_code=line.site_code,
            kind=line.kind, description=line.description, service_period=line.service_period or period,
            band=line.band, base=line.base, rate=line.rate, amount=line.amount, estimated=line.estimated,
            revenue_report_id=report_id, revenue_report_version=line.revenue_report_version,
            corrects_invoice_id=line.corrects_invoice_id, plan_id=draft.plan.id, plan_version=draft.plan.version,
            inputs=line.inputs))
    session.flush()
    return invoice


def _store_estimates(session: Session, period: str, draft: DraftInvoice) -> dict[int, tuple[int, int]]:
    """Keep each estimate as an ``estimated`` report (updated in place on re-runs) so lines can cite it."""
    stored = {}
    for site_id, revenue in draft.estimates.items():
        report = session.exec(select(RevenueReport).where(RevenueReport.site_id == site_id,
                                                          RevenueReport.period == period)
                              .order_by(RevenueReport.version.desc())).first()
        if report is None:
            report = RevenueReport(site_id=site_id, period=period, version=1, gross_revenue=revenue,
                                   status=ReportStatus.estimated, source=ReportSource.estimate,
                                   submitted_by="billing run")
            session.add(report)
        elif report.status == ReportStatus.estimated:
            report.gross_revenue = revenue
        session.flush()
        stored[site_id] = (report.id, report.version)
    return stored


# --- the review table of a dry run ----------------------------------------------------------

@dataclass(frozen=True)
class ReviewRow:
    franchisee: str
    agreement: str
    site: str
    amount: Decimal
    previous: Decimal | None
    estimated: bool
    note: str = ""
    doubt: str = ""  # issue 11: why this site's reported revenue is implausible (empty when it is not)

    @property
    def change(self) -> Decimal | None:
        return None if self.previous is None else self.amount - self.previous


@dataclass(frozen=True)
class Review:
    rows: list[ReviewRow]
    invoices: int
    skipped_issued: int
    estimated_sites: int
    subtotal: Decimal
    vat: Decimal
    total: Decimal


def review(*, session: Session, period: str, drafts: list[DraftInvoice]) -> Review:
    """Per partner and site: this month's amount next to last month's, with control totals."""
    previous = _previous_by_site(session, shift_period(period, -1))
    rows = []
    for draft in drafts:
        note = "issued, left alone" if draft.blocked else ""
        by_site: dict[str, Decimal] = defaultdict(Decimal)
        for line in draft.lines:
            by_site[line.site_code or "—"] += line.amount
        for site_code, amount in sorted(by_site.items()):
            site_id = next((s.id for s in draft.sites if s.code == site_code), None)
            rows.append(ReviewRow(franchisee=draft.franchisee.code, agreement=draft.agreement.number, site=site_code,
                                  amount=amount, previous=previous.get((draft.agreement.id, site_code)),
                                  estimated=site_id in draft.estimates, note=note))
    rows = _mark_doubts(session, drafts, rows)  # issue 11: implausible revenue marked in the review table
    live = [d for d in drafts if not d.blocked]
    return Review(rows=rows, invoices=len(live), skipped_issued=len(drafts) - len(live),
                  estimated_sites=sum(len(d.estimates) for d in live),
                  subtotal=sum((d.totals.subtotal for d in live), Decimal("0")),
                  vat=sum((d.totals.vat for d in live), Decimal("0")),
                  total=sum((d.totals.total for d in live), Decimal("0")))


def _previous_by_site(session: Session, period: str) -> dict[tuple[int, str], Decimal]:
    rows = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                        .where(Invoice.period == period)).all()
    result: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for line, invoice in rows:
        result[(invoice.agreement_id, line.site_code or "—")] += line.amount
    return dict(result)


def _mark_doubts(session: Session, drafts: list[DraftInvoice], rows: list[ReviewRow]) -> list[ReviewRow]:
    """Issue 11: each row whose site's revenue line rests on a report assessed implausible says why."""
    from dataclasses import replace

    from .plausibility import doubts, summary_of

    by_site = {(d.agreement.number, line.site_code): line.revenue_report_id for d in drafts for line in d.lines
               if line.kind == "royalty" and line.revenue_report_id and not line.estimated}
    found = doubts(session=session, report_ids=sorted(set(by_site.values())))
    return [replace(row, doubt=summary_of(found[by_site[(row.agreement, row.site)]]))
            if found.get(by_site.get((row.agreement, row.site))) else row for row in rows]
