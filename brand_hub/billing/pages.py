"""What finance's pages show: invoices filtered with their totals, receivables by age, a billing run's
period, and every site's revenue reports across the network.

Read-only, from explicit arguments (no request): the views parse the query string
and call these. Lists are paginated and every total is computed by the database
over the whole filtered set, not over the page. Amounts are summed exactly: NUMERIC
on PostgreSQL, whole fen as integers on SQLite (which stores amounts as text).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, bindparam, case, cast, func, literal, null, or_, true, union_all
from sqlmodel import Session, select

from brand_hub.db import is_postgres
from brand_hub.paging import Page
from brand_hub.models import Agreement, AgreementStatus, Franchisee, Site, SiteStatus
from brand_hub.models.billing import (BillingRun, CreditNote, Invoice, InvoiceLine, InvoiceStatus, Payment,
                                      ReportSource, ReportStatus, RevenueReport)
from brand_hub.models.tenure import SiteTenure
from brand_hub.models.types import UTCDateTime

from . import parse_period, period_end, preview, shift_period
from .runs import BILLED_SITES

ZERO = Decimal("0.00")
OPEN = (InvoiceStatus.issued, InvoiceStatus.partially_paid)
BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")
INVOICE_FILTERS = ("open", "overdue")  # besides the stored statuses


def _fen(column, pg: bool):
    return column if pg else cast(func.round(column * 100), Integer)


def _money(value, pg: bool) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(value).quantize(Decimal("0.01")) if pg else (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def _balance(pg: bool):
    return _fen(Invoice.total, pg) - _fen(Invoice.amount_paid, pg) - _fen(Invoice.amount_credited, pg)


@dataclass
class Listing:
    """One page of a list, the size of the whole filtered set, and its totals."""

    items: list
    total: int
    page: int
    per_page: int
    sums: dict[str, Decimal] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


# ---------------------------------------------------------------- invoices

@dataclass(frozen=True)
class InvoiceFilter:
    period: str = ""
    status: str = ""  # an InvoiceStatus value, "open" (money still owed) or "overdue"
    franchisee: str = ""
    number: str = ""


def invoice_statuses() -> list[str]:
    return [s.value for s in InvoiceStatus] + list(INVOICE_FILTERS)


def _invoice_select(flt: InvoiceFilter, today: date, pg: bool, columns):
    stmt = (select(*columns).select_from(Invoice).join(Franchisee, Franchisee.id == Invoice.franchisee_id)
            .join(Agreement, Agreement.id == Invoice.agreement_id))
    if flt.period:
        stmt = stmt.where(Invoice.period == flt.period)
    if flt.status == "open":
        stmt = stmt.where(Invoice.status.in_(OPEN), _balance(pg) > 0)
    elif flt.status == "overdue":
        stmt = stmt.where(Invoice.status.in_(OPEN), Invoice.due_date < today, _balance(pg) > 0)
    elif flt.status in {s.value for s in InvoiceStatus}:
        stmt = stmt.where(Invoice.status == InvoiceStatus(flt.status))
    if flt.franchisee:
        stmt = stmt.where(Franchisee.code == flt.franchisee)
    if flt.number:
        stmt = stmt.where(Invoice.number.contains(flt.number))
    return stmt


def invoice_list(*, session: Session, flt: InvoiceFilter, today: date, page: int = 1,
                 per_page: int = 50) -> Listing:
    """The invoices the filter picks (newest period first), a page of them, and the totals of all of them.

    One statement (issue 15, pages as the network grows): the page is chosen on narrow rows (id and sort key),
    only its rows are read whole, and the count and totals of the whole filtered set are one aggregate joined
    to them. A window sum over the wide joined rows, as before, carried every invoice's, partner's and
    agreement's columns through the sort: twice the time at 2,000 partners. Only a page past the end sums
    apart."""
    pg = is_postgres(session)
    sums = [func.count(), func.sum(_fen(Invoice.total, pg)), func.sum(_fen(Invoice.amount_paid, pg)),
            func.sum(_fen(Invoice.amount_credited, pg)), func.sum(_balance(pg))]
    picked = (_invoice_select(flt, today, pg, [Invoice.id.label("id"), Invoice.period.label("period"),
                                               Agreement.number.label("number")])
              .order_by(Invoice.period.desc(), Agreement.number, Invoice.id)
              .offset((page - 1) * per_page).limit(per_page).subquery())
    totals = _invoice_select(flt, today, pg, [s.label(f"s{n}") for n, s in enumerate(sums)]).subquery()
    rows = session.execute(select(Invoice, Franchisee, Agreement, *totals.c)
                           .join(picked, picked.c.id == Invoice.id)
                           .join(Franchisee, Franchisee.id == Invoice.franchisee_id)
                           .join(Agreement, Agreement.id == Invoice.agreement_id)
                           .join(totals, true())
                           .order_by(picked.c.period.desc(), picked.c.number, picked.c.id)).all()
    if rows:
        count, total, paid, credited, balance = rows[0][3:]
    else:
        count, total, paid, credited, balance = session.execute(_invoice_select(flt, today, pg, sums)).one()
    return Listing([tuple(r[:3]) for r in rows], int(count or 0), page, per_page,
                   {"total": _money(total, pg), "paid": _money(paid, pg), "credited": _money(credited, pg),
                    "balance": _money(balance, pg)})


def invoice_rows(*, session: Session, flt: InvoiceFilter, today: date, limit: int = 100_000) -> list[tuple]:
    """Every invoice the filter picks, for the CSV export."""
    pg = is_postgres(session)
    return [tuple(r) for r in session.execute(_invoice_select(flt, today, pg, [Invoice, Franchisee, Agreement])
                                              .order_by(Invoice.period.desc(), Agreement.number).limit(limit))]


# ---------------------------------------------------------------- receivables

@dataclass
class Ageing:
    """What one partner (or the network) owes, by how long past due."""

    code: str
    name: str
    invoices: int
    buckets: dict[str, Decimal]
    oldest_due: date | None = None

    @property
    def balance(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.balance - self.buckets.get("current", ZERO)


def _bucket_columns(today: date, pg: bool):
    balance = _balance(pg)
    edges = {"1_30": (today - timedelta(days=30), today), "31_60": (today - timedelta(days=60), today - timedelta(days=30)),
             "61_90": (today - timedelta(days=90), today - timedelta(days=60))}
    columns = [func.sum(case((or_(Invoice.due_date.is_(None), Invoice.due_date >= today), balance), else_=0))]
    for name in ("1_30", "31_60", "61_90"):
        low, high = edges[name]
        columns.append(func.sum(case((and_(Invoice.due_date >= low, Invoice.due_date < high), balance), else_=0)))
    columns.append(func.sum(case((Invoice.due_date < today - timedelta(days=90), balance), else_=0)))
    return columns


def receivables(*, session: Session, today: date, page: int = 1, per_page: int = 50, overdue_only: bool = False,
                limit: int | None = None) -> tuple[Listing, Ageing]:
    """Open balances per partner in ageing buckets (current, 1–30, 31–60, 61–90, 90+ days past due),
    largest balance first, and the network's total the same way.

    One pass over the open invoices (issue 15, pages as the network grows): they are grouped per partner id,
    the network's total is a window sum over those groups, and only the page's partners are joined for their
    names. Counting the total apart read every open invoice a second time, and grouping on the partners' names
    hashed text: together 2.2× the page's time from 20 to 2,000 partners. Only a page past the end sums apart."""
    pg = is_postgres(session)
    where = [Invoice.status.in_(OPEN), _balance(pg) > 0]
    if overdue_only:
        where.append(Invoice.due_date < today)
    buckets = _bucket_columns(today, pg)
    per_partner = (select(Invoice.franchisee_id.label("franchisee_id"), func.count().label("invoices"),
                          func.min(Invoice.due_date).label("oldest"), func.sum(_balance(pg)).label("owed"),
                          *[b.label(f"b{n}") for n, b in enumerate(buckets)])
                   .where(*where).group_by(Invoice.franchisee_id).subquery())
    sums = [per_partner.c[f"b{n}"] for n in range(len(buckets))]
    stmt = (select(Franchisee.code, Franchisee.legal_name, per_partner.c.invoices, per_partner.c.oldest, *sums,
                   func.count().over(), func.sum(per_partner.c.invoices).over(), func.min(per_partner.c.oldest).over(),
                   *[func.sum(b).over() for b in sums])
            .select_from(per_partner).join(Franchisee, Franchisee.id == per_partner.c.franchisee_id)
            .order_by(per_partner.c.owed.desc(), Franchisee.code))
    stmt = stmt.limit(limit) if limit is not None else stmt.offset((page - 1) * per_page).limit(per_page)

    def ageing(code, name, count, oldest, values) -> Ageing:
        if isinstance(oldest, str):
            oldest = date.fromisoformat(oldest[:10])
        return Ageing(code, name, int(count or 0), {b: _money(v, pg) for b, v in zip(BUCKETS, values)}, oldest)

    found = session.execute(stmt).all()
    width = 4 + len(buckets)
    if found:
        total_row = tuple(found[0][width:])
    else:
        total_row = session.execute(select(func.count(func.distinct(Invoice.franchisee_id)), func.count(),
                                           func.min(Invoice.due_date), *buckets).where(*where)).one()
    rows = [ageing(r[0], r[1], r[2], r[3], r[4:width]) for r in found]
    total = ageing("", "", total_row[1], total_row[2], total_row[3:])
    return Listing(rows, int(total_row[0] or 0), page, per_page), total


