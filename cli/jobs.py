"""``brandhub jobs``: the scheduler process."""
from __future__ import annotations

import click

from brand_hub.jobs import JOBS, build_scheduler

from .context import get_settings


@click.group()
def jobs() -> None:
    """Scheduled jobs (collection, scoring, flags, mail), run in their own process."""


@jobs.command("list")
def jobs_list() -> None:
    """Show the job table."""
    settings = get_settings()
    for job in JOBS:
        click.echo(f"{job.id:22} {job.trigger(settings)}  {job.description}")


@jobs.command("run")
@click.option("--only", multiple=True, help="job id to run (repeatable); default: all")
def jobs_run(only: tuple[str, ...]) -> None:
    """Run the scheduler in the foreground until stopped."""
    try:
        scheduler = build_scheduler(get_settings(), only)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("scheduler running: " + ", ".join(j.id for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
