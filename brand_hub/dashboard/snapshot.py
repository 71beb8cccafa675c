"""The brand-health dashboard's network-wide figures, precomputed (issue 10: speed at 10,000 sites).

Partners at risk across every partner, the indicators' percentiles over every site's
scorecard, movers, comparisons and money by month are aggregates over the whole
network: at 10,000 sites they cost seconds, more than a page may take. The
``refresh-dashboard`` job (``brand_hub.jobs``) computes them with the very functions
the page would call (``pages.brand_health``) and keeps them in one row of
``dashboard_snapshot``; the HQ overview reads that row while it is younger than
``MAX_AGE`` and from the same day, and computes the figures itself otherwise. The
few live counts at the top (open flags, agents failing, overdue invoices, partners on
notice) and the running month are always read live: they are cheap.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from ..models.dashboard import DashboardSnapshot
from . import pages

log = logging.getLogger(__name__)

KEY = "network"
MAX_AGE = timedelta(minutes=15)   # the job runs every 5 minutes; older than this, the page computes itself


def _risk_json(risk: pages.PartnerRisk) -> dict[str, Any]:
    reasons = []
    for reason in risk.reasons:
        figures = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in reason.figures.items()}
        reasons.append({"kind": reason.kind, "points": reason.points, "figures": figures})
    return {"franchisee_id": risk.franchisee_id, "code": risk.code, "name": risk.name, "standing": risk.standing,
            "reasons": reasons, "balance": str(risk.balance), "overdue": str(risk.overdue),
            "overdue_days": risk.overdue_days, "sites": risk.sites}


def _risk_of(data: dict[str, Any]) -> pages.PartnerRisk:
    reasons = []
    for reason in data["reasons"]:
        figures = dict(reason["figures"])
        if reason["kind"] == "overdue":
            figures["amount"] = Decimal(figures["amount"])
        reasons.append(pages.Reason(reason["kind"], reason["points"], figures))
    return pages.PartnerRisk(data["franchisee_id"], data["code"], data["name"], data["standing"], reasons,
                             Decimal(data["balance"]), Decimal(data["overdue"]), data["overdue_days"], data["sites"])


def to_json(board: pages.BrandHealth, *, today: date) -> dict[str, Any]:
    """The network-wide part of ``board`` as JSON (the live counts and the running month are left out)."""
    return {
        "today": today.isoformat(),
        "quarters": [[q.period, q.model_id, q.model_version] for q in board.quarters],
        "cards": [[period, counts] for period, counts in board.cards],
        "indicators": [asdict(i) for i in board.indicators],
        "at_risk": [_risk_json(r) for r in board.at_risk],
        "at_risk_total": board.at_risk_total,
        "rises": [asdict(m) for m in board.rises],
        "falls": [asdict(m) for m in board.falls],
        "comparisons": {kind: [asdict(c) for c in rows] for kind, rows in board.comparisons.items()},
        "money": [{"period": m.period, "revenue": str(m.revenue), "royalty": str(m.royalty), "desks": m.desks,
                   "reports": m.reports} for m in board.money],
    }


def from_json(data: dict[str, Any], *, health: pages.HealthNow, month: pages.MonthScores,
              as_of: datetime) -> pages.BrandHealth:
    return pages.BrandHealth(
        health=health, quarters=[pages.Published(*q) for q in data["quarters"]],
        cards=[(period, counts) for period, counts in data["cards"]],
        indicators=[pages.IndicatorSpread(**i) for i in data["indicators"]], month=month,
        at_risk=[_risk_of(r) for r in data["at_risk"]], at_risk_total=data["at_risk_total"],
        rises=[pages.Mover(**m) for m in data["rises"]], falls=[pages.Mover(**m) for m in data["falls"]],
        comparisons={kind: [pages.Comparison(**c) for c in rows] for kind, rows in data["comparisons"].items()},
        money=[pages.MonthMoney(m["period"], Decimal(m["revenue"]), Decimal(m["royalty"]), m["desks"], m["reports"])
               for m in data["money"]],
        as_of=as_of)


def refresh(*, session: Session, scope: pages.Scope, indicators) -> DashboardSnapshot:
    """Compute the network's figures for ``scope`` (network-wide) and keep them (never commits)."""
    if scope.franchisee_ids is not None:
        raise ValueError("the dashboard snapshot is the whole network's")
    started = time.perf_counter()
    board = pages.brand_health(session=session, scope=scope, indicators=indicators)
    row = session.exec(select(DashboardSnapshot).where(DashboardSnapshot.key == KEY)).first()
    if row is None:
        row = DashboardSnapshot(key=KEY)
    row.data = to_json(board, today=scope.today)
    row.computed_at = scope.now
    row.seconds = round(time.perf_counter() - started, 3)
    session.add(row)
    session.flush()
    return row


def fresh(*, session: Session, scope: pages.Scope, max_age: timedelta = MAX_AGE) -> pages.BrandHealth | None:
    """The dashboard from the snapshot when it is younger than ``max_age`` and of ``scope.today``; else None."""
    if scope.franchisee_ids is not None:
        return None
    row = session.exec(select(DashboardSnapshot).where(DashboardSnapshot.key == KEY)).first()
    if row is None or row.data.get("today") != scope.today.isoformat():
        return None
    if not timedelta(0) <= scope.now - row.computed_at <= max_age:
        return None
    return from_json(row.data, health=pages.health_now(session=session, today=scope.today),
                     month=pages.running_month(session=session, today=scope.today), as_of=row.computed_at)


def monthly_money(*, session: Session, today: date, now: datetime,
                  max_age: timedelta = MAX_AGE) -> tuple[list[pages.MonthMoney], datetime | None]:
    """The network's money by month (``pages.monthly_money``) and when it was computed: from the snapshot while it
    is fresh (as ``fresh`` judges it), else computed now (``None``).

    Finance's invoice list shows the same chart as the overview. Computed on each request it sums every site's
    revenue reports and every royalty line of twelve months: the page's time grew threefold from 100 to 10,000
    sites (issue 15), where the snapshot's row costs the same at any size."""
    row = session.exec(select(DashboardSnapshot).where(DashboardSnapshot.key == KEY)).first()
    if (row is not None and row.data.get("today") == today.isoformat() and "money" in row.data
            and timedelta(0) <= now - row.computed_at <= max_age):
        return [pages.MonthMoney(m["period"], Decimal(m["revenue"]), Decimal(m["royalty"]), m["desks"], m["reports"])
                for m in row.data["money"]], row.computed_at
    return pages.monthly_money(session=session, today=today), None


def refresh_job(*, settings, now: datetime | None = None) -> None:
    """The ``refresh-dashboard`` job: compute the network's dashboard figures and commit them."""
    from ..db import make_engine, session_scope

    now = now or datetime.now(timezone.utc)
    scope = pages.Scope(today=now.astimezone(ZoneInfo(settings.timezone)).date(), now=now)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            row = refresh(session=session, scope=scope, indicators=pages.current_indicators(settings))
            session.commit()
            log.info("dashboard figures refreshed in %.1f s", row.seconds)
    finally:
        engine.dispose()
