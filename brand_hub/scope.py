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
    sites: tuple[int, ...] | None = None  # a partner's staff member: only these sites (None: all the partner's)

    @classmethod
    def hq(cls) -> "Scope":
        return cls()

    @classmethod
    def partner(cls, franchisee_id: int, sites: list[int] | tuple[int, ...] | None = None) -> "Scope":
        """One partner's records; with ``sites``, only those sites' (a site manager's assigned sites)."""
        return cls(franchisee_id, tuple(sites) if sites is not None else None)

    @property
    def is_hq(self) -> bool:
        return self.franchisee_id is None

    def site_ids(self):
        """A subquery of the site ids in scope, or None for HQ (no condition)."""
        if self.is_hq:
            return None
        stmt = select(Site.id).where(Site.franchisee_id == self.franchisee_id)
        return stmt if self.sites is None else stmt.where(Site.id.in_(self.sites))

    def where_site(self, stmt, column):
        """``stmt`` limited to rows whose ``column`` (a site id) is in scope."""
        ids = self.site_ids()
        return stmt if ids is None else stmt.where(column.in_(ids))
