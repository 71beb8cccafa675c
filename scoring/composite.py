"""Normalisation, the composite score, cards, sensitivity and what to improve first.

Aggregation rule (stated by the model): ``weighted_mean`` with per-indicator
``card_floor``s — an indicator normalised below its floor caps the card at
yellow, so one terrible indicator cannot hide behind good ones — or
``weighted_geometric`` (a weighted geometric mean, each value taken as at least
1 so that a single zero pulls the whole score down hard without erasing it).

Missing indicators are never imputed: the remaining weights are re-normalised
only while the weight with data stays at or above ``min_coverage`` of the total;
below that the site is "insufficient data".
"""
from __future__ import annotations

import bisect

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from standards.scoring_model import ScoringModel

from .measures import Measurement

SCORED, INSUFFICIENT = "scored", "insufficient"
GREEN, YELLOW, RED = "green", "yellow", "red"
SENSITIVITY_FACTORS = (0.8, 1.2)


def normalise(raw: float, floor: float, target: float) -> float:
    """Floor → 0, target → 100, linear between, clipped; lower-is-better when floor > target."""
    value = (raw - floor) / (target - floor) * 100.0
    return max(0.0, min(100.0, value))


@dataclass
class IndicatorResult:
    id: str
    status: str                  # "ok" | "missing"
    raw: float | None
    normalised: float | None
    weight: float                # the model's weight
    share: float                 # its share of the weight actually used (0 when missing)
    coverage: float
    inputs: dict
    reason: str = ""             # why it is missing, in English (logs, CLI)
    reason_key: str = ""         # the same as a stable key the UI translates
    reason_args: dict = field(default_factory=dict)
    below_card_floor: bool = False

    @property
    def points(self) -> float:
        return 0.0 if self.normalised is None else self.share * self.normalised

    @property
    def points_lost(self) -> float:
        return 0.0 if self.normalised is None else self.share * (100.0 - self.normalised)

    def as_json(self) -> dict:
        data = asdict(self)
        data["points"] = round(self.points, 3)
        data["points_lost"] = round(self.points_lost, 3)
        return data


@dataclass
class ScoreResult:
    status: str
    score: float | None
    card: str
    coverage: float                # weighted coverage: share of the model's weight with enough data
    indicators: list[IndicatorResult] = field(default_factory=list)
    capped_by: list[str] = field(default_factory=list)  # indicators that kept the card from green


def combine(model: ScoringModel, normalised: Mapping[str, float | None],
            weights: Mapping[str, float] | None = None) -> tuple[str, float | None, float]:
    """(status, score, weighted coverage) from normalised values (None = missing)."""
    weights = weights or {i.id: i.weight for i in model.indicators}
    total = sum(weights.values())
    present = {k: v for k, v in normalised.items() if v is not None}
    used = sum(weights[k] for k in present)
    coverage = used / total if total else 0.0
    if not present or coverage + 1e-9 < model.min_coverage:
        return INSUFFICIENT, None, coverage
    if model.aggregation == "weighted_geometric":
        score = math.exp(sum(weights[k] * math.log(max(v, 1.0)) for k, v in present.items()) / used)
    else:
        score = sum(weights[k] * v for k, v in present.items()) / used
    return SCORED, score, coverage


def card_for(model: ScoringModel, status: str, score: float | None, below_floor: list[str]) -> str:
    """Green / yellow / red by the model's lines; a card floor breach caps green at yellow."""
    if status != SCORED or score is None:
        return INSUFFICIENT
    if score >= model.green:
        return YELLOW if below_floor else GREEN
    return YELLOW if score >= model.yellow else RED


def score(model: ScoringModel, measurements: Mapping[str, Measurement]) -> ScoreResult:
    """The composite score, card and per-indicator breakdown of one site and period."""
    normalised: dict[str, float | None] = {}
    for ind in model.indicators:
        m = measurements[ind.id]
        normalised[ind.id] = normalise(m.raw, ind.floor, ind.target) if m.enough and m.raw is not None else None
    status, value, coverage = combine(model, normalised)
    used = sum(i.weight for i in model.indicators if normalised[i.id] is not None)
    results, below = [], []
    for ind in model.indicators:
        m, n = measurements[ind.id], normalised[ind.id]
        breach = n is not None and ind.card_floor is not None and n < ind.card_floor
        if breach:
            below.append(ind.id)
        results.append(IndicatorResult(
            id=ind.id, status="ok" if n is not None else "missing", raw=m.raw if n is not None else None,
            normalised=n, weight=ind.weight, share=ind.weight / used if n is not None and used else 0.0,
            coverage=round(m.coverage, 4), inputs=m.inputs, reason=m.reason, reason_key=m.reason_key,
            reason_args=m.reason_args, below_card_floor=breach))
    card = card_for(model, status, value, below)
    return ScoreResult(status, value, card, coverage, results, below if status == SCORED else [])


def card_of(model: ScoringModel, normalised: Mapping[str, float | None],
            weights: Mapping[str, float] | None = None) -> str:
    """The card from normalised values alone (what sensitivity recomputes)."""
    status, value, _ = combine(model, normalised, weights)
    below = [i.id for i in model.indicators
             if i.card_floor is not None and normalised.get(i.id) is not None and normalised[i.id] < i.card_floor]
    return card_for(model, status, value, below)


@dataclass(frozen=True)
class SensitivityRow:
    indicator: str
    factor: float
    changed: tuple[str, ...]     # keys of the sites whose card changes


def sensitivity(model: ScoringModel, sites: Mapping[str, Mapping[str, float | None]],
                factors: tuple[float, ...] = SENSITIVITY_FACTORS) -> list[SensitivityRow]:
    """For each indicator and factor (±20 %), which sites would get another card."""
    base = {key: card_of(model, values) for key, values in sites.items()}
    rows = []
    for ind in model.indicators:
        for factor in factors:
            weights = {i.id: i.weight * (factor if i.id == ind.id else 1.0) for i in model.indicators}
            changed = tuple(sorted(k for k, values in sites.items() if card_of(model, values, weights) != base[k]))
            rows.append(SensitivityRow(ind.id, factor, changed))
    return rows


def improve_first(indicators: list[dict], limit: int = 3) -> list[dict]:
    """The indicators losing the most weighted points (of stored ``as_json`` rows), biggest first."""
    losing = [i for i in indicators if i.get("normalised") is not None and i.get("points_lost", 0) > 0]
    return sorted(losing, key=lambda i: -i["points_lost"])[:limit]


def percentile(value: float, population: list[float]) -> float:
    """Percentile rank of ``value`` in ``population`` (mid-rank for ties), 0–100."""
    if not population:
        return 0.0
    below = sum(1 for v in population if v < value)
    equal = sum(1 for v in population if v == value)
    return 100.0 * (below + 0.5 * equal) / len(population)


def percentile_in_sorted(value: float, ordered: list[float]) -> float:
    """``percentile`` over a population already sorted ascending, by bisection (same result, log n)."""
    if not ordered:
        return 0.0
    below, up_to = bisect.bisect_left(ordered, value), bisect.bisect_right(ordered, value)
    return 100.0 * (below + 0.5 * (up_to - below)) / len(ordered)


def two_reds_in_a_row(cards: list[str | None]) -> bool:
    """True when the last two quarterly cards (oldest first) are both red."""
    return len(cards) >= 2 and cards[-1] == RED and cards[-2] == RED
