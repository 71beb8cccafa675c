"""The hub's copy of an amended bucket: the highest revision wins, once, and the amended span is noted."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlmodel import select

from brand_hub.collection.pages import check_page
from brand_hub.collection.store import insert_rows
from brand_hub.models.collection import ReadingAmendment, ReadingBucket
from tests.builders import make_franchisee, make_site

START = datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)


def page(site_id: int, *buckets: tuple[int, int, float, int]) -> list[dict]:
    """(minutes after START, count, mean, revision) → checked rows, as the cycle stores them."""
    records = [{"seq": i + 1, "zone": "desk", "metric": "co2_ppm",
                "bucket_start": (START + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"), "bucket_minutes": 15,
                "count": n, "mean": mean, "min": mean, "max": mean, "revision": revision}
               for i, (m, n, mean, revision) in enumerate(buckets)]
    checked = check_page("readings", {"records": records, "cursor": str(len(records)), "more": False}, site_id, "0")
    assert checked.bad == []
    return checked.rows


def stored(session, site_id: int) -> list[tuple]:
    session.expire_all()
    return [(b.bucket_start, b.count, b.mean, b.revision) for b in session.exec(
        select(ReadingBucket).where(ReadingBucket.site_id == site_id).order_by(ReadingBucket.bucket_start))]


def test_the_highest_revision_of_a_bucket_replaces_the_hubs_copy_and_lower_ones_change_nothing(session):
    site = make_site(session, make_franchisee(session))
    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 6, 600.0, 0), (15, 15, 500.0, 0)))
    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 6, 999.0, 0)))       # a re-read
    assert stored(session, site.id) == [(START, 6, 600.0, 0), (START + timedelta(minutes=15), 15, 500.0, 0)]
    assert session.exec(select(ReadingAmendment)).all() == []

    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 14, 650.0, 2)))      # amended twice
    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 10, 620.0, 1)))      # an older copy
    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 14, 650.0, 2)))      # a re-read

    assert stored(session, site.id)[0] == (START, 14, 650.0, 2)
    [noted] = session.exec(select(ReadingAmendment)).all()
    assert (noted.site_id, noted.first_bucket, noted.last_bucket, noted.buckets) == (site.id, START, START, 1)


def test_a_page_repeating_a_bucket_keeps_its_highest_revision(session):
    site = make_site(session, make_franchisee(session))
    insert_rows(session=session, stream="readings", rows=page(site.id, (0, 6, 600.0, 0), (0, 7, 610.0, 1)))
    assert stored(session, site.id) == [(START, 7, 610.0, 1)]


def test_a_revision_that_is_not_a_whole_number_is_quarantined(session):
    record = {"zone": "desk", "metric": "co2_ppm", "bucket_start": "2026-11-20T07:00:00Z", "count": 1, "mean": 600,
              "min": 600, "max": 600, "revision": -1}
    checked = check_page("readings", {"records": [record], "cursor": "1"}, 1, "0")
    assert checked.rows == [] and "revision" in checked.bad[0][1]


def test_the_flag_job_takes_the_pending_amendments_into_its_run(engine, session, settings):
    from brand_hub.compliance.jobs import evaluate_flags

    site = make_site(session, make_franchisee(session))
    session.add(ReadingAmendment(site_id=site.id, first_bucket=START, last_bucket=START, buckets=1))
    session.commit()
    evaluate_flags(settings=settings, engine=engine, now=START + timedelta(days=1))
    session.expire_all()
    [done] = session.exec(select(ReadingAmendment)).all()
    assert done.flagged_at == START + timedelta(days=1) and done.scored_at is None