# ---------------------------------------------------------------- a billing run's period

@dataclass
class PeriodTotals:
    invoices: int = 0
    subtotal: Decimal = ZERO
    vat: Decimal = ZERO
    total: Decimal = ZERO
    balance: Decimal = ZERO
    drafts: int = 0


@dataclass
class RunPage:
    period: str
    previous_period: str
    totals: PeriodTotals
    previous: PeriodTotals
    invoices: Listing
    runs: list[BillingRun]
    estimated_page: Page          # each side list paged (50 a page), its size counted in SQL: never cut silently
    left_out_page: Page
    credit_notes_page: Page
    payments_page: Page

    @property
    def estimated(self) -> list[tuple[InvoiceLine, Invoice]]:
        return self.estimated_page.items

    @property
    def left_out(self) -> list[tuple[Agreement, Franchisee]]:
        return self.left_out_page.items

    @property
    def credit_notes(self) -> list[tuple[CreditNote, Invoice]]:
        return self.credit_notes_page.items

    @property
    def payments(self) -> list[tuple[Payment, Invoice]]:
        return self.payments_page.items

    @property
    def change(self) -> Decimal | None:
        return self.totals.total - self.previous.total if self.previous.invoices else None


def _period_totals(session: Session, periods: list[str], pg: bool) -> dict[str, PeriodTotals]:
    """Each period's invoice totals, in one statement (a period without invoices: zeros)."""
    found = {p: PeriodTotals() for p in periods}
    for period, count, subtotal, vat, total, balance, drafts in session.execute(
            select(Invoice.period, func.count(), func.sum(_fen(Invoice.subtotal, pg)), func.sum(_fen(Invoice.vat, pg)),
                   func.sum(_fen(Invoice.total, pg)),
                   func.sum(case((Invoice.status.in_(OPEN), _balance(pg)), else_=0)),
                   func.sum(case((Invoice.status == InvoiceStatus.draft, 1), else_=0)))
            .where(Invoice.period.in_(periods)).group_by(Invoice.period)):
        found[period] = PeriodTotals(int(count or 0), _money(subtotal, pg), _money(vat, pg), _money(total, pg),
                                     _money(balance, pg), int(drafts or 0))
    return found


