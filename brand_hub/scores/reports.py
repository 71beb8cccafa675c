"""Read-side of the scores: what the dashboard and the portal show.

For each site and period the newest model version's score is the one shown;
older versions stay stored for reproduction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from scoring import composite
from scoring.periods import PeriodError, parse_period

from ..db import distinct_values
from ..models import Franchisee, Site
from ..models.scoring import SiteScore

BINS = tuple(range(0, 100, 10))


@dataclass
class NetworkView:
    period: str
    rows: list[tuple[Site, Franchisee, SiteScore]]
    distribution: list[tuple[str, int]]
    cards: dict[str, int]
    movers: list[tuple[Site, SiteScore, float]] = field(default_factory=list)


def periods(*, session: Session, site_ids: list[int] | None = None) -> list[str]:
    """The periods with stored scores, newest first (quarters and months).

    The network's periods are found by skipping along the period index, one look-up per period
    (a "loose index scan"): ``SELECT DISTINCT`` read every stored score, 20,000 rows of kilobytes of
    JSON at 10,000 sites, to find a handful of periods (the HQ scores page, issue 10)."""
    if site_ids is not None:
        stmt = select(SiteScore.period).distinct().where(SiteScore.site_id.in_(site_ids))
        return sorted(session.exec(stmt).all(), key=period_key, reverse=True)
    return sorted(distinct_values(session, SiteScore.period), key=period_key, reverse=True)


def period_key(text: str):
    try:
        period = parse_period(text)
    except PeriodError:
        return (0, 0, text)
    return (period.after.toordinal(), period.months, text)


def newest(rows) -> dict[tuple[int, str], SiteScore]:
    """Per (site, period), the score of the newest model version."""
    best: dict[tuple[int, str], SiteScore] = {}
    for row in rows:
        key = (row.site_id, row.period)
        if key not in best or (row.model_version, row.model_id) > (best[key].model_version, best[key].model_id):
            best[key] = row
    return best


def period_scores(*, session: Session, period: str) -> dict[int, SiteScore]:
    rows = session.exec(select(SiteScore).where(SiteScore.period == period)).all()
    return {site_id: row for (site_id, _p), row in newest(rows).items()}


def network_view(*, session: Session, period: str, city: str = "", tier: str = "", partner: str = "",
                 movers: int = 8) -> NetworkView:
    """Ranking (filtered by city, tier, partner), distribution, card counts and movers for ``period``."""
    scores = period_scores(session=session, period=period)
    stmt = select(Site, Franchisee).join(Franchisee, Franchisee.id == Site.franchisee_id)
    if city:
        stmt = stmt.where(Site.city == city)
    if tier:
        stmt = stmt.where(Site.tier == tier)
    if partner:
        stmt = stmt.where(Franchisee.code == partner)
    rows = [(s, f, scores[s.id]) for s, f in session.exec(stmt).all() if s.id in scores]
    rows.sort(key=lambda r: (r[2].score is None, -(r[2].score or 0), r[0].code))
    histogram = {b: 0 for b in BINS}
    for _s, _f, row in rows:
        if row.score is not None:
            histogram[min(int(row.score // 10) * 10, 90)] += 1
    distribution = [(f"{b}–{b + 10}", histogram[b]) for b in BINS]
    cards: dict[str, int] = {}
    for _s, _f, row in rows:
        key = row.card or row.status
        cards[key] = cards.get(key, 0) + 1
    view = NetworkView(period, rows, distribution, cards)
    try:
        previous = str(parse_period(period).previous())
    except PeriodError:
        return view
    before = period_scores(session=session, period=previous)
    moved = [(s, row, row.score - before[s.id].score) for s, _f, row in rows
             if row.score is not None and s.id in before and before[s.id].score is not None]
    moved.sort(key=lambda m: -abs(m[2]))
    view.movers = moved[:movers]
    return view


def filter_options(*, session: Session) -> dict[str, list]:
    """The cities and tiers in use (the partner filter takes a code: a network has thousands of partners),
    each by index (``db.distinct_values``)."""
    return {"city": distinct_values(session, Site.city), "tier": distinct_values(session, Site.tier)}


def site_history(*, session: Session, site_id: int) -> list[SiteScore]:
    """The site's shown score per period, oldest first."""
    rows = session.exec(select(SiteScore).where(SiteScore.site_id == site_id)).all()
    return sorted(newest(rows).values(), key=lambda r: period_key(r.period))


def site_codes(*, session: Session, site_ids: list[int]) -> dict[int, str]:
    """The codes of these sites by id (``brandhub score`` prints each scored site by code)."""
    return dict(session.execute(select(Site.id, Site.code).where(Site.id.in_(site_ids))).all()) if site_ids else {}


def trend(history: list[SiteScore], indicator_ids: list[str]) -> dict:
    """Chart data: per period the score and the raw value of the key indicators."""
    return {"labels": [r.period for r in history],
            "score": [None if r.score is None else round(r.score, 1) for r in history],
            "indicators": {i: [(r.indicators.get(i) or {}).get("normalised") for r in history]
                           for i in indicator_ids}}


def network_populations(*, session: Session, period: str, model_id: str, model_version: int) -> dict[str, list[float]]:
    """Every site's normalised value per indicator in ``period``, scored by that model (anonymous)."""
    population: dict[str, list[float]] = {}
    for other in period_scores(session=session, period=period).values():
        if (other.model_id, other.model_version) != (model_id, model_version):
            continue
        for ind_id, ind in other.indicators.items():
            if ind.get("normalised") is not None:
                population.setdefault(ind_id, []).append(ind["normalised"])
    return population


def network_percentiles(*, session: Session, row: SiteScore) -> dict[str, float]:
    """Where the site stands per indicator: its percentile among every site's normalised value (anonymous)."""
    population = network_populations(session=session, period=row.period, model_id=row.model_id,
                                     model_version=row.model_version)
    return {ind_id: composite.percentile(ind["normalised"], population.get(ind_id, []))
            for ind_id, ind in row.indicators.items() if ind.get("normalised") is not None}
