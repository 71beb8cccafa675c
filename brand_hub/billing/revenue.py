"""Revenue reports: a site's monthly gross revenue, submitted in the portal or imported by finance.

Every submission is a new version when it changes something; the newest version of
(site, period) is in force. A later version is ``corrected`` (its difference is
trued up in the next run when the month was already invoiced).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from brand_hub import audit, tenure
from standards import numbers
from standards.loader import Problem
from standards.numbers import NumberRefused, read_decimal
from standards.text import text_problem
from brand_hub.models import Site
from brand_hub.models.billing import ReportSource, ReportStatus, RevenueReport

from . import BillingError, parse_period, period_start
from . import corrections, plausibility  # issue 11

BREAKDOWN_KEYS = ("desks", "offices", "meeting_rooms", "services")
REQUIRED_COLUMNS = ("site_code", "period", "gross_revenue")


# Far above any site's month and any invoice; a figure this large is a typo or a pasted cell, not money.
MAX_AMOUNT = Decimal("1000000000000")  # 10^12 CNY


def parse_amount(text: str, what: str) -> Decimal:
    """The one amount parser of billing: a non-negative CNY amount as people write it, or a ``BillingError``.

    Accepts ``1234567.89`` and ``1,234,567.89``; refuses, each with its own reason: an empty
    value, scientific notation (Excel shows ``1.23457E+06`` for 1,234,567.00 and a CSV saved
    from it keeps the rounded display, so reading it would bill 1,234,570.00), NaN and
    infinity, a sign, more than two decimals (fen), and amounts from 10^12 up. The rules are
    ``standards.numbers.read_decimal``'s; used by the CLI, the revenue CSV import and every
    billing form, so a refusal is a clear message, never a 500.
    """
    try:
        return read_decimal(text, places=2, below=MAX_AMOUNT)
    except NumberRefused as exc:
        raise BillingError(_amount_refusal(exc.kind, what, repr(text))) from None


def _amount_refusal(kind: str, what: str, value: str):
    if kind == numbers.EMPTY:
        return _l("%(what)s is empty: write an amount like 1234.56", what=what)
    if kind == numbers.SCIENTIFIC:
        return _l("%(what)s %(value)s is in scientific notation (as a spreadsheet shows a large "
                  "number); write the amount in full, e.g. 1234567.89", what=what, value=value)
    if kind == numbers.NOT_FINITE:
        return _l("%(what)s %(value)s is not a finite amount", what=what, value=value)
    if kind == numbers.NEGATIVE:
        return _l("%(what)s %(value)s is negative", what=what, value=value)
    if kind == numbers.TOO_PRECISE:
        return _l("%(what)s %(amount)s has more than two decimals (fen)", what=what, amount=value)
    if kind == numbers.TOO_LARGE:
        return _l("%(what)s %(value)s is not below 1,000,000,000,000; check the figure", what=what, value=value)
    return _l("%(what)s %(value)s is not a decimal number", what=what, value=value)


def newest_report(*, session: Session, site_id: int, period: str) -> RevenueReport | None:
    """The version in force: the newest one not waiting for HQ's review nor refused."""
    return session.exec(select(RevenueReport).where(RevenueReport.site_id == site_id, RevenueReport.period == period)
                        .where(corrections.in_force_clause())  # issue 11: reviewed corrections
                        .order_by(RevenueReport.version.desc())).first()


def newest_reports(*, session: Session, site_ids: list[int], periods: list[str]) -> dict[tuple[int, str], RevenueReport]:
    """The report in force for each (site, period) asked for, in one query."""
    if not site_ids or not periods:
        return {}
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v"))
              .where(RevenueReport.site_id.in_(site_ids), RevenueReport.period.in_(periods))
              .where(corrections.in_force_clause())  # issue 11: reviewed corrections
              .group_by(RevenueReport.site_id, RevenueReport.period).subquery())
    rows = session.exec(select(RevenueReport).join(
        newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
        & (RevenueReport.version == newest.c.v))).all()
    return {(r.site_id, r.period): r for r in rows}


