"""``brandhub revenue import`` and ``brandhub billing run|issue|export|credit-note|mark-paid``: finance."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from brand_hub.billing import BillingError, invoices, pdf, plans, runs
from brand_hub.billing import revenue as revenue_reports
from brand_hub.billing.revenue import parse_amount
from standards.loader import InvalidFiles

from .context import cli_actor, get_settings, unit_of_work

EXPORT_COLUMNS = ("number", "agreement", "franchisee", "period", "status", "site", "kind", "description",
                  "service_period", "band", "base", "rate", "amount", "estimated", "subtotal", "vat", "total",
                  "currency")


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _local_today() -> date:
    """Today where HQ works (``BRANDHUB_TIMEZONE``): the latest date a payment can have arrived."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


@click.group()
def revenue() -> None:
    """Sites' monthly gross revenue reports."""


@revenue.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def revenue_import(file: Path) -> None:
    """Import FILE.csv (site_code,period,gross_revenue[,desks,offices,meeting_rooms,services]).

    Bad rows are reported by line and skipped; the good rows are kept.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        with unit_of_work() as session:
            result = revenue_reports.import_csv(session=session, text=text, file=str(file),
                                        actor=cli_actor(), today=_today())
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in result.problems:
        click.echo(str(problem), err=True)
    click.echo(f"{file}: {result.written} stored, {result.unchanged} unchanged, {len(result.problems)} refused")
    if result.problems:
        raise click.ClickException(f"{len(result.problems)} row(s) refused (the other rows were kept)")


@click.group()
def billing() -> None:
    """Monthly royalty billing: runs, issuing, export, credit notes, payments."""


def _plans():
    try:
        return plans(get_settings().royalty_dir)
    except InvalidFiles as exc:
        raise click.ClickException(f"royalty plans refused:\n{exc}") from exc


@billing.command("run")
@click.option("--period", required=True, help="the month, e.g. 2026-10")
@click.option("--dry-run", is_flag=True, help="print the review table; write nothing")
def billing_run(period: str, dry_run: bool) -> None:
    """Compute every active agreement's invoice for PERIOD; write drafts (replacing earlier drafts)."""
    loaded = _plans()
    problems: list[str] = []
    left_out: list[runs.LeftOut] = []
    try:
        with unit_of_work() as session:
            drafts = runs.compute(session=session, period=period, plans=loaded, today=_today(), problems=problems,
                                  left_out=left_out)
            if dry_run:
                _print_review(runs.review(session=session, period=period, drafts=drafts, left_out=left_out), period)
                _refuse_if(problems)
                return
            changes = _trust.rerun_changes(session=session, period=period, drafts=drafts)  # issue 11
            run = runs.write_drafts(session=session, period=period, drafts=drafts, actor=cli_actor(),
                                    progress=lambda d: click.echo(f"drafted {d.agreement.number} "
                                                                  f"{d.totals.total}"),
                                    left_out=left_out)
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"run {run.id} for {period}: {run.drafts} draft(s), total {run.total} CNY; "
               f"{run.skipped_issued} already issued, left alone; {len(left_out)} left out")
    _echo_left_out(left_out)
    _trust.echo_rerun_changes(changes)  # issue 11: what changed since the drafts were last written
    _refuse_if(problems)


def _echo_left_out(left_out: list[runs.LeftOut]) -> None:
    for item in left_out:
        click.echo(f"left out {item.agreement} ({item.franchisee}): {item.reason}")


def _refuse_if(problems: list[str]) -> None:
    """The others were billed; the command still fails so finance sees what was left out."""
    if problems:
        raise click.ClickException(f"{len(problems)} agreement(s) not billed:\n" + "\n".join(problems))


