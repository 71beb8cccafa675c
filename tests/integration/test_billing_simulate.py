"""The fee-schedule simulator: past months re-priced under draft plans, by billing's own rules, writing nothing."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import BillingError, invoices, plan_drafts, plans, runs, simulate
from brand_hub.models.billing import Invoice, InvoiceLine
from standards.loader import InvalidFiles
from standards.royalty_plan import LIBRARY, load_plan_text
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

STANDARD_TEXT = (LIBRARY / "standard-2026.yaml").read_text(encoding="utf-8")
FLAT_12 = STANDARD_TEXT.replace("version: 1", "version: 2").replace(
    """  method: graduated          # each band at its own rate
  tiers:                     # half-open bands on monthly gross revenue per site, [from, up_to)
    - {up_to: "500000", rate: "0.08"}
    - {up_to: "1000000", rate: "0.10"}
    - {rate: "0.12"}""", """  method: flat
  tiers:
    - {rate: "0.12"}""")
NOW = datetime(2026, 11, 5, 2, 0, tzinfo=timezone.utc)


def billed_network(session):
    """Two partners on the standard plan; October billed and issued; September only reported.

    P-A's site reports 300,000 (royalty 24,000 < minimum: top-up 6,000), P-B's 1,200,000
    (40,000 + 50,000 + 24,000 = 114,000 over three bands); its second site has no October
    report and is billed on an estimate (the average of its three earlier months).
    """
    a, b = make_franchisee(session, code="P-A"), make_franchisee(session, code="P-B")
    ag_a, ag_b = make_agreement(session, a, number="AG-A"), make_agreement(session, b, number="AG-B")
    site_a = make_site(session, a, ag_a, code="SA-1", desks=100)
    site_b = make_site(session, b, ag_b, code="SB-1", desks=200)
    site_c = make_site(session, b, ag_b, code="SB-2", desks=50)
    for period, revenue in (("2026-09", "300000"), ("2026-10", "300000")):
        make_revenue_report(session, site_a, period, revenue)
    for period, revenue in (("2026-09", "1200000"), ("2026-10", "1200000")):
        make_revenue_report(session, site_b, period, revenue)
    for period, revenue in (("2026-07", "400000"), ("2026-08", "410000"), ("2026-09", "420000")):
        make_revenue_report(session, site_c, period, revenue)
    session.flush()
    drafts = runs.compute(session=session, period="2026-10", plans=plans(), today=NOW.date())
    runs.write_drafts(session=session, period="2026-10", drafts=drafts, actor=SYSTEM)
    invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
    session.commit()
    return site_a, site_b, site_c


def table_state(session) -> dict[str, list]:
    tables = ("invoice", "invoice_line", "revenue_report", "billing_run", "credit_note", "payment")
    return {t: session.execute(text(f"SELECT * FROM {t} ORDER BY id")).all() for t in tables}


def test_the_current_plan_over_an_issued_month_equals_the_issued_invoices_to_the_fen(session):
    billed_network(session)
    result = simulate.simulate(session=session, plans=plans(), drafts=[], periods=["2026-10"])
    issued = {}
    for line, invoice in session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                                      .where(Invoice.period == "2026-10")).all():
        assert invoice.number  # issued
        if line.kind in simulate.SCHEDULE_KINDS:
            issued[line.site_code] = issued.get(line.site_code, D("0")) + line.amount
    assert {row.key: row.amounts["current"] for row in result.sites} == issued
    # by hand: SA-1 24,000 + 6,000 top-up + 6,000 fund + 1,500 desks = 37,500
    assert issued["SA-1"] == D("37500.00")
    # SB-1 40,000 + 50,000 + 24,000 + 24,000 fund + 3,000 desks = 141,000
    assert issued["SB-1"] == D("141000.00")
    # SB-2 estimated at (400,000 + 410,000 + 420,000) / 3 = 410,000: 32,800 + 8,200 fund + 750 desks
    assert issued["SB-2"] == D("41750.00")
    assert result.total.estimated_months == 1
    assert result.total.amounts["current"] == sum(issued.values())


def test_a_draft_reprices_every_site_month_and_reports_the_change_per_partner(session):
    billed_network(session)
    draft = simulate.Scenario("flat-12", load_plan_text(FLAT_12, "flat-12.yaml"))
    result = simulate.simulate(session=session, plans=plans(), drafts=[draft], periods=["2026-09", "2026-10"])
    partner_a = next(r for r in result.partners if r.key == "P-A")
    # SA-1 each month: 36,000 at 12 % (above the minimum, no top-up) + 6,000 + 1,500 = 43,500 against 37,500
    assert partner_a.amounts == {"current": D("75000.00"), "flat-12": D("87000.00")}
    assert partner_a.delta("flat-12") == D("12000.00")
    assert partner_a.change("flat-12") == D("0.16")
    assert partner_a.delta_share_of_revenue("flat-12") == D("0.02")
    september = next(r for r in result.months if r.key == "2026-09")
    # September: SA-1 and SB-1 reported; SB-2 has a report too (420,000)
    assert september.revenue == D("1920000")
    partner_b = next(r for r in result.partners if r.key == "P-B")
    # P-B: Sep 141,000 + 42,750 (SB-2 reported 420,000), Oct 141,000 + 41,750 (estimate 410,000) = 366,500;
    # at 12 % flat: Sep 171,000 + 59,550, Oct 171,000 + 58,150 = 459,700 (+25.4 %)
    assert partner_b.amounts == {"current": D("366500.00"), "flat-12": D("459700.00")}
    assert [r.key for r in result.risers("flat-12", D("0.10"))] == ["P-B", "P-A"]
    assert [r.key for r in result.risers("flat-12", D("0.20"))] == ["P-B"]
    assert result.bands["flat-12"] == [("standard-2026 v2", "[0, ∞)", 6)]
    assert result.bands["current"] == [("standard-2026 v1", "[0, 500,000)", 4),
                                       ("standard-2026 v1", "[1,000,000, ∞)", 2)]


def test_a_draft_under_a_new_plan_id_is_tried_on_every_chosen_agreement_only(session):
    billed_network(session)
    new = load_plan_text(FLAT_12.replace("id: standard-2026", "id: trial-2027"), "trial.yaml")
    result = simulate.simulate(session=session, plans=plans(), drafts=[simulate.Scenario("trial", new)],
                               periods=["2026-10"], agreement_numbers=["AG-A"])
    assert [r.key for r in result.partners] == ["P-A"]
    assert result.total.amounts == {"current": D("37500.00"), "trial": D("43500.00")}
    with pytest.raises(BillingError, match="no agreement numbered AG-ZZ"):
        simulate.simulate(session=session, plans=plans(), drafts=[], periods=["2026-10"], agreement_numbers=["AG-ZZ"])


def test_simulating_writes_nothing_to_invoices_drafts_reports_or_runs(session):
    billed_network(session)
    # a draft for November too, so drafts are there to be touched
    runs.write_drafts(session=session, period="2026-11",
                      drafts=runs.compute(session=session, period="2026-11", plans=plans(), today=NOW.date()),
                      actor=SYSTEM)
    session.commit()
    before = table_state(session)
    draft = simulate.Scenario("flat-12", load_plan_text(FLAT_12, "flat-12.yaml"))
    simulate.simulate(session=session, plans=plans(), drafts=[draft], periods=["2026-09", "2026-10", "2026-11"])
    session.commit()
    assert table_state(session) == before


def test_ranges_are_refused_when_reversed_or_longer_than_three_years():
    assert simulate.months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(BillingError, match="ends before it starts"):
        simulate.months_between("2026-10", "2026-01")
    with pytest.raises(BillingError, match="at most 36"):
        simulate.months_between("2020-01", "2026-01")


def test_a_draft_is_saved_only_when_valid_and_published_as_the_plan_file_with_a_higher_version(session, tmp_path):
    with pytest.raises(InvalidFiles) as refused:
        plan_drafts.save(session=session, name="bad", text=FLAT_12.replace('"0.12"', "0.12"), actor=SYSTEM)
    assert "bad.yaml:10:" in str(refused.value) and "decimal strings" in str(refused.value)
    plan_drafts.save(session=session, name="same-version", text=STANDARD_TEXT, actor=SYSTEM)
    with pytest.raises(BillingError, match="BRANDHUB_ROYALTY_DIR"):
        plan_drafts.publish(session=session, name="same-version", directory="", plans=plans(), actor=SYSTEM)
    folder = tmp_path / "royalty"
    folder.mkdir()
    for path in LIBRARY.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(BillingError, match="version 2 or above"):
        plan_drafts.publish(session=session, name="same-version", directory=str(folder), plans=plans(str(folder)),
                            actor=SYSTEM)
    plan_drafts.save(session=session, name="flat 12", text=FLAT_12, actor=SYSTEM)
    written = plan_drafts.publish(session=session, name="flat 12", directory=str(folder),
                                  plans=plans(str(folder)), actor=SYSTEM)
    assert written == folder / "standard-2026.yaml"
    published = plans(str(folder))["standard-2026"]
    assert (published.version, published.method, published.tiers[0].rate) == (2, "flat", D("0.12"))
    assert sorted(p.name for p in folder.glob("*.yaml")) == ["lite-2026.yaml", "standard-2026.yaml"]
