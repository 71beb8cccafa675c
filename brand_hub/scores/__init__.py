"""The scores service: score sites for a period with a version of the model, and store it.

Plain keyword-only functions that never commit; the command, job or request that
calls them owns the session. Storing is idempotent per (site, period, model id,
model version): re-scoring updates the row in place (and leaves it untouched when
nothing changed); a new model version adds a new row and keeps the old one.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo
from itertools import islice
from pathlib import Path

from sqlmodel import Session, select

from scoring import composite, hours, measures, nps
from scoring.measures import SiteInputs
from scoring.periods import Period, PeriodError, parse_period
from standards.loader import InvalidFiles
from standards.scoring_model import ScoringModel, current_model, load_library

from .. import audit
from ..models import Site, SiteStatus
from ..models.scoring import CardPublication, SiteScore
from ..settings import Settings
from .inputs import batch_inputs, batch_totals, nps_counts, site_inputs, totals_apply

log = logging.getLogger(__name__)
SCORED_STATUSES = (SiteStatus.active, SiteStatus.suspended)


class ScoringError(Exception):
    """A scoring request the service refuses (unknown period, site or model version)."""


@dataclass
class RunReport:
    """What one scoring run did: per site the stored score, or why the site could not be scored."""

    period: str
    model_id: str
    model_version: int
    scores: list[SiteScore] = field(default_factory=list)
    changed: int = 0
    failures: dict[str, str] = field(default_factory=dict)   # site code → reason


def model_dir(settings: Settings) -> Path | None:
    return Path(settings.scoring_dir) if settings.scoring_dir else None


def load_model(*, settings: Settings, version: int | None = None, model_id: str | None = None) -> ScoringModel:
    """The newest model of the library (or the given version); invalid files are a ``ScoringError``."""
    try:
        if version is None:
            return current_model(model_dir(settings), model_id)
        models = load_library(model_dir(settings))
    except InvalidFiles as exc:
        raise ScoringError(f"the scoring model files are invalid:\n{exc}") from exc
    for (mid, mversion), model in models.items():
        if mversion == version and (model_id is None or mid == model_id):
            return model
    raise ScoringError(f"no scoring model with version {version}")


def period_arg(text: str) -> Period:
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise ScoringError(str(exc)) from exc


def network_nps(*, session: Session, period: Period, tz: str) -> float | None:
    """The pooled NPS of the whole network for the period (the anchor small sites are shrunk to)."""
    start, end = period.bounds(tz)
    return nps.nps_value(nps_counts(session=session, start=start, end=end))


def _window(site: Site, period: Period, as_of: datetime | None) -> tuple[datetime, datetime]:
    start, end = period.bounds(site.timezone)
    if as_of is not None:
        end = min(end, as_of)
    if end <= start:
        raise ScoringError(f"period {period} has not started at {site.code}")
    return start, end


def read_inputs(*, session: Session, site: Site, period: Period, model: ScoringModel, network: float | None,
                as_of: datetime | None = None) -> SiteInputs:
    """Everything the measures need for one site and period, read from the database."""
    start, end = _window(site, period, as_of)
    return site_inputs(session=session, site=site, start=start, end=end, model=model, network_nps=network)


def score_site(*, session: Session, site: Site, period: Period, model: ScoringModel, network: float | None,
               as_of: datetime | None = None, data: SiteInputs | None = None,
               stored: dict[int, SiteScore] | None = None) -> tuple[SiteScore, bool]:
    """Score one site and store it; returns the row and whether anything changed.

    ``data``: the site's inputs when they were read beforehand (see ``score_period``'s workers);
    ``stored``: the stored rows of the period and model version by site id, when read beforehand
    for a batch of sites (one statement instead of one a site).
    """
    if data is None:
        data = read_inputs(session=session, site=site, period=period, model=model, network=network, as_of=as_of)
    result = composite.score(model, measures.measure_all(model, data))
    values = dict(status=result.status, score=result.score, coverage=round(result.coverage, 6),
                  card=result.card if period.is_quarter else None,
                  indicators={i.id: i.as_json() for i in result.indicators})
    if stored is not None:
        row = stored.get(site.id)
    else:
        row = session.exec(select(SiteScore).where(
            SiteScore.site_id == site.id, SiteScore.period == str(period),
            SiteScore.model_id == model.id, SiteScore.model_version == model.version)).first()
    if row is None:
        row = SiteScore(site_id=site.id, period=str(period), model_id=model.id, model_version=model.version, **values)
        session.add(row)
        return row, True
    if all(getattr(row, k) == v for k, v in values.items()):
        return row, False
    for key, value in values.items():
        setattr(row, key, value)
    row.computed_at = datetime.now(timezone.utc)
    return row, True


def score_period(*, session: Session, period: Period, model: ScoringModel, actor: audit.Actor,
                 site_codes: list[str] | None = None, as_of: datetime | None = None,
                 network_tz: str = "Asia/Shanghai", workers: int = 1) -> RunReport:
    """Score every active site (or the named ones) for ``period``; one bad site never stops the run.

    The sites are read in batches of ``BATCH_SITES`` sharing one window (the sites of one
    time zone): one statement per kind of input for the whole batch, over the hourly rollup
    where the slots are hours (``inputs.batch_inputs``); on PostgreSQL the slots are counted
    there too and only a few totals per site come back (``inputs.batch_totals``). With ``workers`` > 1 that many
    threads read the next batches, each on its own connection, while this one scores and
    stores. Those connections see only committed data, so callers that score what they
    have just written in the same transaction keep one worker.
    """
    stmt = select(Site).order_by(Site.code)
    if site_codes:
        stmt = stmt.where(Site.code.in_(site_codes))
    else:
        stmt = stmt.where(Site.status.in_(SCORED_STATUSES))
    sites = list(session.exec(stmt))
    missing = sorted(set(site_codes or []) - {s.code for s in sites})
    if missing:
        raise ScoringError(f"unknown site code(s): {', '.join(missing)}")
    network = network_nps(session=session, period=period, tz=network_tz)
    report = RunReport(str(period), model.id, model.version)
    batches, refused = _batches(sites=sites, period=period, as_of=as_of)
    for site, exc in refused:
        _failed(report, site, period, exc)
    for batch, read in _read_batches(session=session, batches=batches, model=model, network=network,
                                     workers=workers):
        stored = {row.site_id: row for row in session.exec(select(SiteScore).where(
            SiteScore.site_id.in_([site.id for site in batch.sites]), SiteScore.period == str(period),
            SiteScore.model_id == model.id, SiteScore.model_version == model.version))}
        for site in batch.sites:
            try:
                data = read(site)
                with session.begin_nested():
                    row, changed = score_site(session=session, site=site, period=period, model=model,
                                              network=network, as_of=as_of, data=data, stored=stored)
                    session.flush()
            except Exception as exc:  # one site's bad data (zone, hours) must not stop the others
                _failed(report, site, period, exc)
                continue
            report.scores.append(row)
            report.changed += int(changed)
    order = {site.id: n for n, site in enumerate(sites)}
    report.scores.sort(key=lambda row: order[row.site_id])
    report.failures = {code: report.failures[code] for code in sorted(report.failures)}
    audit.record(session=session, actor=actor, action="scores.compute", entity_type="score_period",
                 entity_id=str(period), after={"model": f"{model.id}@{model.version}", "sites": len(report.scores),
                                               "changed": report.changed, "failed": sorted(report.failures)})
    return report


BATCH_SITES = 25   # sites read by one statement per input: memory stays flat (a quarter of hourly slots of
                  # 25 sites is about 450,000 aggregates), statements stay few (four per batch)


@dataclass
class _Batch:
    start: datetime
    end: datetime
    sites: list[Site]
    minutes: int = 60   # the slot length of its sites (``hours.slot_minutes_for``)


def _failed(report: RunReport, site: Site, period: Period, exc: Exception) -> None:
    log.warning("scoring %s for %s failed: %s", site.code, period, exc)
    report.failures[site.code] = f"{type(exc).__name__}: {exc}"


def _batches(*, sites: list[Site], period: Period, as_of: datetime | None
             ) -> tuple[list[_Batch], list[tuple[Site, Exception]]]:
    """The sites grouped by window and slot length (by zone, in practice), in batches of ``BATCH_SITES``;
    and the sites whose window cannot be had (a zone unknown, a period not started), with why."""
    groups: dict[tuple[datetime, datetime, int], list[Site]] = {}
    refused: list[tuple[Site, Exception]] = []
    for site in sites:
        try:
            start, end = _window(site, period, as_of)
            minutes = hours.slot_minutes_for(site.timezone, start, end)
        except Exception as exc:  # the same refusal the site's own scoring would give
            refused.append((site, exc))
            continue
        groups.setdefault((start, end, minutes), []).append(site)
    batches = [_Batch(start, end, members[n:n + BATCH_SITES], minutes)
               for (start, end, minutes), members in groups.items()
               for n in range(0, len(members), BATCH_SITES)]
    return batches, refused


def _read_batch(*, session: Session, batch: _Batch, model: ScoringModel, network: float | None):
    """A function giving each site's inputs: read for the whole batch at once; if that fails, the
    batch's sites are read one by one so only the site at fault fails."""
    try:
        with session.begin_nested():
            read = batch_totals if totals_apply(session, batch.start, batch.end, batch.minutes) else batch_inputs
            found = read(session=session, sites=batch.sites, start=batch.start, end=batch.end, model=model,
                         network_nps=network)
        return lambda site: found[site.id]
    except Exception as exc:  # noqa: BLE001 - read again site by site: the error belongs to one of them
        log.warning("reading a batch of %d sites failed (%s); reading them one by one", len(batch.sites), exc)
        return None