KIND_HEADERS = {"royalty": "royalty", "minimum_topup": "min top-up", "brand_fund": "brand fund",
                "tech_fee": "tech fee", "true_up": "true-up", "late_fee": "late fee"}


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _print_review(review: runs.Review, period: str) -> None:
    """The review table finance signs off before issuing (see ``runs.review``)."""
    click.echo(f"DRY RUN {period}: nothing written")
    header = f"{'partner':<10} {'agreement':<14} {'site':<12} {'amount':>14} {'last month':>14} {'change':>14}  note"
    click.echo(header)
    click.echo("-" * len(header))
    for row in review.rows:
        previous = "—" if row.previous is None else f"{row.previous:,.2f}"
        change = "—" if row.change is None else f"{row.change:+,.2f}"
        note = " ".join(filter(None, ["estimated" if row.estimated else "", row.note,
                                      f"IMPLAUSIBLE: {row.doubt}" if getattr(row, "doubt", "") else ""]))
        click.echo(f"{row.franchisee:<10} {row.agreement:<14} {row.site:<12} {row.amount:>14,.2f} "
                   f"{previous:>14} {change:>14}  {note}")
    click.echo("-" * len(header))

    click.echo("")
    click.echo("revenue of the month per invoice (CNY)")
    head = (f"{'agreement':<14} {'partner':<10} {'state':<18} {'reported':>15} {'estimated':>15} "
            f"{'corrected':>15} {'base':>15}")
    click.echo(head)
    click.echo("-" * len(head))
    for inv in review.detail:
        state = f"issued {inv.number}" if inv.issued else "draft"
        click.echo(f"{inv.agreement:<14} {inv.franchisee:<10} {state:<18} {inv.revenue['reported']:>15,.2f} "
                   f"{inv.revenue['estimated']:>15,.2f} {inv.revenue['corrected']:>15,.2f} {inv.base:>15,.2f}")

    click.echo("")
    click.echo("lines per invoice (CNY)")
    head = (f"{'agreement':<14} " + " ".join(f"{KIND_HEADERS[k]:>12}" for k in runs.LINE_KINDS)
            + f" {'subtotal':>13} {'VAT':>11} {'total':>13}")
    click.echo(head)
    click.echo("-" * len(head))
    for inv in review.detail:
        click.echo(f"{inv.agreement:<14} " + " ".join(f"{inv.by_kind[k]:>12,.2f}" for k in runs.LINE_KINDS)
                   + f" {inv.subtotal:>13,.2f} {inv.vat:>11,.2f} {inv.total:>13,.2f}")
    if review.labelled:
        click.echo("")
        click.echo("late fees and true-ups, and what they are computed on")
        for item in review.labelled:
            label = KIND_HEADERS[item.kind]
            click.echo(f"  {label:<9} {item.agreement:<14} {item.amount:>12,.2f}  on {item.computed_on}")

    click.echo("")
    click.echo(f"per partner: {period} against {review.previous_period} (issued), incl. VAT")
    head = f"{'partner':<10} {period:>15} {review.previous_period:>15} {'change CNY':>15} {'change %':>9}"
    click.echo(head)
    click.echo("-" * len(head))
    for partner in review.partners:
        change = "—" if partner.change is None else f"{partner.change:+,.2f}"
        pct = "—" if partner.change_pct is None else f"{partner.change_pct:+}%"
        click.echo(f"{partner.franchisee:<10} {partner.current:>15,.2f} {_money(partner.previous):>15} "
                   f"{change:>15} {pct:>9}")
    previous_total = review.previous_total
    total_change = None if previous_total is None else review.period_total - previous_total
    pct = "—" if not previous_total else \
        f"{(total_change / previous_total * 100).quantize(Decimal('0.1')):+}%"
    click.echo(f"{'total':<10} {review.period_total:>15,.2f} {_money(previous_total):>15} "
               f"{'—' if total_change is None else f'{total_change:+,.2f}':>15} {pct:>9}")

    if review.left_out:
        click.echo("")
        click.echo(f"left out ({len(review.left_out)}): no invoice, no number")
        for item in review.left_out:
            click.echo(f"  {item.agreement} ({item.franchisee}): {item.reason}")

    click.echo("")
    click.echo(f"invoices {review.invoices} · estimated sites {review.estimated_sites} · "
               f"issued, left alone {review.skipped_issued} · left out {len(review.left_out)}")
    click.echo(f"control totals: subtotal {review.subtotal:,.2f} · VAT {review.vat:,.2f} · "
               f"total {review.total:,.2f} CNY")
    for control in review.controls:
        mark = "ok" if control.ok else "DOES NOT ADD UP"
        click.echo(f"  {mark:<4} {control.label}: {control.left:,.2f} = {control.right:,.2f}")


