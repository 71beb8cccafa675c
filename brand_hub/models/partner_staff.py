"""Which sites a partner's staff member (``franchisee_staff``, a site manager) may see.

A partner administrator assigns them in the portal; staff see only their assigned
sites (data, scorecards, flags, standards, configs) and none of the money.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class SiteAssignment(SQLModel, table=True):
    """One staff member may see one site of their partner."""

    __tablename__ = "site_assignment"
    __table_args__ = (UniqueConstraint("user_id", "site_id", name="uq_site_assignment_user_site"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    assigned_by: str = Field(default="", max_length=200)
