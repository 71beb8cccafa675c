"""Importers refuse hostile files cleanly and stay atomic per row or per file, as their help says."""
from __future__ import annotations

import time
from decimal import Decimal as D

from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models import Franchisee, Site
from brand_hub.models.billing import RevenueReport
from tests.builders import make_agreement, make_franchisee, make_site
from tests.unit.test_loader_hostile_files import ALIAS_BOMB


def _rows(database_url, model):
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.exec(select(model)).all()
    engine.dispose()
    return rows


def test_a_revenue_file_with_bad_amounts_keeps_its_good_rows(run, db, tmp_path):
    partner = make_franchisee(db)
    make_site(db, partner, make_agreement(db, partner), code="SH-01")
    db.commit()
    path = tmp_path / "revenue.csv"
    path.write_text("site_code,period,gross_revenue\n"
                    "SH-01,2026-01,100000.00\n"
                    "SH-01,2026-02,1e999\n"
                    "SH-01,2026-03,123456789012345678901234.00\n"
                    "SH-01,2026-04,1E+30\n"
                    "SH-01,2026-05,NaN\n"
                    "SH-01,2026-06,200000.00\n", encoding="utf-8")
    result = run("revenue", "import", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for line in (3, 4, 5, 6):
        assert f"{path}:{line}: " in result.output, result.output
    assert "2 stored, 0 unchanged, 4 refused" in result.output
    stored = {(r.period, r.gross_revenue) for r in db.exec(select(RevenueReport)).all()}
    assert stored == {("2026-01", D("100000.00")), ("2026-06", D("200000.00"))}


def test_a_revenue_row_with_a_nul_byte_is_refused_and_the_rest_kept(run, db, tmp_path):
    partner = make_franchisee(db)
    make_site(db, partner, make_agreement(db, partner), code="SH-01")
    db.commit()
    path = tmp_path / "revenue.csv"
    path.write_text("site_code,period,gross_revenue\nSH-01,2026-01,100.00\nSH-01\x00,2026-02,5.00\n",
                    encoding="utf-8")
    result = run("revenue", "import", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:3: " in result.output
    assert [r.period for r in db.exec(select(RevenueReport)).all()] == ["2026-01"]


def test_a_network_file_with_duplicated_keys_creates_nothing(run, tmp_path, database_url):
    path = tmp_path / "network.yaml"
    path.write_text("franchisees:\n"
                    "  - code: DUP\n"
                    "    legal_name: 重复公司\n"
                    "    legal_name: Duplicated Ltd\n"
                    "  - code: GOOD\n"
                    "    legal_name: 好公司\n", encoding="utf-8")
    result = run("network", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:4: duplicate key 'legal_name'" in result.output
    assert _rows(database_url, Franchisee) == []


def test_a_network_alias_bomb_is_refused_fast(run, tmp_path, database_url):
    path = tmp_path / "network.yaml"
    path.write_text(ALIAS_BOMB, encoding="utf-8")
    start = time.perf_counter()
    result = run("network", "import", str(path))
    assert time.perf_counter() - start < 5
    assert result.exit_code == 1 and f"{path}:1: anchors (&a) are not allowed" in result.output


def test_a_network_file_with_an_impossible_date_or_deep_nesting_is_a_problem(run, tmp_path, database_url):
    dated = tmp_path / "dated.yaml"
    dated.write_text("franchisees: []\nagreements:\n  - number: A-1\n    start_date: 2026-13-01\n", encoding="utf-8")
    result = run("network", "import", str(dated))
    assert result.exit_code == 1 and f"{dated}:4: '2026-13-01' cannot be read" in result.output
    deep = tmp_path / "deep.yaml"
    deep.write_text("sites: " + "[" * 5000, encoding="utf-8")
    result = run("network", "import", str(deep))
    assert result.exit_code == 1 and f"{deep}:1: " in result.output and "Traceback" not in result.output


def test_a_nul_byte_in_a_site_name_is_refused(run, tmp_path, database_url, db):
    partner = make_franchisee(db, code="P1")
    db.commit()
    path = tmp_path / "sites.csv"
    path.write_text("code,name_zh,franchisee,city\nS-1,好\x00店,P1,上海\nS-2,好店,P1,上海\n", encoding="utf-8")
    result = run("sites", "import", str(path))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert all("\x00" not in s.name_zh for s in _rows(database_url, Site))
    yaml_path = tmp_path / "network.yaml"
    yaml_path.write_text('sites:\n  - code: S-3\n    name_zh: "好\\0店"\n    franchisee: P1\n    city: 上海\n',
                         encoding="utf-8")
    result = run("network", "import", str(yaml_path))
    assert result.exit_code == 1 and f"{yaml_path}:3: " in result.output
    assert "S-3" not in {s.code for s in _rows(database_url, Site)}
