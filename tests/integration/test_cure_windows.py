"""Cards that accumulate: the red-card flag follows its cure window, termination review follows strikes."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import select

from brand_hub import compliance
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.scoring import CardPublication
from tests.integration.test_flags_engine import (
    NOW, add_score, add_target, evaluate, flags_of, publish_cards, site,  # noqa: F401  (site is a fixture)
)


def published_on(session, period: str, day: str) -> None:
    row = session.exec(select(CardPublication).where(CardPublication.period == period)).one()
    row.published_at = datetime.fromisoformat(f"{day}T02:00:00+00:00")
    session.flush()


def critical_flag(session, site, *, opened: str, resolved: str | None) -> Flag:
    flag = Flag(site_id=site.id, franchisee_id=site.franchisee_id, rule="std:fire-safety/exits-blocked",
                severity=Severity.critical, state=FlagState.resolved if resolved else FlagState.open,
                opened_at=datetime.fromisoformat(f"{opened}T02:00:00+00:00"),
                resolved_at=datetime.fromisoformat(f"{resolved}T02:00:00+00:00") if resolved else None,
                open_key=None if resolved else f"{site.id}:std:fire-safety/exits-blocked:")
    session.add(flag)
    session.flush()
    return flag


def red_then_yellow(session, site) -> None:
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q2", "red")
    add_score(session, site, "2026-Q3", "yellow")
    publish_cards(session, "2026-Q2", "2026-Q3")
    published_on(session, "2026-Q2", "2026-07-15")   # window due 2026-11-12 (120 days)
    published_on(session, "2026-Q3", "2026-10-15")


def test_a_red_cured_by_a_yellow_card_and_its_critical_flag_fixed_in_time_closes_the_red_card_flag(
        session, settings, site):
    red_then_yellow(session, site)
    critical_flag(session, site, opened="2026-07-01", resolved="2026-09-30")
    evaluate(session, settings)
    assert [f.state for f in flags_of(session, "red-card")] in ([], [FlagState.resolved])
    assert flags_of(session, "termination-review") == []


def test_a_red_whose_critical_flag_is_still_open_past_the_due_date_is_missed_and_stays_flagged(
        session, settings, site):
    red_then_yellow(session, site)
    critical_flag(session, site, opened="2026-07-01", resolved=None)
    evaluate(session, settings)
    (red,) = flags_of(session, "red-card")
    assert red.state == FlagState.open
    assert (red.evidence["quarter"], red.evidence["window"], red.evidence["due_on"]) == \
        ("2026-Q2", "missed", "2026-11-12")
    assert red.evidence["flags"] == ["std:fire-safety/exits-blocked"]
    # a missed red (1) and a yellow (0.5) are 1.5 strikes: below the model's 2
    assert flags_of(session, "termination-review") == []


def test_a_missed_red_and_a_new_red_reach_termination_review_with_the_strikes_as_evidence(session, settings, site):
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q1", "red")
    add_score(session, site, "2026-Q2", "green")
    add_score(session, site, "2026-Q3", "red")
    publish_cards(session, "2026-Q1", "2026-Q2", "2026-Q3")
    published_on(session, "2026-Q1", "2026-04-15")
    published_on(session, "2026-Q2", "2026-07-15")
    published_on(session, "2026-Q3", "2026-10-15")
    critical_flag(session, site, opened="2026-04-01", resolved=None)   # never fixed: Q1's window missed
    evaluate(session, settings)
    (review,) = flags_of(session, "termination-review")
    assert review.evidence["sites"] == [site.code]
    assert review.evidence["strikes"][site.code] == {"total": 2.0, "since": "2024-Q4",
                                                     "quarters": ["2026-Q1", "2026-Q3"]}
    assert compliance.network_standing(session=session)[0].standing == "termination_review"
