"""Ingest's two roads stay exact: new hours (COPYed, their rollups computed from the batch) and hours that
already hold readings (staged, upserted, their rollups re-read); and without a foreign key to site, rows of
an unknown site are refused before anything is written and a site with readings is not deleted."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import exc, text
from sqlmodel import select

from brand_hub.collection import rollups
from brand_hub.collection.store import UnknownSite, insert_rows
from brand_hub.models.rollups import ReadingDaily, ReadingHourly
from tests.builders import make_franchisee, make_site
from tests.integration.test_collection_ingest import START, checked, everything, keep, leased_sites, record


def rollup_rows(session) -> dict:
    """The rollups to the last bit (repr of each float)."""
    session.expire_all()
    return {
        "hours": sorted((h.site_id, h.hour_start, h.zone, h.metric, repr(h.total), h.n, repr(h.high), repr(h.low),
                         h.buckets, h.minutes) for h in session.exec(select(ReadingHourly))),
        "days": sorted((d.site_id, d.day_start, d.zone, d.metric, repr(d.total), d.n, repr(d.high), repr(d.low),
                        d.buckets, d.minutes) for d in session.exec(select(ReadingDaily))),
    }


def test_rollups_computed_from_the_batch_equal_a_fresh_group_by_to_the_last_bit(session):
    rng = random.Random(21)
    sites = leased_sites(session, 2)
    pulled, seq = [], 0
    for site in sites:      # two UTC days of new hours, values whose sums depend on the order they are added in
        records = []
        for minutes in range(0, 26 * 60, 15):
            for zone in ("A", "B"):
                seq += 1
                mean = rng.uniform(400, 1500)
                records.append(dict(record(seq, minutes, zone=zone, mean=mean, count=rng.randrange(1, 30)),
                                    min=mean - rng.random(), max=mean + rng.random()))
        rng.shuffle(records)    # a page need not come in time order
        pulled.append((site, checked(site, records, after="0")))
    keep(session, "me", *pulled)
    computed = rollup_rows(session)
    assert len(computed["hours"]) == 2 * 2 * 26 and len(computed["days"]) == 2 * 2 * 2

    rollups.rebuild(session=session)        # the same rows by PostgreSQL's (SQLite's) own GROUP BY
    session.commit()
    assert rollup_rows(session) == computed
    assert rollups.differences(session=session) == 0


def test_a_reread_hour_a_late_bucket_and_a_new_hour_of_the_same_day_in_one_batch(session):
    [site] = leased_sites(session, 1)
    first = checked(site, [record(1, 0), record(2, 15, mean=700.0)])          # 22:00, day one
    keep(session, "me", (site, first))
    before = everything(session)
    # again: the page read twice (nothing new), then a new hour of the same day and one of the next day
    later = checked(site, [record(3, 60, mean=650.0), record(4, 120, mean=610.0)], after="2")
    keep(session, "me", (site, first), (site, later))
    assert len(everything(session)["buckets"]) == len(before["buckets"]) + 2
    assert rollups.differences(session=session) == 0
    # a late bucket in an hour that had none, in a day that has hours; and one amending a bucket already there
    late = checked(site, [record(5, -60, mean=555.0), record(6, 15, mean=720.0, revision=1)], after="4")
    keep(session, "me", (site, late))
    assert rollups.differences(session=session) == 0
    day = session.exec(select(ReadingDaily).where(ReadingDaily.day_start == START.replace(hour=0))).one()
    assert (day.buckets, day.n) == (4, 4 * 15)
    assert day.total == ((555.0 * 15) + (600.0 * 15 + 720.0 * 15)) + 650.0 * 15   # hour by hour, in order


def test_readings_of_an_unknown_site_are_refused_before_anything_is_written(session):
    [site] = leased_sites(session, 1)
    rows = checked(site, [record(1, 0)]).rows + checked(site + 1000, [record(1, 15)]).rows
    with pytest.raises(UnknownSite, match=str(site + 1000)):
        insert_rows(session=session, stream="readings", rows=rows)
    session.rollback()
    assert everything(session)["buckets"] == [] and rollup_rows(session)["hours"] == []


def test_a_site_with_readings_cannot_be_deleted_and_one_without_can(session):
    partner = make_franchisee(session)
    kept, bare = make_site(session, partner), make_site(session, partner)
    session.commit()
    insert_rows(session=session, stream="readings", rows=checked(kept.id, [record(1, 0)]).rows)
    session.commit()
    with pytest.raises(exc.DatabaseError, match="cannot be deleted"):
        session.execute(text("DELETE FROM site WHERE id = :id"), {"id": kept.id})
    session.rollback()
    session.execute(text("DELETE FROM site WHERE id = :id"), {"id": bare.id})
    session.commit()
    assert session.execute(text("SELECT COUNT(*) FROM site")).scalar_one() == 1


def test_records_quarantined_in_a_batch_are_stored_as_one_by_one(session):
    from brand_hub.collection.store import quarantine
    from brand_hub.models.collection import QuarantinedRecord
    from tests.integration.test_collection_ingest import NOW

    a, b = leased_sites(session, 2)
    bad = [None, "不是记录", 7, [1, "二"], dict(record(1, 0), metric="radon", note="温度 \"引号\" \\ 反斜杠")]
    page = checked(a, bad)
    keep(session, "me", (a, page))
    quarantine(session=session, site_id=b, stream="readings", cursor=page.cursor, bad=page.bad, at=NOW)
    session.commit()
    session.expire_all()
    stored = {site: [(q.stream, q.cursor, q.record, q.reason, q.received_at)
                     for q in session.exec(select(QuarantinedRecord).where(QuarantinedRecord.site_id == site)
                                           .order_by(QuarantinedRecord.id))] for site in (a, b)}
    assert len(stored[a]) == len(bad) and stored[a] == stored[b]
    assert [r for _s, _c, r, _why, _at in stored[a]] == bad


def test_rows_out_of_order_repeated_in_another_time_zone_or_without_readings_land_as_written_one_by_one(session):
    """A batch's rollups are added up as its rows come; the series and days that do not come in time order,
    one bucket per start, are sorted and made unique. To the last bit, the batch leaves what the same rows
    written one at a time leave (each but the first through the upsert, the rollups re-read), and a fresh
    GROUP BY."""
    from datetime import timedelta, timezone

    batch_site, one_by_one_site = leased_sites(session, 2)
    rng = random.Random(26)

    def row(minutes: int, zone: str = "A", revision: int | None = 0, count: int | None = None,
            tz: timezone = timezone.utc) -> dict:
        mean = rng.uniform(400, 1500)
        written = {"zone": zone, "metric": "co2_ppm", "bucket_start": (START + timedelta(minutes=minutes)).astimezone(tz),
                   "bucket_minutes": 15, "count": rng.randrange(1, 30) if count is None else count, "mean": mean,
                   "min": mean - rng.random(), "max": mean + rng.random(), "revision": revision}
        if revision is None:        # rows written around check_page may leave it out
            del written["revision"]
        return written

    rows = [row(30), row(0), row(45), row(15),                              # 22:00 out of order
            row(15, revision=2), row(15, revision=2), row(15, revision=1),  # a key repeated: highest, first on a tie
            row(75, tz=timezone(timedelta(hours=8))), row(60, revision=None),   # 23:00, given at 07:15+08:00
            row(90, zone="B", count=0), row(105, zone="B"),                 # a bucket without readings
            row(150, zone="C", count=0),                                    # an hour without readings
            row(105, zone="D"), row(0, zone="D"), row(150, zone="D"),       # a day's hours out of order
            row(120, zone="E"), row(135, zone="E")]                         # the next day, in order
    insert_rows(session=session, stream="readings", rows=[dict(r, site_id=batch_site) for r in rows])
    for r in rows:
        insert_rows(session=session, stream="readings", rows=[dict(r, site_id=one_by_one_site)])
    session.commit()

    kept = rollup_rows(session)
    buckets = everything(session)["buckets"]
    for part in (kept["hours"], kept["days"], buckets):
        mine = [x[1:] for x in part if x[0] == batch_site]
        assert mine and mine == [x[1:] for x in part if x[0] == one_by_one_site]
    mine = {(zone, start): (count, mean, revision) for site, zone, _m, start, count, mean, revision in buckets
            if site == batch_site}
    assert len(mine) == 14 and mine[("A", START + timedelta(minutes=15))][2] == 2
    assert mine[("A", START + timedelta(minutes=75))][0] == rows[7]["count"]       # kept in UTC
    assert [h[1].hour for h in kept["hours"] if h[0] == batch_site and h[2] in "BC"] == [23]
    assert rollups.differences(session=session) == 0
    rollups.rebuild(session=session)
    session.commit()
    assert rollup_rows(session) == kept
