"""Rollups of the readings: hourly and daily aggregates per site, zone and metric.

Scores, flags and charts read the coarsest resolution that answers them instead of
the 15-minute ``reading_bucket`` rows (about 38 million a day at 10,000 sites). A
rollup row holds exactly what the measures need of its buckets: the sum of the
readings (``total`` = Σ mean × count) and their number, the extremes, how many
buckets reported and their reading-minutes (Σ min(count, bucket minutes)). Only
buckets that hold readings (count > 0) are rolled up, as the measures read them.

Rows are recomputed from the rows below them for every hour (day) a pulled page
touched, never adjusted by deltas, so a rollup always equals a fresh GROUP BY
(``brand_hub.collection.rollups``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, PrimaryKeyConstraint
from sqlmodel import Field, SQLModel

from .types import UTCDateTime


class ReadingHourly(SQLModel, table=True):
    """One zone's metric over one UTC hour: the aggregate of its buckets."""

    __tablename__ = "reading_hourly"
    __table_args__ = (PrimaryKeyConstraint("site_id", "hour_start", "zone", "metric", name="pk_reading_hourly"),)

    site_id: int          # no foreign key to site, as ``ReadingBucket`` (migration 0021)
    hour_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    zone: str = Field(max_length=64)
    metric: str = Field(max_length=32)
    total: float          # Σ mean × count over the hour's buckets
    n: int = Field(sa_column=Column(BigInteger, nullable=False))   # Σ count: readings
    high: float           # max of the buckets' max
    low: float            # min of the buckets' min
    buckets: int          # buckets that held readings
    minutes: int          # reading-minutes: Σ min(count, bucket minutes)


class ReadingDaily(SQLModel, table=True):
    """One zone's metric over one UTC day: the aggregate of its hours."""

    __tablename__ = "reading_daily"
    __table_args__ = (PrimaryKeyConstraint("site_id", "day_start", "zone", "metric", name="pk_reading_daily"),)

    site_id: int          # no foreign key to site, as ``ReadingBucket`` (migration 0021)
    day_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    zone: str = Field(max_length=64)
    metric: str = Field(max_length=32)
    total: float
    n: int = Field(sa_column=Column(BigInteger, nullable=False))
    high: float
    low: float
    buckets: int
    minutes: int
