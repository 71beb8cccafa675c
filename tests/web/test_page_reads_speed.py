"""Issue 10 (speed of the pages): the reads made faster return what the former reads returned.

Each test compares the new read with the former one, written out here, on the same data (SQLite and
PostgreSQL): the same rows in the same order, page after page.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from brand_hub.compliance import FlagFilters, flag_select, reads
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.paging import paginate
from brand_hub.scope import Scope
from tests.builders import make_franchisee, make_site

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def _flags(session):
    """Three partners, sites in two cities, flags of every severity and state, ties in the opening time, flags
    with no opening time and partner-wide flags (no site)."""
    partners = [make_franchisee(session) for _ in range(3)]
    sites = [make_site(session, partners[n % 3], city=("上海", "北京")[n % 2]) for n in range(7)]
    severities, states = list(Severity), list(FlagState)
    for n in range(130):
        site = sites[n % 7] if n % 9 else None
        partner = partners[(n % 7) % 3] if site else partners[n % 3]
        session.add(Flag(site_id=site.id if site else None, franchisee_id=partner.id, rule=("a", "b", "c")[n % 3],
                         open_key=f"k{n}", severity=severities[n % len(severities)], state=states[n % len(states)],
                         opened_at=None if n % 11 == 0 else NOW - timedelta(hours=n % 13)))
    session.flush()
    return partners, sites


def _former(session, scope: Scope, filters: FlagFilters, page: int, newest_first: bool = False):
    """The queue's read before issue 10: the whole rows sorted and counted."""
    stmt = flag_select(filters, NOW)
    if not scope.is_hq:
        stmt = stmt.where(Flag.franchisee_id == scope.franchisee_id)
    if scope.sites is not None:
        stmt = stmt.where(Flag.site_id.in_(scope.sites))
    if newest_first:
        stmt = stmt.order_by(None).order_by(Flag.opened_at.desc().nulls_last(), Flag.id.desc())
    return paginate(session, stmt, page=page)


def _ids(page):
    return [(f.id, s.id if s else None, p.id) for f, s, p in page.items]


def test_the_flag_queue_reads_the_same_rows_in_the_same_order_page_after_page(session):
    partners, sites = _flags(session)
    scopes = [Scope.hq(), Scope.partner(partners[1].id), Scope.partner(partners[0].id, [sites[0].id, sites[3].id])]
    filters = [FlagFilters(), FlagFilters(state="all"), FlagFilters(state="open"), FlagFilters(severity="major"),
               FlagFilters(rule="b", state="all"), FlagFilters(partner=partners[2].code, state="all"),
               FlagFilters(city="北京", state="all"), FlagFilters(site=sites[4].code, state="all"),
               FlagFilters(age="1d", state="all")]
    compared = 0
    for scope in scopes:
        for f in filters:
            for newest_first in (False, True):
                for number in (1, 2, 3):
                    new = reads.flags(session=session, scope=scope, filters=f, now=NOW, page=number,
                                      newest_first=newest_first)
                    old = _former(session, scope, f, number, newest_first)
                    assert (new.total, new.page, new.per_page) == (old.total, old.page, old.per_page)
                    assert _ids(new) == _ids(old), (scope, f, newest_first, number)
                    compared += len(old.items)
    assert compared > 100  # the data fills more than one page


