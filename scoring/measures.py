"""The measures: one raw value per indicator, with its data coverage and every input.

The service hands in ``SiteInputs``: per-slot aggregates of the readings (already
grouped in the database), NPS counts and operations counts. Nothing is imputed:
a measure without enough data says so (``enough=False`` and a reason).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from standards.scoring_model import Indicator, ScoringModel

from . import hours, nps

OCCUPANCY_METRICS = ("zone_occupied", "people_count")
HOURS_PER_YEAR = 8760.0
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class MetricSlot:
    """One metric in one slot, over all zones: the readings' sum and count, extremes, buckets."""

    total: float
    n: int
    max: float
    min: float
    buckets: int = 1
    zones: int = 1
    minutes: float = 15.0   # reading-minutes: per bucket min(readings, its minutes) (``reading_minutes``)

    @property
    def mean(self) -> float:
        return self.total / self.n


@dataclass(frozen=True)
class Ticket:
    opened_at: datetime
    first_response_at: datetime | None


@dataclass(frozen=True)
class SlotTotals:
    """One reading indicator's open (or all) slots counted and summed: what its measure decides on.

    Which fields count depends on the measure: ``share_within`` reads ``with_data``, ``eligible``
    and ``within``; ``desk_utilisation`` reads ``with_data`` (the open slots with a share) and
    ``total`` (the shares); ``energy_intensity`` reads ``observed`` and ``total`` (the slot totals).
    A sum is added slot after slot in time order starting from the integer 0, as a Python loop
    over the slots adds: the same float to the bit, whoever adds it.
    """

    with_data: int = 0
    eligible: int = 0
    within: int = 0
    total: float = 0
    observed: int = 0


@dataclass(frozen=True)
class ReadingTotals:
    """What the reading measures need of a site's slots, already aggregated (the database can count
    these without sending the slots: ``brand_hub.scores.inputs``); ``reading_totals`` computes the
    same from the slots."""

    indicators: dict[str, SlotTotals]   # indicator id → its totals (reading indicators only)
    received: float                     # data completeness: reading-minutes of the metrics it counts


@dataclass
class SiteInputs:
    """Everything the measures of one site and period read."""

    timezone: str
    opening_hours: dict
    start: datetime                      # UTC, inclusive
    end: datetime                        # UTC, exclusive (the period end, or "now" for the running month)
    slot_minutes: int = 60
    slots: dict[datetime, dict[str, MetricSlot]] = field(default_factory=dict)
    zones: int = 0
    # per metric, when each zone's stream began (its first bucket ever, before ``end``):
    # the streams a site is expected to keep up, each from its start
    streams: dict[str, list[datetime]] = field(default_factory=dict)
    desks: int = 0
    area_m2: float = 0.0
    nps: nps.NpsCounts = field(default_factory=lambda: nps.NpsCounts(0, 0, 0))
    network_nps: float | None = None
    tickets: list[Ticket] = field(default_factory=list)
    members: int = 0
    events: int = 0
    attendance: int = 0
    renewals: int = 0
    endings: int = 0

    # the slots' aggregates when the reader counted them instead of sending ``slots`` (then empty)
    totals: ReadingTotals | None = None

    _open: list[datetime] | None = field(default=None, init=False, repr=False, compare=False)
    _counted: tuple[ScoringModel, ReadingTotals] | None = field(default=None, init=False, repr=False, compare=False)

    def open_slots(self) -> list[datetime]:
        """The open slots of the period (computed once: several measures need them)."""
        if self._open is None:
            self._open = hours.open_slots(self.start, self.end, self.slot_minutes, self.timezone, self.opening_hours)
        return self._open

    def slot_hours(self, count: int) -> float:
        return count * self.slot_minutes / 60

    def reading_totals(self, model: ScoringModel) -> ReadingTotals:
        """The slots' aggregates the measures decide on: as read, or counted here from ``slots``."""
        if self.totals is not None:
            return self.totals
        if self._counted is None or self._counted[0] is not model:
            self._counted = (model, reading_totals(model, self))
        return self._counted[1]

    def seen_metrics(self) -> tuple[str, ...]:
        """The metrics with any reading in the period (each has a stream that began in it)."""
        if self.totals is not None:
            return tuple(sorted(m for m, starts in self.streams.items() if starts))
        return tuple(sorted({m for slot in self.slots.values() for m in slot}))


