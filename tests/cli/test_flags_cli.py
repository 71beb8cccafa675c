"""``brandhub flags evaluate|list`` as HQ runs them against a database."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models.collection import CollectionTarget
from brand_hub.models import Site
from brand_hub.models.compliance import Flag, FlagState, Severity
from tests.builders import make_franchisee, make_site


@pytest.fixture
def sites(database_url):
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        partner = make_franchisee(session, code="SHP")
        down = make_site(session, partner, code="SH-JA-01", agent_url="http://127.0.0.1:1/", city="上海")
        fine = make_site(session, partner, code="BJ-CY-01", agent_url="http://127.0.0.1:1/", city="北京")
        session.add(CollectionTarget(site_id=down.id, last_attempt_at=now, last_success_at=now - timedelta(days=4)))
        session.add(CollectionTarget(site_id=fine.id, last_attempt_at=now, last_success_at=now))
        session.commit()
    yield engine
    engine.dispose()


def test_evaluate_opens_a_flag_for_the_down_agent_and_a_rerun_adds_nothing(run, sites):
    first = run("flags", "evaluate")
    again = run("flags", "evaluate")
    assert first.exit_code == 0 and "evaluated 2 sites" in first.output and "0 opened, 0 resolved" in again.output
    with Session(sites) as session:
        flags = session.exec(select(Flag).where(Flag.rule == "agent-unreachable")).all()
    assert [(f.state.value, f.severity.value) for f in flags] == [("open", "critical")]


def test_evaluate_one_site_and_refuse_an_unknown_code(run, sites):
    assert "evaluated 1 sites" in run("flags", "evaluate", "--site", "BJ-CY-01").output
    unknown = run("flags", "evaluate", "--site", "NOPE")
    assert unknown.exit_code != 0 and "no site with code 'NOPE'" in unknown.output


def test_list_filters_by_severity_rule_and_city(run, sites):
    run("flags", "evaluate")
    critical = run("flags", "list", "--severity", "critical").output
    assert "SH-JA-01" in critical and "agent-unreachable" in critical
    assert "no flags match" in run("flags", "list", "--rule", "agent-unreachable", "--city", "北京").output
    assert "no flags match" in run("flags", "list", "--state", "resolved").output


def test_list_shows_the_worst_flags_first_then_the_newest(run, sites):
    now = datetime.now(timezone.utc)
    with Session(sites) as session:
        site = session.exec(select(Site).where(Site.code == "BJ-CY-01")).one()
        for n, (severity, hours_ago) in enumerate((("minor", 1), ("critical", 30), ("major", 2), ("minor", 3))):
            session.add(Flag(site_id=site.id, franchisee_id=site.franchisee_id, rule=f"rule-{n}", subject="",
                             state=FlagState.open, severity=Severity(severity),
                             opened_at=now - timedelta(hours=hours_ago), evidence={}))
        session.commit()
    listed = [word for line in run("flags", "list").output.splitlines() for word in line.split() if word.startswith("rule-")]
    assert listed == ["rule-1", "rule-2", "rule-0", "rule-3"]
