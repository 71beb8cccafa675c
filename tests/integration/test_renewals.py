"""Renewals decided on the record: what the record recommends, HQ's decision, reminders through the outbox."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlmodel import select

from brand_hub import renewals
from brand_hub.audit import SYSTEM
from brand_hub.models import AuditEvent, Role
from brand_hub.models.billing import Invoice, InvoiceStatus, Payment
from brand_hub.models.compliance import Flag, FlagState, OutboxMessage, Severity
from brand_hub.models.foresight import RenewalOutcome
from tests.builders import make_agreement, make_franchisee, make_site, make_user

TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc)


def ending(session, code: str, end: date):
    partner = make_franchisee(session, code=code)
    agreement = make_agreement(session, partner, number=f"AG-{code}", end_date=end)
    make_site(session, partner, agreement, code=f"{code}-1")
    return partner, agreement


@pytest.fixture
def network(session):
    """Three terms ending within 180 days (clean, paid 41 days late, under review) and one ending later."""
    _, clean = ending(session, "CLEAN", date(2027, 2, 28))
    _, late = ending(session, "LATE", date(2027, 3, 31))
    session.add(Invoice(number="BH-2026-000101", agreement_id=late.id, franchisee_id=late.franchisee_id,
                        period="2026-08", status=InvoiceStatus.paid, plan_id="standard-2026",
                        due_date=date(2026, 9, 15), total=Decimal("5000.00"), amount_paid=Decimal("5000.00")))
    session.flush()
    invoice = session.exec(select(Invoice).where(Invoice.number == "BH-2026-000101")).one()
    session.add(Payment(invoice_id=invoice.id, amount=Decimal("5000.00"), paid_on=date(2026, 10, 26)))
    review_partner, review = ending(session, "REVIEW", date(2027, 4, 30))
    session.add(Flag(franchisee_id=review_partner.id, rule="termination-review", severity=Severity.critical,
                     state=FlagState.open, opened_at=NOW, open_key=f"p{review_partner.id}:termination-review:"))
    ending(session, "LATER", date(2028, 1, 31))
    make_user(session, Role.hq_admin, email="ceo@hq.cn")
    session.commit()
    return clean, late, review


def test_the_record_recommends_renew_conditions_or_review_with_its_reasons(session, settings, network):
    clean, late, review = network
    page = renewals.due(session=session, settings=settings, rules=renewals.load_rules(settings), today=TODAY)
    assert page.total == 3
    got = {r.agreement.number: r for r in page.rows}
    assert [r.agreement.number for r in page.rows] == ["AG-CLEAN", "AG-LATE", "AG-REVIEW"]   # soonest first
    assert got["AG-CLEAN"].recommendation.outcome == "renew"
    assert got["AG-LATE"].recommendation.outcome == "renew_with_conditions"
    assert got["AG-LATE"].signals["overdue_days_max"] == 41.0        # due 09-15, paid 10-26
    assert got["AG-LATE"].recommendation.conditions("en") == ["Prepayment or a bank guarantee"]
    assert got["AG-REVIEW"].recommendation.outcome == "refer_to_review"
    assert got["AG-REVIEW"].recommendation.reasons[0].reason_en == "The partner is under termination review"
    assert got["AG-CLEAN"].days_left == 87


def test_hq_decides_a_renewal_which_moves_the_term_end_and_is_audited_once(session, settings, network):
    _, late, _ = network
    with pytest.raises(renewals.RenewalError, match="new term end after 2027-03-31"):
        renewals.decide(session=session, agreement=late, outcome="renew", new_end_date=date(2027, 1, 1),
                        conditions="", recommendation="renew_with_conditions", actor=SYSTEM)
    with pytest.raises(renewals.RenewalError, match="write the conditions"):
        renewals.decide(session=session, agreement=late, outcome="renew_with_conditions",
                        new_end_date=date(2032, 3, 31), conditions=" ", recommendation="", actor=SYSTEM)
    decision = renewals.decide(session=session, agreement=late, outcome="renew_with_conditions",
                               new_end_date=date(2032, 3, 31), conditions="预付三个月特许费",
                               recommendation="renew_with_conditions", actor=SYSTEM)
    session.commit()
    assert (decision.term_end, decision.outcome, late.end_date) == \
        (date(2027, 3, 31), RenewalOutcome.renew_with_conditions, date(2032, 3, 31))
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "agreement.renewal")).one()
    assert event.entity_id == "AG-LATE" and event.after["conditions"] == "预付三个月特许费"
    page = renewals.due(session=session, settings=settings, rules=renewals.load_rules(settings), today=TODAY)
    assert "AG-LATE" not in [r.agreement.number for r in page.rows]   # the new term ends in 2032
    assert renewals.decisions_of(session=session, agreement_ids=[late.id])[late.id] == [decision]


def test_not_renewing_takes_no_date_and_a_term_is_decided_once(session, settings, network):
    clean, _, _ = network
    with pytest.raises(renewals.RenewalError, match="takes no new term end"):
        renewals.decide(session=session, agreement=clean, outcome="not_renewed", new_end_date=date(2030, 1, 1),
                        conditions="", recommendation="renew", actor=SYSTEM)
    renewals.decide(session=session, agreement=clean, outcome="not_renewed", new_end_date=None, conditions="",
                    recommendation="renew", actor=SYSTEM)
    with pytest.raises(renewals.RenewalError, match="already decided"):
        renewals.decide(session=session, agreement=clean, outcome="not_renewed", new_end_date=None,
                        conditions="", recommendation="renew", actor=SYSTEM)


def test_reminders_go_once_per_threshold_and_not_for_decided_terms(session, settings, network):
    clean, _, _ = network
    rules = renewals.load_rules(settings)
    assert renewals.remind(session=session, settings=settings, rules=rules, today=TODAY, now=NOW) == 3
    assert renewals.remind(session=session, settings=settings, rules=rules, today=TODAY, now=NOW) == 0
    keys = sorted(m.dedupe_key for m in session.exec(select(OutboxMessage)).all())
    assert keys == ["renewal:AG-CLEAN:2027-02-28:90", "renewal:AG-LATE:2027-03-31:180",
                    "renewal:AG-REVIEW:2027-04-30:180"]
    renewals.decide(session=session, agreement=clean, outcome="not_renewed", new_end_date=None, conditions="",
                    recommendation="renew", actor=SYSTEM)
    later = date(2027, 2, 1)   # 27 days before AG-CLEAN's end: decided, so no 30-day reminder
    renewals.remind(session=session, settings=settings, rules=rules, today=later,
                    now=datetime(2027, 2, 1, 1, 0, tzinfo=timezone.utc))
    assert not [m for m in session.exec(select(OutboxMessage)).all() if m.dedupe_key.endswith("AG-CLEAN:2027-02-28:30")]
    assert all("ceo@hq.cn" in m.recipients for m in session.exec(select(OutboxMessage)).all())
