"""The UCI office data (one real room, February 2015, Belgium) replayed end to end.

The CSV is aggregated into 15-minute buckets as the site agent does (count, mean,
min, max per bucket in the site's zone), stored, and scored by the service. The
test computes the CO2, comfort, humidity and lighting indicators again, directly
from the raw CSV rows, and both must agree.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from brand_hub import audit
from brand_hub.scores import score_period
from scoring.periods import parse_period
from standards.scoring_model import LIBRARY, current_model, load_model_text
from tests.builders import add_buckets, make_franchisee, make_site

DATA = Path(__file__).resolve().parents[2] / "site_agent" / "data" / "uci-occupancy"
BRUSSELS = ZoneInfo("Europe/Brussels")
OFFICE_HOURS = {d: [["08:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}
COLUMNS = {"Temperature": "temperature_c", "Humidity": "humidity_pct", "Light": "illuminance_lux",
           "CO2": "co2_ppm", "Occupancy": "zone_occupied"}
CHECKED = {"co2_compliance": "co2_ppm", "thermal_comfort": "temperature_c", "humidity_band": "humidity_pct",
           "desk_lighting": "illuminance_lux"}


def uci_rows() -> list[tuple[datetime, dict[str, float]]]:
    """Every row of the three files: local time (aware, Brussels) and the readings by canonical metric."""
    rows = []
    for name in ("datatest.txt", "datatraining.txt", "datatest2.txt"):
        with (DATA / name).open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)                      # names the columns after the unnamed row id
            for record in reader:
                fields = dict(zip(header, record[1:]))
                local = datetime.strptime(fields["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BRUSSELS)
                rows.append((local, {metric: float(fields[column]) for column, metric in COLUMNS.items()}))
    return rows


def agent_buckets(rows, site_id: int) -> list[dict]:
    """15-minute buckets per metric, as the agent contract says: count, mean, min, max."""
    groups: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    for local, values in rows:
        start = local.replace(minute=local.minute // 15 * 15, second=0)
        for metric, value in values.items():
            groups[(metric, start)].append(value)
    return [dict(site_id=site_id, zone="office", metric=metric, bucket_start=start.astimezone(timezone.utc),
                 bucket_minutes=15, count=len(v), mean=sum(v) / len(v), min=min(v), max=max(v))
            for (metric, start), v in groups.items()]


def expected_from_csv(rows, model) -> dict[str, float]:
    """Each indicator straight from the raw rows: per local hour the mean reading; an hour counts when it
    is an office hour (weekday, 08–19) and the room was occupied at some minute of it."""
    hours: dict[datetime, list[dict[str, float]]] = defaultdict(list)
    for local, values in rows:
        hours[local.replace(minute=0, second=0)].append(values)
    eligible = {h: v for h, v in hours.items()
                if h.weekday() < 5 and 8 <= h.hour < 19 and any(r["zone_occupied"] == 1 for r in v)}
    expected = {}
    for indicator_id, metric in CHECKED.items():
        limits = model.indicator(indicator_id).thresholds
        within = 0
        for readings in eligible.values():
            mean = sum(r[metric] for r in readings) / len(readings)
            within += limits.get("min", -1e9) <= mean <= limits.get("max", 1e9)
        expected[indicator_id] = within / len(eligible)
    return expected


def half_month_model():
    """The brand model, but content with 30 % of the open hours: the data covers half of February."""
    text = (LIBRARY / "brand-health-2026.yaml").read_text("utf-8")
    return load_model_text(text.replace("coverage: 0.5,", "coverage: 0.3,"), "brand-health-2026.yaml")


def test_uci_office_replayed_gives_the_indicators_computed_from_the_csv(session):
    model = half_month_model()
    rows = uci_rows()
    site = make_site(session, make_franchisee(session), code="BE-UCI-01", timezone="Europe/Brussels",
                     opening_hours=OFFICE_HOURS)
    add_buckets(session, agent_buckets(rows, site.id))
    row = score_period(session=session, period=parse_period("2015-02"), model=model, actor=audit.SYSTEM,
                       site_codes=[site.code]).scores[0]
    expected = expected_from_csv(rows, model)
    for indicator_id in CHECKED:
        assert row.indicators[indicator_id]["status"] == "ok", row.indicators[indicator_id]["reason"]
        assert row.indicators[indicator_id]["raw"] == pytest.approx(expected[indicator_id], abs=1e-12), indicator_id
    # the night and the weekend are in the data but are not office hours
    assert row.indicators["co2_compliance"]["inputs"]["eligible_hours"] < row.indicators["co2_compliance"][
        "inputs"]["hours_with_data"]


def test_half_a_month_of_data_is_not_enough_for_the_brand_model(session):
    rows = uci_rows()
    site = make_site(session, make_franchisee(session), timezone="Europe/Brussels", opening_hours=OFFICE_HOURS)
    add_buckets(session, agent_buckets(rows, site.id))
    row = score_period(session=session, period=parse_period("2015-02"), model=current_model(), actor=audit.SYSTEM,
                       site_codes=[site.code]).scores[0]
    co2 = row.indicators["co2_compliance"]
    assert (co2["status"], co2["raw"]) == ("missing", None)
    assert co2["reason"] == "coverage 49% below the minimum 50%"
    assert row.status == "insufficient"
