"""Tables of the collection area: what the site agents sent, and how each agent's feed is doing.

Every record has a natural key (site, zone, metric, bucket start / site, record id), so
re-reading a page from an agent inserts nothing new.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, PrimaryKeyConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class ReadingBucket(SQLModel, table=True):
    """One zone's metric over one fixed bucket (e.g. 15 minutes), aggregated at the site.

    The natural key is the primary key: no surrogate id (a large network adds billions of
    buckets a year; an id would cost a second index as large as the key's). On PostgreSQL the
    table is partitioned by month on ``bucket_start`` (migration 0017,
    ``brand_hub.collection.partitions``); a primary key of a partitioned table must hold the
    partition key, which this one does.
    """

    __tablename__ = "reading_bucket"
    # The natural key, ordered (site, time, …) so the one index also serves "a site over a period".
    __table_args__ = (PrimaryKeyConstraint("site_id", "bucket_start", "zone", "metric", name="pk_reading_bucket"),)

    # No foreign key to site (migration 0021): it cost a look-up per row ingested. The ingest path
    # refuses rows of an unknown site before writing; a trigger refuses to delete a site with readings.
    site_id: int
    zone: str = Field(max_length=64)
    metric: str = Field(max_length=32)
    bucket_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    bucket_minutes: int = 15
    count: int
    mean: float
    min: float
    max: float
    # Raised by the agent each time a late reading amends a bucket it had already sealed;
    # the hub keeps the highest revision it has seen for a key.
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class NpsResponse(SQLModel, table=True):
    """One anonymous survey answer (comment scrubbed of personal data at the site)."""

    __tablename__ = "nps_response"
    __table_args__ = (UniqueConstraint("site_id", "record_id", name="uq_nps_response_key"),
                      Index("ix_nps_response_site_answered", "site_id", "answered_at"))

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    record_id: str = Field(max_length=100)
    answered_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    score: int = Field(ge=0, le=10)
    comment: str = Field(default="", max_length=1000)
    language: str = Field(default="zh_CN", max_length=10)


class OpsEvent(SQLModel, table=True):
    """A service ticket step, a community event or a membership change at a site."""

    __tablename__ = "ops_event"
    __table_args__ = (UniqueConstraint("site_id", "record_id", name="uq_ops_event_key"),
                      Index("ix_ops_event_site_kind_at", "site_id", "kind", "occurred_at"))

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    record_id: str = Field(max_length=100)
    kind: str = Field(max_length=40)
    occurred_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ref: str = Field(default="", max_length=100)
    quantity: Optional[int] = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CollectionTarget(SQLModel, table=True):
    """One site's feed: cursors per stream, the lease of the collector pulling it, and its health."""

    __tablename__ = "collection_target"

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", unique=True)
    cursor_readings: str = Field(default="0", max_length=64)
    cursor_nps: str = Field(default="0", max_length=64)
    cursor_events: str = Field(default="0", max_length=64)
    lease_owner: Optional[str] = Field(default=None, max_length=100)
    lease_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_success_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_error_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_error: str = Field(default="", max_length=500)
    consecutive_failures: int = 0
    newest_record_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    records_last_pull: int = 0
    quarantined_last_pull: int = 0
    agent_version: str = Field(default="", max_length=40)
    agent_buffer_id: str = Field(default="", max_length=64)   # a new buffer restarts the agent's sequences
    buffer_depth: int = 0
    oldest_unpulled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    rejects: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    applied_config_hash: str = Field(default="", max_length=80)
    health_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class QuarantinedRecord(SQLModel, table=True):
    """A record an agent sent that the hub could not accept, kept with the reason for a person to look at."""

    __tablename__ = "collection_quarantine"
    __table_args__ = (Index("ix_collection_quarantine_site", "site_id", "received_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    stream: str = Field(max_length=20)
    cursor: str = Field(default="", max_length=64)
    record: Any = Field(default=None, sa_column=Column(JSON))
    reason: str = Field(max_length=300)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ReadingAmendment(SQLModel, table=True):
    """Buckets a site's agent amended after they were sealed (late readings), over one pulled page.

    The scoring job rescores the periods these touch on its next run and the flag job
    re-evaluates the site; each marks the row done (``scored_at`` / ``flagged_at``).
    """

    __tablename__ = "reading_amendment"
    __table_args__ = (Index("ix_reading_amendment_site", "site_id", "amended_at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id")
    first_bucket: datetime = Field(sa_type=UTCDateTime, nullable=False)   # the earliest amended bucket's start
    last_bucket: datetime = Field(sa_type=UTCDateTime, nullable=False)    # the latest amended bucket's start
    buckets: int = 0
    amended_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    scored_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    flagged_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
