"""One way to page a list: the total counted in SQL, one page of rows read, never a silent cut.

Every list view pages with ``paginate`` and renders ``_pagination.html`` with the
``Page`` it returns, so a long list is never cut at an arbitrary row count
without the reader knowing there is more.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

PER_PAGE = 50


@dataclass
class Page:
    """One page of a list: its rows and where it sits in the whole."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(session: Session, stmt, *, page: int = 1, per_page: int | None = None, scalars: bool = False) -> Page:
    """Page ``stmt`` (a select with its order): count every match in SQL, read only the asked page.

    Rows of a multi-entity select come back as tuples; ``scalars`` returns the
    first entity of each row (``select(Model)`` read through ``session.exec``
    gives the objects already).
    """
    per_page = per_page or PER_PAGE
    page = max(1, page)
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    items = [row[0] if scalars and isinstance(row, tuple) else (tuple(row) if hasattr(row, "_mapping") else row)
             for row in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def page_number(args, name: str = "page") -> int:
    """The ``page`` query argument (or another ``name`` for a page's second list): a whole number from 1 to
    100,000, 1 when missing or not one."""
    return min(max(1, args.get(name, 1, type=int) or 1), 100_000)