def submit_report(*, session: Session, site: Site, period: str, gross_revenue: Decimal,
                  breakdown: dict[str, Decimal] | None = None, source: ReportSource, submitted_by: str,
                  today: date, assess: bool = True) -> tuple[RevenueReport, bool]:
    """Record a site's revenue for a month; returns (report in force, whether a new version was written).

    Re-submitting the same figures writes nothing, so an import can be re-run.
    """
    parse_period(period)
    if period_start(period) > today:
        raise BillingError(_l("period %(period)s has not started yet", period=period))
    if gross_revenue < 0:
        raise BillingError(_l("gross revenue cannot be negative"))
    corrections.check_breakdown(gross_revenue, breakdown or {})  # issue 11: parts never above the gross
    clean = {k: str(v) for k, v in (breakdown or {}).items()}
    current = newest_report(session=session, site_id=site.id, period=period)
    if current is not None and current.gross_revenue == gross_revenue and current.breakdown == clean \
            and current.status != ReportStatus.estimated:
        return current, False
    if current is None or current.status == ReportStatus.estimated:
        status = ReportStatus.reported
    else:
        status = ReportStatus.corrected
    report = RevenueReport(site_id=site.id, period=period,
                           franchisee_id=tenure.partner_of_month(session=session, site=site, period=period),
                           version=corrections.next_version(session=session, site_id=site.id, period=period),
                           gross_revenue=gross_revenue, breakdown=clean, status=status, source=source,
                           submitted_by=submitted_by)
    session.add(report)
    session.flush()
    corrections.after_submit(session=session, site=site, report=report, previous=current)  # issue 11
    if assess:
        plausibility.assess_reports(session=session, reports=[report])  # issue 11
    return report, True


@dataclass
class ImportResult:
    """What an import did: rows stored, rows unchanged, and every bad row as a ``Problem`` (file, line, reason)."""

    written: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


def import_csv(*, session: Session, text: str, file: str, actor: audit.Actor, today: date) -> ImportResult:
    """Import ``site_code,period,gross_revenue[,desks,offices,meeting_rooms,services]``.

    Every bad row is reported as a ``Problem`` (``file:line: reason``) and skipped; good rows are kept.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BillingError(_l("%(file)s:1: missing column(s) %(missing)s; expected %(expected)s", file=file,
                              missing=", ".join(missing),
                              expected=f"{','.join(REQUIRED_COLUMNS)}[,{','.join(BREAKDOWN_KEYS)}]"))
    sites = {s.code: s for s in session.exec(select(Site)).all()}
    seen: dict[tuple[str, str], int] = {}
    assess: list[RevenueReport] = []
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a NUL byte, an oversized field: the rest of the file cannot be read
            result.problems.append(Problem(file, reader.line_num + 1, f"not readable as CSV ({exc}); rows from here "
                                                                      "on were not imported"))
            break
        line = reader.line_num
        if any(text_problem(v) for v in row.values() if isinstance(v, str)):
            result.problems.append(Problem(file, line, "contains control characters (such as NUL); row skipped"))
            continue
        try:
            site, period, revenue, breakdown = _parse_row(row, sites, seen, line)
            with session.begin_nested():  # one row is atomic: a row the database refuses leaves the others
                report, written = submit_report(session=session, site=site, period=period, gross_revenue=revenue,
                                                breakdown=breakdown, source=ReportSource.import_,
                                                submitted_by=actor.label, today=today, assess=False)
        except BillingError as exc:
            result.problems.append(Problem(file, line, str(exc)))
            continue
        except (ArithmeticError, ValueError, SQLAlchemyError) as exc:  # e.g. an amount too large to store
            result.problems.append(Problem(file, line, f"a value cannot be read or stored ({type(exc).__name__}); "
                                                       "row skipped"))
            continue
        if written:
            result.written += 1
            assess.append(report)
        else:
            result.unchanged += 1
    plausibility.assess_reports(session=session, reports=assess)  # issue 11: the file's reports at once
    audit.record(session=session, actor=actor, action="revenue.import", entity_type="revenue_report",
                 entity_id=Path(str(file)).name[:80],
                 after={"file": str(file), "written": result.written, "unchanged": result.unchanged,
                        "refused": len(result.problems)})
    return result


def _parse_row(row: dict[str, str], sites: dict[str, Site], seen: dict[tuple[str, str], int],
               line: int) -> tuple[Site, str, Decimal, dict[str, Decimal]]:
    code = (row.get("site_code") or "").strip()
    period = (row.get("period") or "").strip()
    site = sites.get(code)
    if site is None:
        raise BillingError(_l("unknown site %(code)s", code=repr(code)))
    parse_period(period)
    if (code, period) in seen:
        raise BillingError(_l("duplicate row for %(code)s %(period)s (first on line %(line)s)", code=code,
                              period=period, line=seen[(code, period)]))
    seen[(code, period)] = line
    revenue = parse_amount(row.get("gross_revenue") or "", "gross_revenue")
    breakdown = {key: parse_amount(row[key], key) for key in BREAKDOWN_KEYS if (row.get(key) or "").strip()}
    return site, period, revenue, breakdown