def _read_batches(*, session: Session, batches: list[_Batch], model: ScoringModel, network: float | None,
                  workers: int) -> Iterator[tuple[_Batch, Callable[[Site], SiteInputs]]]:
    """Yield each batch with the reader of its sites' inputs; with ``workers`` > 1 the next batches are
    read ahead by that many threads on their own connections (at most ``workers`` batches ahead)."""

    def one_by_one(batch: _Batch) -> Callable[[Site], SiteInputs]:
        return lambda site: site_inputs(session=session, site=site, start=batch.start, end=batch.end, model=model,
                                        network_nps=network)

    if workers <= 1:
        for batch in batches:
            yield batch, _read_batch(session=session, batch=batch, model=model, network=network) or one_by_one(batch)
        return
    engine = session.get_bind()

    def read(batch: _Batch):
        copy = _Batch(batch.start, batch.end, [Site(**site.model_dump()) for site in batch.sites], batch.minutes)
        with Session(engine) as own:  # plain copies of the sites: no session shared between threads
            return _read_batch(session=own, batch=copy, model=model, network=network)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score-read") as pool:
        pending: deque = deque()
        queue = iter(batches)
        for batch in islice(queue, workers):
            pending.append((batch, pool.submit(read, batch)))
        while pending:
            batch, future = pending.popleft()
            following = next(queue, None)
            if following is not None:
                pending.append((following, pool.submit(read, following)))
            try:
                reader = future.result()
            except Exception:  # noqa: BLE001 - the thread could not even connect: read here
                reader = None
            yield batch, reader or one_by_one(batch)


