"""What the scores pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, case, exists, func, or_, true
from sqlalchemy.orm import aliased, defer
from sqlmodel import Session, select

from scoring import composite
from scoring.periods import PeriodError, parse_period

from ..models import Franchisee, Site
from ..models.scoring import SiteScore
from ..paging import Page, paginate
from ..scope import Scope
from ..settings import Settings
from . import card_shown, model_of, published_keys, reports
from .reports import BINS


class NoSuchPeriod(LookupError):
    """The site has no score for the asked period."""


def scorecard(*, session: Session, site: Site, scope: Scope, period: str | None, settings: Settings,
              locale: str, holding=None) -> dict:
    """What a scorecard page shows (the HQ page and the partner's page share it).

    ``card``: the card to show, by the service's publish rule (``card_shown``): a partner
    sees a quarter's card only once HQ published it (``card_pending`` says it is not yet).
    A ``period`` the site has no score for is ``NoSuchPeriod``. ``holding`` (issue 17, the
    portal): the partner's tenures of the site; only the periods they own are shown.
    """
    history = reports.site_history(session=session, site_id=site.id)
    if holding is not None:
        history = [r for r in history if holding.owns_period(r.period)]
    quarters = [r for r in history if r.card is not None]
    shown = [r for r in history if r.period == period] if period else (quarters or history)[-1:]
    if period and not shown:
        raise NoSuchPeriod(period)
    row = shown[0] if shown else None
    model = model_of(settings=settings, row=row) if row else None
    indicators = []
    if row is not None:
        for ind_id, data in row.indicators.items():
            spec = _spec(model, ind_id)
            indicators.append((spec, data))
    key_ids = [i.id for i in model.indicators if i.key_metric] if model else []
    same_kind = [r for r in history if row is None or ("Q" in r.period) == ("Q" in row.period)]
    chart = reports.trend(same_kind, key_ids)
    card, pending = card_shown(row, published_keys(session=session), to_partner=not scope.is_hq)
    return {"row": row, "card": card, "card_pending": pending,
            "model": model, "indicators": indicators, "history": history, "chart": chart,
            "key_titles": {i: _spec(model, i) for i in key_ids},
            "key_titles_json": {i: model.indicator(i).title(locale) for i in key_ids},
            "improve": composite.improve_first([d | {"id": i} for i, d in row.indicators.items()]) if row else [],
            "percentiles": network_percentiles(session=session, row=row) if row else {},
            "card_history": _card_history(session, site, settings, holding)}


def _card_history(session: Session, site: Site, settings: Settings, holding=None):
    """The site's cards, cure windows and strikes as of today in HQ's zone (a partner: its own quarters)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from .history import histories

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(settings.timezone)).date()
    owns = holding.owns_period if holding is not None else None
    return histories(session=session, site_ids=[site.id], settings=settings, today=today, owns=owns)[site.id]


def _spec(model, indicator_id: str):
    if model is None:
        return None
    try:
        return model.indicator(indicator_id)
    except KeyError:
        return None


# -- the network's scores of a period (the HQ scores page) -------------------------------------------

@dataclass
class NetworkPage:
    """The scores page of a period: one page of the ranking, the distribution, card counts and movers of every
    site the filters select, and the ranking's first row (``top``: the model and card of the period)."""

    period: str
    page: Page  # (site, partner, score) rows, best first
    distribution: list[tuple[str, int]]
    cards: dict[str, int]
    movers: list[tuple[Site, SiteScore, float]] = field(default_factory=list)
    top: SiteScore | None = None


def _shown(score):
    """The condition "``score`` is the shown score of its site and period" (the newest model version's)."""
    newer = aliased(SiteScore)
    return ~exists(select(newer.id).where(
        newer.site_id == score.site_id, newer.period == score.period,
        or_(newer.model_version > score.model_version,
            and_(newer.model_version == score.model_version, newer.model_id > score.model_id))))


def _period_facts(session: Session, periods: list[str]) -> tuple[dict[str, tuple], tuple]:
    """Per period (single, newest id, newest computation), and the sites' (count, newest change): one
    statement of index probes (``ix_site_score_period_model_at``, ``ix_site_score_period_id``) and one
    pass over the narrow site rows.

    ``single``: all the period's stored scores share one model id and version, so every one is shown and
    the "is there a newer version of this site's score?" test, which read the period a second time in each
    of the scores page's statements, is not needed. The newest id and computation (of that one version)
    change whenever one of the period's scores does (``scores_stamp``); the sites' count and newest change
    whenever a site is added, edited or moved (the registry and ``tenure.move_site`` stamp ``updated_at``).
    """
    columns = []
    for period in periods:
        first = select(func.min(SiteScore.model_id)).where(SiteScore.period == period).scalar_subquery()
        version = select(func.min(SiteScore.model_version)).where(
            SiteScore.period == period, SiteScore.model_id == first).scalar_subquery()
        columns += [first, select(func.max(SiteScore.model_id)).where(SiteScore.period == period).scalar_subquery(),
                    version, select(func.max(SiteScore.model_version)).where(
                        SiteScore.period == period, SiteScore.model_id == first).scalar_subquery(),
                    select(func.max(SiteScore.id)).where(SiteScore.period == period).scalar_subquery(),
                    select(func.max(SiteScore.computed_at)).where(
                        SiteScore.period == period, SiteScore.model_id == first,
                        SiteScore.model_version == version).scalar_subquery()]
    sites = select(func.count().label("n"), func.max(Site.updated_at).label("changed")).subquery()  # one pass
    row = session.exec(select(*columns, sites.c.n, sites.c.changed).select_from(sites)).one()
    facts = {period: (row[6 * n] == row[6 * n + 1] and row[6 * n + 2] == row[6 * n + 3], row[6 * n + 4],
                      row[6 * n + 5]) for n, period in enumerate(periods)}
    return facts, tuple(row[-2:])


