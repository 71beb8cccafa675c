"""What every ``brandhub`` command shares: settings, the database session, the actor."""
from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.engine import Engine

from brand_hub.audit import Actor
from brand_hub.db import make_engine, session_scope
from brand_hub.settings import Settings, SettingsError


def get_settings() -> Settings:
    ctx = click.get_current_context()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if "settings" not in root.obj:
        try:
            root.obj["settings"] = Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from exc
    return root.obj["settings"]


def get_engine() -> Engine:
    ctx = click.get_current_context().find_root()
    settings = get_settings()
    if "engine" not in ctx.obj:
        ctx.obj["engine"] = make_engine(settings.database_url)
        ctx.call_on_close(ctx.obj["engine"].dispose)
    return ctx.obj["engine"]


@contextmanager
def unit_of_work() -> Iterator:
    """A session for one command; the command calls ``session.commit()`` once its work is done."""
    with session_scope(get_engine()) as session:
        yield session


def cli_actor() -> Actor:
    try:
        name = getpass.getuser()
    except Exception:  # no user name on this machine: still attribute the change
        name = "unknown"
    return Actor(label=f"cli:{name}")
