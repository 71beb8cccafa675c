"""Measures, normalisation, composite and cards on a small model, against numbers worked by hand."""
from datetime import datetime, timedelta, timezone

import pytest

from scoring import composite, measures
from scoring.measures import MetricSlot, SiteInputs, Ticket
from standards.scoring_model import load_model_text

SMALL_MODEL = """
id: small
version: 1
title_zh: 小模型
title_en: Small model
aggregation: {aggregation}
min_coverage: 0.6
cards: {{green: 75, yellow: 55}}
nps: {{k: 30, min_answers: 10}}
indicators:
  - {{id: co2_compliance, title_zh: 二氧化碳, title_en: CO2, source: readings, measure: share_within,
     metric: co2_ppm, thresholds: {{max: 1000}}, floor: 0.6, target: 0.95, weight: 40, card_floor: 20,
     min_data: {{hours: 2}}}}
  - {{id: member_renewal, title_zh: 续约, title_en: Renewal, source: ops_events, measure: member_renewal,
     floor: 0.5, target: 0.9, weight: 30, card_floor: 30, min_data: {{decisions: 3}}}}
  - {{id: service_response, title_zh: 响应, title_en: Response, source: ops_events, measure: service_response,
     thresholds: {{sla_minutes: 240}}, floor: 2.0, target: 0.5, weight: 30, min_data: {{tickets: 3}}}}
"""
MONDAY_9_TO_18 = {"mon": [["09:00", "18:00"]]}
DAY_START = datetime(2026, 10, 4, 16, tzinfo=timezone.utc)      # Monday 2026-10-05 00:00 in Shanghai


def small_model(aggregation: str = "weighted_mean"):
    return load_model_text(SMALL_MODEL.format(aggregation=aggregation), "small.yaml")


def hour(local_hour: int) -> datetime:
    return DAY_START + timedelta(hours=local_hour)


def co2(value: float, occupied: int = 1) -> dict[str, MetricSlot]:
    return {"co2_ppm": MetricSlot(value * 4, 4, value, value),
            "zone_occupied": MetricSlot(occupied * 4, 4, occupied, occupied)}


def monday(**fields) -> SiteInputs:
    """Monday in Shanghai, open 09–18: 8 occupied open hours (6 at or under 1000 ppm), one empty open
    hour at 1500 ppm, and a 3000 ppm spike at 03:00 in the empty, closed office."""
    slots = {hour(h): co2(800) for h in range(9, 15)} | {hour(15): co2(1200), hour(16): co2(1100),
                                                         hour(17): co2(1500, occupied=0), hour(3): co2(3000, 0)}
    opened = hour(10)
    values = dict(timezone="Asia/Shanghai", opening_hours=MONDAY_9_TO_18, start=DAY_START,
                  end=DAY_START + timedelta(days=1), slots=slots, renewals=8, endings=2,
                  tickets=[Ticket(opened, opened + timedelta(minutes=m)) for m in (60, 120, 300)])
    values.update(fields)
    return SiteInputs(**values)


def test_normalisation_maps_floor_to_0_and_target_to_100_and_clips():
    assert composite.normalise(0.775, 0.6, 0.95) == pytest.approx(50.0)
    assert composite.normalise(0.3, 0.6, 0.95) == 0.0
    assert composite.normalise(1.0, 0.6, 0.95) == 100.0
    # lower is better when the floor is above the target
    assert composite.normalise(1.25, 2.0, 0.5) == pytest.approx(50.0)


def test_a_known_day_gives_the_hand_computed_indicators_score_and_card():
    model = small_model()
    result = composite.score(model, measures.measure_all(model, monday()))
    by_id = {i.id: i for i in result.indicators}
    # CO2: 6 of 8 occupied open hours at or under 1000 ppm; the empty hour and the 03:00 spike do not count
    assert by_id["co2_compliance"].raw == pytest.approx(0.75)
    assert by_id["co2_compliance"].inputs["eligible_hours"] == 8
    assert by_id["co2_compliance"].normalised == pytest.approx((0.75 - 0.6) / 0.35 * 100)      # 42.857
    assert by_id["member_renewal"].normalised == pytest.approx(75.0)                          # 8 / 10
    assert by_id["service_response"].inputs["median_minutes"] == 120                          # 0.5 of SLA
    assert by_id["service_response"].normalised == pytest.approx(100.0)
    assert result.score == pytest.approx((40 * 42.857142857 + 30 * 75 + 30 * 100) / 100)      # 69.643
    assert (result.status, result.card, result.coverage) == ("scored", "yellow", pytest.approx(1.0))


def test_a_missing_indicator_is_not_imputed_and_the_rest_are_reweighted():
    model = small_model()
    result = composite.score(model, measures.measure_all(model, monday(tickets=[])))
    response = next(i for i in result.indicators if i.id == "service_response")
    assert response.status == "missing" and response.normalised is None and response.share == 0
    assert "0 tickets" in response.reason
    assert result.coverage == pytest.approx(0.7)
    assert result.score == pytest.approx((40 * 42.857142857 + 30 * 75) / 70)                  # 56.633


def test_below_the_minimum_weighted_coverage_the_site_is_insufficient_not_scored():
    model = small_model()
    result = composite.score(model, measures.measure_all(model, monday(tickets=[], renewals=0, endings=0)))
    assert result.coverage == pytest.approx(0.4)
    assert (result.status, result.score, result.card) == ("insufficient", None, "insufficient")


