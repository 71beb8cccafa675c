"""Revenue plausibility and reviewed corrections against real databases (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub import compliance
from brand_hub.audit import SYSTEM, Actor
from brand_hub.billing import BillingError, corrections, invoices, plans, plausibility, runs, shift_period
from brand_hub.billing.revenue import import_csv, newest_report, submit_report
from brand_hub.models.billing import ReportSource
from brand_hub.models.collection import OpsEvent
from brand_hub.models.compliance import Flag, FlagState
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import Standard
from brand_hub.models.trust import CorrectionReview, ReviewStatus, RevenueAssessment
from standards.loader import Problem
from standards.standard_format import load_folder
from tests.builders import make_agreement, make_franchisee, make_site

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
MONTHS = [shift_period("2026-10", -i) for i in range(6, 0, -1)]  # 2026-04 … 2026-09
H = timedelta(hours=1)


def submit(session, site, period, gross, **kwargs):
    kwargs.setdefault("breakdown", {})
    return submit_report(session=session, site=site, period=period, gross_revenue=D(gross),
                         source=ReportSource.portal, submitted_by="partner@example.com", today=TODAY, **kwargs)


def activity(session, site, period, *, occupancy=0.6, check_ins=2000):
    session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1, status="scored",
                          score=80.0, coverage=0.9, computed_at=NOW,
                          indicators={"desk_utilisation": {"raw": occupancy, "status": "ok"}}))
    year, month = map(int, period.split("-"))
    session.add(OpsEvent(site_id=site.id, record_id=f"ci-{site.code}-{period}", kind="check_in",
                         occurred_at=datetime(year, month, 15, 4, tzinfo=timezone.utc), quantity=check_ins))


@pytest.fixture
def network(session):
    """Seven standard sites in 上海, six months of steady revenue and activity; October not yet reported."""
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    sites = [make_site(session, partner, agreement, desks=100) for _ in range(7)]
    for n, site in enumerate(sites):
        level = 3300 + 60 * n
        for i, period in enumerate(MONTHS + ["2026-10"]):
            if period != "2026-10":
                submit(session, site, period, str(site.desks * level + 1000 * (i % 3)), assess=False)
            activity(session, site, period)
    session.flush()
    return sites


def report_october(session, sites, suspect_gross="190000"):
    for site in sites[1:]:
        submit(session, site, "2026-10", str(site.desks * 3400))
    report, _ = submit(session, sites[0], "2026-10", suspect_gross)
    return report


def test_tests_see_the_revenue_plausibility_standard_in_the_library():
    assert "revenue-plausibility" in {spec.key for spec in load_folder()}


def test_a_report_falling_while_occupancy_and_check_ins_hold_is_assessed_implausible(session, network):
    report = report_october(session, network)
    stored = session.exec(select(RevenueAssessment).where(RevenueAssessment.report_id == report.id)).one()
    assert stored.verdict == "implausible"
    fell = next(r for r in stored.reasons if r["code"] == "revenue_fell")
    assert fell["off"] and "occupancy during open hours held" in fell["text"] and "check-ins held" in fell["text"]
    assert stored.signals["cohort_size"] == 6 and stored.signals["activity"]["occupancy"]["now"] == 0.6
    others = session.exec(select(RevenueAssessment).where(RevenueAssessment.period == "2026-10",
                                                          RevenueAssessment.report_id != report.id)).all()
    assert len(others) == 6 and {a.verdict for a in others} == {"plausible"}


def test_an_imported_file_is_assessed_at_once_and_a_bad_row_does_not_stop_it(session, network):
    rows = ["site_code,period,gross_revenue"] + [f"{s.code},2026-10,{s.desks * 3400}" for s in network[1:]]
    rows += [f"{network[0].code},2026-10,190000", "NOPE,2026-10,1"]
    result = import_csv(session=session, text="\n".join(rows), file="oct.csv", actor=SYSTEM, today=TODAY)
    assert result.written == 7 and result.problems == [Problem("oct.csv", 9, "unknown site 'NOPE'")]
    verdicts = dict(session.exec(select(RevenueAssessment.site_id, RevenueAssessment.verdict)
                                 .where(RevenueAssessment.period == "2026-10")).all())
    assert verdicts[network[0].id] == "implausible" and list(verdicts.values()).count("plausible") == 6


def test_a_new_site_without_history_or_cohort_gets_insufficient_data(session):
    partner = make_franchisee(session)
    site = make_site(session, partner, make_agreement(session, partner), tier="flagship", city="拉萨")
    report, _ = submit(session, site, "2026-10", "100000")
    assert session.exec(select(RevenueAssessment.verdict).where(
        RevenueAssessment.report_id == report.id)).one() == "insufficient_data"


def publish_library_standard(session):
    spec = next(s for s in load_folder() if s.key == "revenue-plausibility")
    session.add(Standard(key=spec.key, version=spec.version, category="data_privacy", title_zh="营业收入合理性",
                         title_en="Plausible revenue reports", content=spec.content, content_hash="sha256:x",
                         published_at=NOW - 40 * 24 * H))
    session.flush()


def test_an_implausible_report_raises_one_flag_of_its_own_rule_with_the_reasons(session, settings, network):
    publish_library_standard(session)
    report_october(session, network)
    for at in (NOW, NOW + 2 * H, NOW + 3 * H):
        compliance.evaluate(session=session, settings=settings, now=at)
    rule = "std:revenue-plausibility/plausible-revenue"
    flags = session.exec(select(Flag).where(Flag.rule == rule)).all()
    by_site = {f.site_id: f for f in flags}
    suspect = by_site[network[0].id]
    assert suspect.state == FlagState.open and suspect.severity.value == "major"
    assert "2026-10" in suspect.evidence["reports"] and "revenue fell" in suspect.evidence["reports"]["2026-10"]
    assert len([f for f in flags if f.site_id == network[0].id]) == 1  # one cause, one flag
    assert all(by_site[s.id].state != FlagState.open for s in network[1:] if s.id in by_site)


def test_thresholds_are_read_from_the_published_standard(session, network):
    publish_library_standard(session)
    standard = session.exec(select(Standard)).one()
    rules = [dict(standard.content["rules"][0], parameters={"drop_share": 0.9, "outlier_mads": 50})]
    standard.content = dict(standard.content, rules=rules)
    session.add(standard)
    session.flush()
    assert plausibility.thresholds(session=session).drop_share == 0.9
    report = report_october(session, network)
    assert session.exec(select(RevenueAssessment.verdict).where(
        RevenueAssessment.report_id == report.id)).one() == "plausible"


def test_the_dry_run_review_table_marks_the_implausible_site(session, network):
    report_october(session, network)
    drafts = runs.compute(session=session, period="2026-10", plans=plans(), today=TODAY)
    review = runs.review(session=session, period="2026-10", drafts=drafts)
    marked = {row.site: row.doubt for row in review.rows if row.doubt}
    assert list(marked) == [network[0].code] and "revenue fell" in marked[network[0].code]


# --- corrections are reviewed ----------------------------------------------------------------------

def bill_september(session, site):
    drafts = runs.compute(session=session, period="2026-09", plans=plans(), today=date(2026, 10, 5))
    runs.write_drafts(session=session, period="2026-09", drafts=drafts, actor=SYSTEM)
    invoices.issue_period(session=session, period="2026-09", actor=SYSTEM, now=datetime(2026, 10, 5, tzinfo=timezone.utc),
                          due_days=15)


def test_a_correction_of_a_billed_month_waits_for_hq_and_is_not_in_force_until_accepted(session, network):
    site = network[0]
    bill_september(session, site)
    before = newest_report(session=session, site_id=site.id, period="2026-09")
    corrected, written = submit(session, site, "2026-09", str(before.gross_revenue + 5000))
    review = corrections.review_of(session=session, report_id=corrected.id)
    assert written and review.status == ReviewStatus.pending and review.why == "billed"
    assert newest_report(session=session, site_id=site.id, period="2026-09").id == before.id
    corrections.decide(session=session, review_id=review.id, accept=True, reason="", actor=Actor("finance"), now=NOW)
    assert newest_report(session=session, site_id=site.id, period="2026-09").id == corrected.id


def test_a_refused_correction_keeps_the_old_figure_and_every_version_is_kept(session, network):
    site = network[0]
    bill_september(session, site)
    before = newest_report(session=session, site_id=site.id, period="2026-09")
    corrected, _ = submit(session, site, "2026-09", "100000")
    review = corrections.review_of(session=session, report_id=corrected.id)
    with pytest.raises(BillingError, match="reason"):
        corrections.decide(session=session, review_id=review.id, accept=False, reason=" ", actor=SYSTEM, now=NOW)
    corrections.decide(session=session, review_id=review.id, accept=False, reason="bank statement shows more",
                       actor=SYSTEM, now=NOW)
    assert newest_report(session=session, site_id=site.id, period="2026-09").id == before.id
    drafts = runs.compute(session=session, period="2026-10", plans=plans(), today=TODAY)
    assert not [line for d in drafts for line in d.lines if line.kind == "true_up"]  # refused: never trued up
    kept = corrections.versions(session=session, site_id=site.id, period="2026-09")
    assert [(v.report.version, v.in_force_state) for v in kept] == [(1, "in_force"), (2, "refused")]


def test_a_large_cut_of_an_unbilled_month_waits_but_a_small_change_does_not(session, network):
    site = network[1]
    small, _ = submit(session, site, "2026-09", str(newest_report(session=session, site_id=site.id,
                                                                    period="2026-09").gross_revenue - 1000))
    assert corrections.review_of(session=session, report_id=small.id) is None
    cut, _ = submit(session, site, "2026-09", "200000")  # more than the plan's 10 %
    assert corrections.review_of(session=session, report_id=cut.id).why == "large_cut"


def test_breakdown_parts_may_not_exceed_the_gross_and_the_refusal_names_the_field(session, network):
    with pytest.raises(BillingError, match="desks 5000 is more than the gross revenue 1000"):
        submit(session, network[0], "2026-10", "1000", breakdown={"desks": D("5000")})
    with pytest.raises(BillingError, match="adds up to"):
        submit(session, network[0], "2026-10", "1000", breakdown={"desks": D("600"), "offices": D("600")})


def test_the_portal_confirmation_rule_is_a_change_above_twenty_percent():
    assert corrections.needs_confirmation(D("870294.60"), D("100000"))
    assert not corrections.needs_confirmation(D("100000"), D("119000"))
    assert not corrections.needs_confirmation(None, D("100000"))
