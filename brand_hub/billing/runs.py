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
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_
from sqlmodel import Session, select

from brand_hub import audit, tenure
from brand_hub.models import Agreement, AgreementStatus, Franchisee, Site, SiteStatus
from brand_hub.models.billing import (
    BillingRun,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    ReportSource,
    ReportStatus,
    RevenueReport,
)
from standards.royalty_plan import RoyaltyPlan

from . import BillingError, calc, period_end, period_start, shift_period
from .revenue import newest_reports

BILLED_SITES = (SiteStatus.active, SiteStatus.suspended)
REVENUE_KINDS = ("royalty", "minimum_topup", "brand_fund", "true_up")


@dataclass(frozen=True)
class LeftOut:
    """An active agreement the run does not bill for the month, and why (said to finance, never silent)."""

    agreement: str
    franchisee: str
    reason: str
    code: str = ""  # "no_billable_site" or "unknown_plan": pages say the reason in the reader's language
    detail: dict[str, Any] = field(default_factory=dict)  # the sites by status, or the plan named


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
            problems: list[str] | None = None, left_out: list[LeftOut] | None = None) -> list[DraftInvoice]:
    """The invoice every active agreement would get for ``period``; reads only.

    An agreement naming a royalty plan that does not exist cannot be billed. With a
    ``problems`` list, each such agreement is left out and said there (the run goes on
    for everyone else: one bad agreement never holds up the network's billing); without
    one, the whole computation is refused.

    An agreement with nothing to bill (no active or suspended site, e.g. all its sites
    still onboarding, and no late fee owed) gets no invoice at all: a numbered 0.00
    invoice with no lines would be a gap in what accounting receives. Every agreement
    left out, for either reason, is added to ``left_out`` with the reason.
    """
    start, end = period_start(period), period_end(period)
    agreements = session.exec(select(Agreement).where(
        Agreement.status == AgreementStatus.active, Agreement.start_date <= end,
        or_(Agreement.end_date.is_(None), Agreement.end_date >= start)).order_by(Agreement.number)).all()
    unknown = sorted({a.royalty_plan_id for a in agreements} - set(plans))
    if unknown and problems is None:
        raise BillingError(_l("agreements name royalty plans that do not exist: %(plans)s", plans=", ".join(unknown)))
    franchisees = {f.id: f for f in session.exec(select(Franchisee)).all()}
    for agreement in agreements:
        if agreement.royalty_plan_id not in plans:
            if left_out is not None:
                left_out.append(LeftOut(agreement.number, franchisees[agreement.franchisee_id].code,
                                        f"royalty plan '{agreement.royalty_plan_id}' does not exist",
                                        "unknown_plan", {"plan": agreement.royalty_plan_id}))
            problems.append(f"agreement {agreement.number}: royalty plan '{agreement.royalty_plan_id}' does not "
                            f"exist; not billed for {period} (known plans: {', '.join(sorted(plans)) or 'none'})")
    agreements = [a for a in agreements if a.royalty_plan_id in plans]
    # issue 17: a site-month is billed to the agreement in force that month (the site's tenure), not today's
    sites_by_agreement = tenure.sites_by_agreement(session=session, period=period,
                                                   agreement_ids=[a.id for a in agreements], statuses=BILLED_SITES)
    site_ids = [s.id for sites in sites_by_agreement.values() for s in sites]
    # one read for every window in use; each agreement then averages only its own plan's months
    used = {plans[a.royalty_plan_id].estimate_months for a in agreements}
    history_periods = calc.estimate_window(period, max(used, default=0))
    reports = newest_reports(session=session, site_ids=site_ids, periods=history_periods + [period])
    existing = {i.agreement_id: i for i in session.exec(select(Invoice).where(Invoice.period == period)).all()}
    true_ups = _true_up_sources(session=session, agreement_ids=[a.id for a in agreements], period=period)
    corrections = newest_reports(session=session, site_ids=sorted({s for by_site in true_ups.values() for s in by_site}),
                                 periods=sorted({b.service_period for by_site in true_ups.values()
                                                 for items in by_site.values() for b in items}))
    true_up_sites = {s.id: s for s in session.exec(select(Site).where(
        Site.id.in_(sorted({s for by_site in true_ups.values() for s in by_site})))).all()}
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
            month = _site_month(plan, site, period, calc.estimate_window(period, plan.estimate_months), reports)
            if month.estimated:
                draft.estimates[site.id] = month.revenue
            draft.lines += calc.site_lines(plan, month, period)
        for site_id, billed in sorted(true_ups.get(agreement.id, {}).items(),  # issue 17: per site and agreement
                                      key=lambda item: true_up_sites[item[0]].code):
            draft.lines += _true_up_lines(plan, true_up_sites[site_id], billed, corrections)
        draft.lines += _late_fee_lines(plans, plan, late.get(agreement.id, []), today, disputed)
        if not draft.lines and not draft.blocked:
            if left_out is not None:
                left_out.append(_nothing_to_bill(session, agreement, draft.franchisee, period))
            continue
        for line in draft.lines:
            line.inputs.setdefault("plan", f"{plan.id} v{plan.version}")
        draft.totals = calc.totals(draft.lines, plan.vat_rate)
        drafts.append(draft)
    return drafts


