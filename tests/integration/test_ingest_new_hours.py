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
