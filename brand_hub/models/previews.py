"""Stored billing previews (issue 10: speed at 10,000 sites): a page's computed figures and the state of the
inputs they were computed from."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class BillingPreview(SQLModel, table=True):
    """What a billing page computed (a period's review, a billing-run diff), keyed by the page's arguments.

    ``fingerprint`` names the state of every input the figures rest on (see
    ``brand_hub.billing.preview``): a page uses the row only while the fingerprint of the
    inputs it reads now is the same, so a changed input is never shown from here.
    """

    __tablename__ = "billing_preview"

    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=80, unique=True)          # e.g. "review:2026-11", "diff:2026-11:2026-10"
    fingerprint: str = Field(max_length=64)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    seconds: float = 0.0                                   # how long the computation took
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class BillingChange(SQLModel, table=True):
    """One write to a table the billing previews read, added by a database trigger in the writing transaction.

    The set of rows (their count, newest id and sum of ids) is the state of the previews' inputs;
    the ``refresh-billing-previews`` job folds old rows away (which changes the state once, so the
    next page computes once more). Never written by the application itself.
    """

    __tablename__ = "billing_change"

    id: Optional[int] = Field(default=None, primary_key=True)