def _nothing_to_bill(session: Session, agreement: Agreement, franchisee: Franchisee, period: str) -> LeftOut:
    """Why an agreement has no line this month, in finance's words (which sites it has, in what state)."""
    counts: dict[str, int] = defaultdict(int)
    for status in session.exec(select(Site.status).where(Site.agreement_id == agreement.id)).all():
        counts[SiteStatus(status).value] += 1
    if not counts:
        reason = f"no billable site in {period}: the agreement has no site"
    else:
        held = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        reason = f"no billable site in {period} (sites: {held}); no invoice, no number"
    return LeftOut(agreement.number, franchisee.code, reason, "no_billable_site", {"sites": dict(sorted(counts.items()))})


def _site_month(plan: RoyaltyPlan, site: Site, period: str, history_periods: list[str],
                reports: dict[tuple[int, str], RevenueReport]) -> calc.SiteMonth:
    """The month's report in force, or an estimate from the reports in ``history_periods`` (the plan's window)."""
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


def _true_up_sources(*, session: Session, agreement_ids: list[int],
                     period: str) -> dict[int, dict[int, list[_Billed]]]:
    """Earlier months these agreements' issued invoices charged, per agreement, site and month.

    Issue 17: a true-up is keyed by site *and* the agreement that billed the month, so a
    correction of a month before a site changed hands is trued up on the old holder's
    invoice, against the old holder's issued invoice, never on the new holder's.
    """
    if not agreement_ids:
        return {}
    rows = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
        Invoice.agreement_id.in_(agreement_ids), InvoiceLine.site_id.is_not(None),
        InvoiceLine.kind.in_(REVENUE_KINDS), InvoiceLine.service_period < period,
        Invoice.status != InvoiceStatus.draft)).all()
    grouped: dict[tuple[int, int, str], list[tuple[InvoiceLine, Invoice]]] = defaultdict(list)
    for line, invoice in rows:
        grouped[(invoice.agreement_id, line.site_id, line.service_period)].append((line, invoice))
    result: dict[int, dict[int, list[_Billed]]] = defaultdict(lambda: defaultdict(list))
    for (agreement_id, site_id, month), items in sorted(grouped.items()):
        original = min((inv for line, inv in items if line.kind == "royalty"), key=lambda inv: inv.id,
                       default=items[0][1])
        result[agreement_id][site_id].append(_Billed(month, sum((line.amount for line, _ in items), Decimal("0")),
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


@dataclass(frozen=True)
class _Overdue:
    """An issued invoice that may owe late days, with what the late-fee calendar needs."""

    invoice: Invoice
    principal: Decimal  # the total without the late fees it carries (and their VAT): no interest on interest
    payments: list[tuple[date, Decimal]]
    charged_before: Decimal


def _overdue_invoices(*, session: Session, agreement_ids: list[int], period: str) -> dict[int, list[_Overdue]]:
    """Each agreement's issued invoices of earlier months that may owe late days.

    Still open ones, and paid ones with a payment after the due date (paid late, maybe
    after the last run: their days are still owed). Credit notes reduce the principal from
    the start (a credited amount was never owed); payments from their own date.
    """
    if not agreement_ids:
        return {}
    paid_late = select(Payment.id).where(Payment.invoice_id == Invoice.id, Payment.paid_on > Invoice.due_date).exists()
    invoices = session.exec(select(Invoice).where(
        Invoice.agreement_id.in_(agreement_ids), Invoice.period < period, Invoice.due_date.is_not(None),
        or_(Invoice.status.in_((InvoiceStatus.issued, InvoiceStatus.partially_paid)),
            (Invoice.status == InvoiceStatus.paid) & paid_late))).all()
    if not invoices:
        return {}
    ids = [i.id for i in invoices]
    charged: dict[int, Decimal] = defaultdict(Decimal)
    for line, _ in session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
            InvoiceLine.kind == "late_fee", InvoiceLine.corrects_invoice_id.in_(ids),
            Invoice.status != InvoiceStatus.draft)).all():
        charged[line.corrects_invoice_id] += line.amount
    carried: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, amount in session.exec(select(InvoiceLine.invoice_id, InvoiceLine.amount).where(
            InvoiceLine.invoice_id.in_(ids), InvoiceLine.kind == "late_fee")).all():
        carried[invoice_id] += amount
    payments: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for payment in session.exec(select(Payment).where(Payment.invoice_id.in_(ids))).all():
        payments[payment.invoice_id].append((payment.paid_on, payment.amount))
    result: dict[int, list[_Overdue]] = defaultdict(list)
    for invoice in sorted(invoices, key=lambda i: i.id):
        late_part = calc.fen(carried[invoice.id] * (1 + invoice.vat_rate))
        principal = max(invoice.total - late_part - invoice.amount_credited, Decimal("0"))
        result[invoice.agreement_id].append(_Overdue(invoice, principal, payments[invoice.id], charged[invoice.id]))
    return result


