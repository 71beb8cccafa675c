"""Engines and sessions. The entry point owns the session and commits explicitly.

Services take a ``Session`` as keyword ``session`` and never commit; a web
request, a CLI command, a demo stage or a scheduled job opens one with
``session_scope`` (or ``brand_hub.web.db()`` inside Flask) and calls
``session.commit()`` once its work is done. Whatever was not committed when the
scope closes is rolled back (cosmicpython's rule): a read-only command never
writes, and an entry point that forgets to commit writes nothing rather than
half of something.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for ``url`` with the settings the hub relies on.

    SQLite gets foreign keys on, a busy timeout and WAL so that the web app, the
    collector and the scheduler can share one file; PostgreSQL gets a pool that
    survives restarts of the server (pre-ping) and no JIT compilation (``_postgres_session``).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _postgres_session)
    return engine


def _postgres_session(dbapi_connection, _record) -> None:
    """Turn PostgreSQL's JIT off for the hub's connections.

    The hub's statements are short (a page's, a job's batch); JIT compiles a plan whose estimated
    cost passes ``jit_above_cost``, which a correlated or misestimated plan does easily at ten
    thousand sites: 100–300 ms of compiling for a statement that runs in a few milliseconds, on
    some requests only (the pages' p95 far above their p50, issue 10). A connection-level setting:
    the server's own configuration stays as it is for every other client.
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def distinct_values(session: Session, column, *criteria) -> list:
    """The distinct non-null values of an indexed ``column`` (rows matching ``criteria``), in the column's order.

    One index look-up per value found ("loose index scan", a recursive query on SQLite and PostgreSQL alike):
    ``SELECT DISTINCT`` reads the whole table, 10,000 sites or 20,000 scores, to list a dozen cities or a
    handful of periods.
    """
    from sqlalchemy import func, select

    walk = select(func.min(column).label("value")).where(*criteria).cte("distinct_values", recursive=True)
    after = select(func.min(column)).where(column > walk.c.value, *criteria).scalar_subquery()
    walk = walk.union_all(select(after).select_from(walk).where(walk.c.value.is_not(None)))
    return list(session.execute(select(walk.c.value).where(walk.c.value.is_not(None))).scalars())


def is_postgres(bind) -> bool:
    """True when ``bind`` (engine, connection or session) talks to PostgreSQL."""
    if isinstance(bind, Session):
        bind = bind.get_bind()
    return bind.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: the caller commits explicitly; anything uncommitted is rolled back.

    ``expire_on_commit=False`` keeps loaded objects readable after the commit, so
    a command can print what it wrote; on the way out they are detached before the
    rollback, so what a read-only command loaded stays readable after the scope too.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        session.expunge_all()
        session.rollback()
