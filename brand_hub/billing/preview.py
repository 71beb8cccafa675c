"""Stored billing previews (issue 10: speed at 10,000 sites): the review of a period and the billing-run diff.

The review page shows what a billing run of a period would write: every active
agreement's invoice, computed from its sites' revenue, plans, tenures, corrections,
overdue invoices, payments and disputes. At 2,000 agreements that is seconds of exact
Decimal arithmetic, far more than a page may take; the diff of two months compares
every invoice line of both. Both are functions of the billing tables, the plans, today's
date and the rules' code only, so they are computed once per state of those inputs and
kept in ``billing_preview``:

* every statement (PostgreSQL) or row (SQLite) that inserts, updates or deletes in one of
  the tables they read (``INPUTS``) adds a row to ``billing_change``, by a database trigger
  (migration 0020), in the writing transaction: whatever code, command or hand-written SQL
  made the change, and only once it is committed;
* the **fingerprint** is the set of those rows (count, newest id, sum of ids: read in one
  statement, a few rows), today's date, the plans' contents and the source of the
  modules that compute;
* a stored preview is used only when its fingerprint is the one just read, so a changed
  input (a report corrected, a payment booked, a plan edited, a site moved) shows on the
  very next request: never stale, at worst computed once more;
* otherwise the page computes, as before, and keeps what it computed for the next reader;
  the ``refresh-billing-previews`` job (``brand_hub.jobs``) does the same for the pages'
  default arguments every few minutes, so the first reader after a change rarely waits, and
  folds the old change rows into one.

The figures are kept as JSON (amounts as Decimal strings, exact to the fen) and a page is
always rendered from that JSON, computed or stored alike, so both show the same.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from standards.royalty_plan import RoyaltyPlan

from ..models import Agreement, Franchisee, Site
from ..models.billing import BillingRun, CreditNote, Invoice, InvoiceLine, Payment, RevenueReport
from ..models.previews import BillingChange, BillingPreview
from ..models.tenure import SiteTenure
from ..models.trust import CorrectionReview, InvoiceDispute, RunLine
from ..paging import Page
from . import diff, runs

PER_PAGE = 50
FOLD_ABOVE = 1000  # the job folds the change rows into one past this many

# Every table a review or a diff reads (``runs.compute``, ``runs.review``, ``diff``, ``tenure``, corrections in
# force, open disputes): each has the ``billing_change`` trigger (migration 0020; a test checks both agree).
INPUTS = (Agreement, Franchisee, Site, SiteTenure, RevenueReport, CorrectionReview, Invoice, InvoiceLine, Payment,
          CreditNote, InvoiceDispute, BillingRun, RunLine)
# The code that computes: a deployment that changes a rule changes the fingerprint too.
RULE_MODULES = ("calc.py", "runs.py", "diff.py", "revenue.py", "corrections.py", "disputes.py", "preview.py",
                "pages.py", "__init__.py")
_rules: list[str] = []


def _rules_hash() -> str:
    if not _rules:
        from .. import tenure
        from standards import royalty_plan

        digest = hashlib.sha256()
        here = Path(__file__).resolve().parent
        from ..dashboard import pages as dashboard_pages   # the monthly money finance's page keeps (``kept``)

        for path in [here / name for name in RULE_MODULES] + [Path(tenure.__file__), Path(royalty_plan.__file__),
                                                               Path(dashboard_pages.__file__)]:
            digest.update(path.read_bytes())
        _rules.append(digest.hexdigest())
    return _rules[0]


def fingerprint(*, session: Session, plans: dict[str, RoyaltyPlan], today: date) -> str:
    """The state of every input of the billing previews, in one statement on a few rows.

    Rows of ``billing_change`` are only ever added (each with a new id) until the job folds
    them, so the visible set changes with every committed write, including one committed late
    with an id below the newest: the count then changes.
    """
    count, newest, total = session.execute(select(func.count(), func.max(BillingChange.id),
                                                  func.sum(BillingChange.id))).one()
    digest = hashlib.sha256()
    digest.update(f"{today.isoformat()}|{_rules_hash()}|{count}:{newest}:{total}|".encode())
    digest.update(repr(sorted(plans.items())).encode())
    return digest.hexdigest()


def fold_changes(*, session: Session, above: int = FOLD_ABOVE) -> bool:
    """Delete every change row but the newest once there are more than ``above`` (never commits). The state
    then differs from every earlier one (fewer rows, the newest kept), so previews are computed once more."""
    count, newest = session.execute(select(func.count(), func.max(BillingChange.id))).one()
    if count <= above:
        return False
    session.execute(delete(BillingChange).where(BillingChange.id < newest))
    return True


CHUNK = 50  # a stored list is kept in rows of this many items, so a page reads only the few it shows


@dataclass(frozen=True)
class _Slice:
    """The asked page's items of a stored list (read from its chunks) and the list's length."""

    items: list
    total: int


def _load(session: Session, key: str, stamp: str,
          want: dict[str, tuple[int, int]]) -> tuple[dict[str, Any], datetime] | None:
    """The stored preview of ``key`` when its fingerprint is ``stamp``: the summary, and of each list in ``want``
    (name → (page, per page)) only that page's items, read from their chunks (two statements). None when
    there is none for this state of the inputs."""
    summary = session.exec(select(BillingPreview).where(BillingPreview.key == key,
                                                        BillingPreview.fingerprint == stamp)).first()
    if summary is None:
        return None
    counts = summary.data["@counts"]
    spans = {}
    wanted: dict[str, tuple[str, int]] = {}
    for name, (page, per_page) in want.items():
        first = (max(1, page) - 1) * per_page
        last = min(first + per_page, counts[name])
        spans[name] = (first, last)
        for chunk in range(first // CHUNK, (last - 1) // CHUNK + 1) if first < last else ():
            wanted[f"{key}#{name}:{chunk}"] = (name, chunk)
    found = {wanted[k]: data["items"] for k, data in session.exec(
        select(BillingPreview.key, BillingPreview.data).where(BillingPreview.key.in_(list(wanted)),
                                                              BillingPreview.fingerprint == stamp)).all()} \
        if wanted else {}
    if len(found) != len(wanted):
        return None  # being written again by another request: compute
    data = dict(summary.data)
    for name, (first, last) in spans.items():
        items: list = []
        for chunk in range(first // CHUNK, (last - 1) // CHUNK + 1) if first < last else ():
            items += found[(name, chunk)]
        skip = first - (first // CHUNK) * CHUNK
        data[name] = _Slice(items[skip:skip + max(0, last - first)], counts[name])
    return data, summary.computed_at


def _keep(session: Session, key: str, stamp: str, data: dict[str, Any], lists: tuple[str, ...], seconds: float,
          now: datetime) -> None:
    """Keep what was computed (never commits): a summary row with the lengths of ``lists``, and each of those
    lists in rows of ``CHUNK`` items. Nothing is kept when the session holds other changes (a preview is
    written alone) or when a concurrent request kept the same key first."""
    if session.new or session.dirty or session.deleted:
        return
    summary = {k: v for k, v in data.items() if k not in lists} | {"@counts": {name: len(data[name])
                                                                             for name in lists}}
    try:
        with session.begin_nested():
            session.execute(delete(BillingPreview).where(BillingPreview.key.like(f"{key}#%")))
            row = session.exec(select(BillingPreview).where(BillingPreview.key == key)).first() \
                or BillingPreview(key=key)
            row.fingerprint, row.data, row.computed_at, row.seconds = stamp, summary, now, round(seconds, 3)
            session.add(row)
            session.add_all(BillingPreview(key=f"{key}#{name}:{start // CHUNK}", fingerprint=stamp, computed_at=now,
                                           data={"items": data[name][start:start + CHUNK]})
                            for name in lists for start in range(0, len(data[name]), CHUNK))
            session.flush()
    except IntegrityError:
        pass


def _page(items: list | _Slice, page: int, per_page: int) -> Page:
    page = max(1, page)
    if isinstance(items, _Slice):
        return Page(items=list(items.items), total=items.total, page=page, per_page=per_page)
    return Page(items=items[(page - 1) * per_page:page * per_page], total=len(items), page=page, per_page=per_page)


# ---------------------------------------------------------------- the review of a period

def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _plain(inputs: dict[str, Any]) -> dict[str, Any]:
    """A line's inputs as JSON keeps them (they are written for a JSON column: any Decimal as its string)."""
    return json.loads(json.dumps(inputs, default=str))


