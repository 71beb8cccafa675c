"""Ownership over time in compliance (issue 17): each partner answers for the cards of the quarters it held."""
from __future__ import annotations

from datetime import date

from brand_hub import compliance
from tests.builders import make_agreement, make_franchisee, make_site, move_site_by_import
from tests.integration.test_flags_engine import NOW, add_score, add_target, evaluate, flags_of, publish_cards


def test_a_red_card_of_the_previous_holder_never_counts_towards_the_new_holders_termination_review(session,
                                                                                                   settings):
    a, b = make_franchisee(session, code="TA01"), make_franchisee(session, code="TB01")
    site = make_site(session, a, make_agreement(session, a), code="SH-MV-01", opened_on=date(2025, 1, 1))
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q2", "red")   # A's quarter
    add_score(session, site, "2026-Q3", "red")   # B's quarter: B holds the site from 2026-07-01
    publish_cards(session, "2026-Q2", "2026-Q3")
    move_site_by_import(session, site, b, make_agreement(session, b), date(2026, 7, 1))
    evaluate(session, settings)
    assert flags_of(session, "termination-review") == []
    standing = {p.franchisee.code: p.standing for p in compliance.network_standing(session=session)}
    assert standing.get("TB01") == "on_notice" and standing.get("TA01") != "termination_review"