def _single_version(session: Session, periods: list[str]) -> dict[str, bool]:
    """Per period: whether all its stored scores share one model id and version (``_period_facts``)."""
    return {period: facts[0] for period, facts in _period_facts(session, periods)[0].items()}


@dataclass(frozen=True)
class _Ranking:
    """What the scores page computes over the whole network: counts, bins, one page of the ranking, the
    ranking's first row and the movers, by score id (the rows themselves are read for each request)."""

    cards: dict[str, int]
    distribution: list[tuple[str, int]]
    ids: list[int]
    total: int
    page: int
    per_page: int
    top: int | None
    movers: list[tuple[int, float]]


_RANKINGS: dict[tuple, _Ranking] = {}
_RANKINGS_KEPT = 64


def network(*, session: Session, scope: Scope, period: str, city: str = "", tier: str = "", partner: str = "",
            page: int = 1, per_page: int | None = None, movers: int = 8) -> NetworkPage:
    """The sites the filters (city, tier, partner code) select with their shown score of ``period``: ranked,
    counted, binned and compared with the period before in SQL, one page of the ranking read.

    Sorting and counting read narrow rows (ids and scores); the page's full rows are read by id. The
    network-wide part (``_Ranking``: two passes over the period and a join with the period before, 20,000
    rows at 10,000 sites) is kept while the two periods' scores and the sites stay the same
    (``_period_facts``, one statement) and each period holds one model version; a filter by partner code is
    always computed (a partner's code can change)."""
    try:
        previous = str(parse_period(period).previous())
    except PeriodError:
        previous = None
    facts, sites_stamp = _period_facts(session, [period] + ([previous] if previous else []))
    key = None
    if not partner and all(single for single, _newest, _at in facts.values()):
        key = (str(session.get_bind().url), repr(scope), period, city, tier, page, per_page, movers,
               tuple(sorted(facts.items())), sites_stamp)
    ranking = _RANKINGS.get(key) if key is not None else None
    if ranking is None:
        ranking = _ranking(session=session, scope=scope, period=period, previous=previous,
                           single={p: f[0] for p, f in facts.items()}, city=city, tier=tier, partner=partner,
                           page=page, per_page=per_page, movers=movers)
        if key is not None:
            while len(_RANKINGS) >= _RANKINGS_KEPT:
                _RANKINGS.pop(next(iter(_RANKINGS)))
            _RANKINGS[key] = ranking
    rows = _load_ranked(session, ranking.ids + [score_id for score_id, _delta in ranking.movers])
    found = Page(items=[rows[score_id] for score_id in ranking.ids], total=ranking.total, page=ranking.page,
                 per_page=ranking.per_page)
    top = None
    if ranking.top is not None:
        top = rows[ranking.top][2] if ranking.top in rows else session.get(SiteScore, ranking.top)
    return NetworkPage(period, found, ranking.distribution, dict(ranking.cards),
                       movers=[(rows[score_id][0], rows[score_id][2], change) for score_id, change in ranking.movers],
                       top=top)


def _load_ranked(session: Session, ids: list[int]) -> dict:
    """(site, partner, score) by score id; the ranking shows scores and cards: each row's indicators
    (kilobytes of JSON) stay unread."""
    if not ids:
        return {}
    return {row[2].id: row for row in session.exec(
        select(Site, Franchisee, SiteScore).join(Site, Site.id == SiteScore.site_id)
        .join(Franchisee, Franchisee.id == Site.franchisee_id).where(SiteScore.id.in_(ids))
        .options(defer(SiteScore.indicators, raiseload=True)))}