def _keep_lines(session: Session, run: BillingRun, drafts: list[DraftInvoice]) -> None:
    from .diff import keep_run_lines

    keep_run_lines(session=session, run=run, drafts=drafts)


def _disputed(session: Session, late: dict[int, list["_Overdue"]]) -> dict[int, Decimal]:
    """Issue 11: per overdue invoice, the amount its open disputes contest."""
    from .disputes import open_amounts

    return open_amounts(session=session, invoice_ids=[item.invoice.id for items in late.values() for item in items])


def _late_fee_lines(plans: dict[str, RoyaltyPlan], plan: RoyaltyPlan, overdue: list[_Overdue],
                    today: date, disputed: dict[int, Decimal] | None = None) -> list[calc.Line]:
    """Late fees by the terms of the plan each overdue invoice was billed under (else the agreement's).

    An amount under an open dispute (issue 11) is left out of the principal while the dispute is open.
    """
    lines = []
    for item in overdue:
        invoice = item.invoice
        principal = max(item.principal - (disputed or {}).get(invoice.id, Decimal("0")), Decimal("0"))
        line = calc.late_fee(plans.get(invoice.plan_id, plan), invoice_id=invoice.id,
                             invoice_number=invoice.number or "", principal=principal,
                             due_date=invoice.due_date, payments=item.payments, as_of=today,
                             charged_before=item.charged_before)
        if line is not None:
            line.service_period = invoice.period
            lines.append(line)
    return lines


