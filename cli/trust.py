"""Finance commands of issue 11, added to the ``revenue`` and ``billing`` groups:

``brandhub revenue assess|doubts|corrections|accept|refuse`` and
``brandhub billing disputes list|resolve`` and ``brandhub billing diff``.
"""
from __future__ import annotations

from datetime import datetime, timezone

import click

from brand_hub.billing import BillingError, corrections, parse_period, plausibility, reads

from .context import cli_actor, unit_of_work


def _period(value: str | None) -> str | None:
    if value:
        try:
            parse_period(value)
        except BillingError as exc:
            raise click.BadParameter(str(exc)) from exc
    return value


@click.command("assess")
@click.option("--period", "periods", multiple=True, help="a month (repeatable); none: every month")
def revenue_assess(periods: tuple[str, ...]) -> None:
    """Assess (again) the plausibility of every report in force, e.g. after the thresholds changed."""
    for period in periods:
        _period(period)
    with unit_of_work() as session:
        results = plausibility.assess_all(session=session, periods=list(periods) or None)
        session.commit()
    counts: dict[str, int] = {}
    for result in results.values():
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    click.echo(f"{len(results)} report(s) assessed: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))


@click.command("doubts")
@click.option("--period", default=None, help="only this month")
def revenue_doubts(period: str | None) -> None:
    """The reports in force judged implausible, with their reasons."""
    _period(period)
    with unit_of_work() as session:
        rows = reads.implausible_reported(session=session, period=period)
        for assessment, site in rows:
            click.echo(f"{site.code:<12} {assessment.period}  {plausibility.summary_of(assessment)}")
    click.echo(f"{len(rows)} implausible report(s)")


@click.command("corrections")
def revenue_corrections() -> None:
    """Corrections waiting for HQ finance, old and new figures side by side."""
    with unit_of_work() as session:
        rows = corrections.pending(session=session)
        for review, report, site in rows:
            click.echo(f"#{review.id:<5} {site.code:<12} {review.period} v{report.version}  "
                       f"{review.previous_gross:>14,.2f} → {report.gross_revenue:>14,.2f}  ({review.why}, "
                       f"by {review.requested_by})")
    click.echo(f"{len(rows)} correction(s) waiting")


def _decide(review_id: int, accept: bool, reason: str) -> None:
    try:
        with unit_of_work() as session:
            review = corrections.decide(session=session, review_id=review_id, accept=accept, reason=reason,
                                        actor=cli_actor(), now=datetime.now(timezone.utc))
            session.commit()
    except BillingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"correction #{review.id} {review.status.value}")


@click.command("accept")
@click.argument("review_id", type=int)
@click.option("--reason", default="", help="optional note kept with the decision")
def revenue_accept(review_id: int, reason: str) -> None:
    """Accept correction REVIEW_ID: it is in force, and the next run trues it up."""
    _decide(review_id, True, reason)


@click.command("refuse")
@click.argument("review_id", type=int)
@click.option("--reason", required=True, help="why, in words the partner reads")
def revenue_refuse(review_id: int, reason: str) -> None:
    """Refuse correction REVIEW_ID with a reason; the figure in force stays."""
    _decide(review_id, False, reason)


def register(*, revenue: click.Group, billing: click.Group) -> None:
    for command in (revenue_assess, revenue_doubts, revenue_corrections, revenue_accept, revenue_refuse):
        revenue.add_command(command)
    for command in _billing_commands():
        billing.add_command(command)


def _billing_commands() -> list[click.Command]:
    """The billing commands of issue 11 that exist so far (disputes, diff)."""
    out = []
    for module, name in (("cli.trust_billing", "disputes"), ("cli.trust_billing", "diff")):
        try:
            from importlib import import_module

            out.append(getattr(import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return out


def rerun_changes(*, session, period: str, drafts):
    """Before a run writes its drafts: what changed since the period's last run (None for a first run)."""
    from brand_hub.billing import diff as billing_diff

    if billing_diff.last_run(session=session, period=period) is None:
        return None
    return billing_diff.rerun(session=session, period=period, drafts=drafts)


def echo_rerun_changes(changes) -> None:
    if changes is None:
        return
    if not changes.rows:
        click.echo("nothing changed since the drafts were last written")
        return
    from .trust_billing import print_diff

    click.echo("changes since the drafts were last written:")
    print_diff(changes)
