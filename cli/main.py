"""The ``brandhub`` command: finance, operations and the site agent at the command line."""
from __future__ import annotations

from importlib import import_module

import click

from brand_hub import migrate
from brand_hub.accounts import AccountError, create_user
from brand_hub.models import Role

from .context import cli_actor, get_settings, unit_of_work


@click.group()
@click.version_option(package_name="brandhub")
def cli() -> None:
    """Brand Hub: registry, site agents, standards, scores, flags and royalty billing."""


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database to the newest schema."""
    settings = get_settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}: {_redact(settings.database_url)}")


@cli.group()
def users() -> None:
    """Accounts for HQ staff and partners."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="")
@click.option("--franchisee", "franchisee_code", default=None, help="partner code, for portal roles")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="BRANDHUB_NEW_USER_PASSWORD")
def users_create(email: str, role: str, name: str, franchisee_code: str | None, password: str) -> None:
    """Create a user who can sign in to the dashboard or the portal."""
    try:
        with unit_of_work() as session:
            user = create_user(session=session, actor=cli_actor(), email=email, password=password, role=role,
                               name=name, franchisee_code=franchisee_code)
            click.echo(f"created {user.email} ({user.role.value})")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the dashboard and portal (waitress; use gunicorn in production, see README)."""
    from waitress import serve as waitress_serve

    from brand_hub import create_app

    app = create_app(get_settings())
    click.echo(f"Brand Hub on http://{host}:{port}/")
    waitress_serve(app, host=host, port=port, threads=threads)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# Each area's commands live in its own module and are added here.
for _module, _name in (
    ("cli.network", "network"),
    ("cli.network", "sites"),
    ("cli.demo", "demo"),
    ("cli.jobs", "jobs"),
    ("cli.collect", "collect"),
    ("cli.agent", "agent"),
    ("cli.standards", "standards"),
    ("cli.standards", "config"),
    ("cli.score", "score"),
    ("cli.score", "cards"),
    ("cli.flags", "flags"),
    ("cli.billing", "revenue"),
    ("cli.billing", "billing"),
):
    _command = getattr(import_module(_module), _name, None)
    if _command is not None:
        cli.add_command(_command)

# Commands that join a group defined in another module (they register on import).
import_module("cli.simulate")
