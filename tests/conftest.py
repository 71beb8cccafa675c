"""Shared fixtures: databases built through the migrations, on SQLite and PostgreSQL.

``database_url`` is parametrised: every test that asks for it runs on SQLite and
again on PostgreSQL. Locally a test skips PostgreSQL (or Mosquitto) with a reason
when the server is down; under ``CI=true`` it fails instead.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from brand_hub import migrate
from brand_hub.db import make_engine
from brand_hub.models import metadata
from brand_hub.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("BRANDHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MQTT_HOST = os.environ.get("BRANDHUB_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("BRANDHUB_TEST_MQTT_PORT", "1883"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def missing(what: str, remedy: str) -> None:
    """Skip (locally) or fail (under CI=true, where nothing may be missing) a test that lacks ``what``."""
    if IN_CI:
        pytest.fail(f"{what}; under CI=true it must be there ({remedy})")
    pytest.skip(f"{what}; {remedy} to run this test (CI always does)")


def require_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (under CI=true) when a server the test needs is down."""
    if not _reachable(host, port):
        missing(f"{name} not reachable at {host}:{port}", "start it (.ci/run does)")


def require_postgres() -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)


def require_mqtt() -> None:
    require_service("Mosquitto", MQTT_HOST, MQTT_PORT)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated once to head; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@contextlib.contextmanager
def private_schema() -> Iterator[str]:
    """A new schema in the ``test`` database, migrated to head; its URL; dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_schema_url():
    """A private schema shared by this worker's PostgreSQL tests (emptied before each)."""
    with private_schema() as url:
        yield url
        engine = _EMPTYING_ENGINES.pop(url, None)
        if engine is not None:
            engine.dispose()


@pytest.fixture
def private_pg_url():
    """A schema of the test's own, for tests that run several processes at once."""
    with private_schema() as url:
        yield url


_EMPTYING_ENGINES: dict = {}


def _empty_all(url: str) -> None:
    """Empty every table of the schema and restart its sequences, as a fresh migration leaves it.

    Rows are deleted rather than truncated: TRUNCATE gives each of the ~50 tables a new file and
    took 1.5–3 s a test on a busy machine, DELETE of a test's few rows a few milliseconds. Replica
    mode keeps the triggers quiet (the billing tables refuse deletes, migration 0009; the billing
    inputs log their changes, 0020): a test reset is the one place that is meant.
    """
    engine = _EMPTYING_ENGINES.get(url)
    if engine is None:
        engine = _EMPTYING_ENGINES[url] = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in reversed(metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))
        conn.execute(text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
            "FROM pg_sequences WHERE schemaname = current_schema()"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """An empty, fully migrated database: SQLite and then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema_url")
    _empty_all(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """Only SQLite, for tests where the database does not matter."""
    path = tmp_path / "hub.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                    secret_key="test-secret", login_max_failures=3, agent_tls_verify=False)


@pytest.fixture
def app(settings):
    from brand_hub import create_app

    app = create_app(settings)
    yield app
    app.extensions["brandhub.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, email: str, password: str = "correct horse battery"):
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, path: str, data: dict | None = None, token_from: str | None = None, **kwargs):
    """POST a form with the session's CSRF token, as the browser would."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, token_from or "/login"))
    return client.post(path, data=data, **kwargs)


def pytest_collection_modifyitems(items) -> None:
    """Slow tests first: the workers share them out from the start instead of one of them ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config) -> None:
    """Compile the translation catalogs once, in the controlling process (the app only reads them)."""
    if not hasattr(config, "workerinput"):
        from brand_hub.web.catalogs import compile_catalogs

        compile_catalogs()