def test_an_app_outside_tests_puts_its_start_up_objects_out_of_the_collectors_way(sqlite_url, tmp_path):
    """Full collections walked every start-up object again (issue 10: the spikes of p95); a testing app leaves the
    collector alone (a suite builds hundreds of apps)."""
    import gc

    from brand_hub import create_app
    from brand_hub.settings import Settings

    gc.unfreeze()
    create_app(Settings(env="testing", database_url=sqlite_url, instance_path=tmp_path / "t", secret_key="test"))
    assert gc.get_freeze_count() == 0
    try:
        create_app(Settings(env="development", database_url=sqlite_url, instance_path=tmp_path / "d",
                            secret_key="test"))
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_one_read_of_the_card_publications_gives_what_the_former_three_reads_gave(session):
    """The quarters (newest publication of each, newest first), the cards in force and the days they were
    published, from ``scores.publications`` as from their own statements before issue 10."""
    from sqlmodel import select

    from brand_hub import scores
    from brand_hub.dashboard import pages
    from brand_hub.models.scoring import CardPublication

    for n, (period, model, version, hours) in enumerate([
            ("2026-Q1", "m", 1, 10), ("2026-Q2", "m", 1, 5), ("2026-Q2", "m", 2, 30), ("2026-Q3", "m", 2, 1),
            ("2025-Q4", "m", 1, 100), ("2026-Q2", "other", 1, 20), ("2025-Q1", "m", 1, 200),
            ("2025-Q2", "m", 1, 190), ("2025-Q3", "m", 1, 150), ("2024-Q4", "m", 1, 300)]):
        session.add(CardPublication(period=period, model_id=model, model_version=version, published_by="hq",
                                    published_at=NOW - timedelta(days=hours, hours=n)))
    session.flush()
    rows = session.exec(select(CardPublication).order_by(CardPublication.period.desc(),
                                                         CardPublication.published_at.desc())).all()
    former_quarters: dict = {}
    for row in rows:
        former_quarters.setdefault(row.period, pages.Published(row.period, row.model_id, row.model_version))
    found = scores.publications(session=session)
    for limit in (2, 6, 20):
        assert pages.published_quarters(session=session, limit=limit, publications=found) \
            == pages.published_quarters(session=session, limit=limit) == list(former_quarters.values())[:limit]
    former_keys = {(r.period, r.model_id, r.model_version) for r in rows}
    assert scores.published_keys(session=session, publications=found) == scores.published_keys(session=session) \
        == former_keys
    for tz in ("Asia/Shanghai", "UTC"):
        assert scores.publication_dates(session=session, tz=tz, publications=found) \
            == scores.publication_dates(session=session, tz=tz)
    assert scores.publication_dates(session=session, tz="Asia/Shanghai", publications=found)[("2026-Q3", "m", 2)] \
        == (NOW - timedelta(days=1, hours=3)).astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_the_homes_revenue_to_dos_are_the_sites_the_former_not_in_read_found(app):
    """The partner's home asks for the month's revenue report of each live site with an agreement and no report
    (an estimate is no report): NOT EXISTS now, NOT IN before; the same sites, in the same order."""
    from sqlmodel import Session, select

    from brand_hub.models import Site, SiteStatus
    from brand_hub.models.billing import ReportSource, RevenueReport
    from franchisee_portal import home_page
    from tests.builders import make_agreement, make_revenue_report

    now = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)   # the month to report: 2026-11
    with Session(app.extensions["brandhub.engine"], expire_on_commit=False) as session:
        partner, other = make_franchisee(session), make_franchisee(session)
        agreement, theirs = make_agreement(session, partner), make_agreement(session, other)
        sites = [make_site(session, partner, agreement, code=f"S9{n:03d}") for n in range(8)]
        sites.append(make_site(session, partner, None, code="S9100"))                                # no agreement
        sites.append(make_site(session, partner, agreement, code="S9101", status=SiteStatus.suspended))
        foreign = make_site(session, other, theirs, code="S9200")
        make_revenue_report(session, sites[0], "2026-11", "1000")
        make_revenue_report(session, sites[1], "2026-11", "900", source=ReportSource.estimate)
        make_revenue_report(session, sites[2], "2026-11", "900", source=ReportSource.import_)
        make_revenue_report(session, sites[3], "2026-10", "900")
        make_revenue_report(session, sites[4], "2026-11", "900", source=ReportSource.estimate)
        make_revenue_report(session, sites[4], "2026-11", "950", version=2)
        make_revenue_report(session, foreign, "2026-11", "900")
        session.commit()
        ids = [s.id for s in sites] + [foreign.id]
        reported = select(RevenueReport.site_id).where(RevenueReport.period == "2026-11",
                                                       RevenueReport.source != ReportSource.estimate)
        former = [code for _id, code in session.exec(select(Site.id, Site.code).where(
            Site.id.in_(ids), Site.status == SiteStatus.active, Site.agreement_id.is_not(None),
            Site.id.not_in(reported)).order_by(Site.code))]
        with app.test_request_context("/"):
            found, _total = home_page.todos(session=session, franchisee_id=partner.id, site_ids=ids, money=True,
                                            now=now, tz="Asia/Shanghai", report_due_day=10, limit=100)
    assert [t.site_code for t in found if t.kind == "revenue"] == former \
        == ["S9001", "S9003", "S9005", "S9006", "S9007"]


def test_the_queues_cities_are_the_distinct_cities_of_the_sites(session):
    """One index probe a city (a recursive CTE) finds what SELECT DISTINCT found, on both databases."""
    from sqlmodel import select

    from brand_hub.compliance.reads import distinct_values, queue_options
    from brand_hub.models import Site

    assert session.exec(distinct_values(Site.__table__.c.city)).all() == []
    partner = make_franchisee(session)
    for n, city in enumerate(["上海", "北京", "上海", "", "Zürich", "zürich", "a", "B", "北京", "深圳", "a b", "a"]):
        make_site(session, partner, city=city, code=f"SC{n:03d}")
    found = session.exec(distinct_values(Site.__table__.c.city)).all()
    assert len(found) == len(set(found))
    assert set(found) == set(session.exec(select(Site.city).distinct()).all())
    assert queue_options(session=session)["cities"] == sorted({"上海", "北京", "Zürich", "zürich", "a", "B", "深圳",
                                                               "a b"})


def test_the_queues_figures_from_one_grouped_read_are_the_former_three(session):
    """Counts by state, unresolved flags by rule (with a sample flag each) and the rules, as ``counts_by_state``,
    ``current_by_rule`` and SELECT DISTINCT gave them."""
    from sqlmodel import select

    from brand_hub import compliance

    empty = reads.queue_figures(session=session)
    assert (empty.counts, empty.rules, empty.by_rule) == ({}, [], [])
    _flags(session)
    found = reads.queue_figures(session=session)
    assert found.counts == compliance.counts_by_state(session=session)
    assert [(f.id, n) for f, n in found.by_rule] == [(f.id, n) for f, n in compliance.current_by_rule(session=session)]
    assert found.rules == sorted(set(session.exec(select(Flag.rule).distinct()).all())) == ["a", "b", "c"]
    assert reads.queue_options(session=session, rules=found.rules) == reads.queue_options(session=session)