def stored_normalised(*, session: Session, period: str, model: ScoringModel) -> dict[str, dict[str, float | None]]:
    """Per site code, the stored normalised values of the period's scores with this model version."""
    rows = session.execute(select(Site.code, SiteScore.indicators).join(Site, Site.id == SiteScore.site_id).where(
        SiteScore.period == period, SiteScore.model_id == model.id, SiteScore.model_version == model.version))
    return {code: {i.id: (ind.get(i.id) or {}).get("normalised") for i in model.indicators} for code, ind in rows}


def sensitivity(*, session: Session, period: str, model: ScoringModel) -> list[composite.SensitivityRow]:
    """How many sites would change card if each weight moved ±20 % (from the stored scores)."""
    return composite.sensitivity(model, stored_normalised(session=session, period=period, model=model))


def red_twice(*, session: Session, period: str, model_id: str | None = None) -> list[int]:
    """Site ids whose card is red for ``period`` (a quarter) and for the quarter before."""
    quarter = period_arg(period)
    if not quarter.is_quarter:
        raise ScoringError("cards are quarterly: give a quarter like 2026-Q3")
    cards: dict[int, dict[str, str | None]] = {}
    for site_id, per, card, _version in latest_scores(session=session, periods=[str(quarter.previous()), period],
                                                      model_id=model_id):
        cards.setdefault(site_id, {})[per] = card
    return sorted(site_id for site_id, by in cards.items()
                  if composite.two_reds_in_a_row([by.get(str(quarter.previous())), by.get(period)]))


def latest_scores(*, session: Session, periods: list[str], model_id: str | None = None):
    """(site_id, period, card, version) of the newest model version per site and period."""
    stmt = select(SiteScore.site_id, SiteScore.period, SiteScore.card, SiteScore.model_version).where(
        SiteScore.period.in_(periods)).order_by(SiteScore.model_version)
    if model_id:
        stmt = stmt.where(SiteScore.model_id == model_id)
    newest: dict[tuple[int, str], tuple] = {}
    for row in session.execute(stmt):
        newest[(row[0], row[1])] = tuple(row)
    return list(newest.values())