def review_json(review: runs.Review) -> dict[str, Any]:
    """What the review page shows, as JSON (amounts as exact Decimal strings). The per-site rows, which only
    the command line prints, are left out."""
    return {
        "period": review.period, "previous_period": review.previous_period, "invoices": review.invoices,
        "skipped_issued": review.skipped_issued, "estimated_sites": review.estimated_sites,
        "subtotal": str(review.subtotal), "vat": str(review.vat), "total": str(review.total),
        "detail": [[i.franchisee, i.franchisee_name, i.agreement, i.issued, i.number,
                    {k: str(v) for k, v in i.revenue.items()}, {k: str(v) for k, v in i.by_kind.items()},
                    str(i.subtotal), str(i.vat), str(i.total), i.estimated_sites] for i in review.detail],
        "labelled": [[x.agreement, x.kind, str(x.amount), x.computed_on, str(x.base), str(x.rate), x.site_code,
                      x.service_period, x.report_version, _plain(x.inputs)] for x in review.labelled],
        "partners": [[p.franchisee, p.franchisee_name, str(p.current), _s(p.previous)] for p in review.partners],
        "left_out": [[o.agreement, o.franchisee, o.reason, o.code, o.detail] for o in review.left_out],
        "controls": [[c.label, str(c.left), str(c.right)] for c in review.controls],
        "period_total": str(review.period_total), "previous_total": _s(review.previous_total),
    }


