"""Readings partitioned by month (PostgreSQL), created ahead, and dropped whole past their retention."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from brand_hub import migrate
from brand_hub.collection import partitions
from brand_hub.collection.pages import check_page
from brand_hub.collection.store import insert_rows
from brand_hub.db import is_postgres, make_engine
from brand_hub.jobs import JOBS
from brand_hub.models import AuditEvent
from brand_hub.models.collection import ReadingBucket
from brand_hub.models.rollups import ReadingHourly
from brand_hub.settings import Settings, SettingsError
from tests.builders import make_franchisee, make_site

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=timezone.utc)


def page(site_id: int, *starts: datetime) -> list[dict]:
    """One bucket at each of ``starts``, checked as the collection cycle checks a pulled page."""
    records = [{"seq": i + 1, "zone": "desk", "metric": "co2_ppm", "bucket_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "bucket_minutes": 15, "count": 15, "mean": 600.0, "min": 550.0, "max": 650.0}
               for i, start in enumerate(starts)]
    checked = check_page("readings", {"records": records, "cursor": str(len(records)), "more": False}, site_id, "0")
    assert checked.bad == []
    return checked.rows


def stored_starts(engine) -> list[datetime]:
    with Session(engine) as session:
        return list(session.exec(select(ReadingBucket.bucket_start).order_by(ReadingBucket.bucket_start)))


def rows_in(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def partition_names(engine, table: str = "reading_bucket") -> set[str]:
    with Session(engine) as session:
        return {p.name for p in partitions.partitions(session=session, table=table)}


def hourly_starts(engine) -> list[datetime]:
    with Session(engine) as session:
        return list(session.exec(select(ReadingHourly.hour_start).order_by(ReadingHourly.hour_start)))


def audit_entries(engine, action: str) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.entity_id).where(AuditEvent.action == action)))


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0)


def test_the_scheduler_knows_the_partition_and_retention_jobs():
    ids = {job.id: job for job in JOBS}
    assert ids["readings-partitions"].function() is partitions.create_partitions_ahead
    assert ids["readings-retention"].function() is partitions.apply_retention


@pytest.mark.parametrize("months", [0, 2, 1201])
def test_a_retention_shorter_than_a_quarter_or_absurdly_long_is_refused(months):
    with pytest.raises(SettingsError, match="BRANDHUB_READINGS_RETENTION_MONTHS"):
        Settings(readings_retention_months=months)


def test_a_bucket_in_a_month_without_partition_far_ahead_or_in_the_past_is_written_then_gets_its_partition(
        settings, engine, session):
    site = make_site(session, make_franchisee(session))
    ahead, past = datetime(2031, 5, 7, 10, 15, tzinfo=timezone.utc), datetime(2019, 2, 28, 23, 45, tzinfo=timezone.utc)
    insert_rows(session=session, stream="readings", rows=page(site.id, ahead, past))   # the ingest path itself
    session.commit()
    assert stored_starts(engine) == [past, ahead]

    created = partitions.create_partitions_ahead(settings=settings, now=NOW)

    assert stored_starts(engine) == [past, ahead]
    if is_postgres(engine):
        assert {"reading_bucket_y2031m05", "reading_bucket_y2019m02"} <= partition_names(engine)
        assert rows_in(engine, "reading_bucket_y2031m05") == 1 and rows_in(engine, "reading_bucket_y2019m02") == 1
        assert rows_in(engine, "reading_bucket_default") == 0
        assert {"reading_bucket_y2026m12", "reading_bucket_y2027m03"} <= partition_names(engine)   # made ahead
        assert {"reading_hourly_y2031m05", "reading_hourly_y2019m02"} <= partition_names(engine, "reading_hourly")
        assert rows_in(engine, "reading_hourly_default") == 0
        assert set(created) <= set(audit_entries(engine, "readings.partition_create"))
    else:
        assert created == []   # SQLite: one plain table
    assert partitions.create_partitions_ahead(settings=settings, now=NOW) == []   # idempotent


def test_retention_drops_what_is_older_keeps_what_is_younger_and_a_second_run_does_nothing(settings, engine, session):
    site = make_site(session, make_franchisee(session))
    old = [datetime(2025, 9, 30, 23, 45, tzinfo=timezone.utc), datetime(2025, 10, 31, 23, 45, tzinfo=timezone.utc)]
    young = [datetime(2025, 11, 1, 0, 0, tzinfo=timezone.utc), datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)]
    insert_rows(session=session, stream="readings", rows=page(site.id, *old, *young))
    session.commit()
    settings = settings.replace(readings_retention_months=13,   # before 2025-11-01 is older, on 2026-12-03
                                readings_hourly_retention_months=37)

    gone = partitions.apply_retention(settings=settings, now=NOW)

    assert stored_starts(engine) == young
    assert hourly_starts(engine) == [hour_of(s) for s in old + young]   # the hourly rollup outlives them
    if is_postgres(engine):
        assert {"reading_bucket_y2025m09", "reading_bucket_y2025m10"} <= set(gone)
        assert not {"reading_bucket_y2025m09", "reading_bucket_y2025m10"} & partition_names(engine)
        assert "reading_bucket_y2025m11" in partition_names(engine)
        assert set(gone) <= set(audit_entries(engine, "readings.partition_drop"))
    else:
        assert gone == ["reading_bucket:2"]
        assert audit_entries(engine, "readings.retention_delete") == ["reading_bucket"]
    audited = len(audit_entries(engine, "readings.partition_drop") + audit_entries(engine, "readings.retention_delete"))

    assert partitions.apply_retention(settings=settings, now=NOW) == []
    assert stored_starts(engine) == young
    assert len(audit_entries(engine, "readings.partition_drop")
               + audit_entries(engine, "readings.retention_delete")) == audited


def test_the_migration_moves_existing_readings_into_partitions_and_back(tmp_path, request, database_url):
    """Downgrade to the unpartitioned table with its ids and up again, the readings intact both ways."""
    if is_postgres(make_engine(database_url)):
        url = request.getfixturevalue("private_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'migrating.sqlite'}"
        migrate.upgrade(url)
    engine = make_engine(url)
    starts = [datetime(2024, 1, 31, 23, 45, tzinfo=timezone.utc) + timedelta(days=40 * n) for n in range(12)]
    with Session(engine) as session:
        site_id = make_site(session, make_franchisee(session)).id
        insert_rows(session=session, stream="readings", rows=page(site_id, *starts))
        session.commit()

    migrate.downgrade(url, "0015")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(DISTINCT id), count(*) FROM reading_bucket")).one() == (12, 12)
        if is_postgres(engine):
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE oid = 'reading_bucket'::regclass")).scalar() == "r"
    migrate.upgrade(url)

    assert stored_starts(engine) == starts
    assert hourly_starts(engine) == [hour_of(s) for s in starts]
    if is_postgres(engine):
        names = partition_names(engine)
        assert {partitions.partition_name("reading_bucket", partitions.month_of(s)) for s in starts} <= names
        assert rows_in(engine, "reading_bucket_default") == 0
        assert {partitions.partition_name("reading_hourly", partitions.month_of(s)) for s in starts} <= \
            partition_names(engine, "reading_hourly")
        with Session(engine) as session:   # the key still decides: a re-read page adds nothing
            insert_rows(session=session, stream="readings", rows=page(site_id, *starts))
            session.commit()
            assert session.exec(select(func.count()).select_from(ReadingBucket)).one() == 12
    engine.dispose()
