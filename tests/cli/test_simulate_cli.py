"""``brandhub billing simulate`` as finance runs it."""
from __future__ import annotations

import json

from sqlmodel import select

from brand_hub.models.billing import Invoice
from tests.integration.test_billing_simulate import FLAT_12, billed_network


def test_finance_compares_a_draft_file_with_todays_plan_as_a_table_csv_and_json(run, db, tmp_path):
    billed_network(db)
    draft = tmp_path / "flat-12.yaml"
    draft.write_text(FLAT_12, encoding="utf-8")
    table = run("billing", "simulate", "--plan", str(draft), "--from", "2026-09", "--to", "2026-10")
    assert table.exit_code == 0, table.output
    assert "SIMULATION 2026-09 … 2026-10" in table.output
    assert "flat-12: +105,200.00 CNY" in table.output
    assert "partners paying more than 10.0% more: P-B, P-A" in table.output
    assert "1 site-month(s) priced on an estimate" in table.output
    data = json.loads(run("billing", "simulate", "--plan", str(draft), "--from", "2026-09", "--to", "2026-10",
                          "--format", "json", "--agreements", "AG-A").output)
    assert data["total"]["amounts"] == {"current": "75000.00", "flat-12": "87000.00"}
    assert data["risers"] == {"flat-12": ["P-A"]}
    rows = run("billing", "simulate", "--plan", str(draft), "--from", "2026-10", "--to", "2026-10",
               "--format", "csv").output.splitlines()
    assert rows[0] == "level,key,label,revenue,estimated_months,current,flat-12,change:flat-12"
    assert "total,total,,1910000.00,1,220250.00,272650.00,52400.00" in rows
    db.expire_all()
    assert len(db.exec(select(Invoice)).all()) == 2


def test_a_bad_draft_file_or_range_is_refused_with_the_reason_and_line(run, db, tmp_path):
    billed_network(db)
    draft = tmp_path / "typo.yaml"
    draft.write_text(FLAT_12.replace("vat_rate", "vat_rat"), encoding="utf-8")
    refused = run("billing", "simulate", "--plan", str(draft), "--from", "2026-09", "--to", "2026-10")
    assert refused.exit_code == 1
    assert "draft refused" in refused.output and "typo.yaml:" in refused.output and "vat_rat" in refused.output
    reversed_range = run("billing", "simulate", "--plan", str(tmp_path / "typo.yaml"), "--from", "2026-10",
                         "--to", "2026-01")
    assert reversed_range.exit_code == 1
    nothing = run("billing", "simulate", "--from", "2026-09", "--to", "2026-10")
    assert nothing.exit_code == 1 and "name at least one draft" in nothing.output
