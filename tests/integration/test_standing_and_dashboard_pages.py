"""The partner's standing decided in one place, and the brand-health dashboard's aggregates (both databases)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from brand_hub import standing
from brand_hub.dashboard import pages
from brand_hub.models import FranchiseeStatus
from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus, ReportStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.models.standards import Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)


def _flag(session, partner, rule, state=FlagState.open, severity=Severity.major, site=None, **evidence):
    flag = Flag(franchisee_id=partner.id, site_id=site.id if site else None, rule=rule, state=state,
                severity=severity, opened_at=NOW - timedelta(days=3), evidence=evidence)
    session.add(flag)
    session.flush()
    return flag


def _score(session, site, period, card, score, **indicators):
    session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1,
                          status="scored" if card != "insufficient" else "insufficient", score=score, card=card,
                          coverage=0.9, indicators={k: {"normalised": v} for k, v in indicators.items()}))


def _publish(session, *quarters):
    for quarter in quarters:
        session.add(CardPublication(period=quarter, model_id="brand-health", model_version=1, published_by="test"))
    session.flush()


def test_the_standing_combines_the_registry_status_and_the_notice_flags_in_one_order():
    assert standing.decide("active", set()) == "active"
    assert standing.decide("active", {"red-card"}) == "on_notice"
    assert standing.decide("on_notice", set()) == "on_notice"
    assert standing.decide("on_notice", {"termination-review", "red-card"}) == "termination_review"
    assert standing.decide("suspended", {"termination-review"}) == "suspended"
    assert standing.decide("prospect", set()) == "prospect"


def test_hq_set_and_flag_raised_notices_are_counted_and_listed_the_same_way(session):
    by_hq = make_franchisee(session, code="HQSET", status=FranchiseeStatus.on_notice)
    by_card = make_franchisee(session, code="CARD")
    reviewed = make_franchisee(session, code="REVIEW")
    suspended = make_franchisee(session, code="SUSP", status=FranchiseeStatus.suspended)
    make_franchisee(session, code="FINE")
    _flag(session, by_card, "red-card", site=make_site(session, by_card))
    _flag(session, by_card, "red-card", state=FlagState.resolved, site=make_site(session, by_card))
    _flag(session, reviewed, "termination-review", severity=Severity.critical)
    _flag(session, suspended, "termination-review")
    session.commit()
    assert standing.count_in_trouble(session=session) == 3
    assert [(p.code, s.standing) for p, s in standing.in_trouble(session=session)] == [
        ("REVIEW", "termination_review"), ("CARD", "on_notice"), ("HQSET", "on_notice")]
    found = standing.standings(session=session)
    assert found[by_hq.id].set_by_hq_only and not found[by_card.id].set_by_hq_only
    assert len(found[by_card.id].flags) == 1  # the resolved red card no longer counts
    assert found[suspended.id].standing == "suspended"


def test_partners_at_risk_are_ranked_with_their_reasons(session):
    troubled = make_franchisee(session, code="TROUBLE")
    agreement = make_agreement(session, troubled)
    red_site = make_site(session, troubled, agreement, code="RED-01")
    falling = make_site(session, troubled, agreement, code="FALL-01")
    calm = make_franchisee(session, code="CALM")
    calm_site = make_site(session, calm, make_agreement(session, calm), code="CALM-01")
    _publish(session, "2026-Q2", "2026-Q3")
    _score(session, red_site, "2026-Q2", "red", 40.0, co2=30.0)
    _score(session, red_site, "2026-Q3", "red", 38.0, co2=20.0)
    _score(session, falling, "2026-Q2", "green", 90.0, co2=90.0)
    _score(session, falling, "2026-Q3", "yellow", 60.0, co2=70.0)
    _score(session, calm_site, "2026-Q2", "green", 80.0, co2=80.0)
    _score(session, calm_site, "2026-Q3", "green", 82.0, co2=85.0)
    _flag(session, troubled, "termination-review", severity=Severity.critical, sites=["RED-01"])
    _flag(session, troubled, "revenue-report-missing", site=falling)
    _flag(session, troubled, "agent-unreachable", severity=Severity.warning, site=falling)
    session.add(Invoice(agreement_id=agreement.id, franchisee_id=troubled.id, period="2026-09", number="BH-1",
                        status=InvoiceStatus.partially_paid, plan_id="standard-2026", due_date=TODAY - timedelta(days=40),
                        total=Decimal("1000.10"), amount_paid=Decimal("0.05")))
    standard = Standard(key="iaq-co2", version=1, category="iaq", title_zh="空气", content={}, content_hash="x")
    session.add(standard)
    session.flush()
    session.add(StandardAcknowledgement(site_id=red_site.id, standard_id=standard.id, due_at=NOW - timedelta(days=1)))
    session.commit()
    scope = pages.Scope(today=TODAY, now=NOW)
    quarters = pages.published_quarters(session=session)
    assert [q.period for q in quarters] == ["2026-Q3", "2026-Q2"]
    ranked, total = pages.at_risk(pages.partner_risks(session=session, scope=scope, quarters=quarters))
    assert total == 1 and ranked[0].code == "TROUBLE"
    risk = ranked[0]
    kinds = [r.kind for r in risk.reasons]
    assert kinds[0] == "termination_review"
    assert set(kinds) == {"termination_review", "red_twice", "score_fall", "flags", "overdue", "reports_missing",
                          "feeds_down", "acks_overdue"}
    assert risk.overdue == Decimal("1000.05") and risk.overdue_days == 40
    fall = next(r for r in risk.reasons if r.kind == "score_fall")
    assert fall.figures["before"] == 65.0 and fall.figures["now"] == 49.0
    cards = pages.card_trend(session=session, quarters=quarters)
    assert cards == [("2026-Q2", {"green": 2, "yellow": 0, "red": 1, "insufficient": 0}),
                     ("2026-Q3", {"green": 1, "yellow": 1, "red": 1, "insufficient": 0})]
    rises, falls = pages.movers(session=session, latest=quarters[0], previous=quarters[1])
    assert [m.site_code for m in rises] == ["CALM-01"] and [m.site_code for m in falls] == ["FALL-01", "RED-01"]

    class Ind:
        id, title_zh, title_en = "co2", "二氧化碳", "CO2"

    (co2,) = pages.indicator_spread(session=session, quarters=quarters, indicators=[Ind])
    assert co2.median == 70.0 and co2.p25 == 45.0 and co2.p75 == 77.5 and co2.trend == [80.0, 70.0]
    by = pages.comparisons(session=session, latest=quarters[0])
    assert [(c.key, c.sites, c.red) for c in by["partner"]] == [("TROUBLE", 2, 1), ("CALM", 1, 0)]
    one = pages.partner_risks(session=session, scope=pages.Scope(TODAY, NOW, (calm.id,)), quarters=quarters)
    assert list(one) == [calm.id] and one[calm.id].reasons == []


def test_monthly_money_sums_the_newest_reports_and_the_royalty_lines_exactly(session):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, desks=10)
    other = make_site(session, partner, agreement, desks=20)
    make_revenue_report(session, site, "2026-11", "100.10")
    make_revenue_report(session, site, "2026-11", "200.20", version=2, status=ReportStatus.corrected)
    make_revenue_report(session, other, "2026-11", "0.01")
    invoice = Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period="2026-11", number="BH-9",
                      status=InvoiceStatus.draft, plan_id="standard-2026", total=Decimal("30.03"))
    session.add(invoice)
    session.flush()
    for n, (kind, amount) in enumerate((("royalty", "10.01"), ("minimum_topup", "20.02"), ("brand_fund", "5.00"))):
        session.add(InvoiceLine(invoice_id=invoice.id, position=n, kind=kind, description=kind, service_period="2026-11",
                                amount=Decimal(amount), plan_id="standard-2026"))
    session.flush()
    invoice.status = InvoiceStatus.issued  # issued after its lines, as the billing run does
    session.add(invoice)
    session.commit()
    months = pages.monthly_money(session=session, today=TODAY, months=2)
    assert [m.period for m in months] == ["2026-10", "2026-11"]
    november = months[1]
    assert november.revenue == Decimal("200.21") and november.royalty == Decimal("30.03")
    assert november.desks == 30 and november.per_desk == Decimal("6.67") and november.reports == 2
    assert months[0].revenue == Decimal("0.00") and months[0].per_desk is None
