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


def paginate(session: Session, stmt, *, page: int = 1, per_page: int | None = None, scalars: bool = False,
             total: int | None = None) -> Page:
    """Page ``stmt`` (a select with its order): count every match in SQL, read only the asked page.

    Rows of a multi-entity select come back as tuples; ``scalars`` returns the
    first entity of each row (``select(Model)`` read through ``session.exec``
    gives the objects already). ``total``: the count of every match, when the caller counted it in SQL
    already (with the list's other figures, in one statement).
    """
    per_page = per_page or PER_PAGE
    page = max(1, page)
    if total is None:
        total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = session.exec(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    items = [row[0] if scalars and (isinstance(row, tuple) or hasattr(row, "_mapping"))
             else (tuple(row) if hasattr(row, "_mapping") else row) for row in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def paginate_keys(session: Session, stmt, load, *, page: int = 1, per_page: int | None = None,
                  total: int | None = None) -> Page:
    """Page ``stmt``, a narrow select of each row's key (an id) in the list's order, then read the page's
    rows with ``load(keys)``, a mapping of key to row: the sort and the count read narrow rows only (a wide
    row, with its JSON, sorted by the thousand spills to disk), and one statement reads the page's rows."""
    found = paginate(session, stmt, page=page, per_page=per_page, scalars=True, total=total)
    rows: dict = {}
    for start in range(0, len(found.items), 1000):  # an export's "page" of every row: bounded IN lists
        rows.update(load(found.items[start:start + 1000]))
    found.items = [rows[key] for key in found.items]
    return found


def page_number(args, name: str = "page") -> int:
    """The ``page`` query argument (or another ``name`` for a page's second list): a whole number from 1 to
    100,000, 1 when missing or not one."""
    return min(max(1, args.get(name, 1, type=int) or 1), 100_000)


def paginate_ranked(session: Session, stmt, load, *, page: int = 1, per_page: int | None = None,
                    figures: tuple = (), apart=None) -> tuple[Page, tuple]:
    """``paginate_keys`` in one pass over the list: the narrow ranked select also carries, as window
    aggregates taken before LIMIT, the count of every match and ``figures`` (aggregates such as
    ``func.sum(...)`` over every match). Returns the page and the figures' values.

    A list ranked over the whole network (failing feeds first, the most overdue first) must read every row
    to rank them; counting them apart read them all a second time (issue 15: the pages whose time grew most
    from 100 to 10,000 sites). Only a page past the end, which has no row to carry them, counts apart:
    with ``apart()`` (the count and the figures, in that order) when given, else the count alone (the
    figures then None)."""
    per_page = per_page or PER_PAGE
    page = max(1, page)
    rows = session.execute(stmt.add_columns(func.count().over(), *[f.over() for f in figures])   # rows, not scalars
                           .offset((page - 1) * per_page).limit(per_page)).all()
    if rows:
        total, values = int(rows[0][1]), tuple(rows[0][2:])
    elif apart is not None:
        total, *rest = apart()
        values = tuple(rest)
    else:
        total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
        values = (None,) * len(figures)
    keys = [row[0] for row in rows]
    found: dict = {}
    for start in range(0, len(keys), 1000):  # an export's "page" of every row: bounded IN lists
        found.update(load(keys[start:start + 1000]))
    return Page(items=[found[key] for key in keys], total=int(total or 0), page=page, per_page=per_page), values
