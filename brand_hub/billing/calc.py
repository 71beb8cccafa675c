"""Royalty arithmetic: plain Decimal functions, no database, no Flask.

The one rounding rule lives in ``fen``: every line is rounded to the fen (0.01)
with ROUND_HALF_UP; VAT is computed once per invoice on the sum of the rounded
lines and rounded the same way, so printed lines always add up to printed totals.
Each ``Line`` carries the inputs it was computed from, so any amount can be
explained to a partner who disputes it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from standards.royalty_plan import RoyaltyPlan, Tier

FEN = Decimal("0.01")
ZERO = Decimal("0")


def fen(amount: Decimal) -> Decimal:
    """The billing rounding rule: half up to the fen. Every stored amount passes through here."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    """One amount on an invoice and what it was computed from."""

    kind: str
    description: str
    amount: Decimal
    base: Decimal = ZERO
    rate: Decimal = ZERO
    band: str = ""
    site_id: int | None = None
    site_code: str = ""
    service_period: str = ""
    estimated: bool = False
    revenue_report_id: int | None = None
    revenue_report_version: int | None = None
    corrects_invoice_id: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    vat: Decimal
    total: Decimal


# --- royalty on a site's monthly gross revenue ---------------------------------------------

def royalty_lines(plan: RoyaltyPlan, revenue: Decimal) -> list[Line]:
    """The royalty of one site for one month, one line per band charged (graduated) or one line."""
    if revenue < 0:
        raise ValueError("gross revenue cannot be negative")
    if plan.method == "graduated":
        return _graduated(plan.tiers, revenue)
    tier = plan.tiers[0] if plan.method == "flat" else band_of(plan.tiers, revenue)
    return [Line(kind="royalty", description=f"royalty {tier.label()} @ {tier.rate}", band=tier.label(),
                 base=revenue, rate=tier.rate, amount=fen(revenue * tier.rate),
                 inputs={"method": plan.method, "band": tier.label()})]


def band_of(tiers: tuple[Tier, ...], revenue: Decimal) -> Tier:
    """The half-open band ``[lower, upper)`` that holds ``revenue``: an edge belongs to the band above."""
    for tier in tiers:
        if tier.upper is None or revenue < tier.upper:
            return tier
    return tiers[-1]


def _graduated(tiers: tuple[Tier, ...], revenue: Decimal) -> list[Line]:
    lines = []
    for tier in tiers:
        if revenue <= tier.lower and tier.lower > 0:
            break
        top = revenue if tier.upper is None else min(revenue, tier.upper)
        portion = max(top - tier.lower, ZERO)
        lines.append(Line(kind="royalty", description=f"royalty {tier.label()} @ {tier.rate}", band=tier.label(),
                          base=portion, rate=tier.rate, amount=fen(portion * tier.rate),
                          inputs={"method": "graduated", "band": tier.label()}))
    return lines


def minimum_topup(plan: RoyaltyPlan, royalty: Decimal) -> Line | None:
    """The top-up to the guaranteed monthly minimum, when the site's royalty is below it."""
    if plan.minimum_monthly <= 0 or royalty >= plan.minimum_monthly:
        return None
    return Line(kind="minimum_topup", description=f"minimum top-up to {plan.minimum_monthly}",
                base=royalty, rate=ZERO, amount=fen(plan.minimum_monthly - royalty),
                inputs={"minimum_monthly": str(plan.minimum_monthly), "royalty": str(royalty)})


def brand_fund(plan: RoyaltyPlan, revenue: Decimal) -> Line | None:
    if plan.brand_fund_rate <= 0:
        return None
    return Line(kind="brand_fund", description=f"brand fund @ {plan.brand_fund_rate}", base=revenue,
                rate=plan.brand_fund_rate, amount=fen(revenue * plan.brand_fund_rate))


def tech_fee(plan: RoyaltyPlan, desks: int) -> Line | None:
    if plan.tech_fee_per_desk <= 0 or desks <= 0:
        return None
    return Line(kind="tech_fee", description=f"technology fee {desks} desks × {plan.tech_fee_per_desk}",
                base=Decimal(desks), rate=plan.tech_fee_per_desk, amount=fen(desks * plan.tech_fee_per_desk),
                inputs={"desks": desks})


def revenue_charges(plan: RoyaltyPlan, revenue: Decimal) -> list[Line]:
    """Everything that depends on a site's revenue: royalty bands, minimum top-up, brand fund."""
    lines = royalty_lines(plan, revenue)
    topup = minimum_topup(plan, sum((line.amount for line in lines), ZERO))
    fund = brand_fund(plan, revenue)
    return lines + [line for line in (topup, fund) if line is not None]


# --- estimates, late fees, true-ups ---------------------------------------------------------

def estimate_window(period: str, months: int) -> list[str]:
    """The ``months`` calendar months before ``period``, oldest first: the only months an estimate may average."""
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + month - 1
    return [f"{(index - i) // 12:04d}-{(index - i) % 12 + 1:02d}" for i in range(months, 0, -1)]


def estimate_revenue(plan: RoyaltyPlan, history: list[Decimal]) -> Decimal:
    """A missing month: the average of the reports in the plan's own window, times the plan's uplift.

    ``history`` holds the reports found in the ``missing_report.months`` calendar months
    before the missing one (``estimate_window``), never more: a site with fewer reports
    than the window is averaged over those it has, and a report older than the window
    never counts, whatever window another plan uses. With no report in the window the
    estimate is zero, so the minimum top-up still applies.
    """
    recent = history[-plan.estimate_months:] if history else []
    if not recent:
        return ZERO
    return fen(sum(recent, ZERO) / len(recent) * plan.estimate_uplift)