def write_drafts(*, session: Session, period: str, drafts: list[DraftInvoice], actor: audit.Actor,
                 progress: Callable[[DraftInvoice], None] | None = None,
                 left_out: list[LeftOut] | None = None) -> BillingRun:
    """Replace the period's drafts with ``drafts``; issued invoices are skipped, never changed.

    A draft of an earlier run whose agreement has no draft now (left out: nothing to bill,
    or no longer active) is deleted, so it can never be issued.
    """
    run = BillingRun(period=period, started_by=actor.label, left_out=len(left_out or []))
    session.add(run)
    session.flush()
    _delete_stale_drafts(session, period, {d.agreement.id for d in drafts})
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
                        "total": run.total, "left_out": [f"{o.agreement}: {o.reason}" for o in left_out or []]})
    session.flush()
    return run


def _delete_stale_drafts(session: Session, period: str, kept: set[int]) -> None:
    stale = [i.id for i in session.exec(select(Invoice).where(
        Invoice.period == period, Invoice.status == InvoiceStatus.draft)).all() if i.agreement_id not in kept]
    if stale:
        session.exec(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(stale)))
        session.exec(delete(Invoice).where(Invoice.id.in_(stale)))
        session.flush()


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
            holder = tenure.partner_of_month(session=session, site=session.get(Site, site_id), period=period)
            report = RevenueReport(site_id=site_id, period=period, franchisee_id=holder, version=1,
                                   gross_revenue=revenue,
                                   status=ReportStatus.estimated, source=ReportSource.estimate,
                                   submitted_by="billing run")
            session.add(report)
        elif report.status == ReportStatus.estimated:
            report.gross_revenue = revenue
        session.flush()
        stored[site_id] = (report.id, report.version)
    return stored


# --- the review table of a dry run ----------------------------------------------------------

LINE_KINDS = ("royalty", "minimum_topup", "brand_fund", "tech_fee", "true_up", "late_fee")
REVENUE_SOURCES = ("reported", "estimated", "corrected")


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
class LabelledLine:
    """A late-fee or true-up line, with what it is computed on in words finance can check by hand."""

    agreement: str
    kind: str
    amount: Decimal
    computed_on: str
    base: Decimal = Decimal("0")
    rate: Decimal = Decimal("0")
    site_code: str = ""
    service_period: str = ""
    report_version: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # the line's inputs, for pages that word it themselves


@dataclass(frozen=True)
class ReviewInvoice:
    """One agreement's invoice of the period: the draft this run writes, or the issued one it leaves alone."""

    franchisee: str
    franchisee_name: str
    agreement: str
    issued: bool  # True: already issued (stored figures, left alone); False: the draft this run writes
    number: str | None
    revenue: dict[str, Decimal]  # reported / estimated / corrected gross revenue of the month's sites
    by_kind: dict[str, Decimal]  # every line kind of LINE_KINDS, 0 when absent
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    estimated_sites: int

    @property
    def base(self) -> Decimal:
        """The revenue the month is billed on: reported + estimated + corrected."""
        return sum(self.revenue.values(), Decimal("0"))


@dataclass(frozen=True)
class PartnerChange:
    """A partner's period total (incl. VAT) against the previous period's issued invoices."""

    franchisee: str
    franchisee_name: str
    current: Decimal
    previous: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.previous is None else self.current - self.previous

    @property
    def change_pct(self) -> Decimal | None:
        if self.previous is None or self.previous == 0:
            return None
        return ((self.current - self.previous) / self.previous * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Control:
    """A control total: two ways of adding the same money, which must agree."""

    label: str
    left: Decimal
    right: Decimal

    @property
    def ok(self) -> bool:
        return self.left == self.right


@dataclass(frozen=True)
class Review:
    rows: list[ReviewRow]
    invoices: int
    skipped_issued: int
    estimated_sites: int
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    period: str = ""
    previous_period: str = ""
    detail: list[ReviewInvoice] = field(default_factory=list)
    labelled: list[LabelledLine] = field(default_factory=list)
    partners: list[PartnerChange] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)

    @property
    def period_total(self) -> Decimal:
        """Drafts plus the invoices already issued for the period: what the period will stand at."""
        return sum((i.total for i in self.detail), Decimal("0"))

    @property
    def previous_total(self) -> Decimal | None:
        known = [p.previous for p in self.partners if p.previous is not None]
        return sum(known, Decimal("0")) if known else None

    @property
    def balanced(self) -> bool:
        return all(c.ok for c in self.controls)


