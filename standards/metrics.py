"""The canonical metrics every site reports: name, unit and the valid range of a reading."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    low: float
    high: float  # math.inf: no upper bound
    integer: bool = False

    def accepts(self, value: float) -> bool:
        """True when ``value`` is a real number inside the valid range."""
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        return self.low <= value <= self.high


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("co2_ppm", "ppm", 250, 10000),
    Metric("temperature_c", "°C", -20, 60),
    Metric("humidity_pct", "%RH", 0, 100),
    Metric("illuminance_lux", "lx", 0, 100000),
    Metric("noise_dba", "dB(A)", 20, 140),
    Metric("pm25_ugm3", "µg/m³", 0, 1000),
    Metric("people_count", "people", 0, math.inf, integer=True),
    Metric("zone_occupied", "0/1", 0, 1, integer=True),
    Metric("energy_kwh", "kWh", 0, math.inf),
)}