REVIEW_LISTS = ("detail", "labelled", "partners", "left_out")


@dataclass
class ReviewPage:
    """The review page's figures: the whole period's totals and controls, one page of each list."""

    period: str
    previous_period: str
    invoices: int
    skipped_issued: int
    estimated_sites: int
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    period_total: Decimal
    previous_total: Decimal | None
    controls: list[runs.Control]
    detail_page: Page
    partners_page: Page
    labelled_page: Page
    left_out_page: Page
    computed_at: datetime | None   # when the figures were computed

    @property
    def detail(self) -> list[runs.ReviewInvoice]:
        return self.detail_page.items

    @property
    def partners(self) -> list[runs.PartnerChange]:
        return self.partners_page.items

    @property
    def labelled(self) -> list[runs.LabelledLine]:
        return self.labelled_page.items

    @property
    def left_out(self) -> list[runs.LeftOut]:
        return self.left_out_page.items

    @property
    def balanced(self) -> bool:
        return all(c.ok for c in self.controls)


def review_from_json(data: dict[str, Any], *, computed_at: datetime | None = None, page: int = 1,
                     partners_page: int = 1, items_page: int = 1, left_page: int = 1,
                     per_page: int = PER_PAGE) -> ReviewPage:
    """The page's figures from ``review_json`` (lists whole, or the asked pages' slices when read from the
    stored chunks): totals over the whole period, objects for the asked pages only."""
    detail = _page(data["detail"], page, per_page)
    detail.items = [runs.ReviewInvoice(f, name, agreement, issued, number, {k: Decimal(v) for k, v in revenue.items()},
                                       {k: Decimal(v) for k, v in by_kind.items()}, Decimal(subtotal), Decimal(vat),
                                       Decimal(total), estimated)
                    for f, name, agreement, issued, number, revenue, by_kind, subtotal, vat, total, estimated
                    in detail.items]
    partners = _page(data["partners"], partners_page, per_page)
    partners.items = [runs.PartnerChange(code, name, Decimal(current), _d(previous))
                      for code, name, current, previous in partners.items]
    labelled = _page(data["labelled"], items_page, per_page)
    labelled.items = [runs.LabelledLine(agreement, kind, Decimal(amount), computed_on, Decimal(base), Decimal(rate),
                                        site, service_period, version, inputs)
                      for agreement, kind, amount, computed_on, base, rate, site, service_period, version, inputs
                      in labelled.items]
    left_out = _page(data["left_out"], left_page, per_page)
    left_out.items = [runs.LeftOut(*item) for item in left_out.items]
    return ReviewPage(
        period=data["period"], previous_period=data["previous_period"], invoices=data["invoices"],
        skipped_issued=data["skipped_issued"], estimated_sites=data["estimated_sites"],
        subtotal=Decimal(data["subtotal"]), vat=Decimal(data["vat"]), total=Decimal(data["total"]),
        period_total=Decimal(data["period_total"]), previous_total=_d(data["previous_total"]),
        controls=[runs.Control(label, Decimal(left), Decimal(right)) for label, left, right in data["controls"]],
        detail_page=detail, partners_page=partners, labelled_page=labelled, left_out_page=left_out,
        computed_at=computed_at)