# why an indicator has no value: a stable key (the UI translates it) and its English text
REASONS = {
    "coverage": "coverage {have:.0%} below the minimum {need:.0%}",
    "hours": "{have:g} hours of data, the minimum is {need:g}",
    "answers": "{have} answers, the minimum is {need}",
    "members": "{have} members, the minimum is {need}",
    "tickets": "{have} tickets, the minimum is {need}",
    "decisions": "{have} renewal decisions, the minimum is {need}",
    "no_desks": "the site has no desks registered",
    "no_area": "the site has no area registered",
    "no_data": "no readings for this indicator",
    "not_started": "the period has not started",
}


@dataclass(frozen=True)
class Measurement:
    raw: float | None
    coverage: float
    enough: bool
    inputs: dict
    reason_key: str = ""
    reason_args: dict = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return REASONS[self.reason_key].format(**self.reason_args) if self.reason_key else ""


def _missing(coverage: float, inputs: dict, key: str, **args) -> Measurement:
    return Measurement(None, coverage, False, inputs, key, args)


def occupied(slot: dict[str, MetricSlot]) -> bool:
    """Someone was there. A slot with no occupancy reading at all cannot be proven empty: occupied."""
    known = [slot[m] for m in OCCUPANCY_METRICS if m in slot]
    if not known:
        return True
    return any(stat.max > 0 for stat in known)


def _short(indicator: Indicator, coverage: float, hours_: float | None = None) -> tuple[str, dict] | None:
    """Which minimum of the model's ``min_data`` is not met (None when all are)."""
    need_cov = indicator.min_data.get("coverage")
    if need_cov is not None and coverage < need_cov:
        return "coverage", {"have": round(coverage, 4), "need": need_cov}
    need_hours = indicator.min_data.get("hours")
    if need_hours is not None and hours_ is not None and hours_ < need_hours:
        return "hours", {"have": hours_, "need": need_hours}
    return None


