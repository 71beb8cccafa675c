"""Migration 0011 (issue 17): every existing site gets one open tenure of its partner and agreement."""
from __future__ import annotations

from sqlalchemy import text

from brand_hub import migrate
from brand_hub.db import make_engine

NOW = "2026-03-04 05:06:07"


def test_existing_sites_get_one_open_tenure_from_their_opening_or_creation_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    migrate.upgrade(url, "0010")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO franchisee (id, code, legal_name, name_en, unified_credit_code, contact_name, contact_email,"
            " contact_phone, address, status, created_at) VALUES (1, 'TA01', '甲方', '', '', '', '', '', '', 'active',"
            " :now)"), {"now": NOW})
        conn.execute(text(
            "INSERT INTO agreement (id, number, franchisee_id, start_date, royalty_plan_id, territory, status,"
            " created_at) VALUES (1, 'FC-A', 1, '2025-01-01', 'standard-2026', '', 'active', :now)"), {"now": NOW})
        for site_id, code, agreement, opened in ((1, "SH-01", 1, "2025-02-03"), (2, "SH-02", None, None)):
            conn.execute(text(
                "INSERT INTO site (id, code, name_zh, name_en, franchisee_id, agreement_id, city, region, tier,"
                " address, timezone, opening_hours, area_m2, desks, status, opened_on, agent_url, agent_token_hash,"
                " created_at, updated_at) VALUES (:id, :code, '门店', '', 1, :agreement, '上海', 'east', 'standard',"
                " '', 'Asia/Shanghai', '{}', '0', 0, 'active', :opened, '', '', :now, :now)"),
                {"id": site_id, "code": code, "agreement": agreement, "opened": opened, "now": NOW})
    migrate.upgrade(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT site_id, franchisee_id, agreement_id, starts_on, ends_on, held_from,"
                                 " first_month, last_month FROM site_tenure ORDER BY site_id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 1, 1, "2025-02-03", None, None, None, None),
                                        (2, 1, None, "2026-03-04", None, None, None, None)]
    migrate.downgrade(url, "0010")
