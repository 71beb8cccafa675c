"""Bulk onboarding: sites CSV and network YAML, bad rows reported by line, re-runs change nothing."""
from __future__ import annotations

from sqlmodel import select

from brand_hub import audit, registry
from brand_hub.models import Agreement, AuditEvent, Franchisee, Site
from tests.builders import make_agreement, make_franchisee

ACTOR = audit.Actor("cli:test")
HEADER = "code,name_zh,franchisee,agreement,city,region,tier,timezone,opening_hours,area_m2,desks,status\n"


def test_good_rows_go_in_and_each_bad_row_is_reported_with_its_line_and_reason(session):
    partner = make_franchisee(session, code="SH01")
    make_agreement(session, partner, number="FC-1")
    text = HEADER + (
        "SH-01,方寸空间·静安寺,SH01,FC-1,上海,east,flagship,Asia/Shanghai,mon-sun 08:00-22:00,2400,360,active\n"
        "SH-02,方寸空间·徐家汇,NOPE,,上海,east,standard,,,1350,210,active\n"
        "SH-03,方寸空间·新天地,SH01,,上海,east,huge,,,1180,lots,active\n"
        "SH-04,方寸空间·陆家嘴,SH01,,上海,east,lite,Asia/Hong_Kong,,720,110,onboarding\n"
        "SH-01,重复,SH01,,上海,east,lite,,,1,1,active\n")
    result = registry.import_sites_csv(session=session, actor=ACTOR, text=text, file="sites.csv")
    assert [str(p) for p in result.problems] == [
        "sites.csv:3: site SH-02: franchisee: no partner with code NOPE",
        "sites.csv:4: site SH-03: tier: 'huge' is not one of flagship, standard, lite; desks: 'lots' is not a whole number",
        "sites.csv:6: site SH-01: code: SH-01 appears already at line 2",
    ]
    assert (result.created, result.updated) == (2, 0)
    assert sorted(s.code for s in session.exec(select(Site))) == ["SH-01", "SH-04"]
    assert session.exec(select(Site).where(Site.code == "SH-04")).one().timezone == "Asia/Hong_Kong"


def test_running_the_same_csv_again_changes_nothing(session):
    make_franchisee(session, code="SH01")
    text = HEADER + "SH-01,方寸空间·静安寺,SH01,,上海,east,flagship,,mon-fri 09:00-21:00,2400,360,active\n"
    first = registry.import_sites_csv(session=session, actor=ACTOR, text=text)
    again = registry.import_sites_csv(session=session, actor=ACTOR, text=text)
    assert (first.created, again.created, again.updated, again.unchanged) == (1, 0, 0, 1)
    assert len(session.exec(select(Site)).all()) == 1
    assert len(session.exec(select(AuditEvent).where(AuditEvent.action.like("site.%"))).all()) == 1


def test_a_csv_with_wrong_columns_is_refused_at_its_header(session):
    result = registry.import_sites_csv(session=session, actor=ACTOR, text="code,name,colour\nX,Y,Z\n", file="s.csv")
    assert len(result.problems) == 1
    assert result.problems[0].line == 1
    assert "missing column(s) name_zh, franchisee, city" in result.problems[0].reason
    assert "unknown column(s) name, colour" in result.problems[0].reason


NETWORK = """\
franchisees:
  - code: HZ01
    legal_name: 杭州西湖方寸空间运营有限公司
    status: active
  - code: BAD
    legal_name: 某公司
    status: bankrupt
agreements:
  - number: FC-2024-005
    franchisee: HZ01
    start_date: 2024-07-01
    royalty_plan_id: lite-2026
  - number: FC-9
    franchisee: BAD
    start_date: 2024-07-01
sites:
  - code: HZ-XH-01
    name_zh: 方寸空间·西湖文三
    franchisee: HZ01
    agreement: FC-2024-005
    city: 杭州
    opening_hours:
      mon: [["09:00", "21:00"]]
    area_m2: 1200
    desks: 180
    status: active
  - code: HZ-BJ-01
    name_zh: 方寸空间·滨江
    franchisee: HZ01
    city: 杭州
    desks: -3
"""