def review(*, session: Session, period: str, drafts: list[DraftInvoice],
           left_out: list[LeftOut] | None = None) -> Review:
    """What finance checks before issuing: per invoice, per partner against last period, and control totals.

    Per invoice: the month's revenue by source (reported / estimated / corrected), the base,
    each line kind, subtotal, VAT and total; drafts as this run would write them, issued
    invoices with their stored figures. Per partner and in total: this period against the
    previous period's issued invoices, the change in CNY and %. The agreements left out and
    why. Late-fee and true-up lines labelled with what they are computed on. Control totals
    that add the same money two ways.
    """
    previous_period = shift_period(period, -1)
    previous = _previous_by_site(session, previous_period)
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
    detail, labelled = _review_detail(session, period, drafts)
    partners = _partner_changes(session, previous_period, detail)
    controls = _controls(detail, live, partners)
    return Review(rows=rows, invoices=len(live), skipped_issued=len(drafts) - len(live),
                  estimated_sites=sum(len(d.estimates) for d in live),
                  subtotal=sum((d.totals.subtotal for d in live), Decimal("0")),
                  vat=sum((d.totals.vat for d in live), Decimal("0")),
                  total=sum((d.totals.total for d in live), Decimal("0")),
                  period=period, previous_period=previous_period, detail=detail, labelled=labelled,
                  partners=partners, left_out=list(left_out or []), controls=controls)


def review_table(*, session: Session, period: str, plans: dict[str, RoyaltyPlan], today: date) -> Review:
    """The dry run as data, for any page that shows it (reads only; agreements with unknown plans are left out)."""
    problems: list[str] = []
    left_out: list[LeftOut] = []
    drafts = compute(session=session, period=period, plans=plans, today=today, problems=problems, left_out=left_out)
    return review(session=session, period=period, drafts=drafts, left_out=left_out)


def _review_detail(session: Session, period: str,
                   drafts: list[DraftInvoice]) -> tuple[list[ReviewInvoice], list[LabelledLine]]:
    stored: dict[int, list[InvoiceLine]] = defaultdict(list)
    blocked_ids = [d.existing.id for d in drafts if d.blocked]
    if blocked_ids:
        for line in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(blocked_ids))
                                 .order_by(InvoiceLine.position)).all():
            stored[line.invoice_id].append(line)
    report_ids = {line.revenue_report_id for d in drafts for line in (stored[d.existing.id] if d.blocked else d.lines)
                  if line.revenue_report_id}
    statuses = {r.id: r.status for r in session.exec(select(RevenueReport).where(
        RevenueReport.id.in_(report_ids))).all()} if report_ids else {}
    detail: list[ReviewInvoice] = []
    labelled: list[LabelledLine] = []
    for draft in drafts:
        lines = stored[draft.existing.id] if draft.blocked else draft.lines
        revenue = {source: Decimal("0") for source in REVENUE_SOURCES}
        seen: set[int] = set()
        by_kind = {kind: Decimal("0") for kind in LINE_KINDS}
        for line in lines:
            by_kind[line.kind] = by_kind.get(line.kind, Decimal("0")) + line.amount
            if line.kind in ("royalty", "minimum_topup", "brand_fund") and line.service_period == period \
                    and line.site_id not in seen and "revenue" in line.inputs:
                seen.add(line.site_id)
                if line.estimated:
                    source = "estimated"
                elif statuses.get(line.revenue_report_id) == ReportStatus.corrected:
                    source = "corrected"
                else:
                    source = "reported"
                revenue[source] += Decimal(str(line.inputs["revenue"]))
            if line.kind in ("late_fee", "true_up"):
                labelled.append(LabelledLine(draft.agreement.number, line.kind, line.amount, _computed_on(line),
                                             line.base, line.rate, line.site_code, line.service_period,
                                             line.revenue_report_version, dict(line.inputs)))
        if draft.blocked:
            invoice = draft.existing
            subtotal, vat, total = invoice.subtotal, invoice.vat, invoice.total
        else:
            subtotal, vat, total = draft.totals.subtotal, draft.totals.vat, draft.totals.total
        detail.append(ReviewInvoice(
            franchisee=draft.franchisee.code, franchisee_name=draft.franchisee.legal_name,
            agreement=draft.agreement.number, issued=draft.blocked,
            number=draft.existing.number if draft.blocked else None, revenue=revenue, by_kind=by_kind,
            subtotal=subtotal, vat=vat, total=total,
            estimated_sites=len({line.site_id for line in lines if line.estimated and line.site_id})))
    return detail, labelled


