"""``brandhub demo``: seed a believable network and serve the app."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from brand_hub import migrate
from brand_hub.demo import DemoContext, run_stages

from .context import get_engine, get_settings


@click.command()
@click.option("--serve/--no-serve", default=True, help="serve the dashboard after seeding (default) or exit")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--reset", is_flag=True, help="also wipe a non-SQLite database before seeding")
def demo(serve: bool, host: str, port: int, reset: bool) -> None:
    """Seed a demo network (partners, sites, agents, data, scores, flags, invoices) and serve it.

    On the SQLite default the demo database file is recreated each time.
    """
    settings = get_settings()
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        for suffix in ("", "-wal", "-shm"):
            Path(url.database + suffix).unlink(missing_ok=True)
    elif not reset:
        raise click.ClickException("the demo rewrites the database; pass --reset to use a non-SQLite database")
    else:
        migrate.downgrade(settings.database_url, "base")
    migrate.upgrade(settings.database_url)
    context = DemoContext(settings=settings, engine=get_engine(), echo=click.echo)
    try:
        run_stages(context)
        for line in context.shared.get("logins", []):
            click.echo(line)
        if serve:
            from waitress import serve as waitress_serve

            from brand_hub import create_app

            click.echo(f"Brand Hub demo on http://{host}:{port}/  (Ctrl+C to stop)")
            waitress_serve(create_app(settings), host=host, port=port, threads=8)
    finally:
        context.stop()