def _paged(session: Session, stmt, *, page: int, per_page: int) -> Page:
    """``paginate``'s page in one statement: the page's rows carry the count of every match (a window count
    taken before LIMIT); only a page past the end counts apart."""
    page = max(1, page)
    rows = session.execute(stmt.add_columns(func.count().over()).offset((page - 1) * per_page).limit(per_page)).all()
    if rows:
        total = int(rows[0][-1])
    elif page == 1:
        total = 0
    else:
        total = session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    return Page(items=[tuple(row[:-1]) for row in rows], total=total, page=page, per_page=per_page)


def run_page(*, session: Session, period: str, today: date, page: int = 1, per_page: int = 50,
             estimated_page: int = 1, left_page: int = 1, credits_page: int = 1, payments_page: int = 1,
             side_per_page: int = 50) -> RunPage:
    """A period's billing: its invoices and totals against the month before, the runs, the estimated lines,
    the active agreements it left out, and the credit notes and payments booked on its invoices (each list
    paged with its own page argument)."""
    parse_period(period)
    pg = is_postgres(session)
    previous = shift_period(period, -1)
    of_period = select(Invoice.id).where(Invoice.period == period)
    invoices = invoice_list(session=session, flt=InvoiceFilter(period=period), today=today, page=page,
                            per_page=per_page)
    runs = list(session.exec(select(BillingRun).where(BillingRun.period == period).order_by(BillingRun.id.desc())
                             .limit(20)).all())
    side = dict(per_page=side_per_page)
    estimated = _paged(session, select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                       .where(Invoice.period == period, InvoiceLine.estimated.is_(True))
                       .order_by(InvoiceLine.site_code, InvoiceLine.position), page=estimated_page, **side)
    invoiced = select(Invoice.agreement_id).where(Invoice.period == period)
    left_out = _paged(session, select(Agreement, Franchisee).join(Franchisee, Franchisee.id == Agreement.franchisee_id)
                      .where(Agreement.status == AgreementStatus.active, Agreement.id.not_in(invoiced))
                      .order_by(Agreement.number), page=left_page, **side)
    credit_notes = _paged(session, select(CreditNote, Invoice).join(Invoice, Invoice.id == CreditNote.invoice_id)
                          .where(CreditNote.invoice_id.in_(of_period)).order_by(CreditNote.id),
                          page=credits_page, **side)
    payments = _paged(session, select(Payment, Invoice).join(Invoice, Invoice.id == Payment.invoice_id)
                      .where(Payment.invoice_id.in_(of_period)).order_by(Payment.paid_on, Payment.id),
                      page=payments_page, **side)
    totals = _period_totals(session, [period, previous], pg)
    return RunPage(period, previous, totals[period], totals[previous], invoices, runs, estimated, left_out,
                   credit_notes, payments)


