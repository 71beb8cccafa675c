"""Tables of the scoring area: one stored score per site, period and model version."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class SiteScore(SQLModel, table=True):
    """A site's brand-health score for one period, computed with one version of the model.

    ``indicators`` keeps, per indicator, the raw value, normalised value, weight,
    coverage, status and the inputs behind them, so every figure can be explained
    and an old score reproduced with its model version.
    """

    __tablename__ = "site_score"
    __table_args__ = (UniqueConstraint("site_id", "period", "model_id", "model_version",
                                       name="uq_site_score_site_period_model"),
                      # "have the period's scores changed?" in one index probe each, not a read of the period
                      # (``scores.reads``: newest id of the period, newest computation of a model's scores)
                      Index("ix_site_score_period_id", "period", "id"),
                      Index("ix_site_score_period_model_at", "period", "model_id", "model_version", "computed_at"))

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    period: str = Field(max_length=10, index=True)       # 2026-Q3 or 2026-10
    model_id: str = Field(max_length=60)
    model_version: int
    status: str = Field(max_length=16)                   # scored | insufficient
    score: Optional[float] = None                        # 0–100
    card: Optional[str] = Field(default=None, max_length=16)  # quarters: green | yellow | red | insufficient
    coverage: float = 0.0
    indicators: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class CardPublication(SQLModel, table=True):
    """HQ published a quarter's cards computed with one model version: from then on partners
    see them and compliance counts them (a red card is in force once published)."""

    __tablename__ = "card_publication"
    __table_args__ = (UniqueConstraint("period", "model_id", "model_version",
                                       name="uq_card_publication_period_model"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    period: str = Field(max_length=10, index=True)       # a quarter: 2026-Q3
    model_id: str = Field(max_length=60)
    model_version: int
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    published_by: str = Field(max_length=200)
