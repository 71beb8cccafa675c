"""Keeping pulled pages: COPY through a staging table on PostgreSQL, several sites' pages in one
transaction (``store_pages``), the one revision rule, the quarantine and exact rollups."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlmodel import func, select

from brand_hub.collection import rollups
from brand_hub.collection.pages import check_page
from brand_hub.collection.store import Pulled, claim, ensure_targets, insert_rows, store_pages
from brand_hub.db import is_postgres
from brand_hub.models.collection import CollectionTarget, QuarantinedRecord, ReadingAmendment, ReadingBucket
from brand_hub.models.rollups import ReadingDaily, ReadingHourly
from tests.builders import make_franchisee, make_site

START = datetime(2026, 11, 20, 22, 0, tzinfo=timezone.utc)   # two UTC days
NOW = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


def record(seq: int, minutes: int, zone: str = "desk", mean: float = 600.0, count: int = 15, revision: int = 0,
           metric: str = "co2_ppm") -> dict:
    return {"seq": seq, "zone": zone, "metric": metric,
            "bucket_start": (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_minutes": 15, "count": count, "mean": mean, "min": mean - 5, "max": mean + 5,
            "revision": revision}


def checked(site_id: int, records: list[dict], after: str = "0"):
    cursor = str(int(after) + max(len(records), 1))
    return check_page("readings", {"records": records, "cursor": cursor, "more": False}, site_id, after)


def leased_sites(session, count: int, owner: str = "me") -> list[int]:
    partner = make_franchisee(session)
    ids = [make_site(session, partner).id for _ in range(count)]
    ensure_targets(session=session, site_ids=ids)
    for site_id in ids:
        assert claim(session=session, site_id=site_id, owner=owner, now=NOW, lease=LEASE) is not None
    session.commit()
    return ids


def keep(session, owner: str, *pages: tuple[int, object]) -> set[int]:
    lost = store_pages(session=session, owner=owner, now=NOW, lease=LEASE,
                       pulled=[Pulled(site_id, "readings", page) for site_id, page in pages])
    session.commit()
    return lost


def everything(session) -> dict:
    """All the readings' tables as plain values (what a re-read must not change)."""
    session.expire_all()
    return {
        "buckets": sorted((b.site_id, b.zone, b.metric, b.bucket_start, b.count, b.mean, b.revision)
                          for b in session.exec(select(ReadingBucket))),
        "hours": sorted((h.site_id, h.hour_start, h.zone, h.metric, h.total, h.n, h.buckets, h.minutes)
                        for h in session.exec(select(ReadingHourly))),
        "days": sorted((d.site_id, d.day_start, d.zone, d.metric, d.total, d.n)
                       for d in session.exec(select(ReadingDaily))),
        "amendments": session.exec(select(func.count()).select_from(ReadingAmendment)).one(),
    }


def test_pages_of_several_sites_are_kept_in_one_transaction_with_their_cursors_and_rollups(session):
    a, b = leased_sites(session, 2)
    first = checked(a, [record(1, 0), record(2, 15, zone="hall", mean=700.0)])
    second = checked(a, [record(3, 120)], after=first.cursor)
    other = checked(b, [record(1, 30, mean=900.0)])
    assert keep(session, "me", (a, first), (a, second), (b, other)) == set()

    session.expire_all()
    cursors = {t.site_id: t.cursor_readings for t in session.exec(select(CollectionTarget))}
    assert cursors == {a: "3", b: "1"}
    assert len(everything(session)["buckets"]) == 4
    hours = {(h.site_id, h.hour_start, h.zone): h.n for h in session.exec(select(ReadingHourly))}
    assert hours == {(a, START, "desk"): 15, (a, START, "hall"): 15, (a, START + timedelta(hours=2), "desk"): 15,
                     (b, START, "desk"): 15}
    assert rollups.differences(session=session) == 0


