"""``brandhub collect``: pull the site agents, once or on a schedule, and manage their tokens."""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import click

from brand_hub.collection import CollectionError, issue_token
from brand_hub.collection.cycle import collector_engine, cycle_window, run_cycle

from .context import cli_actor, get_settings, unit_of_work


@click.group()
def collect() -> None:
    """Pull IoT, NPS and operations data from the site agents."""


@collect.command("once")
@click.option("--site", "site_codes", multiple=True, help="site code (repeatable); default: every target")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="sites pulled at once (default: BRANDHUB_COLLECT_WORKERS)")
def collect_once(site_codes: tuple[str, ...], workers: int | None) -> None:
    """Pull every target once (or only the named sites) and say how it went."""
    settings = get_settings()
    if workers is not None:
        settings = settings.replace(collect_workers=workers)
    engine = collector_engine(settings)
    try:
        report = run_cycle(engine=engine, settings=settings, site_codes=list(site_codes) or None)
    finally:
        engine.dispose()
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
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="sites pulled at once by this process (default: BRANDHUB_COLLECT_WORKERS)")
@click.option("--cycles", type=click.IntRange(1, None), default=None,
              help="stop after this many cycles (default: run until stopped)")
def collect_run(workers: int | None, cycles: int | None) -> None:
    """Pull every target once per interval until stopped; several of these (on several hosts) share the sites.

    Cycles start at the same moments on every collector (multiples of BRANDHUB_COLLECT_INTERVAL_SECONDS,
    plus up to BRANDHUB_COLLECT_JITTER_SECONDS), so each site is pulled once per interval by one of them.
    The first cycle starts at once and pulls what is still due in the current interval.
    """
    settings = get_settings()
    if workers is not None:
        settings = settings.replace(collect_workers=workers)
    interval = settings.collect_interval_seconds
    engine = collector_engine(settings)
    click.echo(f"collecting every {interval} s with {settings.collect_workers} worker(s) (Ctrl-C to stop)")
    done = 0
    try:
        while True:
            window = cycle_window(datetime.now(timezone.utc), interval)
            report = run_cycle(engine=engine, settings=settings, cycle_start=window)
            click.echo(f"cycle of {window:%Y-%m-%d %H:%M:%S} UTC: {report.summary()}")
            done += 1
            if cycles is not None and done >= cycles:
                break
            wake = window + timedelta(seconds=interval + random.uniform(0, settings.collect_jitter_seconds))
            time.sleep(max(0.0, (wake - datetime.now(timezone.utc)).total_seconds()))
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        engine.dispose()


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
