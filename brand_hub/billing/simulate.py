"""What a royalty plan would have charged: past months re-priced under drafts. Reads only.

HQ asks "what would this new schedule have done to each partner?" before changing it.
The answer must be the money billing itself would compute, so every site-month is priced
by ``calc.site_lines`` — the very function billing runs use, with its one rounding rule —
never by a copy. The simulation writes nothing: no invoice, no draft, no estimate.

What a month is priced on (the *basis*): for every site-month on an invoice of the
period, and every site-month with a revenue report, the newest report in force (a
partner's report or correction; where there is none, the estimate billing stored,
marked as estimated), and the desks billing used (the tech-fee line's) or the site's
desks now. Priced lines are the schedule's own: royalty bands, minimum top-up, brand
fund and technology fee, before VAT. Late fees and true-ups are not a schedule's price
of a month and are left out.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from brand_hub.models import Agreement, Franchisee, Site
from brand_hub.models.billing import Invoice, InvoiceLine, ReportStatus, RevenueReport
from standards.royalty_plan import RoyaltyPlan

from . import BillingError, calc, parse_period, shift_period

SCHEDULE_KINDS = ("royalty", "minimum_topup", "brand_fund", "tech_fee")
CURRENT = "current"
MAX_MONTHS = 36
ZERO = Decimal("0")


@dataclass(frozen=True)
class SiteMonthBasis:
    """One site's month as billing knows it: whose, how much revenue, how many desks."""

    agreement_id: int
    agreement_number: str
    plan_id: str
    franchisee_id: int
    site_id: int
    site_code: str
    period: str
    revenue: Decimal
    estimated: bool
    desks: int


@dataclass(frozen=True)
class Scenario:
    """A plan to price with. A draft replaces the plan of the same id; a plan with a new id
    is tried on every chosen agreement."""

    name: str
    plan: RoyaltyPlan


@dataclass
class Row:
    """Revenue and the charge under each scenario, for a partner, a site or a month."""

    key: str
    label: str = ""
    revenue: Decimal = ZERO
    amounts: dict[str, Decimal] = field(default_factory=dict)
    estimated_months: int = 0

    def delta(self, scenario: str) -> Decimal:
        return self.amounts.get(scenario, ZERO) - self.amounts.get(CURRENT, ZERO)

    def delta_share_of_revenue(self, scenario: str) -> Decimal | None:
        """The change as a share of revenue (e.g. 0.012 = 1.2 points of revenue)."""
        return None if self.revenue == 0 else self.delta(scenario) / self.revenue

    def change(self, scenario: str) -> Decimal | None:
        """The change as a share of today's charge (0.10 = 10 % more)."""
        base = self.amounts.get(CURRENT, ZERO)
        return None if base == 0 else self.delta(scenario) / base

    def effective_rate(self, scenario: str) -> Decimal | None:
        return None if self.revenue == 0 else self.amounts.get(scenario, ZERO) / self.revenue


@dataclass
class Simulation:
    """Everything the simulator page, the CLI and the tests read."""

    periods: list[str]
    scenarios: list[str]
    total: Row
    months: list[Row]
    partners: list[Row]
    sites: list[Row]
    bands: dict[str, list[tuple[str, str, int]]]   # scenario → (plan, band, site-months), bands in order
    left_out: list[str]
    plan_ids: list[str] = field(default_factory=list)
    median_desks: int = 0

    def risers(self, scenario: str, threshold: Decimal) -> list[Row]:
        """Partners whose charge rises by more than ``threshold`` (0.10 = 10 %), largest first."""
        rows = [r for r in self.partners if (r.change(scenario) or ZERO) > threshold]
        return sorted(rows, key=lambda r: r.change(scenario) or ZERO, reverse=True)


def months_between(first: str, last: str) -> list[str]:
    """``2026-01`` … ``2026-10`` inclusive; refused when reversed or longer than three years."""
    start, end = parse_period(first), parse_period(last)
    count = (end[0] - start[0]) * 12 + (end[1] - start[1]) + 1
    if count < 1:
        raise BillingError(f"the range {first} … {last} ends before it starts")
    if count > MAX_MONTHS:
        raise BillingError(f"the range {first} … {last} is {count} months; at most {MAX_MONTHS}")
    return [shift_period(first, i) for i in range(count)]