# ---------------------------------------------------------------- revenue reports across the network

@dataclass(frozen=True)
class ReportFilter:
    period: str = ""
    franchisee: str = ""
    state: str = ""  # "", late, estimated, corrected, missing


REPORT_STATES = ("late", "estimated", "corrected", "missing")


@dataclass
class ReportRow:
    """One partner's revenue reports for one month."""

    code: str
    name: str
    period: str
    expected: int
    reported: int
    corrected: int
    estimated: int
    late: int
    revenue: Decimal

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.reported - self.corrected - self.estimated)


def report_due(period: str, due_day: int, tz: str) -> datetime:
    """When a month's report is due: ``due_day`` of the next month, end of day in HQ's zone."""
    year, month = (int(x) for x in shift_period(period, 1).split("-"))
    return datetime(year, month, due_day, 23, 59, 59, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def recent_months(today: date, count: int) -> list[str]:
    current = f"{today.year:04d}-{today.month:02d}"
    return [shift_period(current, -n) for n in range(count, 0, -1)]


def revenue_reports(*, session: Session, flt: ReportFilter, today: date, due_day: int, tz: str, page: int = 1,
                    per_page: int = 50, months: int = 12, limit: int | None = None) -> tuple[Listing, dict[str, int]]:
    """Per partner and month: sites expected to report, reported, corrected, estimated, late, missing.

    ``expected`` counts the sites the partner held in the month (``site_tenure``: the
    tenure that owns the month, under an agreement) that billing would bill then: open
    by the month's end and active or suspended now, or terminated since and the month
    not after the last month the site reported (no closing date is kept). Reports count
    for the partner that held the site in their month too (``_expected``, ``_holders``).
    Totals of every kind are over the whole filtered set.

    Without a state filter (the page as first opened) the rows are paged before they are figured (issue 10:
    at 2,000 partners the twelve months are 24,000 partner-months): the number of rows and the totals are
    counted per month over the whole set, then only the page's partners and months are figured. A state
    filter picks rows by their figures, so it figures every partner-month and pages after
    (``_revenue_reports_whole``); both give the same rows, totals and pages (tests compare them).
    """
    periods = [flt.period] if flt.period else recent_months(today, months)
    if flt.state:
        return _revenue_reports_whole(session=session, flt=flt, periods=periods, due_day=due_day, tz=tz, page=page,
                                      per_page=per_page, limit=limit)
    return _revenue_reports_paged(session=session, flt=flt, periods=periods, due_day=due_day, tz=tz, page=page,
                                  per_page=per_page, limit=limit, today=today)


_BILLED_STATUSES = BILLED_SITES  # the sites a billing run bills (active, suspended): expected to report
FIGURE_BY_ID = 500  # past this many partners (an export), every partner is figured rather than a list of ids


def _months(periods: list[str]):
    """The months shown, as rows (period, last day)."""
    rows = [select(literal(p).label("period"), literal(period_end(p)).label("ends")) for p in periods]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery()


def _holders(fids: list[int] | None = None, franchisee: str = ""):
    """Who held which site for which months (``site_tenure``): one row per tenure (fid, site_id, agreement_id, lo,
    hi: its first and last month, NULL = open) and, for a site without tenure rows (never moved), its current
    partner and agreement with open bounds; ``fids`` / ``franchisee``: only these partners' tenures."""
    tenures = select(SiteTenure.franchisee_id.label("fid"), SiteTenure.site_id.label("site_id"),
                     SiteTenure.agreement_id.label("agreement_id"), SiteTenure.first_month.label("lo"),
                     SiteTenure.last_month.label("hi"))
    unmoved = (select(Site.franchisee_id, Site.id, Site.agreement_id, null(), null())
               .where(~select(SiteTenure.id).where(SiteTenure.site_id == Site.id).exists()))
    if fids is not None:
        tenures = tenures.where(SiteTenure.franchisee_id.in_(fids))
        unmoved = unmoved.where(Site.franchisee_id.in_(fids))
    if franchisee:
        partner = select(Franchisee.id).where(Franchisee.code == franchisee)
        tenures = tenures.where(SiteTenure.franchisee_id.in_(partner))
        unmoved = unmoved.where(Site.franchisee_id.in_(partner))
    return union_all(tenures, unmoved).subquery()


def _held(holders, period):
    """The holder row owns the month ``period`` (a column or a literal)."""
    return and_(or_(holders.c.lo.is_(None), period >= holders.c.lo),
                or_(holders.c.hi.is_(None), period <= holders.c.hi))


def _expected_parts(periods: list[str], holders):
    """The sites expected to report, per partner, in two parts: ``every`` (fid, n), the sites expected in every
    month shown, counted once per partner; ``some`` (fid, period, n), the others (opened, moved or closed within the
    months), per month they are expected in.

    A site is expected of the partner whose tenure owns the month, when that tenure is under an agreement, the
    site was open by the month's end (or has no opening date), and it is billed now (active or suspended, as
    billing runs bill) or, terminated since, the month is not after the last month it reported (the registry
    keeps no closing date: its last report stands for it). Counted without pairing every site with every month."""
    months_sq = _months(periods)
    first, last = min(periods), max(periods)
    last_report = select(func.max(RevenueReport.period)).where(RevenueReport.site_id == Site.id).scalar_subquery()
    until = case((Site.status.in_(_BILLED_STATUSES), null()), else_=func.coalesce(last_report, ""))
    base = (select(holders.c.fid, holders.c.lo, holders.c.hi, Site.opened_on.label("opened_on"),
                   until.label("until"))
            .join(Site, Site.id == holders.c.site_id)
            .where(holders.c.agreement_id.is_not(None),
                   Site.status.in_(_BILLED_STATUSES + (SiteStatus.terminated,))).subquery())
    whole = and_(or_(base.c.lo.is_(None), base.c.lo <= first), or_(base.c.hi.is_(None), base.c.hi >= last),
                 or_(base.c.until.is_(None), base.c.until >= last),
                 or_(base.c.opened_on.is_(None), base.c.opened_on <= period_end(first)))
    # materialized: the few sites not expected in every month are picked from it before they are paired with the
    # months (as a subquery the filter waited until all sites x months had been paired: 120,000 rows at 10,000)
    flagged = select(*base.c, case((whole, 1), else_=0).label("all")).cte("flagged").prefix_with("MATERIALIZED")
    every = (select(flagged.c.fid.label("fid"), func.count().label("n")).where(flagged.c.all == 1)
             .group_by(flagged.c.fid))
    period = months_sq.c.period
    some = (select(flagged.c.fid.label("fid"), period.label("period"), func.count().label("n"))
            .join(months_sq, and_(_held(flagged, period), or_(flagged.c.until.is_(None), period <= flagged.c.until),
                                  or_(flagged.c.opened_on.is_(None), flagged.c.opened_on <= months_sq.c.ends)))
            .where(flagged.c.all == 0).group_by(flagged.c.fid, period))
    return every, some


def _expects(fid, period: str):
    """Partner ``fid`` (a column) was expected to report some site's revenue for ``period``: the rule of
    ``_expected_parts`` asked of one partner, by index look-ups from it (its tenures, its never-moved sites)."""
    last_report = select(func.max(RevenueReport.period)).where(RevenueReport.site_id == Site.id).scalar_subquery()
    site_expected = and_(Site.status.in_(_BILLED_STATUSES + (SiteStatus.terminated,)),
                         or_(Site.status.in_(_BILLED_STATUSES), literal(period) <= func.coalesce(last_report, "")),
                         or_(Site.opened_on.is_(None), Site.opened_on <= period_end(period)))
    by_tenure = (select(SiteTenure.id).join(Site, Site.id == SiteTenure.site_id)
                 .where(SiteTenure.franchisee_id == fid, SiteTenure.agreement_id.is_not(None),
                        or_(SiteTenure.first_month.is_(None), SiteTenure.first_month <= period),
                        or_(SiteTenure.last_month.is_(None), SiteTenure.last_month >= period), site_expected).exists())
    unmoved = (select(Site.id).where(Site.franchisee_id == fid, Site.agreement_id.is_not(None), site_expected,
                                     ~select(SiteTenure.id).where(SiteTenure.site_id == Site.id).exists()).exists())
    return or_(by_tenure, unmoved)


def _expected(periods: list[str], holders):
    """Per (partner, month) the sites it was expected to report (fid, period, n): ``_expected_parts`` joined."""
    every, some = _expected_parts(periods, holders)
    every = every.subquery()
    months_sq = _months(periods)
    both = union_all(select(every.c.fid, months_sq.c.period, every.c.n).select_from(every)
                     .join(months_sq, literal(True)), some).subquery()
    return (select(both.c.fid.label("fid"), both.c.period.label("period"), func.sum(both.c.n).label("n"))
            .group_by(both.c.fid, both.c.period))


def _report_pairs(periods: list[str], franchisee: str = ""):
    """The (partner, month) pairs with a report: each report belongs to the partner whose tenure owns its month,
    stored on it (``RevenueReport.franchisee_id``)."""
    holder = RevenueReport.franchisee_id
    return (select(holder.label("fid"), RevenueReport.period.label("period"))
            .where(RevenueReport.period.in_(periods), _of_partner(holder, franchisee)))


def _of_partner(fid, franchisee: str = ""):
    """``fid`` is a partner (not NULL), the one with this code if one is named."""
    if franchisee:
        return fid.in_(select(Franchisee.id).where(Franchisee.code == franchisee))
    return fid.is_not(None)


def _newest_reports(periods: list[str], due_day: int, tz: str, holders=None):
    """Each (site, month)'s newest version (versions are unique per site and month) with its holder and whether
    the site first reported that month after the due date, in one pass over the months' reports (window
    functions, no self-join); ``holders``: only the reports held by these partners (a select of their ids)."""
    key = (RevenueReport.site_id, RevenueReport.period)
    stmt = (select(RevenueReport.site_id, RevenueReport.period, RevenueReport.franchisee_id,
                   RevenueReport.status, RevenueReport.gross_revenue,
                   func.row_number().over(partition_by=key, order_by=RevenueReport.version.desc()).label("rn"),
                   func.min(case((RevenueReport.source != ReportSource.estimate, RevenueReport.submitted_at),
                                 else_=None)).over(partition_by=key).label("first_at"))
            .where(RevenueReport.period.in_(periods)))
    if holders is not None:
        stmt = stmt.where(RevenueReport.franchisee_id.in_(holders))
    newest = stmt.subquery()
    due = case(*[(newest.c.period == p, literal(report_due(p, due_day, tz), UTCDateTime())) for p in periods],
               else_=None)
    return newest, newest.c.first_at > due


def _report_rows(pg: bool, periods: list[str], due_day: int, tz: str, franchisee: str = "",
                 fids: list[int] | None = None):
    """Every (partner, month) row with its figures (code, name, period, expected, reported, corrected,
    estimated, late, revenue), and the expressions a state filter picks by; ``fids``: only these partners.
    A site's report and its being expected belong to the partner whose tenure owns the month."""
    holders = _holders(fids, franchisee)
    partners = fids if fids is not None else (select(Franchisee.id).where(Franchisee.code == franchisee)
                                              if franchisee else None)
    newest, _late = _newest_reports(periods, due_day, tz, partners)
    # each newest version with the partner that held its site in its month
    owned = select(*newest.c, newest.c.franchisee_id.label("fid")).where(newest.c.rn == 1).subquery()
    late = owned.c.first_at > case(*[(owned.c.period == p, literal(report_due(p, due_day, tz), UTCDateTime()))
                                     for p in periods], else_=None)
    counts = (select(owned.c.fid.label("fid"), owned.c.period.label("period"),
                     func.sum(case((owned.c.status == ReportStatus.reported, 1), else_=0)).label("reported"),
                     func.sum(case((owned.c.status == ReportStatus.corrected, 1), else_=0)).label("corrected"),
                     func.sum(case((owned.c.status == ReportStatus.estimated, 1), else_=0)).label("estimated"),
                     func.sum(case((late, 1), else_=0)).label("late"),
                     func.sum(case((owned.c.status != ReportStatus.estimated,
                                    _fen(owned.c.gross_revenue, pg)), else_=0)).label("revenue"))
              .group_by(owned.c.fid, owned.c.period).cte("counts").prefix_with("MATERIALIZED"))
    months_sq = _months(periods)
    expected = _expected(periods, holders).cte("expected").prefix_with("MATERIALIZED")
    n_expected = func.coalesce(expected.c.n, 0)
    reported, corrected = func.coalesce(counts.c.reported, 0), func.coalesce(counts.c.corrected, 0)
    estimated, late_n = func.coalesce(counts.c.estimated, 0), func.coalesce(counts.c.late, 0)
    missing = n_expected - reported - corrected - estimated
    stmt = (select(Franchisee.code, Franchisee.legal_name, months_sq.c.period, n_expected, reported, corrected,
                   estimated, late_n, func.coalesce(counts.c.revenue, 0))
            .select_from(Franchisee).join(months_sq, literal(True))
            .outerjoin(expected, and_(expected.c.fid == Franchisee.id, expected.c.period == months_sq.c.period))
            .outerjoin(counts, and_(counts.c.fid == Franchisee.id, counts.c.period == months_sq.c.period))
            .where(or_(n_expected > 0, reported + corrected + estimated > 0)))
    if franchisee:
        stmt = stmt.where(Franchisee.code == franchisee)
    if fids is not None:
        stmt = stmt.where(Franchisee.id.in_(fids))
    return stmt, {"late": late_n > 0, "estimated": estimated > 0, "corrected": corrected > 0, "missing": missing > 0}


@lru_cache(maxsize=32)
def _figures_of_partners(pg: bool, periods: tuple[str, ...], due_day: int, tz: str):
    """``_report_rows`` of the partners bound as ``fids`` (a list) in ``periods``: kept once built, as
    ``_month_figures`` is."""
    return _report_rows(pg, list(periods), due_day, tz, fids=bindparam("fids", expanding=True))[0]


def _report_row(pg: bool, code, name, period, n, r, c, e, lt, rev) -> ReportRow:
    return ReportRow(code, name, period, int(n or 0), int(r or 0), int(c or 0), int(e or 0), int(lt or 0),
                     _money(rev, pg))


def _report_totals(sums) -> dict[str, int]:
    totals = {"expected": int(sums[0] or 0), "reported": int(sums[1] or 0), "corrected": int(sums[2] or 0),
              "estimated": int(sums[3] or 0), "late": int(sums[4] or 0)}
    totals["missing"] = max(0, totals["expected"] - totals["reported"] - totals["corrected"] - totals["estimated"])
    return totals


def _revenue_reports_whole(*, session: Session, flt: ReportFilter, periods: list[str], due_day: int, tz: str,
                           page: int, per_page: int, limit: int | None) -> tuple[Listing, dict[str, int]]:
    """Every partner-month figured, filtered by state, then paged (one statement: the page's rows carry the
    totals of the whole filtered set, window sums taken before LIMIT)."""
    pg = is_postgres(session)
    stmt, picks = _report_rows(pg, periods, due_day, tz, flt.franchisee)
    if flt.state:
        stmt = stmt.where(picks[flt.state])
    sq = stmt.subquery()
    summed = [func.count().over(), *[func.sum(sq.c[n]).over() for n in range(3, 8)]]
    ordered = select(*sq.c, *summed).order_by(sq.c[2].desc(), sq.c[0])
    ordered = ordered.limit(limit) if limit is not None else ordered.offset((page - 1) * per_page).limit(per_page)
    found = session.execute(ordered).all()
    sums = found[0][9:] if found else session.execute(select(
        func.count(), func.sum(sq.c[3]), func.sum(sq.c[4]), func.sum(sq.c[5]), func.sum(sq.c[6]),
        func.sum(sq.c[7]))).one()
    rows = [_report_row(pg, *r[:9]) for r in found]
    return Listing(rows, int(sums[0] or 0), page, per_page), _report_totals(sums[1:])


@lru_cache(maxsize=32)
def _month_figures(periods: tuple[str, ...], due_day: int, tz: str, franchisee: str):
    """The statement of the rows and totals per month (period, rows, expected, reported, corrected, estimated,
    late: several rows per month, summed by the caller). Kept once built: it depends on its arguments only, and
    building it (a few hundred SQL constructs) took a quarter of the page's time."""
    holders = _holders(franchisee=franchisee)
    zero = literal(0)
    # each (site, month): its newest version's status and when the site first reported, in one grouping (no
    # window, no self-join): versions are unique per site and month, so the largest version * 4 + status code
    # is the newest version's, and its remainder by 4 that version's status
    status = case((RevenueReport.status == ReportStatus.reported, 1),
                  (RevenueReport.status == ReportStatus.corrected, 2),
                  (RevenueReport.status == ReportStatus.estimated, 3), else_=0)
    # a report counts for the partner that held the site in its month (stored on it: every version alike)
    owned = (select(RevenueReport.site_id.label("site_id"), RevenueReport.period.label("period"),
                    func.max(RevenueReport.version * 4 + status).label("key"),
                    func.min(case((RevenueReport.source != ReportSource.estimate, RevenueReport.submitted_at),
                                  else_=None)).label("first_at"))
             .where(RevenueReport.period.in_(periods), _of_partner(RevenueReport.franchisee_id, franchisee))
             .group_by(RevenueReport.site_id, RevenueReport.period).subquery())
    dues = [select(literal(p).label("period"), literal(report_due(p, due_day, tz), UTCDateTime()).label("due"))
            for p in periods]
    dues = (union_all(*dues) if len(dues) > 1 else dues[0]).subquery()
    # the rows and expected sites per month, without pairing every partner with every month (24,000 partner-months
    # at 2,000 partners): a partner expecting sites in every month has a row in each, counted once; the others'
    # rows come from the months they are expected in, and from the months they reported in only
    every, some = _expected_parts(periods, holders)
    every, some = every.cte("every"), some.cte("some")
    months_sq = _months(periods)
    whole = select(func.count().label("rows"), func.coalesce(func.sum(every.c.n), 0).label("n")).subquery()
    always = select(months_sq.c.period, whole.c.rows, whole.c.n, zero, zero, zero, zero) \
        .select_from(months_sq).join(whole, literal(True))
    in_every = select(every.c.fid).where(every.c.fid == some.c.fid).exists()
    within = select(some.c.period, func.sum(case((in_every, 0), else_=1)), func.sum(some.c.n), zero, zero, zero,
                    zero).group_by(some.c.period)
    reporting = (select(RevenueReport.franchisee_id.label("fid"), RevenueReport.period.label("period"))
                 .where(RevenueReport.period.in_(periods), _of_partner(RevenueReport.franchisee_id, franchisee))
                 .distinct().subquery())
    unexpected = (select(reporting.c.period, func.count(), zero, zero, zero, zero, zero)
                  .where(~select(every.c.fid).where(every.c.fid == reporting.c.fid).exists(),
                         ~select(some.c.fid).where(some.c.fid == reporting.c.fid,
                                                   some.c.period == reporting.c.period).exists())
                  .group_by(reporting.c.period))
    newest = owned.c.key % 4
    figures = (select(owned.c.period, zero, zero, func.sum(case((newest == 1, 1), else_=0)),
                      func.sum(case((newest == 2, 1), else_=0)), func.sum(case((newest == 3, 1), else_=0)),
                      func.sum(case((owned.c.first_at > dues.c.due, 1), else_=0)))
               .join(dues, dues.c.period == owned.c.period).group_by(owned.c.period))
    return union_all(always, within, unexpected, figures)


def _revenue_reports_paged(*, session: Session, flt: ReportFilter, periods: list[str], due_day: int, tz: str,
                           page: int, per_page: int, limit: int | None,
                           today: date) -> tuple[Listing, dict[str, int]]:
    """The rows of every partner and month with a site expected or a report, paged first, figured after.

    A partner has a row in a month when a site is expected of it then (``_expected``: its tenure owns the month)
    or a report of a month it held the site exists. Three statements: the rows and the totals per month (over
    every partner: no partner-month is figured), the page's partners, and the figures of those partners in those
    months only (the statement ``_revenue_reports_whole`` runs, restricted).
    """
    pg = is_postgres(session)

    def month_figures() -> dict[str, Any]:
        per_month = {p: [0] * 6 for p in periods}
        for period, *values in session.execute(_month_figures(tuple(periods), due_day, tz, flt.franchisee)):
            per_month[period] = [a + int(b or 0) for a, b in zip(per_month[period], values)]
        return {"per_month": per_month}

    # the per-month sums go over every report of the months shown: kept while the billing tables are unchanged
    key = f"revenue-reports:{periods[0]}:{periods[-1]}:{len(periods)}:{due_day}:{tz}:{flt.franchisee}"
    per_month = preview.kept(session=session, key=key, today=today, compute=month_figures)["per_month"]
    total = sum(m[0] for m in per_month.values())
    totals = _report_totals([sum(m[n] for m in per_month.values()) for n in range(1, 6)])
    # the page: months newest first, partners by code within a month
    start, count = (0, limit) if limit is not None else ((page - 1) * per_page, per_page)
    wanted, before = [], 0
    for period in sorted(periods, reverse=True):
        in_month = per_month[period][0]
        skip, take = max(0, start - before), min(in_month, start + count - before)
        if take > skip:
            wanted.append((period, skip, take))
        before += in_month
    rows: list[ReportRow] = []
    if wanted:
        parts = []
        for period, skip, take in wanted:
            # the month's partners by code, each asked whether it has a row (index look-ups from the partner: the
            # first page asks about its fifty partners, not every site of the network)
            in_month = (select(Franchisee.id.label("fid"), Franchisee.code.label("code"),
                               literal(period).label("period"))
                        .where(or_(_expects(Franchisee.id, period),
                                   select(RevenueReport.id).where(RevenueReport.franchisee_id == Franchisee.id,
                                                                  RevenueReport.period == period).exists()),
                               *((Franchisee.code == flt.franchisee,) if flt.franchisee else ())))
            parts.append(select(*in_month.order_by(Franchisee.code).offset(skip).limit(take - skip).subquery().c))
        both = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
        found = session.execute(select(*both.c).order_by(both.c.period.desc(), both.c.code)).all()
        if found:
            fids = sorted({k.fid for k in found})
            months = tuple(sorted({k.period for k in found}))
            if len(fids) <= FIGURE_BY_ID:
                figured_rows = session.execute(_figures_of_partners(pg, months, due_day, tz), {"fids": fids})
            else:
                figured_rows = session.execute(_report_rows(pg, list(months), due_day, tz)[0])
            figured = {(r[0], r[2]): r for r in figured_rows}
            rows = [_report_row(pg, *figured[(k.code, k.period)]) for k in found if (k.code, k.period) in figured]
    return Listing(rows, total, page, per_page), totals


# ---------------------------------------------------------------- money per month across the network

def network_money(*, session: Session, today: date, months: int = 12) -> list:
    """Finance's chart: ``dashboard.pages.monthly_money`` of the whole network (a year of every site's reports
    summed), kept while the billing tables are unchanged (``preview.kept``)."""
    from brand_hub.dashboard.pages import MonthMoney, monthly_money

    def compute() -> dict[str, Any]:
        return {"months": [[m.period, str(m.revenue), str(m.royalty), m.desks, m.reports]
                           for m in monthly_money(session=session, today=today, months=months)]}

    data = preview.kept(session=session, key=f"network-money:{months}", today=today, compute=compute)
    return [MonthMoney(p, Decimal(revenue), Decimal(royalty), desks, reports)
            for p, revenue, royalty, desks, reports in data["months"]]


# ---------------------------------------------------------------- CSV of what a list shows

def to_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A CSV text (UTF-8 with BOM added by the caller's response, so Excel opens Chinese names right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else (format(v, "f") if isinstance(v, Decimal) else v) for v in row])
    return out.getvalue()
