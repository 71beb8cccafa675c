"""Site config layers: deep merge with per-key provenance, schema refusals, stable roll-out, diffs."""
import shutil
from pathlib import Path

from standards import site_config
from standards.loader import load_yaml

LIB = site_config.LIBRARY_DIR


def layers_from(**files: str) -> site_config.ConfigLayers:
    """Layers from YAML texts: brand=..., region_east=..., tier_flagship=..., site_S1=..."""
    layers = site_config.ConfigLayers(brand=load_yaml(files.pop("brand", "{}"), "brand.yaml"))
    for name, text in files.items():
        kind, key = name.split("_", 1)
        target = {"region": layers.regions, "tier": layers.tiers, "site": layers.sites}[kind]
        target[key] = load_yaml(text, f"{kind}s/{key}.yaml")
    return layers


def copy_library(tmp_path: Path) -> Path:
    folder = tmp_path / "configs"
    shutil.copytree(LIB, folder)
    return folder


def problems_after(folder: Path, relative: str, old: str, new: str) -> list[str]:
    path = folder / relative
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return [str(p) for p in site_config.check_folder(folder)[1]]


def test_the_shipped_layers_validate_and_every_demo_combination_merges_cleanly():
    layers, problems = site_config.check_folder(LIB)
    assert problems == []
    for region in ("east", "north", "south", "west"):
        for tier in ("flagship", "standard", "lite"):
            assert site_config.effective_problems(layers, code="X-01", region=region, tier=tier) == []


def test_later_layers_win_and_provenance_names_the_layer_of_every_key():
    layers = layers_from(brand="a: 1\nplans: {x: {price: '1.00', unit: day}}\nhours: [1]\n",
                         region_east="plans: {x: {price: '2.00'}}\n",
                         tier_flagship="plans: {x: {price: '3.00'}}\nhours: [2, 3]\n",
                         site_S1="a: 9\n")
    merged, provenance = site_config.merge_layers(
        [(name, doc.data) for name, doc in layers.for_site(code="S1", region="east", tier="flagship")])
    assert merged == {"a": 9, "plans": {"x": {"price": "3.00", "unit": "day"}}, "hours": [2, 3]}
    assert provenance == {"a": "site:S1", "plans.x.price": "tier:flagship", "plans.x.unit": "brand",
                          "hours": "tier:flagship"}


def test_a_site_in_another_region_and_tier_gets_only_the_brand_default():
    layers = layers_from(brand="a: 1\n", region_east="a: 2\n", site_S1="a: 3\n")
    merged, provenance = site_config.merge_layers(
        [(n, d.data) for n, d in layers.for_site(code="S2", region="west", tier="lite")])
    assert merged == {"a": 1} and provenance == {"a": "brand"}


def test_the_library_gives_a_flagship_in_east_its_tier_price_and_its_own_sunday():
    layers = site_config.load_folder(LIB)
    config = site_config.effective_config(layers, code="SH-JA-01", region="east", tier="flagship")
    assert config.content["plans"]["private_office"]["price"] == "3600.00"
    assert config.provenance["plans.private_office.price"] == "tier:flagship"
    assert config.content["opening_hours"]["mon"] == [["08:30", "22:00"]]
    assert config.provenance["opening_hours.mon"] == "region:east"
    assert config.content["opening_hours"]["sun"] == [["10:00", "18:00"]]
    assert config.provenance["opening_hours.sun"] == "site:SH-JA-01"
    assert config.provenance["currency"] == "brand"
    assert config.content["features"]["smart_lighting"] is True
    assert config.provenance["features.smart_lighting"] == "tier:flagship"
    assert config.hash.startswith("sha256:")


def test_a_price_given_as_a_number_is_refused_at_its_line(tmp_path):
    folder = copy_library(tmp_path)
    assert problems_after(folder, "regions/west.yaml", 'price: "98.00"', "price: 98.5") == [
        "regions/west.yaml:4: plans.day_pass.price: expected string, got float 98.5"]


