"""What every command-line test needs: the environment, an in-process runner, a session."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from brand_hub.db import make_engine
from cli.main import cli


@pytest.fixture
def env(database_url, tmp_path) -> dict[str, str]:
    """The variables a finance or HQ user would have set (one PDF worker: tests run in parallel)."""
    return {"BRANDHUB_DATABASE_URL": database_url, "BRANDHUB_INSTANCE_PATH": str(tmp_path / "instance"),
            "BRANDHUB_PDF_WORKERS": "1"}


@pytest.fixture
def run(env):
    """``brandhub`` in this process, as the user would type it; returns click's result."""
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def db(database_url):
    """A session on the same database, to arrange data and read what the command did."""
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()
