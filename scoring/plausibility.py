"""Is a reported month's revenue plausible? Judged from what the site itself shows, not what the partner typed.

Royalties are a share of the revenue the partner reports, so the figure is checked
against signals the partner does not type: the site's occupancy during open hours,
its members and check-ins (operations events), desks × the revenue per desk of its
cohort (same tier and city, else same tier across the network), its own history
(trailing months, the same month last year) and whether the breakdown adds up.

The statistics are robust: a figure is compared with the *median* of its comparators
and its distance measured in MADs (median absolute deviation × 1.4826, the normal
consistent scale), so one odd peer or month does not move the yardstick. A cohort
smaller than ``min_cohort`` or a history shorter than ``min_history`` is no
comparator at all. With fewer than ``min_signals`` comparators the verdict is
"insufficient data", never a guess.

The verdict:

* **implausible** when the breakdown does not add up to the gross; or revenue fell
  against the site's own history (or the same month last year) by more than
  ``drop_share`` while its activity (occupancy, check-ins, members) did not fall;
  or revenue per desk lies more than ``outlier_mads`` below the cohort's median while the
  site's own history does not show it at that level already (a site that is always below
  its peers has its own prices; a new gap shows as a fall against its history);
* **insufficient data** when fewer than ``min_signals`` comparators are available;
* **plausible** otherwise.

Pure: no Flask, no database. The hub gathers ``Signals`` and stores the ``Assessment``.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normal data
METHOD_VERSION = 1

PLAUSIBLE = "plausible"
IMPLAUSIBLE = "implausible"
INSUFFICIENT = "insufficient_data"
VERDICTS = (PLAUSIBLE, IMPLAUSIBLE, INSUFFICIENT)


@dataclass(frozen=True)
class Thresholds:
    """The method's knobs; the brand sets them in its revenue-reporting standard file."""

    outlier_mads: float = 3.5       # robust z beyond which revenue per desk is out of its cohort
    min_cohort: int = 5             # fewer peers than this: no cohort comparison
    min_history: int = 3            # fewer earlier months than this: no history comparison
    drop_share: float = 0.25        # revenue below (1 − this) × its own median is a fall
    activity_hold: float = 0.9      # activity at or above this share of its own median has not fallen
    breakdown_tolerance: float = 0.01  # parts may differ from the gross by this share (rounding)
    min_signals: int = 2            # fewer comparators than this: insufficient data
    history_months: int = 6         # how many trailing months count as history

    @classmethod
    def of(cls, values: dict[str, Any] | None) -> "Thresholds":
        """From a standard file's ``parameters`` (unknown names ignored, types as the defaults)."""
        base = cls()
        if not values:
            return base
        known = {name: type(getattr(base, name)) for name in base.__dataclass_fields__}
        return cls(**{name: known[name](value) for name, value in values.items() if name in known})


@dataclass(frozen=True)
class Activity:
    """One activity signal of the site: its value in the reported month and in earlier months."""

    name: str                       # occupancy | check_ins | members
    now: float | None
    history: tuple[float, ...] = ()


@dataclass(frozen=True)
class Signals:
    """Everything the method reads about one report."""

    period: str
    gross: Decimal
    desks: int
    breakdown: dict[str, Decimal] = field(default_factory=dict)
    history: tuple[Decimal, ...] = ()              # own trailing months' gross, oldest first (reports, not estimates)
    same_month_last_year: Decimal | None = None
    cohort_per_desk: tuple[Decimal, ...] = ()      # peers (same tier and city), same month, revenue per desk
    cohort_label: str = ""
    network_per_desk: tuple[Decimal, ...] = ()     # same tier across the network, same month
    network_label: str = ""
    activity: tuple[Activity, ...] = ()


@dataclass(frozen=True)
class Reason:
    """One finding in words: a stable ``code``, its figures, and an English sentence (pages translate the code)."""

    code: str
    params: dict[str, Any]
    text: str
    off: bool = False               # this finding speaks against the figure

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": self.params, "text": self.text, "off": self.off}