def test_a_page_read_again_changes_nothing_per_page_or_batched(session):
    [site] = leased_sites(session, 1)
    page = checked(site, [record(1, 0, count=6), record(2, 15), record(3, 75, zone="hall", revision=1)])
    insert_rows(session=session, stream="readings", rows=page.rows)
    session.commit()
    before = everything(session)
    assert before["amendments"] == 1     # the bucket at revision 1, noted once

    insert_rows(session=session, stream="readings", rows=page.rows)
    session.commit()
    assert keep(session, "me", (site, page), (site, page)) == set()
    assert everything(session) == before
    assert rollups.differences(session=session) == 0


def test_a_higher_revision_replaces_the_bucket_in_a_batch_and_is_noted_as_an_amendment(session):
    a, b = leased_sites(session, 2)
    keep(session, "me", (a, checked(a, [record(1, 0, count=6, mean=600.0), record(2, 15)])),
         (b, checked(b, [record(1, 0)])))
    keep(session, "me", (a, checked(a, [record(3, 0, count=14, mean=650.0, revision=2)], after="2")),
         (b, checked(b, [record(2, 0, count=3, mean=100.0, revision=0)], after="1")))     # b: same revision
    session.expire_all()
    buckets = {(x.site_id, x.bucket_start): (x.count, x.mean, x.revision) for x in session.exec(select(ReadingBucket))}
    assert buckets[(a, START)] == (14, 650.0, 2)
    assert buckets[(b, START)] == (15, 600.0, 0)
    [noted] = session.exec(select(ReadingAmendment)).all()
    assert (noted.site_id, noted.first_bucket, noted.last_bucket, noted.buckets) == (a, START, START, 1)
    hour = session.exec(select(ReadingHourly).where(ReadingHourly.site_id == a, ReadingHourly.zone == "desk")).one()
    assert (hour.n, hour.total) == (14 + 15, 14 * 650.0 + 15 * 600.0)
    assert rollups.differences(session=session) == 0


def test_a_key_repeated_in_a_batch_keeps_its_highest_revision_whatever_the_order(session):
    [site] = leased_sites(session, 1)
    first = checked(site, [record(1, 0, count=7, mean=610.0, revision=1), record(2, 0, count=6, revision=0)])
    second = checked(site, [record(3, 0, count=9, mean=620.0, revision=3), record(4, 0, count=8, revision=2)],
                     after=first.cursor)
    keep(session, "me", (site, first), (site, second))
    session.expire_all()
    [bucket] = session.exec(select(ReadingBucket)).all()
    assert (bucket.count, bucket.mean, bucket.revision) == (9, 620.0, 3)
    assert rollups.differences(session=session) == 0


def test_bad_records_are_quarantined_with_their_reasons_while_the_good_ones_land(session):
    a, b = leased_sites(session, 2)
    bad_metric = dict(record(2, 15), metric="radon")
    bad_range = record(3, 30, mean=20000.0)
    bad_time = dict(record(4, 45), bucket_start="yesterday")
    page = checked(a, [record(1, 0), bad_metric, bad_range, bad_time, "not a record"])
    keep(session, "me", (a, page), (b, checked(b, [record(1, 0)])))

    session.expire_all()
    assert {x.site_id for x in session.exec(select(ReadingBucket))} == {a, b}
    quarantined = session.exec(select(QuarantinedRecord).order_by(QuarantinedRecord.id)).all()
    assert [(q.site_id, q.stream, q.cursor, q.record) for q in quarantined] == [
        (a, "readings", page.cursor, r) for r in (bad_metric, bad_range, bad_time, "not a record")]
    reasons = [q.reason for q in quarantined]
    assert "radon" in reasons[0] and "outside" in reasons[1] and "ISO 8601" in reasons[2] and "object" in reasons[3]


