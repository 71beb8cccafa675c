"""``brandhub collect``: pull the site agents, once or on a schedule, and manage their tokens."""
from __future__ import annotations

import click

from brand_hub.collection import CollectionError, issue_token
from brand_hub.collection.cycle import run_cycle

from .context import cli_actor, get_engine, get_settings, unit_of_work


@click.group()
def collect() -> None:
    """Pull IoT, NPS and operations data from the site agents."""


@collect.command("once")
@click.option("--site", "site_codes", multiple=True, help="site code (repeatable); default: every target")
def collect_once(site_codes: tuple[str, ...]) -> None:
    """Pull every target once (or only the named sites) and say how it went."""
    report = run_cycle(engine=get_engine(), settings=get_settings(), site_codes=list(site_codes) or None)
    for outcome in report.outcomes:
        line = f"{outcome.site_code}: {outcome.status}, {outcome.records} record(s)"
        if outcome.quarantined:
            line += f", {outcome.quarantined} quarantined"
        if outcome.error:
            line += f" — {outcome.error}"
        click.echo(line)
    click.echo(report.summary())
    if site_codes and not report.outcomes:
        raise click.ClickException(f"no active site with an agent URL among: {', '.join(site_codes)}")
    if report.outcomes and len(report.failed) == len(report.outcomes):
        raise click.ClickException("every site failed; see the errors above")


@collect.command("run")
def collect_run() -> None:
    """Pull every target on the schedule (BRANDHUB_COLLECT_INTERVAL_SECONDS, with jitter) until stopped."""
    from brand_hub.jobs import build_scheduler

    settings = get_settings()
    scheduler = build_scheduler(settings, only=("collect-agents",))
    click.echo(f"collecting every {settings.collect_interval_seconds} s (Ctrl-C to stop)")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@collect.command("token")
@click.option("--site", "site_code", required=True, help="site code")
@click.option("--rotate", is_flag=True, help="replace an existing token (the old one stops working)")
def collect_token(site_code: str, rotate: bool) -> None:
    """Issue a site's agent token and print it once: put it in the agent's config file."""
    settings = get_settings()
    try:
        with unit_of_work() as session:
            token = issue_token(session=session, site_code=site_code, secret_key=settings.secret_key,
                                actor=cli_actor(), rotate=rotate)
            session.commit()
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token for {site_code} (shown once; the hub keeps only its hash):")
    click.echo(token)
