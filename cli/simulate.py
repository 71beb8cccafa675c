"""``brandhub billing simulate``: what draft royalty plans would have charged over past months."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import click

from brand_hub.billing import BillingError, plan_drafts, plans, simulate
from standards.loader import InvalidFiles

from .billing import billing
from .context import get_settings, unit_of_work


@billing.command("simulate")
@click.option("--plan", "plan_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a draft plan file (repeat to compare several)")
@click.option("--draft", "draft_names", multiple=True, help="a draft saved in the dashboard, by name (repeatable)")
@click.option("--from", "first", required=True, help="first month, e.g. 2026-01")
@click.option("--to", "last", required=True, help="last month, e.g. 2026-10")
@click.option("--agreements", default="", help="agreement numbers, comma-separated (default: all)")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--rise-pct", type=click.FloatRange(0, 1000), default=10.0, show_default=True,
              help="list partners whose charge rises by more than this share")
def billing_simulate(plan_files: tuple[Path, ...], draft_names: tuple[str, ...], first: str, last: str,
                     agreements: str, fmt: str, rise_pct: float) -> None:
    """Re-price FROM…TO on the revenue actually reported under each draft plan; writes nothing."""
    if not plan_files and not draft_names:
        raise click.ClickException("name at least one draft: --plan FILE or --draft NAME")
    try:
        current = plans(get_settings().royalty_dir)
    except InvalidFiles as exc:
        raise click.ClickException(f"royalty plans refused:\n{exc}") from exc
    numbers = [n.strip() for n in agreements.split(",") if n.strip()]
    try:
        scenarios = [simulate.Scenario(path.stem, plan_drafts.parse(_read(path), path.stem)) for path in plan_files]
        with unit_of_work() as session:
            for name in draft_names:
                draft = plan_drafts.get(session=session, name=name)
                scenarios.append(simulate.Scenario(name, plan_drafts.parse(draft.text, name)))
            result = simulate.simulate(session=session, plans=current, drafts=scenarios,
                                       periods=simulate.months_between(first, last), agreement_numbers=numbers)
    except InvalidFiles as exc:
        raise click.ClickException(f"draft refused:\n{exc}") from exc
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    threshold = Decimal(str(rise_pct)) / 100
    click.echo({"table": _table, "csv": _csv, "json": _json}[fmt](result, threshold), nl=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text") from exc


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f}%"


def _table(result: simulate.Simulation, threshold: Decimal) -> str:
    out = io.StringIO()
    names = result.scenarios
    drafts = names[1:]
    out.write(f"SIMULATION {result.periods[0]} … {result.periods[-1]}: royalty and fees before VAT, CNY; "
              f"nothing written\n")
    header = f"{'month':<9} {'revenue':>16} " + " ".join(f"{n[:16]:>16}" for n in names)
    out.write(header + "\n" + "-" * len(header) + "\n")
    for row in [*result.months, result.total]:
        label = "total" if row is result.total else row.key
        out.write(f"{label:<9} {row.revenue:>16,.2f} " + " ".join(f"{row.amounts[n]:>16,.2f}" for n in names) + "\n")
    for name in drafts:
        out.write(f"\n{name}: {result.total.delta(name):+,.2f} CNY ({_pct(result.total.change(name))} of today's "
                  f"charge, {_pct(result.total.delta_share_of_revenue(name))} of revenue)\n")
        out.write(f"{'partner':<10} {'revenue':>16} {'today':>14} {'draft':>14} {'change':>14} {'%':>9} "
                  f"{'of revenue':>10}\n")
        for row in result.partners:
            out.write(f"{row.key:<10} {row.revenue:>16,.2f} {row.amounts[simulate.CURRENT]:>14,.2f} "
                      f"{row.amounts[name]:>14,.2f} {row.delta(name):>+14,.2f} {_pct(row.change(name)):>9} "
                      f"{_pct(row.delta_share_of_revenue(name)):>10}\n")
        risers = result.risers(name, threshold)
        out.write(f"partners paying more than {threshold * 100:.1f}% more: "
                  f"{', '.join(r.key for r in risers) if risers else 'none'}\n")
    estimated = result.total.estimated_months
    if estimated:
        out.write(f"\n{estimated} site-month(s) priced on an estimate (no report)\n")
    for problem in result.left_out:
        out.write(f"left out: {problem}\n")
    return out.getvalue()


def _csv(result: simulate.Simulation, threshold: Decimal) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["level", "key", "label", "revenue", "estimated_months", *result.scenarios,
                     *[f"change:{n}" for n in result.scenarios[1:]]])
    for level, rows in (("month", result.months), ("partner", result.partners), ("site", result.sites),
                        ("total", [result.total])):
        for row in rows:
            writer.writerow([level, row.key, row.label, f"{row.revenue:.2f}", row.estimated_months,
                             *[f"{row.amounts[n]:.2f}" for n in result.scenarios],
                             *[f"{row.delta(n):.2f}" for n in result.scenarios[1:]]])
    return out.getvalue()


def _json(result: simulate.Simulation, threshold: Decimal) -> str:
    def row(r: simulate.Row) -> dict:
        return {"key": r.key, "label": r.label, "revenue": f"{r.revenue:.2f}", "estimated_months": r.estimated_months,
                "amounts": {n: f"{r.amounts[n]:.2f}" for n in result.scenarios},
                "change": {n: f"{r.delta(n):.2f}" for n in result.scenarios[1:]}}
    data = {"periods": result.periods, "scenarios": result.scenarios, "total": row(result.total),
            "months": [row(r) for r in result.months], "partners": [row(r) for r in result.partners],
            "sites": [row(r) for r in result.sites],
            "risers": {n: [r.key for r in result.risers(n, threshold)] for n in result.scenarios[1:]},
            "bands": {n: [{"plan": p, "band": b, "site_months": c} for p, b, c in bands] for n, bands in result.bands.items()},
            "left_out": result.left_out}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