def test_network_file_entries_are_refused_at_the_line_of_the_bad_value(session):
    result = registry.import_network_yaml(session=session, actor=ACTOR, text=NETWORK, file="network.yaml")
    assert [str(p) for p in result.problems] == [
        "network.yaml:7: franchisee BAD: status: 'bankrupt' is not one of prospect, active, on_notice, suspended, terminated",
        "network.yaml:14: agreement FC-9: franchisee: no partner with code BAD",
        "network.yaml:31: site HZ-BJ-01: desks: -3 is out of range (0 or more)",
    ]
    site = session.exec(select(Site).where(Site.code == "HZ-XH-01")).one()
    agreement = session.exec(select(Agreement)).one()
    assert site.agreement_id == agreement.id and agreement.royalty_plan_id == "lite-2026"
    assert site.opening_hours == {"mon": [["09:00", "21:00"]]}


def test_network_export_reads_back_into_an_identical_registry(session):
    registry.import_network_yaml(session=session, actor=ACTOR, text=NETWORK)
    exported = registry.network_yaml(registry.export_network(session=session))
    again = registry.import_network_yaml(session=session, actor=ACTOR, text=exported)
    assert again.problems == [] and (again.created, again.updated) == (0, 0)
    assert registry.network_yaml(registry.export_network(session=session)) == exported
    assert "杭州西湖方寸空间运营有限公司" in exported


def test_a_network_file_that_is_not_yaml_is_refused_with_its_line(session):
    result = registry.import_network_yaml(session=session, actor=ACTOR, text="franchisees:\n  - code: [\n", file="n.yaml")
    assert result.problems and result.problems[0].file == "n.yaml" and result.problems[0].line >= 2
    assert session.exec(select(Franchisee)).all() == []


def test_opening_hours_text_and_mapping_forms_agree():
    hours = registry.parse_opening_hours("mon-fri 09:00-21:00; sat 10:00-18:00")
    assert hours["fri"] == [["09:00", "21:00"]] and "sun" not in hours
    assert registry.parse_opening_hours(registry.format_opening_hours(hours)) == hours
    assert registry.format_opening_hours(registry.parse_opening_hours("daily 08:00-22:00")) == "mon-sun 08:00-22:00"


def test_a_csv_that_stops_being_readable_keeps_the_rows_before_and_says_where(session):
    make_franchisee(session, code="SH01")
    text = HEADER + ("SH-01,静安寺,SH01,,上海,east,flagship,,,2400,360,active\n"
                     f"SH-02,{'x' * 200_000},SH01,,上海,east,lite,,,1,1,active\n")
    result = registry.import_sites_csv(session=session, actor=ACTOR, text=text, file="big.csv")
    assert result.created == 1
    assert len(result.problems) == 1 and result.problems[0].line == 3
    assert "not readable as CSV" in result.problems[0].reason


def test_the_network_files_layout_is_checked_by_its_schema_and_the_good_sections_still_go_in(session):
    text = ("franchisees:\n  - code: LAYOUT\n    legal_name: 布局测试有限公司\n"
            "colours: [red]\n"
            "sites: not-a-list\n"
            "agreements:\n  - just text\n")
    result = registry.import_network_yaml(session=session, actor=audit.SYSTEM, text=text, file="net.yaml")
    reasons = [str(p) for p in result.problems]
    assert "net.yaml:1: unknown field 'colours'" in reasons  # at the mapping's line, as in every format
    assert any(r.startswith("net.yaml:5: sites: expected") for r in reasons)
    assert any(r.startswith("net.yaml:7: agreements.0: expected") for r in reasons)
    assert result.created == 1
