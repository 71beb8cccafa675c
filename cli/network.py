"""``brandhub network import|export`` and ``brandhub sites import|list``: bulk onboarding."""
from __future__ import annotations

from pathlib import Path

import click

from brand_hub import registry
from brand_hub.models import SiteStatus

from .context import cli_actor, unit_of_work


class _Cancelled(Exception):
    """Raised inside the unit of work so an all-or-nothing import rolls back."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _run_import(importer, path: Path, atomic: bool) -> None:
    """Run an import; report every refused row; with ``atomic`` any problem cancels the file."""
    text = _read(path)
    try:
        with unit_of_work() as session:
            result = importer(session=session, actor=cli_actor(), text=text, file=str(path))
            for problem in result.problems:
                click.echo(str(problem), err=True)
            if atomic and result.problems:
                raise _Cancelled
            session.commit()
    except _Cancelled:
        raise click.ClickException(
            f"{len(result.problems)} row(s) refused; --atomic: nothing was imported") from None
    summary = f"{path}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
    if result.problems:
        raise click.ClickException(f"{summary}, {len(result.problems)} refused (see above)")
    click.echo(summary)


@click.group()
def network() -> None:
    """The whole registry (partners, agreements, sites) as one YAML file."""


@network.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--atomic", is_flag=True, help="all or nothing: import nothing if any entry is refused")
def network_import(file: Path, atomic: bool) -> None:
    """Create or update partners, agreements and sites from FILE.yaml (safe to run again)."""
    _run_import(registry.import_network_yaml, file, atomic)


@network.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write here instead of standard output")
def network_export(output: Path | None) -> None:
    """Write the registry as a network file that `network import` reads back."""
    with unit_of_work() as session:
        text = registry.network_yaml(registry.export_network(session=session))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@click.group()
def sites() -> None:
    """Sites: bulk import from CSV and listing."""


@sites.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--atomic", is_flag=True, help="all or nothing: import nothing if any row is refused")
def sites_import(file: Path, atomic: bool) -> None:
    """Create or update sites from FILE.csv; bad rows are reported by line, good rows go in."""
    _run_import(registry.import_sites_csv, file, atomic)


@sites.command("list")
@click.option("--search", "q", default="", help="text in code, name, city or address")
@click.option("--status", type=click.Choice([s.value for s in SiteStatus]), default=None)
@click.option("--city", default="")
@click.option("--region", default="")
@click.option("--tier", default="")
@click.option("--partner", "--franchisee", "partner", default="", help="partner code")
@click.option("--sort", type=click.Choice(registry.SITE_SORTS), default="code", show_default=True)
@click.option("--desc", is_flag=True, help="sort descending")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def sites_list(q: str, status: str | None, city: str, region: str, tier: str, partner: str, sort: str,
               desc: bool, fmt: str) -> None:
    """List sites with filters; `--format csv` gives the import's columns."""
    query = registry.SiteQuery(q=q, status=status or "", city=city, region=region, tier=tier,
                               partner=partner, sort=sort, direction="desc" if desc else "asc",
                               per_page=1_000_000)
    with unit_of_work() as session:
        page = registry.search_sites(session=session, query=query)
        if fmt == "csv":
            numbers = registry.agreement_numbers(session=session)
            click.echo(registry.sites_csv(page.items, numbers), nl=False)
            return
    for site, partner in page.items:
        click.echo(f"{site.code:<12} {SiteStatus(site.status).value:<11} {site.tier:<9} {site.region:<6} "
                   f"{site.city:<6} {partner.code:<8} {site.desks:>5}  {site.name_zh}")
    click.echo(f"{page.total} site(s)", err=True)