def test_a_site_whose_lease_was_lost_keeps_nothing_while_the_others_are_kept(session):
    mine, taken = leased_sites(session, 2)
    session.execute(text("UPDATE collection_target SET lease_owner = 'someone else' WHERE site_id = :s"),
                    {"s": taken})
    session.commit()
    lost = keep(session, "me", (mine, checked(mine, [record(1, 0)])),
                (taken, checked(taken, [record(1, 0), dict(record(2, 15), metric="radon")])))
    assert lost == {taken}
    session.expire_all()
    assert {x.site_id for x in session.exec(select(ReadingBucket))} == {mine}
    assert session.exec(select(QuarantinedRecord)).all() == []
    cursors = {t.site_id: (t.cursor_readings, t.lease_owner) for t in session.exec(select(CollectionTarget))}
    assert cursors == {mine: ("1", "me"), taken: ("0", "someone else")}


def test_many_random_batches_leave_rollups_equal_to_a_fresh_group_by(session):
    rng = random.Random(1515)
    sites = leased_sites(session, 3)
    seq = {site: 0 for site in sites}
    for _ in range(6):
        pulled = []
        for site in sites:
            for _page in range(rng.randrange(1, 3)):
                records = []
                for _ in range(rng.randrange(1, 30)):
                    seq[site] += 1
                    records.append(record(seq[site], 15 * rng.randrange(0, 4 * 30), zone=rng.choice("ABC"),
                                          mean=round(rng.uniform(400, 1500), 3), count=rng.randrange(1, 21),
                                          revision=rng.randrange(0, 3)))
                after = str(seq[site] - len(records))
                pulled.append((site, checked(site, records, after=after)))
        keep(session, "me", *pulled)
    assert session.exec(select(ReadingDaily)).first() is not None
    assert rollups.differences(session=session) == 0


def test_on_postgresql_new_hours_are_copied_straight_in_and_hours_with_readings_go_through_the_staging_table(
        session):
    [site] = leased_sites(session, 1)
    insert_rows(session=session, stream="readings", rows=checked(site, [record(1, 0), record(2, 15)]).rows)
    if is_postgres(session):     # a new hour: every bucket it has is in the page, COPYed into reading_bucket
        assert not session.execute(text("SELECT to_regclass('pg_temp.reading_bucket_stage') IS NOT NULL")).scalar_one()
    session.commit()
    # the same hour again (a later bucket, an amended one) and a new hour: only the first go through the stage
    insert_rows(session=session, stream="readings",
                rows=checked(site, [record(3, 30), record(1, 0, mean=610.0, revision=1), record(4, 60)], "2").rows)
    if is_postgres(session):
        assert session.execute(text("SELECT COUNT(*) FROM pg_temp.reading_bucket_stage")).scalar_one() == 2
    session.commit()
    assert len(everything(session)["buckets"]) == 4
    assert rollups.differences(session=session) == 0


def test_many_threads_hand_pages_to_one_writer_and_a_lost_lease_fails_only_its_site(engine, session):
    from concurrent.futures import ThreadPoolExecutor

    from brand_hub.collection.store import LeaseLost
    from brand_hub.collection.writer import PageWriter

    sites = leased_sites(session, 6)
    session.execute(text("UPDATE collection_target SET lease_owner = 'someone else' WHERE site_id = :s"),
                    {"s": sites[-1]})
    session.commit()

    def pull(site_id: int) -> str:
        after = "0"
        try:
            for k in range(3):
                page = checked(site_id, [record(1, 15 * k, zone=z, mean=500.0 + k) for z in "AB"], after=after)
                writer.keep(site_id=site_id, stream="readings", page=page)
                after = page.cursor
        except LeaseLost:
            return "lost"
        return after

    with PageWriter(engine=engine, owner="me", lease=LEASE, clock=lambda: NOW, batch=4) as writer:
        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = list(pool.map(pull, sites))

    assert outcomes == ["6"] * 5 + ["lost"]
    session.expire_all()
    cursors = {t.site_id: t.cursor_readings for t in session.exec(select(CollectionTarget))}
    assert cursors == {**{s: "6" for s in sites[:-1]}, sites[-1]: "0"}
    assert session.exec(select(func.count()).select_from(ReadingBucket)).one() == 5 * 6
    assert rollups.differences(session=session) == 0
