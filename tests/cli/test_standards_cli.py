"""``brandhub standards …`` and ``brandhub config …`` as HQ runs them against a database."""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlmodel import Session, func, select

from brand_hub.models.standards import SiteConfigVersion, Standard
from standards import site_config, standard_format
from tests.builders import make_franchisee, make_site


def copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def rows(db: Session, model) -> int:
    db.expire_all()
    return db.exec(select(func.count()).select_from(model)).one()


def test_validate_reports_every_problem_as_file_line_reason_and_exits_non_zero(run, tmp_path):
    folder = copy(standard_format.LIBRARY_DIR, tmp_path / "standards")
    noise = folder / "space-noise.yaml"
    noise.write_text(noise.read_text(encoding="utf-8").replace("max: 50", "max: 500"), encoding="utf-8")
    light = folder / "space-lighting.yaml"
    light.write_text(light.read_text(encoding="utf-8").replace("ack_days: 30", "ack_days: 30\nowner: ops"),
                     encoding="utf-8")

    result = run("standards", "validate", str(folder))

    assert result.exit_code == 1
    assert "space-lighting.yaml:3: unknown field 'owner'" in result.output
    assert "space-noise.yaml:18: threshold max 500 dB(A) is outside the valid range of noise_dba (20–140)" \
        in result.output
    assert "2 problem(s)" in result.output


def test_the_shipped_library_validates_from_the_command_line(run):
    assert run("standards", "validate").output.endswith("12 standard(s) valid\n")  # issue 11: + revenue-plausibility
    assert run("config", "validate").exit_code == 0


def test_publish_refuses_an_invalid_folder_and_publishes_nothing(run, db, tmp_path):
    folder = copy(standard_format.LIBRARY_DIR, tmp_path / "standards")
    (folder / "broken.yaml").write_text("id: [\n", encoding="utf-8")
    result = run("standards", "publish", str(folder))
    assert result.exit_code == 1 and "broken.yaml:2: not valid YAML" in result.output
    assert "nothing was published" in result.output
    assert rows(db, Standard) == 0


def test_standards_publish_twice_is_a_no_op_the_second_time(run, db):
    make_site(db, make_franchisee(db))
    db.commit()
    first = run("standards", "publish")
    second = run("standards", "publish")
    assert "published iaq-co2 v1" in first.output and "12 acknowledgement(s) requested" in first.output
    assert second.output == "nothing changed: 12 standard(s) already published\n0 acknowledgement(s) requested " \
                            "from sites\n"
    assert rows(db, Standard) == 12  # issue 11: the library's revenue-plausibility standard


def test_config_publish_diff_and_rollback(run, db, tmp_path):
    site = make_site(db, make_franchisee(db), region="north", tier="standard")
    db.commit()
    folder = copy(site_config.LIBRARY_DIR, tmp_path / "configs")
    assert f"{site.code}: version 1 queued for delivery" in run("config", "publish", str(folder)).output
    north = folder / "regions" / "north.yaml"
    north.write_text(north.read_text(encoding="utf-8").replace('"1680.00"', '"1720.00"'), encoding="utf-8")
    assert "1 site(s) with a new version, 0 unchanged" in run("config", "publish", str(folder)).output
    assert "0 site(s) with a new version, 1 unchanged" in run("config", "publish", str(folder)).output

    diff = run("config", "diff", site.code)
    assert diff.output == f'{site.code}: version 1 → 2\n~ plans.hot_desk.price: "1680.00" → "1720.00"\n'

    rolled = run("config", "rollback", site.code, "--to", "1")
    assert rolled.output == f"{site.code}: version 3 (content of version 1) queued for delivery\n"
    assert run("config", "diff", site.code, "--from", "1", "--to", "3").output.endswith("no differences\n")
    assert rows(db, SiteConfigVersion) == 3


def test_config_commands_name_an_unknown_site_or_version(run, db):
    site = make_site(db, make_franchisee(db))
    db.commit()
    run("config", "publish")
    unknown_site = run("config", "diff", "NOPE-01")
    assert unknown_site.exit_code == 1 and "no site with code 'NOPE-01'" in unknown_site.output
    unknown_version = run("config", "rollback", site.code, "--to", "7")
    assert unknown_version.exit_code == 1 and f"site {site.code} has no config version 7" in unknown_version.output


def test_config_publish_refuses_a_bad_layer_with_its_file_and_line(run, db, tmp_path):
    make_site(db, make_franchisee(db))
    db.commit()
    folder = copy(site_config.LIBRARY_DIR, tmp_path / "configs")
    (folder / "tiers" / "standard.yaml").write_text("meeting_rooms:\n  slot_minutes: 20\n", encoding="utf-8")
    result = run("config", "publish", str(folder))
    assert result.exit_code == 1
    assert "tiers/standard.yaml:2: meeting_rooms.slot_minutes: 20 is not one of [15, 30, 60]" in result.output
    assert rows(db, SiteConfigVersion) == 0


def test_config_drift_names_the_sites_it_could_not_ask(run, db):
    site = make_site(db, make_franchisee(db), agent_url="http://127.0.0.1:9")
    db.commit()
    assert run("config", "drift").output == "every site holds its desired config (or has none yet)\n"
    run("config", "publish")
    result = run("config", "drift", "--site", site.code)
    assert result.output.startswith(f"{site.code}: keys unknown (")
    assert f"(GET /v1/config: site {site.code}: no agent token issued" in result.output