def _ranking(*, session: Session, scope: Scope, period: str, previous: str | None, single: dict[str, bool],
             city: str, tier: str, partner: str, page: int, per_page: int | None, movers: int) -> _Ranking:
    def shown(score, of: str):
        return true() if single[of] else _shown(score)

    def selected(*columns):
        stmt = (select(*columns).select_from(SiteScore).join(Site, Site.id == SiteScore.site_id)
                .where(SiteScore.period == period, shown(SiteScore, period)))
        if city:
            stmt = stmt.where(Site.city == city)
        if tier:
            stmt = stmt.where(Site.tier == tier)
        if partner:
            stmt = stmt.where(Site.franchisee_id.in_(select(Franchisee.id).where(Franchisee.code == partner)))
        return scope.where_site(stmt, Site.id)

    score = SiteScore.score
    kind = func.coalesce(SiteScore.card, SiteScore.status)
    bins = [func.sum(case((and_(score >= b, score < b + 10) if b < BINS[-1] else score >= b, 1), else_=0))
            for b in BINS]
    groups = session.exec(selected(kind, func.count(), *bins).group_by(kind)).all()
    cards = {row[0]: row[1] for row in groups}
    distribution = [(f"{b}–{b + 10}", int(sum(row[2 + i] or 0 for row in groups))) for i, b in enumerate(BINS)]
    ranked = selected(SiteScore.id).order_by(score.is_(None), score.desc(), Site.code)
    found = paginate(session, ranked, page=page, per_page=per_page, scalars=True, total=sum(cards.values()))
    top = None
    if found.items and found.page == 1:
        top = found.items[0]
    elif found.total:
        top = session.exec(ranked.limit(1)).first()
    moved = []
    if previous is not None and found.total:
        before = aliased(SiteScore)
        delta = score - before.score
        moved = [(score_id, change) for score_id, change in session.exec(
            selected(SiteScore.id, delta)
            .join(before, and_(before.site_id == SiteScore.site_id, before.period == previous,
                               shown(before, previous)))
            .where(score.is_not(None), before.score.is_not(None))
            .order_by(func.abs(delta).desc(), Site.code).limit(movers)).all()]
    return _Ranking(cards, distribution, list(found.items), found.total, found.page, found.per_page, top, moved)


# -- the sensitivity of a period's cards, computed once per set of stored scores ------------------------

def scores_stamp(*, session: Session, period: str, model_id: str, model_version: int) -> tuple:
    """What changes whenever the period's stored scores change: the newest id of the period's scores and the
    newest computation of the model version's scores of the period, two index probes
    (``ix_site_score_period_id``, ``ix_site_score_period_model_at``).

    A stored score is never deleted: a new one takes a higher id, and a score computed again takes the time
    it was computed (``scores.score_site``). The count, newest id and time read before took a pass over the
    whole period (20,000 rows of kilobytes at 10,000 sites) on every scores page and scorecard.
    """
    return tuple(session.exec(select(
        select(func.max(SiteScore.id)).where(SiteScore.period == period).scalar_subquery(),
        select(func.max(SiteScore.computed_at)).where(
            SiteScore.period == period, SiteScore.model_id == model_id,
            SiteScore.model_version == model_version).scalar_subquery())).one())


_SENSITIVITY: dict[tuple, list] = {}
_SENSITIVITY_KEPT = 8


def sensitivity(*, session: Session, period: str, model) -> list[composite.SensitivityRow]:
    """``scores.sensitivity`` of the period's stored scores with ``model``, kept while those scores stay the same.

    It re-weighs every site's card 24 times: seconds on a network of thousands of sites, for a figure
    that changes only when the period is scored again. One statement (count, newest id and time of the
    period's scores) tells whether the kept figure still holds.
    """
    from . import sensitivity as compute

    key = (str(session.get_bind().url), period, model.id, model.version,
           *scores_stamp(session=session, period=period, model_id=model.id, model_version=model.version))
    if key not in _SENSITIVITY:
        while len(_SENSITIVITY) >= _SENSITIVITY_KEPT:
            _SENSITIVITY.pop(next(iter(_SENSITIVITY)))
        _SENSITIVITY[key] = compute(session=session, period=period, model=model)
    return _SENSITIVITY[key]


# -- where a site stands in the network, against populations read once per set of stored scores --------

_POPULATIONS: dict[tuple, dict[str, list[float]]] = {}


def network_percentiles(*, session: Session, row: SiteScore) -> dict[str, float]:
    """``reports.network_percentiles`` of ``row``, against the period's populations kept (sorted) while the
    period's scores stay the same: reading every site's scorecard took seconds per scorecard page at
    thousands of sites, for populations that change only when the period is scored again."""
    key = (str(session.get_bind().url), row.period, row.model_id, row.model_version,
           *scores_stamp(session=session, period=row.period, model_id=row.model_id, model_version=row.model_version))
    if key not in _POPULATIONS:
        while len(_POPULATIONS) >= _SENSITIVITY_KEPT:
            _POPULATIONS.pop(next(iter(_POPULATIONS)))
        _POPULATIONS[key] = {ind_id: sorted(values) for ind_id, values in reports.network_populations(
            session=session, period=row.period, model_id=row.model_id, model_version=row.model_version).items()}
    populations = _POPULATIONS[key]
    return {ind_id: composite.percentile_in_sorted(ind["normalised"], populations.get(ind_id, []))
            for ind_id, ind in row.indicators.items() if ind.get("normalised") is not None}
