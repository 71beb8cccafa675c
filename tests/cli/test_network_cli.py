"""``brandhub users create``, ``network import|export`` and ``sites import|list`` as a user runs them."""
from __future__ import annotations

from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models import AuditEvent, Site, User
from tests.integration.test_registry_import import HEADER, NETWORK


def _rows(database_url, model):
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.exec(select(model)).all()
    engine.dispose()
    return rows


def test_network_import_then_export_round_trips(run, tmp_path, database_url):
    source = tmp_path / "network.yaml"
    source.write_text(NETWORK.replace("    desks: -3\n", "    desks: 100\n").replace("status: bankrupt", "status: prospect"),
                      encoding="utf-8")
    imported = run("network", "import", str(source))
    assert imported.exit_code == 0, imported.output
    assert "2 created" not in imported.output and "6 created" in imported.output
    exported = run("network", "export", "-o", str(tmp_path / "out.yaml"))
    assert exported.exit_code == 0
    again = run("network", "import", str(tmp_path / "out.yaml"))
    assert again.exit_code == 0 and "0 created, 0 updated, 6 unchanged" in again.output
    assert run("network", "export").output == (tmp_path / "out.yaml").read_text(encoding="utf-8")


def test_network_import_reports_bad_entries_by_line_and_exits_non_zero(run, tmp_path, database_url):
    source = tmp_path / "network.yaml"
    source.write_text(NETWORK, encoding="utf-8")
    result = run("network", "import", str(source))
    assert result.exit_code == 1
    assert f"{source}:31: site HZ-BJ-01: desks: -3 is out of range" in result.output
    assert "3 refused" in result.output
    assert [s.code for s in _rows(database_url, Site)] == ["HZ-XH-01"]  # the good entries went in


def test_atomic_sites_import_takes_nothing_when_a_row_is_bad(run, tmp_path, database_url):
    run("network", "import", str(_partner_file(tmp_path)))
    csv_file = tmp_path / "sites.csv"
    csv_file.write_text(HEADER + "SH-01,静安寺,SH01,,上海,east,flagship,,,2400,360,active\n"
                        "SH-02,徐家汇,SH01,,上海,east,standard,Nowhere/City,,1,1,active\n", encoding="utf-8")
    atomic = run("sites", "import", str(csv_file), "--atomic")
    assert atomic.exit_code == 1
    assert f"{csv_file}:3: site SH-02: timezone: 'Nowhere/City' is not an IANA time zone" in atomic.output
    assert "nothing was imported" in atomic.output
    assert _rows(database_url, Site) == []
    partial = run("sites", "import", str(csv_file))
    assert partial.exit_code == 1 and "1 created" in partial.output
    assert [s.code for s in _rows(database_url, Site)] == ["SH-01"]


def test_sites_list_filters_and_prints_csv_that_imports_back(run, tmp_path, database_url):
    run("network", "import", str(_partner_file(tmp_path)))
    csv_file = tmp_path / "sites.csv"
    csv_file.write_text(HEADER + "SH-01,静安寺,SH01,,上海,east,flagship,,mon-fri 09:00-21:00,2400,360,active\n"
                        "SH-02,张江,SH01,,上海,east,lite,,,720,110,onboarding\n", encoding="utf-8")
    assert run("sites", "import", str(csv_file)).exit_code == 0
    listed = run("sites", "list", "--status", "onboarding")
    assert "SH-02" in listed.output and "SH-01" not in listed.output
    for option in ("--partner", "--franchisee"):  # the older spelling still works
        assert "SH-01" in run("sites", "list", option, "SH01").output
        assert "SH-01" not in run("sites", "list", option, "NOPE").output
    exported = run("sites", "list", "--format", "csv")
    (tmp_path / "back.csv").write_text(exported.output, encoding="utf-8")
    back = run("sites", "import", str(tmp_path / "back.csv"))
    assert back.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in back.output


def test_users_create_makes_an_account_and_audits_it(run, database_url):
    result = run("users", "create", "--email", "Ops@FangCun.example", "--role", "hq_manager", "--name", "赵明",
                 input="a long enough secret\na long enough secret\n")
    assert result.exit_code == 0, result.output
    user = _rows(database_url, User)[0]
    assert user.email == "ops@fangcun.example" and user.role.value == "hq_manager"
    assert [e.action for e in _rows(database_url, AuditEvent)] == ["user.create"]
    refused = run("users", "create", "--email", "x@p.example", "--role", "franchisee_admin",
                  input="a long enough secret\na long enough secret\n")
    assert refused.exit_code == 1 and "needs --franchisee" in refused.output


def _partner_file(tmp_path):
    path = tmp_path / "partners.yaml"
    path.write_text("franchisees:\n  - code: SH01\n    legal_name: 上海静安方寸企业管理有限公司\n", encoding="utf-8")
    return path
