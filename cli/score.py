"""``brandhub score``: brand-health scores of a month or quarter, with the card sensitivity;
``brandhub cards publish``: publish a quarter's cards."""
from __future__ import annotations

import click

from brand_hub.scores import ScoringError, load_model, period_arg, publish_cards, score_period, sensitivity
from brand_hub.scores import reports

from .context import cli_actor, get_settings, unit_of_work


@click.command("score")
@click.option("--period", "period_text", required=True, help="a month like 2026-10 or a quarter like 2026-Q3")
@click.option("--site", "site_codes", multiple=True, help="score only this site (repeatable)")
@click.option("--model-version", type=int, default=None, help="score with this model version (default: newest)")
@click.option("--sensitivity", "show_sensitivity", is_flag=True,
              help="also report how many sites change card when each weight moves ±20 %")
def score(period_text: str, site_codes: tuple[str, ...], model_version: int | None, show_sensitivity: bool) -> None:
    """Score the sites for a period and store the scores (re-running changes nothing)."""
    settings = get_settings()
    try:
        period = period_arg(period_text)
        model = load_model(settings=settings, version=model_version)
        with unit_of_work() as session:
            report = score_period(session=session, period=period, model=model, actor=cli_actor(),
                                  site_codes=list(site_codes) or None, network_tz=settings.timezone,
                                  workers=settings.score_workers)
            codes = reports.site_codes(session=session, site_ids=[row.site_id for row in report.scores])
            for row in report.scores:
                shown = "—" if row.score is None else f"{row.score:5.1f}"
                click.echo(f"{codes[row.site_id]:<14} {row.status:<13} {shown:>6}  {row.card or ''}")
            click.echo(f"{period}: {len(report.scores)} sites scored with {model.id} v{model.version}, "
                       f"{report.changed} changed")
            rows = sensitivity(session=session, period=str(period), model=model) if show_sensitivity else []
            session.commit()
    except ScoringError as exc:
        raise click.ClickException(str(exc)) from exc
    if show_sensitivity:
        click.echo("sensitivity (weight ±20 %): sites that would change card")
        for row in rows:
            click.echo(f"  {row.indicator:<20} ×{row.factor:.1f}  {len(row.changed):>4}  {' '.join(row.changed[:10])}")
    if report.failures:
        reasons = "; ".join(f"{code}: {why}" for code, why in sorted(report.failures.items()))
        raise click.ClickException(f"{len(report.failures)} site(s) could not be scored (the others are stored): "
                                   f"{reasons}")


@click.group("cards")
def cards() -> None:
    """A quarter's cards: partners see them and compliance counts them once HQ publishes them."""


@cards.command("publish")
@click.option("--period", "period_text", required=True, help="a quarter like 2026-Q3")
@click.option("--model-version", type=int, default=None,
              help="publish the cards of this model version (default: newest)")
def publish(period_text: str, model_version: int | None) -> None:
    """Publish a quarter's cards (check `brandhub score --period P --sensitivity` first; re-running changes nothing)."""
    settings = get_settings()
    try:
        model = load_model(settings=settings, version=model_version)
        with unit_of_work() as session:
            row = publish_cards(session=session, period=period_text, model=model, actor=cli_actor())
            session.commit()
            click.echo(f"{row.period}: cards of {row.model_id} v{row.model_version} published "
                       f"{row.published_at:%Y-%m-%d %H:%M} UTC by {row.published_by}")
    except ScoringError as exc:
        raise click.ClickException(str(exc)) from exc
