"""``brandhub sites import`` moving a site (issue 17): a new partner in the file is a move, effective the
``moved_on`` date of the row (or today), audited; a move that cannot be made is refused at its line."""
from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from brand_hub import tenure
from brand_hub.db import make_engine
from brand_hub.models import AuditEvent, Franchisee, Site
from brand_hub.models.tenure import SiteTenure
from tests.builders import make_agreement, make_franchisee, make_site

HEADER = "code,name_zh,franchisee,agreement,city,desks,status,opened_on,moved_on\n"


def _network(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        a, b = make_franchisee(session, code="TA01"), make_franchisee(session, code="TB01")
        fc_a = make_agreement(session, a, number="FC-A")
        make_agreement(session, b, number="FC-B")
        make_site(session, a, fc_a, code="SH-MV-01",
                  name_zh="方寸空间·静安寺", desks=100, opened_on=date(2025, 1, 1))
        session.commit()
    return engine


def _tenures(engine) -> list[tuple[str, date, date | None]]:
    with Session(engine) as session:
        partners = {p.id: p.code for p in session.exec(select(Franchisee))}
        return [(partners[t.franchisee_id], t.starts_on, t.ends_on)
                for t in session.exec(select(SiteTenure).order_by(SiteTenure.starts_on))]


def test_a_row_naming_another_partner_moves_the_site_from_its_moved_on_date(run, tmp_path, database_url):
    engine = _network(database_url)
    source = tmp_path / "sites.csv"
    source.write_text(HEADER + "SH-MV-01,方寸空间·静安寺,TB01,FC-B,上海,100,active,2025-01-01,2026-11-16\n",
                      encoding="utf-8")
    result = run("sites", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output
    assert _tenures(engine) == [("TA01", date(2025, 1, 1), date(2026, 11, 16)), ("TB01", date(2026, 11, 16), None)]
    with Session(engine) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "site.move")).one().entity_id == "SH-MV-01"
        assert session.exec(select(Site)).one().franchisee_id == session.exec(
            select(Franchisee).where(Franchisee.code == "TB01")).one().id
    again = run("sites", "import", str(source))
    assert again.exit_code == 0 and "1 unchanged" in again.output
    engine.dispose()


def test_without_a_date_the_move_takes_effect_today_at_the_site(run, tmp_path, database_url):
    engine = _network(database_url)
    source = tmp_path / "sites.csv"
    source.write_text(HEADER + "SH-MV-01,方寸空间·静安寺,TB01,FC-B,上海,100,active,2025-01-01,\n", encoding="utf-8")
    assert run("sites", "import", str(source)).exit_code == 0
    with Session(engine) as session:
        today = tenure.local_today(session.exec(select(Site)).one())
    assert _tenures(engine)[-1] == ("TB01", today, None)
    engine.dispose()


def test_a_move_into_the_future_or_before_the_current_tenure_is_refused_at_its_line(run, tmp_path, database_url):
    engine = _network(database_url)
    source = tmp_path / "sites.csv"
    future = (date.today() + timedelta(days=30)).isoformat()
    source.write_text(HEADER + f"SH-MV-01,方寸空间·静安寺,TB01,FC-B,上海,100,active,2025-01-01,{future}\n",
                      encoding="utf-8")
    result = run("sites", "import", str(source))
    assert result.exit_code == 1
    assert f"{source}:2: site SH-MV-01: moved_on: a move takes effect today or earlier, not on {future}" in result.output
    assert _tenures(engine) == []
    engine.dispose()
