"""``brandhub billing disputes list|resolve`` and ``brandhub billing diff`` (issue 11)."""
from __future__ import annotations

from datetime import datetime, timezone

import click

from brand_hub.billing import BillingError, diff as billing_diff, plans, runs
from brand_hub.billing import disputes as billing_disputes
from brand_hub.billing.revenue import parse_amount
from standards.loader import InvalidFiles

from .context import cli_actor, get_settings, unit_of_work


@click.group("disputes")
def disputes() -> None:
    """Partners' disputes of invoice lines: list them, resolve them."""


@disputes.command("list")
@click.option("--status", type=click.Choice(["open", "accepted", "partly_accepted", "rejected", "all"]),
              default="open", show_default=True)
def disputes_list(status: str) -> None:
    """Disputes with the line, the amount disputed and proposed, and the reason."""
    with unit_of_work() as session:
        rows = billing_disputes.listing(session=session, status=None if status == "all" else status)
        for dispute, invoice, line, partner in rows:
            click.echo(f"#{dispute.id:<5} {invoice.number:<16} line {line.position:<3} {partner.code:<8} "
                       f"{line.kind:<14} {line.site_code:<10} {dispute.disputed_amount:>12,.2f} → "
                       f"{dispute.proposed_amount:>12,.2f}  {dispute.status.value:<16} {dispute.reason[:60]}")
    click.echo(f"{len(rows)} dispute(s)")


@disputes.command("resolve")
@click.argument("dispute_id", type=int)
@click.option("--accept", "decision", flag_value="accept", help="credit the whole difference")
@click.option("--partly", "decision", flag_value="partly", help="credit --amount (less than the difference)")
@click.option("--reject", "decision", flag_value="reject", help="credit nothing; --reason required")
@click.option("--amount", default=None, help="with --partly: the amount granted, before VAT")
@click.option("--reason", default="", help="in words the partner reads")
def disputes_resolve(dispute_id: int, decision: str | None, amount: str | None, reason: str) -> None:
    """Decide DISPUTE_ID; a credit note names the line; the partner is told by mail."""
    if decision is None:
        raise click.UsageError("say --accept, --partly or --reject")
    try:
        granted = parse_amount(amount, "amount") if amount is not None else None
        with unit_of_work() as session:
            dispute = billing_disputes.resolve(session=session, dispute_id=dispute_id, decision=decision,
                                               reason=reason, granted=granted, actor=cli_actor(),
                                               now=datetime.now(timezone.utc))
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"dispute #{dispute.id} {dispute.status.value}; credited {dispute.credited} before VAT")


@click.command("diff")
@click.option("--period", required=True, help="the month, e.g. 2026-11")
@click.option("--against", default=None, help="another month (e.g. 2026-10); none: the drafts the last run wrote")
def diff(period: str, against: str | None) -> None:
    """Explain every change per partner, site and line kind."""
    try:
        with unit_of_work() as session:
            if against:
                result = billing_diff.months(session=session, period=period, against=against)
            else:
                try:
                    loaded = plans(get_settings().royalty_dir)
                except InvalidFiles as exc:
                    raise click.ClickException(f"royalty plans refused:\n{exc}") from exc
                drafts = runs.compute(session=session, period=period, plans=loaded,
                                      today=datetime.now(timezone.utc).date(), problems=[])
                result = billing_diff.rerun(session=session, period=period, drafts=drafts)
            session.rollback()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    print_diff(result)


def print_diff(result: billing_diff.Diff) -> None:
    click.echo(f"{result.title_after} against {result.title_before}")
    header = (f"{'partner':<8} {'agreement':<13} {'site':<10} {'line':<14} {result.title_before[:14]:>14} "
              f"{result.title_after[:14]:>14} {'change':>13}  why")
    click.echo(header)
    click.echo("-" * len(header))
    for row in result.rows:
        before = "—" if row.before is None else f"{row.before:,.2f}"
        after = "—" if row.after is None else f"{row.after:,.2f}"
        why = row.words() + (f" ({row.detail})" if row.detail else "")
        click.echo(f"{row.partner:<8} {row.agreement:<13} {row.site or '—':<10} {row.kind:<14} {before:>14} "
                   f"{after:>14} {row.change:>+13,.2f}  {why}")
    click.echo("-" * len(header))
    click.echo(f"{len(result.rows)} change(s); lines before {result.total_before:,.2f} → now "
               f"{result.total_after:,.2f} ({result.total_change:+,.2f}) CNY before VAT")