@dataclass(frozen=True)
class Assessment:
    verdict: str
    reasons: tuple[Reason, ...]
    signals_used: int
    method_version: int = METHOD_VERSION

    @property
    def implausible(self) -> bool:
        return self.verdict == IMPLAUSIBLE

    def summary(self) -> str:
        """The reasons that decided the verdict, in one line of English."""
        chosen = [r for r in self.reasons if r.off] or list(self.reasons)
        return "; ".join(r.text for r in chosen)


@dataclass(frozen=True)
class Robust:
    """Where a value lies against comparators: their median, the robust scale, and the z."""

    median: float
    scale: float
    z: float
    n: int


def robust_z(value: float, comparators: list[float]) -> Robust:
    """The robust z of ``value`` (median and MAD of ``comparators``).

    A MAD of zero (identical comparators) would make any difference infinite; the
    scale is floored at 5 % of the median so that identical peers still allow the
    ordinary noise of a month.
    """
    median = statistics.median(comparators)
    mad = statistics.median([abs(c - median) for c in comparators])
    scale = max(MAD_SCALE * mad, 0.05 * abs(median), 1e-9)
    return Robust(median=median, scale=scale, z=(value - median) / scale, n=len(comparators))


def _pct(ratio: float) -> int:
    """A ratio as a signed whole percentage change (0.62 → −38)."""
    return round((ratio - 1) * 100)


def _money(value: float | Decimal) -> str:
    return f"¥{Decimal(str(value)).quantize(Decimal('0.01')):,}"


def assess(signals: Signals, thresholds: Thresholds | None = None) -> Assessment:
    """The verdict on one report and every finding behind it."""
    t = thresholds or Thresholds()
    reasons: list[Reason] = []
    used = 0
    breakdown = _breakdown(signals, t)
    if breakdown is not None:
        used += 1
        reasons.append(breakdown)
    cohort = _cohort(signals, t)
    if cohort is not None:
        used += 1
        reasons.append(cohort)
    falls, activity = _own_history(signals, t)
    held = [a for a in activity if a.code == "activity_held"]
    fell = [a for a in activity if a.code == "activity_fell"]
    if activity:
        used += 1
    if falls:
        used += 1
    for fall in falls:
        if fall.code not in ("revenue_fell", "revenue_fell_year"):
            reasons.append(fall)
        elif held and not fell:  # the site was as busy as ever, yet it reports less
            reasons.append(Reason(fall.code, fall.params, fall.text + ", while " + " and ".join(
                a.text for a in held), off=True))
        elif activity:
            reasons.append(Reason(fall.code, fall.params, fall.text + ", and " + " and ".join(
                a.text for a in activity)))
        else:
            reasons.append(Reason(fall.code, fall.params, fall.text + "; no occupancy, check-in or member figures "
                                  "to tell whether the site was quieter"))
    reasons += activity  # each activity figure also stands on its own (pages list the findings one by one)
    if cohort is not None and cohort.off and fell:  # a quieter site earns less per desk: explained, not bent
        reasons[reasons.index(cohort)] = Reason(cohort.code, cohort.params, cohort.text + ", but " + " and ".join(
            a.text for a in fell))
    elif cohort is not None and cohort.off and any(f.code == "revenue_in_line" for f in falls):
        # as low as the site always is: its own price level, not a bent month (a new gap shows as a fall)
        reasons[reasons.index(cohort)] = Reason(cohort.code, cohort.params, cohort.text + ", as in its own "
                                                "earlier months")
    missing = [name for name, present in (("breakdown", breakdown is not None), ("cohort", cohort is not None),
                                          ("history", bool(falls)), ("activity", bool(activity))) if not present]
    if missing:
        reasons.append(Reason("signals_missing", {"missing": missing},
                              "not available: " + ", ".join(missing)))
    if any(r.off for r in reasons):
        verdict = IMPLAUSIBLE
    elif used < t.min_signals:
        verdict = INSUFFICIENT
    else:
        verdict = PLAUSIBLE
    return Assessment(verdict=verdict, reasons=tuple(reasons), signals_used=used)


