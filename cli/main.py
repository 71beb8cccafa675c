"""The ``brandhub`` command: finance, operations and the site agent at the command line."""
from __future__ import annotations

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
            session.commit()
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


# Each area's commands live in its own module and are added here, imported by name:
# a renamed or removed command fails at import instead of vanishing from ``brandhub``.
from .agent import agent  # noqa: E402
from .billing import billing, revenue  # noqa: E402
from .collect import collect  # noqa: E402
from .demo import demo  # noqa: E402
from .flags import flags  # noqa: E402
from .jobs import jobs  # noqa: E402
from .network import network, sites  # noqa: E402
from .score import cards, score  # noqa: E402
from .simulate import billing_simulate  # noqa: E402,F401  (joins the billing group on import)
from .standards import config, standards  # noqa: E402

for _command in (network, sites, demo, jobs, collect, agent, standards, config, score, cards, flags, revenue,
                 billing):
    cli.add_command(_command)


@users.command("password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="BRANDHUB_NEW_USER_PASSWORD")
def users_password(email: str, password: str) -> None:
    """Set a user's password; every browser signed in as them is signed out."""
    from brand_hub.accounts import set_password, user_by_email

    try:
        with unit_of_work() as session:
            user = user_by_email(session=session, email=email)
            if user is None:
                raise click.ClickException(f"no user with e-mail {email}")
            set_password(session=session, actor=cli_actor(), user=user, password=password)
            session.commit()
            click.echo(f"password of {user.email} changed; their sessions are ended")
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