def review_page(*, session: Session, period: str, plans: dict[str, RoyaltyPlan], today: date, now: datetime,
                page: int = 1, partners_page: int = 1, items_page: int = 1, left_page: int = 1,
                per_page: int = PER_PAGE) -> ReviewPage:
    """The review of ``period`` as the page shows it: stored when its inputs are unchanged, computed (and
    kept, never committed) otherwise. Raises what ``runs.review_table`` raises."""
    stamp = fingerprint(session=session, plans=plans, today=today)
    key = f"review:{period}"
    pages = dict(page=page, partners_page=partners_page, items_page=items_page, left_page=left_page)
    found = _load(session, key, stamp, {"detail": (page, per_page), "partners": (partners_page, per_page),
                                        "labelled": (items_page, per_page), "left_out": (left_page, per_page)})
    if found is not None:
        return review_from_json(found[0], computed_at=found[1], per_page=per_page, **pages)
    started = time.perf_counter()
    data = review_json(runs.review_table(session=session, period=period, plans=plans, today=today))
    _keep(session, key, stamp, data, REVIEW_LISTS, time.perf_counter() - started, now)
    return review_from_json(data, computed_at=now, per_page=per_page, **pages)


# ---------------------------------------------------------------- the billing-run diff

def diff_json(result: diff.Diff) -> dict[str, Any]:
    return {"title_before": result.title_before, "title_after": result.title_after,
            "total_before": str(result.total_before), "total_after": str(result.total_after),
            "rows": [[r.partner, r.agreement, r.site, r.kind, _s(r.before), _s(r.after), list(r.causes), r.detail]
                     for r in result.rows]}


@dataclass
class DiffPage:
    """The diff page's figures: both totals, one page of the changed rows."""

    result: diff.Diff           # its ``rows`` are the asked page's
    rows_page: Page
    computed_at: datetime | None


def diff_from_json(data: dict[str, Any], *, computed_at: datetime | None = None, page: int = 1,
                   per_page: int = PER_PAGE) -> DiffPage:
    rows = _page(data["rows"], page, per_page)
    rows.items = [diff.DiffRow(partner, agreement, site, kind, _d(before), _d(after), tuple(causes), detail)
                  for partner, agreement, site, kind, before, after, causes, detail in rows.items]
    return DiffPage(diff.Diff(data["title_before"], data["title_after"], rows.items, Decimal(data["total_before"]),
                              Decimal(data["total_after"])), rows, computed_at)