def test_an_unknown_plan_key_is_refused(tmp_path):
    folder = copy_library(tmp_path)
    assert problems_after(folder, "tiers/lite.yaml", "    available: false", "    availabel: false") == [
        "tiers/lite.yaml:4: plans.private_office: unknown field 'availabel'"]


def test_an_unknown_time_zone_is_refused(tmp_path):
    folder = copy_library(tmp_path)
    assert problems_after(folder, "sites/SG-RP-01.yaml", "Asia/Singapore", "Asia/Singapur") == [
        "sites/SG-RP-01.yaml:2: timezone: unknown IANA time zone 'Asia/Singapur'"]


def test_opening_hours_that_end_before_they_start_are_refused(tmp_path):
    folder = copy_library(tmp_path)
    assert problems_after(folder, "regions/south.yaml", '["10:00", "18:00"]', '["18:00", "10:00"]') == [
        "regions/south.yaml:3: opening_hours.sun: 18:00–10:00 ends before it starts"]


def test_a_brand_default_missing_a_section_is_refused(tmp_path):
    folder = copy_library(tmp_path)
    problems = problems_after(folder, "brand.yaml", "currency: CNY\n", "")
    assert problems == ["brand.yaml:2: 'currency' is missing"]


def test_a_percentage_out_of_range_and_a_foreign_currency_are_refused(tmp_path):
    folder = copy_library(tmp_path)
    problems_after(folder, "brand.yaml", "percent: 50", "percent: 150")
    problems = problems_after(folder, "brand.yaml", "currency: CNY", "currency: USD")
    assert any(p.startswith("brand.yaml:") and "features.visitor_qr.percent: 150 is greater than the maximum of 100"
               in p for p in problems)
    assert any("currency: 'CNY' was expected" in p for p in problems)


def test_percentage_roll_out_is_stable_per_site_and_close_to_the_share():
    codes = [f"S{n:04d}" for n in range(2000)]
    flag = {"enabled": True, "percent": 30}
    first = {c for c in codes if site_config.flag_on("visitor_qr", flag, c)}
    again = {c for c in codes if site_config.flag_on("visitor_qr", flag, c)}
    assert first == again
    assert 0.26 < len(first) / len(codes) < 0.34
    wider = {c for c in codes if site_config.flag_on("visitor_qr", {"enabled": True, "percent": 60}, c)}
    assert first <= wider  # raising the percentage only adds sites
    other = {c for c in codes if site_config.flag_on("smart_lighting", flag, c)}
    assert other != first  # each flag picks its own sites
    assert site_config.rollout_bucket("visitor_qr", "SH-JA-01") == site_config.rollout_bucket("visitor_qr", "SH-JA-01")


def test_named_sites_get_a_flag_and_a_disabled_flag_is_off_everywhere():
    pilot = {"enabled": True, "sites": ["S1"]}
    assert site_config.flag_on("f", pilot, "S1") and not site_config.flag_on("f", pilot, "S2")
    assert not site_config.flag_on("f", {"enabled": False, "percent": 100, "sites": ["S1"]}, "S1")
    assert site_config.flag_on("f", {"enabled": True}, "S2")


def test_diff_lists_added_removed_and_changed_leaves():
    changes = site_config.diff({"a": 1, "b": {"c": "x", "d": [1]}}, {"a": 2, "b": {"d": [1]}, "e": "新"})
    assert [str(c) for c in changes] == ['~ a: 1 → 2', '- b.c: "x"', '+ e: "新"']
    assert site_config.diff({"a": 1}, {"a": 1}) == []


def test_validation_merges_every_region_with_every_tier_to_find_a_broken_combination(tmp_path):
    folder = copy_library(tmp_path)
    # valid as a layer (nothing is required in a layer), incomplete once merged: a new template without text
    (folder / "tiers" / "lite.yaml").write_text("notifications:\n  templates:\n    tour_booked:\n"
                                               "      channel: sms\n", encoding="utf-8")
    problems = [str(p) for p in site_config.check_folder(folder)[1]]
    assert problems == ["tiers/lite.yaml:4: notifications.templates.tour_booked: 'body' is missing",
                        "tiers/lite.yaml:4: notifications.templates.tour_booked: 'subject' is missing"]
