"""NPS with its uncertainty, and credibility shrinkage toward the network.

NPS = % promoters (9–10) − % detractors (0–6). The 95 % interval is the adjusted
Wald interval for a difference of two shares of one multinomial: add 3 to n and
¾ to promoters and to detractors, then p̂ − d̂ ± z·√((p̂ + d̂ − (p̂ − d̂)²)/ñ).
A small site's NPS is pulled toward the network's: w = n / (n + k).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class NpsCounts:
    n: int
    promoters: int
    detractors: int

    @property
    def passives(self) -> int:
        return self.n - self.promoters - self.detractors

    @classmethod
    def of(cls, scores: list[int]) -> "NpsCounts":
        return cls(len(scores), sum(1 for s in scores if s >= 9), sum(1 for s in scores if s <= 6))


@dataclass(frozen=True)
class NpsEstimate:
    counts: NpsCounts
    nps: float | None          # −100..100, None without answers
    low: float                 # interval, −100..100
    high: float
    network: float | None
    credibility: float         # n / (n + k)
    shrunk: float | None       # what the score uses

    def as_inputs(self) -> dict:
        return {"answers": self.counts.n, "promoters": self.counts.promoters, "passives": self.counts.passives,
                "detractors": self.counts.detractors, "nps": _r(self.nps), "interval_low": _r(self.low),
                "interval_high": _r(self.high), "network_nps": _r(self.network),
                "credibility": _r(self.credibility, 4), "shrunk_nps": _r(self.shrunk)}


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def nps_value(counts: NpsCounts) -> float | None:
    if counts.n == 0:
        return None
    return 100.0 * (counts.promoters - counts.detractors) / counts.n


def adjusted_wald(counts: NpsCounts, z: float = 1.96) -> tuple[float, float]:
    """The adjusted-Wald interval of the NPS, in points, clipped to −100..100."""
    n = counts.n + 3
    p = (counts.promoters + 0.75) / n
    d = (counts.detractors + 0.75) / n
    centre = p - d
    half = z * math.sqrt(max(p + d - centre ** 2, 0.0) / n)
    return max(-100.0, 100.0 * (centre - half)), min(100.0, 100.0 * (centre + half))


def estimate(counts: NpsCounts, *, network: float | None, k: float, z: float = 1.96) -> NpsEstimate:
    """The site's NPS, its interval and the shrunk value (toward ``network``; 0 if the network has none)."""
    value = nps_value(counts)
    low, high = adjusted_wald(counts, z)
    weight = counts.n / (counts.n + k) if counts.n + k > 0 else 0.0
    anchor = network if network is not None else 0.0
    shrunk = None if value is None else weight * value + (1 - weight) * anchor
    return NpsEstimate(counts, value, low, high, network, weight, shrunk)