def diff_page(*, session: Session, period: str, against: str, plans: dict[str, RoyaltyPlan], today: date,
              now: datetime, page: int = 1, per_page: int = PER_PAGE) -> DiffPage:
    """``period`` against the month ``against``, or against its last run's drafts (``against="last-run"``: what
    a run would write now), as the page shows it: stored when the inputs are unchanged, computed (and kept,
    never committed) otherwise. Raises what ``diff`` raises (``BillingError``)."""
    stamp = fingerprint(session=session, plans=plans, today=today)
    key = f"diff:{period}:{against}"
    found = _load(session, key, stamp, {"rows": (page, per_page)})
    if found is not None:
        return diff_from_json(found[0], computed_at=found[1], page=page, per_page=per_page)
    started = time.perf_counter()
    if against == "last-run":
        drafts = runs.compute(session=session, period=period, plans=plans, today=today, problems=[])
        result = diff.rerun(session=session, period=period, drafts=drafts)
    else:
        result = diff.months(session=session, period=period, against=against)
    data = diff_json(result)
    _keep(session, key, stamp, data, ("rows",), time.perf_counter() - started, now)
    return diff_from_json(data, computed_at=now, page=page, per_page=per_page)


# ---------------------------------------------------------------- network figures of the billing tables

def kept(*, session: Session, key: str, today: date, compute: Callable[[], dict[str, Any]],
         now: datetime | None = None) -> dict[str, Any]:
    """A figure of the whole network computed from the billing tables (a dict of JSON values), kept like the
    previews: read back while the inputs are unchanged, computed (and kept, never committed) otherwise.

    For the sums over every report of a year that finance's pages show first (per month: rows, sites expected,
    reported, late; revenue and royalty): about 120,000 reports at 10,000 sites, 200-400 ms to add up on every
    request, where reading them back is one row. A report submitted, corrected or moved shows on the next request.
    """
    from datetime import timezone

    if len(key) > 80:
        key = "kept:" + hashlib.sha256(key.encode()).hexdigest()[:40]
    stamp = fingerprint(session=session, plans={}, today=today)
    found = session.exec(select(BillingPreview.data).where(BillingPreview.key == key,
                                                           BillingPreview.fingerprint == stamp)).first()
    if found is not None:
        return found
    started = time.perf_counter()
    data = compute()
    _keep(session, key, stamp, data, (), time.perf_counter() - started, now or datetime.now(timezone.utc))
    return data


# ---------------------------------------------------------------- the job

def refresh(*, session: Session, plans: dict[str, RoyaltyPlan], today: date,
            local_today: date, now: datetime, due_day: int, tz: str) -> list[str]:
    """Compute the pages' default previews whose inputs changed (never commits): the review of last month
    (the review page's default) and the newest invoiced month against the month before (the diff's), both
    priced with ``plans``, the brand's plans the runs bill with; and the network's figures finance's pages open
    with (``kept``: the revenue and royalty per month, the revenue reports' sums per month, due on ``due_day``
    in zone ``tz``)."""
    from . import shift_period
    from .reads import invoice_periods

    done = []
    period = shift_period(f"{local_today.year:04d}-{local_today.month:02d}", -1)
    review_page(session=session, period=period, plans=plans, today=today, now=now)
    done.append(f"review:{period}")
    periods = invoice_periods(session=session)
    if periods:
        diff_page(session=session, period=periods[0], against=shift_period(periods[0], -1), plans=plans,
                  today=today, now=now)
        done.append(f"diff:{periods[0]}")
    from . import pages as finance_pages

    finance_pages.network_money(session=session, today=local_today)
    finance_pages.revenue_reports(session=session, flt=finance_pages.ReportFilter(), today=local_today,
                                  due_day=due_day, tz=tz)
    done += ["network-money", "revenue-reports"]
    return done


def refresh_job(*, settings, now: datetime | None = None) -> None:
    """The ``refresh-billing-previews`` job: fold old change rows, keep the billing pages' default previews
    current, and commit each."""
    import logging
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from ..db import make_engine, session_scope
    from . import plans as load_plans

    now = now or datetime.now(timezone.utc)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            fold_changes(session=session)
            session.commit()
            done = refresh(session=session, plans=load_plans(settings.royalty_dir),
                           today=now.date(), local_today=now.astimezone(ZoneInfo(settings.timezone)).date(),
                           now=now, due_day=settings.revenue_report_due_day, tz=settings.timezone)
            session.commit()
            logging.getLogger(__name__).info("billing previews current: %s", ", ".join(done))
    finally:
        engine.dispose()
