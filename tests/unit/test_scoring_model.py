"""The scoring model file: the brand's file is valid, a bad one is refused with file:line reasons."""
import pytest

from standards.loader import InvalidFiles
from standards.scoring_model import current_model, load_model_text

TWELVE = {"desk_utilisation", "co2_compliance", "thermal_comfort", "humidity_band", "desk_lighting", "noise",
          "energy_intensity", "nps", "community_activity", "service_response", "member_renewal",
          "data_completeness"}


def test_the_brand_model_has_the_twelve_indicators_and_weights_summing_to_100():
    model = current_model()
    assert {i.id for i in model.indicators} >= TWELVE
    assert model.total_weight == pytest.approx(100)
    assert (model.id, model.version) == ("brand-health", 1)
    assert model.indicator("co2_compliance").thresholds == {"max": 1000}


BAD = """id: bad
version: 1
title_zh: 坏
title_en: Bad
aggregation: weighted_mean
min_coverage: 0.7
cards: {green: 50, yellow: 60}
nps: {k: 30, min_answers: 10}
indicators:
  - id: co2
    title_zh: 二氧化碳
    title_en: CO2
    source: readings
    measure: share_within
    metric: co2_ppb
    thresholds: {max: 1000}
    floor: 0.9
    target: 0.9
    weight: 10
    min_data: {hours: 1}
  - id: co2
    title_zh: x
    title_en: x
    source: readings
    measure: share_within
    metric: co2_ppm
    floor: 0.5
    target: 0.9
    weight: -1
    min_data: {hours: 1}
"""


def test_schema_problems_point_to_the_line():
    with pytest.raises(InvalidFiles) as caught:
        load_model_text(BAD, "bad.yaml")
    assert [str(p) for p in caught.value.problems] == ["bad.yaml:29: indicators.1.weight: -1 is less than or equal "
                                                       "to the minimum of 0"]


def test_semantic_problems_point_to_the_line():
    with pytest.raises(InvalidFiles) as caught:
        load_model_text(BAD.replace("weight: -1", "weight: 5"), "bad.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "bad.yaml:7: cards.yellow must not be above cards.green",
        "bad.yaml:15: co2: unknown metric 'co2_ppb'",
        "bad.yaml:18: co2: floor and target must differ",
        "bad.yaml:21: co2: share_within needs thresholds.min and/or thresholds.max",
        "bad.yaml:21: indicator id 'co2' is used twice",
    ]


def test_a_duplicate_key_is_refused_with_its_line():
    with pytest.raises(InvalidFiles) as caught:
        load_model_text(BAD.replace("version: 1\n", "version: 1\nversion: 2\n"), "dup.yaml")
    assert "dup.yaml:3: duplicate key 'version'" in str(caught.value)


def _rules(node):
    """Every rule of a standards file (any mapping with an ``id`` and a ``max`` or ``min``)."""
    if isinstance(node, dict):
        if "id" in node and ({"min", "max"} & set(node)):
            yield node
        for value in node.values():
            yield from _rules(value)
    elif isinstance(node, list):
        for item in node:
            yield from _rules(item)


def test_the_model_thresholds_agree_with_the_brand_standards_library():
    import yaml
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "standards" / "library" / "standards"
    rules = [r for path in sorted(folder.glob("*.yaml")) for r in _rules(yaml.safe_load(path.read_text("utf-8")))]
    by_metric = {r["metric"]: r for r in rules if "metric" in r}
    model = current_model()
    for indicator in model.indicators:
        if indicator.measure != "share_within":
            continue
        rule = by_metric[indicator.metric]
        assert {k: v for k, v in indicator.thresholds.items()} == {k: rule[k] for k in ("min", "max") if k in rule}, \
            indicator.id
    response = next(r for r in rules if r["id"] == "first-response-median")
    assert model.indicator("service_response").thresholds["sla_minutes"] == response["max"] * 60