def basis(*, session: Session, periods: Sequence[str],
          agreement_numbers: Iterable[str] | None = None) -> list[SiteMonthBasis]:
    """Every site-month of ``periods`` that was billed or reported, with the revenue to price it on."""
    periods = list(periods)
    agreements = {a.id: a for a in session.exec(select(Agreement)).all()}
    wanted = None
    if agreement_numbers:
        numbers = set(agreement_numbers)
        unknown = numbers - {a.number for a in agreements.values()}
        if unknown:
            raise BillingError(f"no agreement numbered {', '.join(sorted(unknown))}")
        wanted = {a.id for a in agreements.values() if a.number in numbers}
    billed: dict[tuple[int, str], tuple[int, int | None]] = {}   # (site, month) → (agreement, desks)
    for line, invoice in session.exec(
            select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.period.in_(periods), InvoiceLine.service_period == Invoice.period,
                   InvoiceLine.kind.in_(SCHEDULE_KINDS), InvoiceLine.site_id.is_not(None))).all():
        agreement_id, desks = billed.get((line.site_id, invoice.period), (invoice.agreement_id, None))
        if line.kind == "tech_fee":
            desks = int(line.inputs.get("desks", desks or 0))
        billed[(line.site_id, invoice.period)] = (agreement_id, desks)
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v"))
              .where(RevenueReport.period.in_(periods))
              .group_by(RevenueReport.site_id, RevenueReport.period).subquery())
    reports = {(site_id, period): (revenue, status) for site_id, period, revenue, status in session.execute(
        select(RevenueReport.site_id, RevenueReport.period, RevenueReport.gross_revenue, RevenueReport.status).join(
            newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
            & (RevenueReport.version == newest.c.v)))}
    sites = {s.id: s for s in session.exec(select(Site).where(
        Site.id.in_({site_id for site_id, _ in billed} | {site_id for site_id, _ in reports}))).all()}
    result = []
    for site_id, period in sorted(set(billed) | set(reports), key=lambda k: (k[1], sites[k[0]].code)):
        site = sites[site_id]
        agreement_id, desks = billed.get((site_id, period), (site.agreement_id, None))
        if agreement_id is None or (wanted is not None and agreement_id not in wanted):
            continue
        report = reports.get((site_id, period))
        agreement = agreements[agreement_id]
        result.append(SiteMonthBasis(
            agreement_id=agreement_id, agreement_number=agreement.number, plan_id=agreement.royalty_plan_id,
            franchisee_id=agreement.franchisee_id, site_id=site_id, site_code=site.code, period=period,
            revenue=report[0] if report is not None else ZERO,
            estimated=report is None or report[1] == ReportStatus.estimated,
            desks=site.desks if desks is None else desks))
    return result


def price(plan: RoyaltyPlan, month: SiteMonthBasis) -> Decimal:
    """The schedule's charge for one site-month, before VAT, by billing's own line rules."""
    lines = calc.site_lines(plan, calc.SiteMonth(month.site_id, month.site_code, month.desks, month.revenue,
                                                 month.estimated, None, None), month.period)
    return sum((line.amount for line in lines), ZERO)


def simulate(*, session: Session, plans: dict[str, RoyaltyPlan], drafts: Sequence[Scenario],
             periods: Sequence[str], agreement_numbers: Iterable[str] | None = None) -> Simulation:
    """Price the chosen months under today's plans and under each draft; compare."""
    names = [d.name for d in drafts]
    if len(set(names)) != len(names) or CURRENT in names:
        raise BillingError("each draft needs its own name (and not 'current')")
    months = basis(session=session, periods=periods, agreement_numbers=agreement_numbers)
    franchisees = {f.id: f for f in session.exec(select(Franchisee)).all()}
    scenarios = [CURRENT] + names
    total = Row(key="total")
    by_month = {p: Row(key=p, label=p) for p in periods}
    by_partner: dict[int, Row] = {}
    by_site: dict[int, Row] = {}
    bands: dict[str, dict[tuple[str, Decimal, str], int]] = {name: defaultdict(int) for name in scenarios}
    left_out: set[str] = set()
    for month in months:
        current = plans.get(month.plan_id)
        if current is None:
            left_out.add(f"agreement {month.agreement_number}: royalty plan '{month.plan_id}' does not exist")
            continue
        partner = franchisees[month.franchisee_id]
        rows = (total, by_month[month.period],
                by_partner.setdefault(partner.id, Row(key=partner.code, label=partner.legal_name)),
                by_site.setdefault(month.site_id, Row(key=month.site_code, label=month.agreement_number)))
        charges = {CURRENT: price(current, month)}
        bands[CURRENT][_band(current, month.revenue)] += 1
        for draft in drafts:
            plan = draft.plan if _applies(draft.plan, current, plans) else current
            charges[draft.name] = price(plan, month)
            bands[draft.name][_band(plan, month.revenue)] += 1
        for row in rows:
            row.revenue += month.revenue
            row.estimated_months += month.estimated
            for name, amount in charges.items():
                row.amounts[name] = row.amounts.get(name, ZERO) + amount
    for row in (total, *by_month.values(), *by_partner.values(), *by_site.values()):
        for name in scenarios:
            row.amounts.setdefault(name, ZERO)
    return Simulation(periods=list(periods), scenarios=scenarios, total=total, months=list(by_month.values()),
                      partners=sorted(by_partner.values(), key=lambda r: r.key),
                      sites=sorted(by_site.values(), key=lambda r: r.key),
                      bands={name: [(plan, label, count) for (plan, _lower, label), count in sorted(counts.items())]
                             for name, counts in bands.items()},
                      left_out=sorted(left_out), plan_ids=sorted({m.plan_id for m in months}),
                      median_desks=int(statistics.median([m.desks for m in months])) if months else 0)


def rate_curve(plan: RoyaltyPlan, low: float, top: float, desks: int, points: int = 40) -> list[dict[str, float]]:
    """The plan's effective rate (% of revenue) across monthly revenue from ``low`` to ``top``, for ``desks`` desks."""
    out = []
    for n in range(points + 1):
        revenue = calc.fen(Decimal(str(low)) + (Decimal(str(top)) - Decimal(str(low))) * n / points)
        if revenue <= 0:
            continue
        month = SiteMonthBasis(0, "", plan.id, 0, 0, "", "", revenue, False, desks)
        out.append({"x": float(revenue), "y": float(price(plan, month) / revenue * 100)})
    return out


def _band(plan: RoyaltyPlan, revenue: Decimal) -> tuple[str, Decimal, str]:
    tier = calc.band_of(plan.tiers, revenue)
    return f"{plan.id} v{plan.version}", tier.lower, tier.label()


def _applies(draft: RoyaltyPlan, current: RoyaltyPlan, plans: dict[str, RoyaltyPlan]) -> bool:
    """A draft revises the plan of its id; a plan of a new id is tried on every agreement chosen."""
    return draft.id == current.id or draft.id not in plans
