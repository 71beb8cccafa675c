"""Whose records a read function returns: HQ (the whole network) or one partner.

The read modules (``brand_hub/<area>/reads.py``) take a ``Scope`` explicitly, so the
HQ page and the partner's page are built by the same function and differ only in
the scope the view passes (``Scope.hq()`` or ``Scope.partner(id)``). With the
partner roles coming, a staff member's sites become one more kind of scope here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from .models import Site


@dataclass(frozen=True)
class Scope:
    franchisee_id: int | None = None  # None: HQ, every site of the network

    @classmethod
    def hq(cls) -> "Scope":
        return cls()

    @classmethod
    def partner(cls, franchisee_id: int) -> "Scope":
        return cls(franchisee_id)

    @property
    def is_hq(self) -> bool:
        return self.franchisee_id is None

    def site_ids(self):
        """A subquery of the site ids in scope, or None for HQ (no condition)."""
        if self.is_hq:
            return None
        return select(Site.id).where(Site.franchisee_id == self.franchisee_id)

    def where_site(self, stmt, column):
        """``stmt`` limited to rows whose ``column`` (a site id) is in scope."""
        ids = self.site_ids()
        return stmt if ids is None else stmt.where(column.in_(ids))
