"""Billing-run diff: every change between two sets of invoice lines, per partner, site and line kind, explained.

Two comparisons:

* a month against another (``--period 2026-11 --against 2026-10``): the invoice lines of
  each month (drafts or issued) side by side;
* a re-run against the drafts last written for the same month: what the run would write
  now (``runs.compute``) against the lines of the last run (``billing_run_line``, kept by
  every run because drafts are replaced).

Each changed row says why, in codes the pages and the CLI put into words: revenue changed,
estimate replaced by a report, now estimated, correction trued up, plan changed, rate
changed, desks changed, site opened, site closed, late fee.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, select

from brand_hub.models import Agreement, Franchisee
from brand_hub.models.billing import BillingRun, Invoice, InvoiceLine
from brand_hub.models.trust import RunLine

from . import parse_period

ZERO = Decimal("0")
REVENUE_KINDS = ("royalty", "minimum_topup", "brand_fund")
CAUSE_WORDS = {
    "revenue_changed": "revenue changed", "estimate_replaced": "estimate replaced by a report",
    "now_estimated": "now an estimate (report missing)", "correction_trued_up": "correction trued up",
    "plan_changed": "plan changed", "rate_changed": "rate changed", "desks_changed": "desks changed",
    "site_opened": "site opened", "site_closed": "site closed", "late_fee": "late fee",
}


@dataclass
class Fact:
    """One line reduced to what the diff compares."""

    partner: str
    agreement: str
    site: str
    kind: str
    service_period: str
    amount: Decimal
    base: Decimal
    rate: Decimal
    estimated: bool
    plan: str


@dataclass
class Side:
    amount: Decimal = ZERO
    base: Decimal = ZERO
    rates: set[Decimal] = field(default_factory=set)
    estimated: bool = False
    plans: set[str] = field(default_factory=set)
    service_periods: set[str] = field(default_factory=set)

    def add(self, f: Fact) -> None:
        self.amount += f.amount
        self.base += f.base
        self.rates.add(f.rate)
        self.estimated = self.estimated or f.estimated
        self.plans.add(f.plan)
        self.service_periods.add(f.service_period)


@dataclass(frozen=True)
class DiffRow:
    partner: str
    agreement: str
    site: str
    kind: str
    before: Decimal | None
    after: Decimal | None
    causes: tuple[str, ...]
    detail: str = ""

    @property
    def change(self) -> Decimal:
        return (self.after or ZERO) - (self.before or ZERO)

    def words(self) -> str:
        return ", ".join(CAUSE_WORDS.get(c, c) for c in self.causes)


@dataclass(frozen=True)
class Diff:
    title_before: str
    title_after: str
    rows: list[DiffRow]
    total_before: Decimal
    total_after: Decimal

    @property
    def total_change(self) -> Decimal:
        return self.total_after - self.total_before


def compare(before: list[Fact], after: list[Fact], *, title_before: str, title_after: str) -> Diff:
    """Side by side per (agreement, site, kind); only rows that changed, each with its causes."""
    sides: dict[tuple[str, str, str, str], list[Side | None]] = defaultdict(lambda: [None, None])
    sites_before = {(f.agreement, f.site) for f in before}
    sites_after = {(f.agreement, f.site) for f in after}
    for index, facts in ((0, before), (1, after)):
        for f in facts:
            key = (f.partner, f.agreement, f.site, f.kind)
            if sides[key][index] is None:
                sides[key][index] = Side()
            sides[key][index].add(f)
    rows = []
    for (partner, agreement, site, kind), (old, new) in sorted(sides.items()):
        causes: list[str] = []
        detail = ""
        if site and (agreement, site) not in sites_before:
            causes.append("site_opened")
        elif site and (agreement, site) not in sites_after:
            causes.append("site_closed")
        elif kind == "true_up" and new is not None:
            causes.append("correction_trued_up")
            detail = ", ".join(sorted(new.service_periods))
        elif kind == "late_fee":
            causes.append("late_fee")
        elif old is not None and new is not None:
            if old.plans != new.plans:
                causes.append("plan_changed")
                detail = f"{'/'.join(sorted(old.plans))} → {'/'.join(sorted(new.plans))}"
            if kind in REVENUE_KINDS:
                if old.estimated and not new.estimated:
                    causes.append("estimate_replaced")
                elif new.estimated and not old.estimated:
                    causes.append("now_estimated")
                if old.base != new.base:
                    causes.append("revenue_changed")
                    detail = detail or f"{old.base:,.2f} → {new.base:,.2f}"
                elif old.rates != new.rates and "plan_changed" not in causes:
                    causes.append("rate_changed")
            if kind == "tech_fee" and old.base != new.base:
                causes.append("desks_changed")
                detail = f"{old.base:,.0f} → {new.base:,.0f}"
            if kind == "tech_fee" and old.rates != new.rates and "plan_changed" not in causes:
                causes.append("rate_changed")
        elif kind in REVENUE_KINDS and new is not None and old is None:
            causes.append("estimate_replaced" if not new.estimated else "now_estimated")
        old_amount = old.amount if old else None
        new_amount = new.amount if new else None
        if old_amount == new_amount and not (kind in ("true_up", "late_fee") and new is not None and old is None):
            continue
        if not causes:
            causes.append("revenue_changed" if kind in REVENUE_KINDS else kind)
        rows.append(DiffRow(partner, agreement, site, kind, old_amount, new_amount, tuple(causes), detail))
    return Diff(title_before, title_after, rows, sum((f.amount for f in before), ZERO),
                sum((f.amount for f in after), ZERO))


def _names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    return (dict(session.exec(select(Agreement.id, Agreement.number)).all()),
            dict(session.exec(select(Franchisee.id, Franchisee.code)).all()))


def invoice_facts(*, session: Session, period: str) -> list[Fact]:
    """The lines of the month's invoices (drafts and issued), as facts."""
    parse_period(period)
    agreements, partners = _names(session)
    rows = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                        .where(Invoice.period == period)).all()
    return [Fact(partners[i.franchisee_id], agreements[i.agreement_id], line.site_code, line.kind,
                 line.service_period, line.amount, line.base, line.rate, line.estimated,
                 f"{line.plan_id} v{line.plan_version}") for line, i in rows]