def publish_cards(*, session: Session, period: Period | str, model: ScoringModel,
                  actor: audit.Actor) -> CardPublication:
    """Publish a quarter's cards computed with ``model``: partners see them and compliance counts them.

    Publishing again changes nothing and returns the existing publication.
    """
    quarter = period if isinstance(period, Period) else period_arg(period)
    if not quarter.is_quarter:
        raise ScoringError("cards are quarterly: give a quarter like 2026-Q3")
    key = (CardPublication.period == str(quarter), CardPublication.model_id == model.id,
           CardPublication.model_version == model.version)
    existing = session.exec(select(CardPublication).where(*key)).first()
    if existing is not None:
        return existing
    scored = session.exec(select(SiteScore.id).where(
        SiteScore.period == str(quarter), SiteScore.model_id == model.id,
        SiteScore.model_version == model.version).limit(1)).first()
    if scored is None:
        raise ScoringError(f"no site has a score for {quarter} with {model.id} v{model.version}: score it first")
    row = CardPublication(period=str(quarter), model_id=model.id, model_version=model.version,
                          published_by=actor.label)
    session.add(row)
    session.flush()
    audit.record(session=session, actor=actor, action="scores.publish", entity_type="card_publication",
                 entity_id=str(quarter), after=audit.snapshot(row))
    return row


@dataclass(frozen=True)
class Publications:
    """Every card publication, read once for a page that needs them several ways (issue 10: the partner's
    home read them four times: its quarters, the cards in force twice, the publication days).

    ``rows``: (period, model id, model version, published at), newest quarter first and, within a quarter,
    newest publication first.
    """

    rows: tuple[tuple[str, str, int, datetime], ...]

    @property
    def keys(self) -> set[tuple[str, str, int]]:
        return {(r[0], r[1], r[2]) for r in self.rows}

    def dates(self, tz: str) -> dict[tuple[str, str, int], date]:
        zone = ZoneInfo(tz)
        return {(r[0], r[1], r[2]): r[3].astimezone(zone).date() for r in self.rows}


def publications(*, session: Session) -> Publications:
    """Every card publication (one statement): pass it to the reads below that take ``publications``."""
    return Publications(tuple((r[0], r[1], r[2], r[3]) for r in session.execute(
        select(CardPublication.period, CardPublication.model_id, CardPublication.model_version,
               CardPublication.published_at)
        .order_by(CardPublication.period.desc(), CardPublication.published_at.desc()))))


def published_keys(*, session: Session, publications: Publications | None = None) -> set[tuple[str, str, int]]:
    """(period, model id, model version) of every publication: the cards that are in force.

    ``publications``: the page's, when it read them already (no statement then).
    """
    if publications is not None:
        return publications.keys
    return {(r[0], r[1], r[2]) for r in session.execute(
        select(CardPublication.period, CardPublication.model_id, CardPublication.model_version))}


def publication_dates(*, session: Session, tz: str,
                      publications: Publications | None = None) -> dict[tuple[str, str, int], date]:
    """(period, model id, model version) → the local day HQ published those cards (cure windows start then)."""
    if publications is not None:
        return publications.dates(tz)
    zone = ZoneInfo(tz)
    return {(r[0], r[1], r[2]): r[3].astimezone(zone).date() for r in session.execute(
        select(CardPublication.period, CardPublication.model_id, CardPublication.model_version,
               CardPublication.published_at))}


def publication(*, session: Session, period: str, model_id: str, model_version: int) -> CardPublication | None:
    return session.exec(select(CardPublication).where(
        CardPublication.period == period, CardPublication.model_id == model_id,
        CardPublication.model_version == model_version)).first()


def card_in_force(row: SiteScore, published: set[tuple[str, str, int]]) -> str | None:
    """The card of a stored score as partners and compliance see it: a quarter's card only once published."""
    if row.card is None or (row.period, row.model_id, row.model_version) in published:
        return row.card
    return None


def card_shown(row: SiteScore | None, published: set[tuple[str, str, int]], *,
               to_partner: bool) -> tuple[str | None, bool]:
    """The publish rule: (the card this reader sees, whether it still waits for HQ to publish it).

    HQ sees a computed card at once, marked pending until published; a partner sees a
    quarter's card only once HQ published it.
    """
    card = row.card if row is not None else None
    pending = card is not None and card_in_force(row, published) is None
    return (None if to_partner and pending else card), pending


def model_of(*, settings: Settings, row: SiteScore) -> ScoringModel | None:
    """The model file a stored score was computed with (None if that version's file is gone or invalid)."""
    try:
        return load_model(settings=settings, version=row.model_version, model_id=row.model_id)
    except ScoringError:
        return None