def desk_utilisation(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Mean share of desks in use over the open slots with a people count (zones summed, capped at 1)."""
    open_ = data.open_slots()
    counted = data.reading_totals(model).indicators[indicator.id]
    with_data = counted.with_data
    coverage = with_data / len(open_) if open_ else 0.0
    inputs = {"desks": data.desks, "open_hours": data.slot_hours(len(open_)),
              "hours_with_data": data.slot_hours(with_data)}
    if data.desks <= 0:
        return _missing(0.0, inputs, "no_desks")
    short = _short(indicator, coverage, data.slot_hours(with_data))
    if short:
        return _missing(coverage, inputs, short[0], **short[1])
    if not with_data:
        return _missing(coverage, inputs, "no_data")
    raw = counted.total / with_data
    inputs["mean_share"] = round(raw, 4)
    return Measurement(raw, coverage, True, inputs)


def share_within(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Share of (occupied) open slots whose mean is inside the thresholds."""
    low, high = indicator.thresholds.get("min"), indicator.thresholds.get("max")
    open_ = data.open_slots()
    counted = data.reading_totals(model).indicators[indicator.id]
    with_data, eligible, within = counted.with_data, counted.eligible, counted.within
    coverage = with_data / len(open_) if open_ else 0.0
    inputs = {"open_hours": data.slot_hours(len(open_)), "hours_with_data": data.slot_hours(with_data),
              "eligible_hours": data.slot_hours(eligible), "hours_within": data.slot_hours(within),
              "min": low, "max": high, "occupied_only": indicator.hours == "occupied_open"}
    short = _short(indicator, coverage, data.slot_hours(eligible))
    if short:
        return _missing(coverage, inputs, short[0], **short[1])
    if eligible == 0:
        return _missing(coverage, inputs, "no_data")
    return Measurement(within / eligible, coverage, True, inputs)


def energy_intensity(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """kWh per m² per year: the energy of the hours observed, as an annual rate over the area."""
    all_slots = sum(1 for _ in hours.grid(data.start, data.end, data.slot_minutes))
    counted = data.reading_totals(model).indicators[indicator.id]
    kwh, observed = counted.total, counted.observed
    coverage = observed / all_slots if all_slots else 0.0
    observed_hours = data.slot_hours(observed)
    inputs = {"kwh": round(kwh, 3), "area_m2": data.area_m2, "hours_observed": observed_hours,
              "hours_in_period": data.slot_hours(all_slots),
              "benchmark": indicator.thresholds.get("benchmark")}
    if data.area_m2 <= 0:
        return _missing(coverage, inputs, "no_area")
    short = _short(indicator, coverage)
    if short:
        return _missing(coverage, inputs, short[0], **short[1])
    if observed_hours == 0:
        return _missing(coverage, inputs, "no_data")
    return Measurement(kwh / data.area_m2 * HOURS_PER_YEAR / observed_hours, coverage, True, inputs)


def nps_measure(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """The site's NPS shrunk toward the network; below the minimum answers it is missing."""
    result = nps.estimate(data.nps, network=data.network_nps, k=model.nps_k, z=model.nps_z)
    need = int(indicator.min_data.get("answers", model.nps_min_answers))
    coverage = min(1.0, data.nps.n / need) if need else 1.0
    if data.nps.n < need or result.shrunk is None:
        return _missing(coverage, result.as_inputs(), "answers", have=data.nps.n, need=need)
    return Measurement(result.shrunk, coverage, True, result.as_inputs())


def community_activity(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Event attendances per member per month."""
    months = (data.end - data.start).total_seconds() / 86400 / DAYS_PER_MONTH
    need = int(indicator.min_data.get("members", 1))
    inputs = {"events": data.events, "attendance": data.attendance, "members": data.members,
              "months": round(months, 3)}
    coverage = min(1.0, data.members / need) if need else 1.0
    if data.members < max(need, 1) or months <= 0:
        return _missing(coverage, inputs, "members", have=data.members, need=need)
    return Measurement(data.attendance / data.members / months, coverage, True, inputs)


def service_response(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Median first response against the SLA; a ticket still unanswered counts until the period end."""
    sla = float(indicator.thresholds["sla_minutes"])
    waits = [((t.first_response_at or data.end) - t.opened_at).total_seconds() / 60 for t in data.tickets]
    need = int(indicator.min_data.get("tickets", 1))
    inputs = {"tickets": len(waits), "unanswered": sum(1 for t in data.tickets if t.first_response_at is None),
              "sla_minutes": sla}
    coverage = min(1.0, len(waits) / need) if need else 1.0
    if len(waits) < max(need, 1):
        return _missing(coverage, inputs, "tickets", have=len(waits), need=need)
    median = statistics.median(waits)
    inputs["median_minutes"] = round(median, 2)
    return Measurement(median / sla, coverage, True, inputs)


def member_renewal(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Renewals over the memberships that came up for a decision (renewed or ended)."""
    decisions = data.renewals + data.endings
    need = int(indicator.min_data.get("decisions", 1))
    inputs = {"renewals": data.renewals, "endings": data.endings}
    coverage = min(1.0, decisions / need) if need else 1.0
    if decisions < max(need, 1):
        return _missing(coverage, inputs, "decisions", have=decisions, need=need)
    return Measurement(data.renewals / decisions, coverage, True, inputs)


def reading_minutes(count: int, bucket_minutes: int) -> int:
    """The minutes a bucket covers for data completeness: one per reading, at most the bucket's length.

    Sensors report once a minute, so a 15-minute bucket holding 6 readings covers 6 minutes:
    a bucket chopped by an outage or a lost backlog lowers completeness instead of counting
    whole. (The database sums the same rule: ``brand_hub.scores.inputs``.)
    """
    return max(0, min(count, bucket_minutes))


def data_completeness(indicator: Indicator, data: SiteInputs, model: ScoringModel) -> Measurement:
    """Reading-minutes received against minutes expected, per stream (a metric in one zone).

    A stream is expected from the start of the period, or from its first reading if
    the zone was fitted during the period; a metric no zone has ever sent counts as
    one whole missing stream. Zones are counted per metric because not every zone
    carries every metric (energy is metered for the building, CO2 per room).
    """
    metrics = model.expected_metrics or data.seen_metrics()
    period_minutes = (data.end - data.start).total_seconds() / 60
    expected, streams = 0.0, 0
    for metric in metrics:
        starts = data.streams.get(metric) or [data.start]
        streams += len(starts)
        expected += sum(max(0.0, (data.end - max(s, data.start)).total_seconds() / 60) for s in starts)
    received = data.reading_totals(model).received
    inputs = {"zones": data.zones, "metrics": len(metrics), "streams": streams,
              "missing_metrics": [m for m in metrics if not data.streams.get(m)],
              "minutes_expected": round(expected, 1), "minutes_received": round(received, 1)}
    if expected <= 0 or period_minutes <= 0:
        return _missing(0.0, inputs, "not_started")
    return Measurement(min(1.0, received / expected), 1.0, True, inputs)


MEASURES: dict[str, Callable[[Indicator, SiteInputs, ScoringModel], Measurement]] = {
    "desk_utilisation": desk_utilisation,
    "share_within": share_within,
    "energy_intensity": energy_intensity,
    "nps": nps_measure,
    "community_activity": community_activity,
    "service_response": service_response,
    "member_renewal": member_renewal,
    "data_completeness": data_completeness,
}


# the measures that read the slots, and what their totals count
SLOT_MEASURES = ("desk_utilisation", "share_within", "energy_intensity")


def reading_totals(model: ScoringModel, data: SiteInputs) -> ReadingTotals:
    """Count and sum ``data.slots`` as each reading measure needs (the reference the database's
    aggregates are compared with: every sum adds slot after slot in time order from the integer 0)."""
    found: dict[str, SlotTotals] = {}
    open_ = data.open_slots()
    for indicator in model.indicators:
        if indicator.measure == "share_within":
            low, high = indicator.thresholds.get("min"), indicator.thresholds.get("max")
            with_data = eligible = within = 0
            for start in open_:
                slot = data.slots.get(start)
                stat = slot.get(indicator.metric) if slot else None
                if stat is None:
                    continue
                with_data += 1
                if indicator.hours == "occupied_open" and not occupied(slot):
                    continue
                eligible += 1
                if (low is None or stat.mean >= low) and (high is None or stat.mean <= high):
                    within += 1
            found[indicator.id] = SlotTotals(with_data=with_data, eligible=eligible, within=within)
        elif indicator.measure == "desk_utilisation":
            shares, added = 0, 0
            for start in open_:
                stat = data.slots.get(start, {}).get(indicator.metric)
                if stat is not None and data.desks > 0:
                    added += min(1.0, stat.mean * stat.zones / data.desks)   # a loop, not sum(): Python 3.12's
                    shares += 1                                            # sum() compensates, SQL's does not
            found[indicator.id] = SlotTotals(with_data=shares, total=added)
        elif indicator.measure == "energy_intensity":
            kwh = observed = 0
            for slot in data.slots.values():
                stat = slot.get(indicator.metric)
                if stat is not None:
                    kwh += stat.total
                    observed += 1
            found[indicator.id] = SlotTotals(total=kwh, observed=observed)
    metrics = model.expected_metrics or tuple(sorted({m for slot in data.slots.values() for m in slot}))
    received = sum(stat.minutes for slot in data.slots.values() for m, stat in slot.items() if m in metrics)
    return ReadingTotals(found, received)


def measure_all(model: ScoringModel, data: SiteInputs) -> dict[str, Measurement]:
    """Every indicator of the model measured on ``data``."""
    return {ind.id: MEASURES[ind.measure](ind, data, model) for ind in model.indicators}
