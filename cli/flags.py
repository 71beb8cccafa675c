"""`brandhub flags`: evaluate the compliance rules and list the flags."""
from __future__ import annotations

from datetime import datetime, timezone

import click

from brand_hub import compliance, registry
from brand_hub.models.compliance import FlagState, Severity

from .context import get_settings, unit_of_work


@click.group()
def flags() -> None:
    """Compliance flags: evaluate the rules, list what is open."""


@flags.command("evaluate")
@click.option("--site", "site_code", default=None, help="only this site (code)")
def flags_evaluate(site_code: str | None) -> None:
    """Evaluate every rule for every active site (idempotent; one broken site never stops the run)."""
    settings = get_settings()
    now = datetime.now(timezone.utc)
    with unit_of_work() as session:
        if site_code:
            try:
                registry.get_site(session=session, code=site_code)
            except registry.NotFound as exc:
                raise click.ClickException(str(exc)) from None
        summary = compliance.evaluate(session=session, settings=settings, now=now,
                                      site_codes=[site_code] if site_code else None)
        session.commit()
    click.echo(f"evaluated {summary.sites} sites: {summary.opened} opened, {summary.resolved} resolved, "
               f"{summary.events} events, {summary.mails} mails queued")
    for error in summary.errors:
        click.echo(f"error: site {error['site'] or '-'} rule {error['rule'] or '-'}: {error['error']}", err=True)


@flags.command("list")
@click.option("--severity", type=click.Choice([s.value for s in Severity]), default=None)
@click.option("--rule", default=None, help="rule id, e.g. agent-unreachable or std:iaq-co2/co2-open-hours")
@click.option("--partner", default=None, help="partner code")
@click.option("--city", default=None)
@click.option("--site", default=None, help="site code")
@click.option("--state", default="current", show_default=True,
              type=click.Choice(["current", "all", *[s.value for s in FlagState]]))
@click.option("--age", type=click.Choice(["1d", "7d", "30d"]), default=None, help="opened at least this long ago")
@click.option("--limit", default=200, show_default=True, type=int)
def flags_list(severity, rule, partner, city, site, state, age, limit) -> None:
    """List flags, worst first, with the filters of the HQ queue."""
    filters = compliance.FlagFilters(severity=severity or "", rule=rule or "", partner=partner or "",
                                     city=city or "", site=site or "", state=state, age=age or "")
    now = datetime.now(timezone.utc)
    with unit_of_work() as session:
        rows = session.exec(compliance.flag_select(filters, now).limit(limit)).all()
        if not rows:
            click.echo("no flags match")
            return
        click.echo(f"{'id':>6}  {'severity':<9} {'state':<15} {'where':<12} {'rule':<40} {'subject':<16} opened")
        for flag, site_row, partner_row in rows:
            where = site_row.code if site_row else partner_row.code
            opened = flag.opened_at.strftime("%Y-%m-%d %H:%M") if flag.opened_at else "-"
            click.echo(f"{flag.id:>6}  {flag.severity.value:<9} {flag.state.value:<15} {where:<12} "
                       f"{flag.rule:<40} {flag.subject:<16} {opened}")
