"""Who held a site when: one row per tenure (partner, agreement, from which date to which date).

Ownership is historical: everything tied to a site and a time belongs to the
partner whose tenure covers that time. Besides the dates people read
(``starts_on`` / ``ends_on``, local dates at the site, the end exclusive: the day
the next holder took over), each row keeps its window in the forms the scoping
compares against, computed once when the tenure is written:

* ``held_from`` / ``held_until``: UTC instants (local midnight at the site) for
  readings, answers, events, acknowledgements, configs;
* ``first_month`` / ``last_month`` and ``first_quarter`` / ``last_quarter``: the
  periods the tenure owns for revenue reports, invoices and scores. A period
  belongs to whoever holds the site on its *last day*, so the month of a move is
  billed to the partner who took the site over.

A NULL bound is open: the first tenure of a site also owns whatever came before
it (data sent before the opening day), the current one everything after.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from .registry import utcnow
from .types import UTCDateTime


class SiteTenure(SQLModel, table=True):
    """One partner (under one agreement) holding one site over a span of dates."""

    __tablename__ = "site_tenure"
    __table_args__ = (Index("ix_site_tenure_site_partner", "site_id", "franchisee_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    agreement_id: Optional[int] = Field(default=None, foreign_key="agreement.id")
    starts_on: date
    ends_on: Optional[date] = None
    held_from: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    held_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    first_month: Optional[str] = Field(default=None, max_length=7)
    last_month: Optional[str] = Field(default=None, max_length=7)
    first_quarter: Optional[str] = Field(default=None, max_length=7)
    last_quarter: Optional[str] = Field(default=None, max_length=7)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: str = Field(default="", max_length=200)