def draft_facts(drafts) -> list[Fact]:
    """What a computation would write (``runs.DraftInvoice`` list), as facts; issued months left out."""
    return [Fact(d.franchisee.code, d.agreement.number, line.site_code, line.kind, line.service_period or "",
                 line.amount, line.base, line.rate, line.estimated, f"{d.plan.id} v{d.plan.version}")
            for d in drafts if not d.blocked for line in d.lines]


def last_run(*, session: Session, period: str) -> BillingRun | None:
    return session.exec(select(BillingRun).where(BillingRun.period == period)
                        .order_by(BillingRun.id.desc()).limit(1)).first()


def run_facts(*, session: Session, run_id: int) -> list[Fact]:
    agreements, partners = _names(session)
    return [Fact(partners[r.franchisee_id], agreements[r.agreement_id], r.site_code, r.kind, r.service_period,
                 r.amount, r.base, r.rate, r.estimated, f"{r.plan_id} v{r.plan_version}")
            for r in session.exec(select(RunLine).where(RunLine.run_id == run_id)).all()]


def keep_run_lines(*, session: Session, run: BillingRun, drafts) -> None:
    """Keep what this run wrote (drafts are replaced by the next run; this stays, for diffs)."""
    rows = [dict(run_id=run.id, period=run.period, agreement_id=d.agreement.id, franchisee_id=d.agreement.franchisee_id,
                 site_id=line.site_id, site_code=line.site_code, kind=line.kind,
                 service_period=line.service_period or run.period, band=line.band, base=line.base, rate=line.rate,
                 amount=line.amount, estimated=line.estimated, revenue_report_version=line.revenue_report_version,
                 plan_id=d.plan.id, plan_version=d.plan.version)
            for d in drafts if not d.blocked for line in d.lines]
    if rows:
        session.execute(RunLine.__table__.insert(), rows)


def months(*, session: Session, period: str, against: str) -> Diff:
    """``period``'s invoice lines against ``against``'s."""
    parse_period(against)
    return compare(invoice_facts(session=session, period=against), invoice_facts(session=session, period=period),
                   title_before=against, title_after=period)


def rerun(*, session: Session, period: str, drafts) -> Diff:
    """What a run of ``period`` would write now against the drafts its last run wrote."""
    previous = last_run(session=session, period=period)
    before = run_facts(session=session, run_id=previous.id) if previous else []
    title = f"run {previous.id}" if previous else "no earlier run"
    return compare(before, draft_facts(drafts), title_before=title, title_after="now")