@billing.command("issue")
@click.option("--period", required=True)
@click.option("--no-pdf", is_flag=True, help="only number and issue; the next `issue` renders the missing PDFs")
def billing_issue(period: str, no_pdf: bool) -> None:
    """Number the drafts of PERIOD (gap-free per year), issue them, and render their PDFs."""
    settings = get_settings()
    try:
        with unit_of_work() as session:
            issued = invoices.issue_period(session=session, period=period, actor=cli_actor(),
                                           now=datetime.now(timezone.utc), due_days=settings.invoice_due_days)
            numbers = [i.number for i in issued]
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    for number in numbers:
        click.echo(f"issued {number}")
    if no_pdf:
        click.echo(f"{len(numbers)} invoice(s) issued for {period}; PDFs not rendered (--no-pdf)")
        return
    # PDFs in their own unit of work: an interrupted render is redone by the next `issue`
    with unit_of_work() as session:
        rendered = pdf.render_missing(session=session, brand_name=settings.brand_name, workers=settings.pdf_workers,
                                      payee=pdf.Payee.from_settings(settings))
        session.commit()
    click.echo(f"{len(numbers)} invoice(s) issued for {period}; {len(rendered)} PDF(s) rendered")


@billing.command("export")
@click.option("--period", required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
def billing_export(period: str, fmt: str, output: Path | None) -> None:
    """Export PERIOD's invoices for accounting (CSV: one row per line; JSON: one record per invoice)."""
    try:
        with unit_of_work() as session:
            records = invoices.export_period(session=session, period=period)
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    text = json.dumps(records, ensure_ascii=False, indent=2) if fmt == "json" else _csv(records)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{len(records)} invoice(s) written to {output}")
    else:
        click.echo(text, nl=False)


def _csv(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        for line in record["lines"]:
            # booleans as JSON writes them (true/false), not Python's True/False
            writer.writerow({**record, **line, "estimated": "true" if line["estimated"] else "false"})
    return buffer.getvalue()


def _amount(text: str) -> Decimal:
    try:
        return parse_amount(text, "amount")
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc


@billing.command("credit-note")
@click.argument("invoice")
@click.option("--amount", required=True)
@click.option("--reason", required=True)
def billing_credit_note(invoice: str, amount: str, reason: str) -> None:
    """Credit AMOUNT on issued INVOICE (never more than what remains)."""
    try:
        with unit_of_work() as session:
            note = invoices.credit_note(session=session, number=invoice, amount=_amount(amount), reason=reason,
                                        actor=cli_actor(), now=datetime.now(timezone.utc))
            label = f"{note.number}: {note.amount} CNY credited on {invoice}"
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(label)


@billing.command("mark-paid")
@click.argument("invoice")
@click.option("--amount", required=True)
@click.option("--date", "paid_on", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
def billing_mark_paid(invoice: str, amount: str, paid_on: datetime) -> None:
    """Record a payment of AMOUNT on INVOICE received on DATE (partial payments allowed)."""
    try:
        with unit_of_work() as session:
            invoices.mark_paid(session=session, number=invoice, amount=_amount(amount), paid_on=paid_on.date(),
                               actor=cli_actor(), today=_local_today())
            found = invoices.get_invoice(session=session, number=invoice)
            label = f"{invoice}: paid {found.amount_paid}, balance {found.balance} ({found.status.value})"
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(label)


# issue 11: plausibility, reviewed corrections, disputes and run diffs (their own module)
from . import trust as _trust  # noqa: E402

_trust.register(revenue=revenue, billing=billing)
