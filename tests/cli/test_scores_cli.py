"""``brandhub score`` and ``brandhub cards publish`` as finance and ops run them."""
from __future__ import annotations

from click.testing import CliRunner
from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models.scoring import CardPublication, SiteScore
from cli.main import cli
from tests.builders import make_franchisee, make_site
from tests.integration.test_scores_service import known_monday


def invoke(database_url: str, *args: str):
    return CliRunner().invoke(cli, ["score", *args], env={"BRANDHUB_DATABASE_URL": database_url},
                              catch_exceptions=False)


def test_score_command_stores_the_quarter_and_reports_sensitivity(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        site_id = known_monday(session, code="SH-CLI-01").id
        make_site(session, make_franchisee(session), code="SH-CLI-02")
        session.commit()
    result = invoke(database_url, "--period", "2026-Q4", "--sensitivity")
    assert result.exit_code == 0, result.output
    assert "SH-CLI-01" in result.output and "2026-Q4: 2 sites scored with brand-health v1, 2 changed" in result.output
    assert "co2_compliance" in result.output and "×0.8" in result.output
    again = invoke(database_url, "--period", "2026-Q4", "--site", "SH-CLI-01")
    assert "1 sites scored with brand-health v1, 0 changed" in again.output
    with Session(engine) as session:
        rows = session.exec(select(SiteScore)).all()
        assert sorted(r.card for r in rows) == ["insufficient", "insufficient"]
        assert site_id in {r.site_id for r in rows}
    engine.dispose()


def test_score_command_refuses_a_bad_period_with_one_line(sqlite_url):
    result = invoke(sqlite_url, "--period", "2026-13")
    assert result.exit_code == 1
    assert "Error: period '2026-13': expected a month like 2026-10 or a quarter like 2026-Q3" in result.output


def test_score_command_names_an_unknown_site(sqlite_url):
    result = invoke(sqlite_url, "--period", "2026-10", "--site", "NOPE")
    assert result.exit_code == 1 and "unknown site code(s): NOPE" in result.output


def publish(database_url: str, *args: str):
    return CliRunner().invoke(cli, ["cards", "publish", *args], env={"BRANDHUB_DATABASE_URL": database_url},
                              catch_exceptions=False)


def test_cards_publish_publishes_a_scored_quarter_once_and_refuses_a_month(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        known_monday(session, code="SH-CLI-01")
        session.commit()
    assert publish(database_url, "--period", "2026-Q4").exit_code == 1          # nothing scored yet
    assert invoke(database_url, "--period", "2026-Q4").exit_code == 0
    result = publish(database_url, "--period", "2026-Q4")
    assert result.exit_code == 0, result.output
    assert "2026-Q4: cards of brand-health v1 published" in result.output
    assert publish(database_url, "--period", "2026-Q4", "--model-version", "1").exit_code == 0   # idempotent
    month = publish(database_url, "--period", "2026-10")
    assert month.exit_code == 1 and "cards are quarterly: give a quarter like 2026-Q3" in month.output
    with Session(engine) as session:
        (row,) = session.exec(select(CardPublication)).all()
        assert (row.period, row.model_id, row.model_version) == ("2026-Q4", "brand-health", 1)
        assert row.published_by.startswith("cli:")
    engine.dispose()
