"""``brandhub standards`` and ``brandhub config``: validate and publish what HQ authors as files."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from brand_hub import distribution
from brand_hub.distribution import DistributionError
from brand_hub.distribution.drift import check_drift
from standards import site_config, standard_format
from standards.loader import InvalidFiles, Problem

from .context import cli_actor, get_settings, unit_of_work


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _folder(given: str | None, setting: str, shipped: Path) -> Path:
    """The folder named on the command line, else the one in settings, else the shipped library."""
    return Path(given or getattr(get_settings(), setting) or shipped)


def _refuse(problems: list[Problem], what: str) -> None:
    for problem in sorted(problems):
        click.echo(str(problem), err=True)
    raise click.ClickException(f"{len(problems)} problem(s) in {what}; nothing was published")


# -- standards -------------------------------------------------------------------------------

@click.group()
def standards() -> None:
    """Brand standards: validate and publish a standards folder."""


@standards.command("validate")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def standards_validate(directory: str | None) -> None:
    """Check every standard in DIRECTORY; report each problem as file:line: reason."""
    folder = _folder(directory, "standards_dir", standard_format.LIBRARY_DIR)
    specs, problems = standard_format.check_folder(folder)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {folder}")
    click.echo(f"{folder}: {len(specs)} standard(s) valid")


@standards.command("publish")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def standards_publish(directory: str | None) -> None:
    """Publish a new version of every changed standard in DIRECTORY (all or nothing)."""
    folder = _folder(directory, "standards_dir", standard_format.LIBRARY_DIR)
    specs, problems = standard_format.check_folder(folder)
    if problems:
        _refuse(problems, str(folder))
    try:
        with unit_of_work() as session:
            result = distribution.publish_standards(session=session, specs=specs, actor=cli_actor(), now=_now())
            session.commit()
    except InvalidFiles as exc:
        _refuse(exc.problems, str(folder))
    for standard in result.published:
        click.echo(f"published {standard.key} v{standard.version}")
    if not result.published:
        click.echo(f"nothing changed: {len(result.unchanged)} standard(s) already published")
    click.echo(f"{result.acknowledgements} acknowledgement(s) requested from sites")


# -- site configs ----------------------------------------------------------------------------

@click.group()
def config() -> None:
    """Site SaaS configs: validate, publish, diff and roll back layered config files."""


@config.command("validate")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def config_validate(directory: str | None) -> None:
    """Check every layer file in DIRECTORY (brand, regions, tiers, sites); report file:line: reason."""
    folder = _folder(directory, "configs_dir", site_config.LIBRARY_DIR)
    layers, problems = site_config.check_folder(folder)
    if problems:
        for problem in problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(problems)} problem(s) in {folder}")
    count = 1 + len(layers.regions) + len(layers.tiers) + len(layers.sites)
    click.echo(f"{folder}: {count} layer file(s) valid")


@config.command("publish")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def config_publish(directory: str | None) -> None:
    """Store a new config version for every site whose effective config changed, and queue its delivery."""
    folder = _folder(directory, "configs_dir", site_config.LIBRARY_DIR)
    layers, problems = site_config.check_folder(folder)
    if problems or layers is None:
        _refuse(problems, str(folder))
    try:
        with unit_of_work() as session:
            sites = distribution.configs.configurable_sites(session=session)
            for warning in distribution.configs.unused_site_layers(layers=layers, sites=sites):
                click.echo(f"warning: {warning}", err=True)
            outcomes = distribution.publish_configs(session=session, layers=layers, actor=cli_actor(), now=_now())
            session.commit()
    except InvalidFiles as exc:
        _refuse(exc.problems, str(folder))
    created = [o for o in outcomes if o.created]
    for outcome in created:
        click.echo(f"{outcome.site_code}: version {outcome.version} queued for delivery")
    click.echo(f"{len(created)} site(s) with a new version, {len(outcomes) - len(created)} unchanged")


@config.command("diff")
@click.argument("site_code")
@click.option("--from", "old", type=int, help="older version (default: the one before --to)")
@click.option("--to", "new", type=int, help="newer version (default: the newest)")
def config_diff(site_code: str, old: int | None, new: int | None) -> None:
    """Show what changed in SITE's config between two versions (+ added, - removed, ~ changed)."""
    try:
        with unit_of_work() as session:
            site = distribution.site_by_code(session=session, code=site_code)
            old, new, changes = distribution.diff_versions(session=session, site=site, old=old, new=new)
    except DistributionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{site_code}: version {old} → {new}")
    for change in changes:
        click.echo(str(change))
    if not changes:
        click.echo("no differences")


@config.command("rollback")
@click.argument("site_code")
@click.option("--to", "version", type=int, required=True, help="the version whose content to bring back")
def config_rollback(site_code: str, version: int) -> None:
    """Publish the content of an older version of SITE's config as a new version."""
    try:
        with unit_of_work() as session:
            site = distribution.site_by_code(session=session, code=site_code)
            outcome = distribution.rollback(session=session, site=site, to_version=version, actor=cli_actor(),
                                            now=_now())
            session.commit()
    except DistributionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{site_code}: version {outcome.version} (content of version {version}) queued for delivery")


@config.command("drift")
@click.option("--site", "site_codes", multiple=True, help="site code (repeatable); default: every differing site")
def config_drift(site_codes: tuple[str, ...]) -> None:
    """Ask the agents of sites whose applied config differs what they hold, and name the differing keys."""
    with unit_of_work() as session:
        checks = check_drift(session=session, settings=get_settings(), now=_now(), site_codes=list(site_codes))
        session.commit()
    for check in checks:
        keys = ", ".join(check.keys) if check.keys else "keys unknown"
        click.echo(f"{check.site_code}: {keys}" + (f" ({check.error})" if check.error else ""))
    if not checks:
        click.echo("every site holds its desired config (or has none yet)")