@dataclass(frozen=True)
class InterestSpan:
    """Days in a row on which the same balance was overdue past grace, and the (unrounded) interest on it."""

    start: date
    end: date  # exclusive: the date the balance changed (a payment) or the run's date
    balance: Decimal
    days: int
    interest: Decimal

    def as_input(self) -> dict[str, str | int]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "balance": str(self.balance),
                "days": self.days, "interest": str(fen(self.interest))}


def interest_spans(*, principal: Decimal, due_date: date, grace_days: int, daily_rate: Decimal,
                   payments: list[tuple[date, Decimal]], as_of: date) -> list[InterestSpan]:
    """Simple daily interest by the calendar: from ``due_date + grace_days`` up to ``as_of``.

    ``principal`` is what the invoice charged *before* any late fee it carries (interest is
    never charged on late fees). Each payment reduces the interest-bearing balance from its
    own date on (a payment dated on the first day past grace owes nothing for that day), so
    a balance paid late but before the next run still owes exactly its days. Payments dated
    after ``as_of`` do not count yet. Interest is not rounded here: the caller rounds the sum
    once, so runs charged month by month add up to the whole to the fen.
    """
    start = due_date + timedelta(days=grace_days)
    if as_of <= start or principal <= 0:
        return []
    balance = principal
    changes: dict[date, Decimal] = defaultdict(Decimal)
    for paid_on, amount in payments:
        if paid_on <= start:
            balance -= amount
        elif paid_on < as_of:
            changes[paid_on] += amount
    spans: list[InterestSpan] = []
    cursor = start
    for when in sorted(changes) + [as_of]:
        if balance > 0 and when > cursor:
            days = (when - cursor).days
            spans.append(InterestSpan(cursor, when, balance, days, balance * daily_rate * days))
        cursor = when
        balance -= changes.get(when, ZERO)
    return spans


def late_fee(plan: RoyaltyPlan, *, invoice_id: int, invoice_number: str, principal: Decimal, due_date: date,
             payments: list[tuple[date, Decimal]], as_of: date, charged_before: Decimal) -> Line | None:
    """The late fee still owed on one issued invoice as of ``as_of``: interest accrued minus what was charged.

    The interest from ``interest_spans`` is summed and rounded once, capped at the plan's
    ``cap_rate`` × principal when the plan has one, and reduced by the late fees earlier
    issued invoices already charged for this invoice, so runs never charge a day twice and
    a run after the invoice was paid (late) still charges the days it owed.
    """
    spans = interest_spans(principal=principal, due_date=due_date, grace_days=plan.late_fee_grace_days,
                           daily_rate=plan.late_fee_daily_rate, payments=payments, as_of=as_of)
    accrued = fen(sum((span.interest for span in spans), ZERO))
    cap = fen(principal * plan.late_fee_cap_rate) if plan.late_fee_cap_rate is not None else None
    owed = min(accrued, cap) if cap is not None else accrued
    amount = owed - charged_before
    if amount <= 0:
        return None
    days = sum(span.days for span in spans)
    start = due_date + timedelta(days=plan.late_fee_grace_days)
    return Line(kind="late_fee",
                description=f"late fee on {invoice_number}: simple daily {plan.late_fee_daily_rate} from "
                            f"{start.isoformat()} to {as_of.isoformat()}, {days} days",
                base=principal, rate=plan.late_fee_daily_rate, amount=amount, corrects_invoice_id=invoice_id,
                inputs={"invoice": invoice_number, "days": days, "due_date": due_date.isoformat(),
                        "grace_days": plan.late_fee_grace_days, "from": start.isoformat(),
                        "as_of": as_of.isoformat(), "principal": str(principal),
                        "spans": [span.as_input() for span in spans], "accrued": str(accrued),
                        "cap": str(cap) if cap is not None else None, "charged_before": str(charged_before)})


def true_up(plan: RoyaltyPlan, *, corrected_revenue: Decimal, billed: Decimal, invoice_id: int,
            invoice_number: str) -> Line | None:
    """The difference between what a corrected report now gives and what was billed (credit or debit)."""
    now = sum((line.amount for line in revenue_charges(plan, corrected_revenue)), ZERO)
    difference = fen(now - billed)
    if difference == 0:
        return None
    return Line(kind="true_up", description=f"true-up of {invoice_number}", base=corrected_revenue, rate=ZERO,
                amount=difference, corrects_invoice_id=invoice_id,
                inputs={"invoice": invoice_number, "billed": str(billed), "recomputed": str(now)})


def totals(lines: list[Line], vat_rate: Decimal) -> Totals:
    """Subtotal of the rounded lines; VAT once on that sum, rounded by the same rule."""
    subtotal = sum((line.amount for line in lines), ZERO)
    vat = fen(subtotal * vat_rate)
    return Totals(subtotal=subtotal, vat=vat, total=subtotal + vat)


# --- one site's month ----------------------------------------------------------------------

@dataclass(frozen=True)
class SiteMonth:
    """What the run knows about one site for one month."""

    site_id: int
    site_code: str
    desks: int
    revenue: Decimal
    estimated: bool
    report_id: int | None
    report_version: int | None


def site_lines(plan: RoyaltyPlan, site: SiteMonth, period: str) -> list[Line]:
    """All lines of one site for one month, each tagged with the site and the report it used."""
    lines = revenue_charges(plan, site.revenue)
    fee = tech_fee(plan, site.desks)
    if fee is not None:
        lines.append(fee)
    for line in lines:
        line.site_id = site.site_id
        line.site_code = site.site_code
        line.service_period = period
        if line.kind != "tech_fee":
            line.estimated = site.estimated
            line.revenue_report_id = site.report_id
            line.revenue_report_version = site.report_version
            line.inputs.setdefault("revenue", str(site.revenue))
    return lines
