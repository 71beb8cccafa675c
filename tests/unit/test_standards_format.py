"""A standards folder is validated as a whole; every mistake is reported as file:line: reason."""
from pathlib import Path

import pytest

from standards.loader import InvalidFiles
from standards.standard_format import LIBRARY_DIR, applies_to, check_folder, load_folder

GOOD = """\
id: iaq-co2
version: 1
category: space
title:
  zh: 二氧化碳
  en: CO2
text:
  zh: 不高于 1000 ppm
  en: At most 1000 ppm
ack_days: 30
rules:
  - id: co2
    metric: co2_ppm
    measure: share_within
    max: 1000
    share: 0.95
    window: month
    severity: major
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    write(tmp_path / "std", "co2.yaml", text)
    _specs, problems = check_folder(tmp_path / "std")
    return [str(p) for p in problems]


def test_the_shipped_library_validates_with_real_sources_named():
    specs = load_folder(LIBRARY_DIR)
    keys = {s.key for s in specs}
    assert {"iaq-co2", "thermal-comfort", "desk-lighting", "noise", "service-response", "community-activity",
            "member-nps", "data-reporting", "privacy-pipl"} <= keys
    assert all(s.content.get("source") for s in specs)
    co2 = next(s for s in specs if s.key == "iaq-co2")
    assert co2.content["rules"][0]["max"] == 1000


def test_a_good_standard_has_no_problems(tmp_path):
    assert problems_of(tmp_path, GOOD) == []


def test_bad_yaml_is_reported_with_its_line(tmp_path):
    assert problems_of(tmp_path, GOOD.replace("  en: CO2\n", "  en: [CO2\n")) == [
        "co2.yaml:7: not valid YAML: expected ',' or ']', but got ':'"]


def test_an_unknown_field_is_reported_at_its_object(tmp_path):
    assert problems_of(tmp_path, GOOD.replace("    window: month\n", "    window: month\n    windw: day\n")) == [
        "co2.yaml:12: rules.0: unknown field 'windw'"]


def test_a_wrong_type_is_reported_at_the_value(tmp_path):
    assert problems_of(tmp_path, GOOD.replace("ack_days: 30", "ack_days: thirty")) == [
        "co2.yaml:10: ack_days: expected integer, got str 'thirty'"]


def test_an_unknown_metric_is_reported_with_the_known_ones(tmp_path):
    [problem] = problems_of(tmp_path, GOOD.replace("metric: co2_ppm", "metric: co2"))
    assert problem.startswith("co2.yaml:13: unknown metric 'co2' (known: co2_ppm, temperature_c")


def test_a_threshold_outside_the_metric_range_is_refused(tmp_path):
    assert problems_of(tmp_path, GOOD.replace("max: 1000", "max: 20000")) == [
        "co2.yaml:15: threshold max 20000 ppm is outside the valid range of co2_ppm (250–10000)"]


def test_an_indicator_threshold_is_checked_against_its_range_too(tmp_path):
    text = GOOD.replace("metric: co2_ppm", "indicator: nps").replace("measure: share_within", "measure: value") \
        .replace("max: 1000", "min: 130").replace("    share: 0.95\n", "")
    assert problems_of(tmp_path, text) == [
        "co2.yaml:15: threshold min 130 NPS is outside the valid range of nps (-100–100)"]


def test_a_missing_field_is_reported(tmp_path):
    assert problems_of(tmp_path, GOOD.replace("category: space\n", "")) == ["co2.yaml:1: 'category' is missing"]


def test_a_duplicate_id_names_both_places(tmp_path):
    write(tmp_path / "std", "a.yaml", GOOD)
    write(tmp_path / "std", "b.yaml", "# the same id again\n" + GOOD)
    _specs, problems = check_folder(tmp_path / "std")
    assert [str(p) for p in problems] == ["b.yaml:2: duplicate id 'iaq-co2' (also at a.yaml:1)"]


def test_a_chapter_file_holds_several_standards_each_with_its_line(tmp_path):
    second = GOOD.replace("iaq-co2", "iaq-co2-meeting")
    chapter = "chapter: air\nstandards:\n" + "".join(
        "  - " + "\n    ".join(doc.rstrip("\n").splitlines()) + "\n" for doc in (GOOD, second))
    write(tmp_path / "std", "air.yaml", chapter)
    specs, problems = check_folder(tmp_path / "std")
    assert problems == []
    assert [(s.key, s.line) for s in specs] == [("iaq-co2", 3), ("iaq-co2-meeting", 21)]


def test_an_invalid_folder_is_refused_as_a_whole(tmp_path):
    write(tmp_path / "std", "a.yaml", GOOD)
    write(tmp_path / "std", "b.yaml", GOOD.replace("iaq-co2", "noise").replace("co2_ppm", "noise_db"))
    with pytest.raises(InvalidFiles) as refused:
        load_folder(tmp_path / "std")
    assert [p.file for p in refused.value.problems] == ["b.yaml"]


def test_applies_to_limits_by_tier_and_region():
    content = {"applies_to": {"tiers": ["flagship"], "regions": ["east", "north"]}}
    assert applies_to(content, tier="flagship", region="east")
    assert not applies_to(content, tier="lite", region="east")
    assert not applies_to(content, tier="flagship", region="west")
    assert applies_to({}, tier="lite", region="west")
