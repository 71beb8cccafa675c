"""Tables of the standards area: published brand standards, acknowledgements, site config versions.

Standards and site configs are authored as files; what is stored here is what was
published from them. Versions are immutable: a change is always a new row.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class Standard(SQLModel, table=True):
    """One published version of one brand standard (``key`` is its id in the file)."""

    __tablename__ = "standard"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_standard_key_version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, index=True)  # e.g. iaq-co2
    version: int
    category: str = Field(max_length=40)
    title_zh: str = Field(max_length=200)
    title_en: str = Field(default="", max_length=200)
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=80)
    ack_days: int = 30
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_by: str = Field(default="", max_length=200)


class StandardAcknowledgement(SQLModel, table=True):
    """A site's duty to acknowledge one version of a standard, and whether (who, when) it did."""

    __tablename__ = "standard_ack"
    __table_args__ = (UniqueConstraint("site_id", "standard_id", name="uq_standard_ack_site_standard"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    acknowledged_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by_id: Optional[int] = Field(default=None, foreign_key="user_account.id")


class SiteConfigVersion(SQLModel, table=True):
    """One immutable effective config of a site; ``provenance`` names the layer of every key."""

    __tablename__ = "site_config_version"
    __table_args__ = (UniqueConstraint("site_id", "version", name="uq_site_config_version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    version: int
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=80)
    provenance: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=300)


class SiteConfigState(SQLModel, table=True):
    """What a site should run (desired) and what its agent reports it runs (applied)."""

    __tablename__ = "site_config_state"

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", unique=True)
    desired_version: Optional[int] = None
    desired_hash: str = Field(default="", max_length=80)
    applied_hash: str = Field(default="", max_length=80)
    applied_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_delivery_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_delivery_error: str = Field(default="", max_length=500)
    drift_since: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    drifted_keys: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