def _computed_on(line) -> str:
    """What a late fee or a true-up is computed on, from the inputs the line keeps."""
    inputs = line.inputs
    if line.kind == "late_fee" and "spans" in inputs:
        spans = "; ".join(f"{s['from']}..{s['to']} {Decimal(s['balance']):,.2f} × {s['days']} d"
                          for s in inputs["spans"])
        cap = f", cap {Decimal(inputs['cap']):,.2f}" if inputs.get("cap") else ""
        return (f"{inputs.get('invoice')} ({line.service_period}), principal {line.base:,.2f} without late fees, "
                f"simple daily {line.rate.normalize():f} from {inputs.get('from')} (due {inputs.get('due_date')} + "
                f"{inputs.get('grace_days')} d grace) to {inputs.get('as_of')}: {spans}; accrued "
                f"{Decimal(inputs.get('accrued', '0')):,.2f}{cap}, charged before "
                f"{Decimal(inputs.get('charged_before', '0')):,.2f}")
    if line.kind == "late_fee":
        return f"{inputs.get('invoice')}: balance {line.base:,.2f} × {line.rate} × {inputs.get('days')} days"
    return (f"{inputs.get('invoice')} ({line.service_period}) {line.site_code}: corrected revenue "
            f"{line.base:,.2f} (report v{line.revenue_report_version}) recomputes to "
            f"{Decimal(inputs.get('recomputed', '0')):,.2f}, billed {Decimal(inputs.get('billed', '0')):,.2f}")


def _partner_changes(session: Session, previous_period: str, detail: list[ReviewInvoice]) -> list[PartnerChange]:
    current: dict[str, Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for invoice in detail:
        current[invoice.franchisee] += invoice.total
        names[invoice.franchisee] = invoice.franchisee_name
    before: dict[str, Decimal] = defaultdict(Decimal)
    for code, name, total in session.exec(
            select(Franchisee.code, Franchisee.legal_name, Invoice.total)
            .join(Franchisee, Franchisee.id == Invoice.franchisee_id)
            .where(Invoice.period == previous_period, Invoice.status != InvoiceStatus.draft)).all():
        before[code] += total
        names.setdefault(code, name)
        current.setdefault(code, Decimal("0"))
    return [PartnerChange(code, names[code], current[code], before.get(code)) for code in sorted(current)]


def _controls(detail: list[ReviewInvoice], live: list[DraftInvoice], partners: list[PartnerChange]) -> list[Control]:
    zero = Decimal("0")
    kinds = sum((sum(i.by_kind.values(), zero) for i in detail), zero)
    subtotals = sum((i.subtotal for i in detail), zero)
    vats = sum((i.vat for i in detail), zero)
    totals = sum((i.total for i in detail), zero)
    lines = sum((line.amount for d in live for line in d.lines), zero)
    return [
        Control("sum of every line = sum of subtotals", kinds, subtotals),
        Control("sum of subtotals + VAT = sum of totals", subtotals + vats, totals),
        Control("sum of partners = sum of invoices", sum((p.current for p in partners), zero), totals),
        Control("lines of the drafts = draft subtotals", lines, sum((d.totals.subtotal for d in live), zero)),
    ]


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