def _breakdown(s: Signals, t: Thresholds) -> Reason | None:
    if not s.breakdown:
        return None
    parts = sum(s.breakdown.values(), Decimal("0"))
    over = sorted(k for k, v in s.breakdown.items() if v > s.gross)
    params = {"parts": str(parts), "gross": str(s.gross)}
    if over:
        return Reason("breakdown_part_exceeds", params | {"fields": over},
                      f"breakdown part {', '.join(over)} is larger than the gross {_money(s.gross)}", off=True)
    if abs(parts - s.gross) > Decimal(str(t.breakdown_tolerance)) * max(s.gross, Decimal("1")):
        return Reason("breakdown_mismatch", params,
                      f"the breakdown adds up to {_money(parts)}, not the gross {_money(s.gross)}", off=True)
    return Reason("breakdown_adds_up", params, f"the breakdown adds up to the gross {_money(s.gross)}")


def _cohort(s: Signals, t: Thresholds) -> Reason | None:
    if s.desks <= 0:
        return None
    peers, label = s.cohort_per_desk, s.cohort_label
    if len(peers) < t.min_cohort:
        peers, label = s.network_per_desk, s.network_label
    if len(peers) < t.min_cohort:
        return None
    per_desk = float(s.gross) / s.desks
    r = robust_z(per_desk, [float(p) for p in peers])
    params = {"per_desk": round(per_desk, 2), "median": round(r.median, 2), "z": round(r.z, 1), "n": r.n,
              "cohort": label, "expected": round(r.median * s.desks, 2), "limit": t.outlier_mads}
    if r.z < -t.outlier_mads:
        return Reason("cohort_low", params,
                      f"revenue per desk {_money(per_desk)} is {abs(r.z):.1f} MADs below the median "
                      f"{_money(r.median)} of {r.n} {label} sites (desks × median: {_money(r.median * s.desks)})",
                      off=True)
    return Reason("cohort_in_line", params,
                  f"revenue per desk {_money(per_desk)} is in line with the median {_money(r.median)} "
                  f"of {r.n} {label} sites")


def _own_history(s: Signals, t: Thresholds) -> tuple[list[Reason], list[Reason]]:
    """(what the revenue did against its own past, what the site's activity did against its own past)."""
    gross = float(s.gross)
    falls: list[Reason] = []
    history = [float(h) for h in s.history[-t.history_months:]]
    if len(history) >= t.min_history:
        r = robust_z(gross, history)
        ratio = gross / r.median if r.median else 1.0
        params = {"median": round(r.median, 2), "months": r.n, "change_pct": _pct(ratio)}
        if ratio < 1 - t.drop_share:
            falls.append(Reason("revenue_fell", params, f"revenue fell {-_pct(ratio)} % against the median "
                                f"{_money(r.median)} of its last {r.n} months"))
        else:
            falls.append(Reason("revenue_in_line", params, f"revenue is {_pct(ratio):+d} % against the median "
                                f"{_money(r.median)} of its last {r.n} months"))
    if s.same_month_last_year and s.same_month_last_year > 0:
        ratio = gross / float(s.same_month_last_year)
        params = {"last_year": str(s.same_month_last_year), "change_pct": _pct(ratio)}
        if ratio < 1 - t.drop_share:
            falls.append(Reason("revenue_fell_year", params, f"revenue fell {-_pct(ratio)} % against the same month "
                                f"last year ({_money(s.same_month_last_year)})"))
    activity: list[Reason] = []
    for a in s.activity:
        history_a = [h for h in a.history[-t.history_months:] if h is not None]
        if a.now is None or len(history_a) < t.min_history:
            continue
        median = statistics.median(history_a)
        if median <= 0:
            continue
        ratio = a.now / median
        params = {"signal": a.name, "now": round(a.now, 4), "median": round(median, 4), "change_pct": _pct(ratio)}
        words = {"occupancy": "occupancy during open hours", "check_ins": "check-ins",
                 "members": "membership starts and renewals"}.get(a.name, a.name)
        if ratio >= t.activity_hold:
            activity.append(Reason("activity_held", params, f"{words} held ({_pct(ratio):+d} %)"))
        elif ratio < 1 - t.drop_share:
            activity.append(Reason("activity_fell", params, f"{words} fell ({_pct(ratio):+d} %)"))
        else:
            activity.append(Reason("activity_eased", params, f"{words} eased ({_pct(ratio):+d} %)"))
    return falls, activity
