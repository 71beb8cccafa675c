"""Precomputed figures of the HQ brand-health dashboard (issue 10: speed at 10,000 sites)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class DashboardSnapshot(SQLModel, table=True):
    """The network-wide figures of the brand-health dashboard as last computed by the ``refresh-dashboard`` job.

    One row per ``key`` (``network``). The page uses it while it is young (see
    ``brand_hub.dashboard.snapshot``) and computes the figures itself otherwise, so a
    stopped job makes the page slower, never wrong for longer than the snapshot's age.
    """

    __tablename__ = "dashboard_snapshot"

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=40, unique=True)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    seconds: float = 0.0                     # how long the computation took
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