def test_one_indicator_under_its_card_floor_keeps_the_card_from_green():
    model = small_model()
    values = {"co2_compliance": 100.0, "member_renewal": 20.0, "service_response": 100.0}   # 40 + 6 + 30 = 76
    assert composite.combine(model, values)[1] == pytest.approx(76.0)
    assert composite.card_of(model, values) == "yellow"
    assert composite.card_of(model, values | {"member_renewal": 30.0}) == "green"          # 79, at the floor


def test_geometric_aggregation_pulls_a_site_with_one_terrible_indicator_down():
    model = small_model("weighted_geometric")
    values = {"co2_compliance": 100.0, "member_renewal": 20.0, "service_response": 100.0}
    status, value, _ = composite.combine(model, values)
    assert value == pytest.approx(100 ** 0.7 * 20 ** 0.3)                                   # 61.7 instead of 76
    assert composite.card_of(model, values) == "yellow"


def test_sensitivity_names_the_sites_whose_card_moves_with_a_weight():
    model = small_model()
    sites = {"NEAR": {"co2_compliance": 100.0, "member_renewal": 60.0, "service_response": 60.0},   # 76: green
             "SAFE": {"co2_compliance": 100.0, "member_renewal": 100.0, "service_response": 100.0}}
    rows = {(r.indicator, r.factor): r.changed for r in composite.sensitivity(model, sites)}
    assert rows[("co2_compliance", 0.8)] == ("NEAR",)           # (3200 + 1800 + 1800) / 92 = 73.9: yellow
    assert all(changed == () for key, changed in rows.items() if key != ("co2_compliance", 0.8))
    assert len(rows) == 6


def test_what_to_improve_first_is_the_indicator_losing_most_weighted_points():
    model = small_model()
    result = composite.score(model, measures.measure_all(model, monday()))
    first = composite.improve_first([i.as_json() for i in result.indicators])
    assert [i["id"] for i in first] == ["co2_compliance", "member_renewal"]
    assert first[0]["points_lost"] == pytest.approx(0.4 * (100 - 42.857142857), abs=1e-3)


def test_percentile_and_two_reds_in_a_row():
    assert composite.percentile(50, [10, 50, 90, 70]) == pytest.approx(37.5)
    assert composite.two_reds_in_a_row(["green", "red", "red"])
    assert not composite.two_reds_in_a_row(["red", "yellow"])
    assert not composite.two_reds_in_a_row([None, "red"])


def completeness_model():
    return load_model_text(SMALL_MODEL.format(aggregation="weighted_mean")
                           + "expected_metrics: [co2_ppm, energy_kwh, noise_dba]\n", "small.yaml")


def test_data_completeness_expects_each_metric_from_the_zones_that_report_it():
    # two rooms report CO2 all day, the building meter reports energy all day, noise never arrived:
    # 3 of 4 streams complete, not 3 of 2 zones × 3 metrics
    full_day = {hour(h): {"co2_ppm": MetricSlot(1600, 2, 800, 800, buckets=2, zones=2, minutes=120),
                          "energy_kwh": MetricSlot(5, 1, 5, 5, buckets=1, zones=1, minutes=60)} for h in range(24)}
    earlier = DAY_START - timedelta(days=30)
    data = monday(slots=full_day, zones=3, streams={"co2_ppm": [earlier, earlier], "energy_kwh": [earlier]})
    model = completeness_model()
    result = measures.data_completeness(model.indicators[0], data, model)
    assert result.raw == pytest.approx(0.75)
    assert result.inputs["streams"] == 4
    assert result.inputs["missing_metrics"] == ["noise_dba"]


def test_a_zone_fitted_during_the_period_is_expected_only_from_its_first_reading():
    # room A all day; room B fitted at 18:00 and reporting since: both complete
    slots = {hour(h): {"co2_ppm": MetricSlot(800 * (2 if h >= 18 else 1), 2 if h >= 18 else 1, 800, 800,
                                             zones=2 if h >= 18 else 1, minutes=120 if h >= 18 else 60),
                       "energy_kwh": MetricSlot(5, 1, 5, 5, minutes=60),
                       "noise_dba": MetricSlot(40, 1, 40, 40, minutes=60)} for h in range(24)}
    earlier = DAY_START - timedelta(days=30)
    data = monday(slots=slots, streams={"co2_ppm": [earlier, hour(18)], "energy_kwh": [earlier],
                                        "noise_dba": [earlier]})
    model = completeness_model()
    result = measures.data_completeness(model.indicators[0], data, model)
    assert result.raw == pytest.approx(1.0)
    assert result.inputs["minutes_expected"] == 3 * 24 * 60 + 6 * 60
    # room B going quiet at 21:00 after it was fitted shows as missing time
    quiet = {h: {m: (MetricSlot(800, 1, 800, 800, minutes=60) if m == "co2_ppm" and h >= hour(21) else v)
                 for m, v in slot.items()} for h, slot in slots.items()}
    result = measures.data_completeness(model.indicators[0], monday(slots=quiet, streams=data.streams), model)
    assert result.raw == pytest.approx((3 * 24 * 60 + 3 * 60) / (3 * 24 * 60 + 6 * 60))


def test_a_bucket_covers_one_minute_per_reading_up_to_its_length():
    from scoring.measures import reading_minutes

    assert [reading_minutes(n, 15) for n in (0, 6, 15, 40)] == [0, 6, 15, 15]
