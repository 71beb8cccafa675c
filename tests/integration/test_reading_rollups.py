"""Hourly and daily rollups stay equal to the 15-minute buckets: as pages land, as late readings
amend them, when a page is read again, and when a rebuild runs over written-around data."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlmodel import select

from brand_hub.collection import rollups
from brand_hub.collection.pages import check_page
from brand_hub.collection.store import insert_rows
from brand_hub.models.collection import ReadingBucket
from brand_hub.models.rollups import ReadingDaily, ReadingHourly
from tests.builders import make_franchisee, make_site

START = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)   # two UTC days, so days are rolled up too


def page(site_id: int, buckets: list[tuple[int, str, int, float, int]]) -> list[dict]:
    """(minutes after START, zone, count, mean, revision) → checked rows, as the cycle stores them."""
    records = [{"seq": i + 1, "zone": zone, "metric": "co2_ppm",
                "bucket_start": (START + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"), "bucket_minutes": 15,
                "count": n, "mean": mean, "min": mean - 10, "max": mean + 10, "revision": revision}
               for i, (m, zone, n, mean, revision) in enumerate(buckets)]
    checked = check_page("readings", {"records": records, "cursor": str(len(records)), "more": False}, site_id, "0")
    assert checked.bad == []
    return checked.rows


def hours_of(session, site_id: int) -> dict:
    session.expire_all()
    return {(h.hour_start, h.zone): (h.total, h.n, h.high, h.low, h.buckets, h.minutes)
            for h in session.exec(select(ReadingHourly).where(ReadingHourly.site_id == site_id))}


def test_a_pulled_page_rolls_up_into_exact_hours_and_days(session):
    site = make_site(session, make_franchisee(session))
    insert_rows(session=session, stream="readings",
                rows=page(site.id, [(0, "A", 15, 600.0, 0), (15, "A", 6, 700.0, 0), (30, "B", 20, 500.0, 0),
                                    (120, "A", 15, 800.0, 0)]))
    assert hours_of(session, site.id) == {
        (START, "A"): (15 * 600.0 + 6 * 700.0, 21, 710.0, 590.0, 2, 15 + 6),
        (START, "B"): (20 * 500.0, 20, 510.0, 490.0, 1, 15),                   # 20 readings, 15 minutes at most
        (START + timedelta(hours=2), "A"): (15 * 800.0, 15, 810.0, 790.0, 1, 15),
    }
    days = {(d.day_start, d.zone): (d.n, d.buckets) for d in session.exec(select(ReadingDaily))}
    assert days == {(datetime(2026, 11, 20, tzinfo=timezone.utc), "A"): (21, 2),
                    (datetime(2026, 11, 20, tzinfo=timezone.utc), "B"): (20, 1),
                    (datetime(2026, 11, 21, tzinfo=timezone.utc), "A"): (15, 1)}
    assert rollups.differences(session=session) == 0


def test_an_amended_bucket_recomputes_its_hour_and_a_re_read_changes_nothing(session):
    site = make_site(session, make_franchisee(session))
    insert_rows(session=session, stream="readings", rows=page(site.id, [(0, "A", 6, 600.0, 0), (15, "A", 15, 500.0, 0)]))
    insert_rows(session=session, stream="readings", rows=page(site.id, [(0, "A", 14, 650.0, 1)]))   # late readings
    insert_rows(session=session, stream="readings", rows=page(site.id, [(0, "A", 6, 600.0, 0)]))    # an older copy
    assert hours_of(session, site.id) == {(START, "A"): (14 * 650.0 + 15 * 500.0, 29, 660.0, 490.0, 2, 29)}
    assert rollups.differences(session=session) == 0


def test_many_random_pages_leave_no_difference_between_rollups_and_a_fresh_group_by(session):
    rng = random.Random(15)
    sites = [make_site(session, make_franchisee(session)) for _ in range(3)]
    for _ in range(12):
        for site in sites:
            buckets = [(15 * rng.randrange(0, 4 * 30), rng.choice("ABC"), rng.randrange(1, 21),
                        round(rng.uniform(400, 1500), 3), rng.randrange(0, 3)) for _ in range(25)]
            insert_rows(session=session, stream="readings", rows=page(site.id, buckets))
    assert session.exec(select(ReadingHourly)).first() is not None
    assert rollups.differences(session=session) == 0


def test_a_rebuild_rolls_up_buckets_written_around_the_ingest_path_and_drops_hours_without_buckets(session):
    site = make_site(session, make_franchisee(session))
    insert_rows(session=session, stream="readings", rows=page(site.id, [(0, "A", 15, 600.0, 0)]))
    session.add(ReadingBucket(site_id=site.id, zone="A", metric="co2_ppm", bucket_start=START + timedelta(hours=3),
                              count=15, mean=900.0, min=880.0, max=920.0))
    session.execute(text("DELETE FROM reading_bucket WHERE bucket_start = :at").bindparams(at=START.replace(tzinfo=None)
                    if session.get_bind().dialect.name == "sqlite" else START))
    session.flush()
    assert rollups.differences(session=session) > 0

    rollups.rebuild(session=session, site_ids=[site.id])
    assert set(hours_of(session, site.id)) == {(START + timedelta(hours=3), "A")}
    assert rollups.differences(session=session) == 0
    assert rollups.rebuild(session=session, site_ids=[site.id]) == 1   # again: the same hour, the same rows
    assert rollups.differences(session=session) == 0
