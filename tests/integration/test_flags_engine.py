"""Evaluation against a real database: rules from the registry, collection, standards, scores, billing."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlmodel import select

from brand_hub import audit, compliance, scores
from brand_hub.models import Franchisee, Role
from brand_hub.models.billing import Invoice, InvoiceStatus, ReportSource, ReportStatus, RevenueReport
from brand_hub.models.collection import CollectionTarget, ReadingBucket
from brand_hub.models.compliance import Flag, FlagEvent, FlagState, OutboxMessage
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import SiteConfigState, Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_site, make_user

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)  # a Friday, 12:00 in Shanghai
H = timedelta(hours=1)
CO2 = {"id": "co2-open-hours", "metric": "co2_ppm", "measure": "share_within", "max": 1000, "share": 0.95,
       "hours": "all", "window": "month", "severity": "major"}


def add_target(session, site, *, last_success: datetime, newest: datetime | None = None, attempt=None):
    session.add(CollectionTarget(site_id=site.id, last_attempt_at=attempt or NOW, last_success_at=last_success,
                                 newest_record_at=newest or last_success, health_at=last_success))
    session.flush()


def add_co2(session, site, *, ppm: float, hours: int = 12, end: datetime = NOW):
    for n in range(hours * 4):
        session.add(ReadingBucket(site_id=site.id, zone="open-desk", metric="co2_ppm",
                                  bucket_start=end - (n + 1) * timedelta(minutes=15), count=15, mean=ppm,
                                  min=ppm, max=ppm))
    session.flush()


def publish(session, rule=CO2, key="iaq-co2"):
    standard = Standard(key=key, version=1, category="space", title_zh="室内二氧化碳浓度", title_en="Indoor CO2",
                        content={"id": key, "rules": [rule]}, content_hash="sha256:x", published_at=NOW - 40 * 24 * H)
    session.add(standard)
    session.flush()
    return standard


def add_score(session, site, period, card, *, status="scored", coverage=0.9):
    session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1, status=status,
                          score=40.0 if card == "red" else 80.0, card=card, coverage=coverage, computed_at=NOW - H))
    session.flush()


def publish_cards(session, *periods, model_id="brand-health", version=1):
    """HQ publishes these quarters' cards (only published cards count in compliance)."""
    model = SimpleNamespace(id=model_id, version=version)
    for period in periods:
        scores.publish_cards(session=session, period=period, model=model, actor=audit.SYSTEM)
    session.flush()


def evaluate(session, settings, at=NOW, **kwargs):
    summary = compliance.evaluate(session=session, settings=settings, now=at, **kwargs)
    session.flush()
    return summary


def flags_of(session, rule=None, site=None):
    stmt = select(Flag).order_by(Flag.id)
    if rule:
        stmt = stmt.where(Flag.rule == rule)
    if site:
        stmt = stmt.where(Flag.site_id == site.id)
    return session.exec(stmt).all()


@pytest.fixture
def site(session):
    partner = make_franchisee(session)
    make_user(session, Role.franchisee_admin, franchisee=partner, email="manager@partner.cn")
    return make_site(session, partner, agent_url="http://127.0.0.1:1/", opened_on=date(2026, 11, 1))


def test_an_agent_down_for_24_hours_opens_a_warning_that_turns_critical_at_72(session, settings, site):
    add_target(session, site, last_success=NOW - 24 * H + timedelta(minutes=1))
    evaluate(session, settings)
    (flag,) = flags_of(session, "agent-unreachable")
    assert flag.state == FlagState.pending
    evaluate(session, settings, NOW + timedelta(minutes=1))
    assert flag.state == FlagState.open and flag.severity.value == "warning"
    evaluate(session, settings, NOW + 48 * H + timedelta(minutes=1))
    assert flag.severity.value == "critical"
    kinds = session.exec(select(FlagEvent.kind).where(FlagEvent.flag_id == flag.id)).all()
    assert "severity" in kinds


def test_an_agent_down_flag_inhibits_the_sites_metric_flags(session, settings, site):
    publish(session)
    add_co2(session, site, ppm=1800, end=NOW - 30 * H)
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    evaluate(session, settings, NOW + 3 * H)
    rules = [f.rule for f in flags_of(session) if f.state != FlagState.no_data]
    assert rules == ["agent-unreachable"]
    assert not [f for f in flags_of(session) if f.rule.startswith("std:")]


def test_a_standards_own_offline_rule_gives_way_to_the_agent_unreachable_flag(session, settings, site):
    # the brand's offline-hours rule and the system rule see one cause: one flag, the system's
    publish(session, rule={"id": "agent-offline", "indicator": "agent_offline_hours", "measure": "max", "max": 24,
                           "window": "month", "severity": "minor"}, key="iot-sensors")
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    evaluate(session, settings, NOW + 3 * H)
    flags = [f for f in flags_of(session) if f.state != FlagState.no_data]
    assert [(f.rule, f.state) for f in flags] == [("agent-unreachable", FlagState.open)]


def test_an_occupied_hours_rule_reads_the_zones_occupancy_from_the_database(session, settings, site):
    publish(session, rule={**CO2, "hours": "occupied"})
    add_target(session, site, last_success=NOW)
    for n in range(48):  # a stuffy room nobody uses, then a fresh one in use
        at = NOW - (n + 1) * timedelta(minutes=15)
        for zone, ppm, occupied in (("storage", 1900, 0), ("open-desk", 650, 1)):
            session.add(ReadingBucket(site_id=site.id, zone=zone, metric="co2_ppm", bucket_start=at, count=15,
                                      mean=ppm, min=ppm, max=ppm))
            session.add(ReadingBucket(site_id=site.id, zone=zone, metric="zone_occupied", bucket_start=at, count=15,
                                      mean=occupied, min=occupied, max=occupied))
    session.flush()
    evaluate(session, settings)
    assert flags_of(session, "std:iaq-co2/co2-open-hours") == []  # the stuffy room was empty: no breach
    for bucket in session.exec(select(ReadingBucket).where(ReadingBucket.zone == "storage",
                                                           ReadingBucket.metric == "zone_occupied")):
        bucket.mean = bucket.min = bucket.max = 1  # now people work in it
    session.flush()
    evaluate(session, settings, NOW + timedelta(minutes=5))
    (flag,) = flags_of(session, "std:iaq-co2/co2-open-hours")
    assert flag.state == FlagState.pending
    # the 12 open quarter-hours (09:00–12:00 in Shanghai) of each zone; half of them above 1000 ppm
    assert flag.evidence["samples"] == 24 and flag.evidence["value"] == 0.5


def test_a_standards_metric_rule_opens_after_its_for_and_carries_its_evidence(session, settings, site):
    publish(session)
    add_co2(session, site, ppm=1400)
    add_target(session, site, last_success=NOW)
    evaluate(session, settings)
    evaluate(session, settings, NOW + 2 * H)
    (flag,) = flags_of(session, "std:iaq-co2/co2-open-hours")
    assert flag.state == FlagState.open and flag.severity.value == "major"
    assert flag.evidence["value"] == 0.0 and flag.evidence["share"] == 0.95 and flag.evidence["version"] == 1
    assert flag.evidence["samples"] == 48 and flag.evidence["window_days"] == 30


def test_a_site_without_readings_gets_no_data_not_a_clean_bill(session, settings, site):
    publish(session)
    add_target(session, site, last_success=NOW)
    evaluate(session, settings)
    (flag,) = flags_of(session, "std:iaq-co2/co2-open-hours")
    assert flag.state == FlagState.no_data


def test_re_evaluation_is_idempotent_no_duplicate_flags_events_or_mails(session, settings, site):
    add_target(session, site, last_success=NOW - 80 * H)
    evaluate(session, settings)
    counts = (len(flags_of(session)), len(session.exec(select(FlagEvent)).all()),
              len(session.exec(select(OutboxMessage)).all()))
    for _ in range(3):
        evaluate(session, settings)
    assert counts[0] >= 1 and counts[2] == 1
    assert (len(flags_of(session)), len(session.exec(select(FlagEvent)).all()),
            len(session.exec(select(OutboxMessage)).all())) == counts


def test_a_recurrence_reopens_with_its_history_linked(session, settings, site):
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    target = session.exec(select(CollectionTarget)).one()
    target.last_success_at = NOW + 1 * H
    session.add(target)
    evaluate(session, settings, NOW + 1 * H)
    target.last_success_at = NOW + 2 * H
    evaluate(session, settings, NOW + 2 * H)
    first = flags_of(session, "agent-unreachable")[0]
    assert first.state == FlagState.resolved and first.open_key is None
    evaluate(session, settings, NOW + 27 * H)
    first_again, second = flags_of(session, "agent-unreachable")
    assert second.previous_id == first.id and second.occurrence == 2 and second.state == FlagState.open
    assert "reopened" in session.exec(select(FlagEvent.kind).where(FlagEvent.flag_id == second.id)).all()
    assert {e.flag_id for e in compliance.timeline(session=session, flag=second)} == {first.id, second.id}


def test_system_rules_for_acknowledgement_drift_revenue_and_invoices(session, settings, site):
    standard = publish(session)
    session.add(StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=NOW - 1 * H))
    session.add(SiteConfigState(site_id=site.id, desired_hash="sha256:a", applied_hash="sha256:b",
                                drift_since=NOW - 2 * H, drifted_keys=["hvac.co2_setpoint"]))
    session.add(RevenueReport(site_id=site.id, period="2026-09", gross_revenue=Decimal("100000.00")))
    session.add(RevenueReport(site_id=site.id, period="2026-08", gross_revenue=Decimal("90000.00"),
                              status=ReportStatus.estimated, source=ReportSource.estimate))
    site.opened_on = date(2025, 1, 1)
    agreement = make_agreement(session, session.get(Franchisee, site.franchisee_id))
    session.add(Invoice(number="BH-2026-000007", agreement_id=agreement.id, franchisee_id=site.franchisee_id,
                        period="2026-09", status=InvoiceStatus.issued, plan_id="standard-2026",
                        due_date=date(2026, 10, 15), total=Decimal("5000.00")))
    add_target(session, site, last_success=NOW)
    evaluate(session, settings)
    current = {(f.rule, f.subject): f.state for f in flags_of(session)}
    assert current[("standard-unacknowledged", "iaq-co2 v1")] == FlagState.open
    assert current[("config-drift", "")] == FlagState.open
    assert current[("revenue-report-missing", "2026-10")] == FlagState.open
    assert ("revenue-report-missing", "2026-09") not in current
    assert current[("revenue-report-missing", "2026-08")] == FlagState.open  # an estimate is not a report
    assert current[("invoice-overdue", "BH-2026-000007")] == FlagState.open


def test_a_red_card_puts_the_partner_on_notice_and_two_in_a_row_under_termination_review(session, settings, site):
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q3", "red")
    publish_cards(session, "2026-Q3")
    evaluate(session, settings)
    standing = compliance.network_standing(session=session)
    assert [(p.franchisee.id, p.standing) for p in standing] == [(site.franchisee_id, "on_notice")]
    add_score(session, site, "2026-Q2", "red")
    publish_cards(session, "2026-Q2")
    evaluate(session, settings, NOW + H)
    (review,) = flags_of(session, "termination-review")
    assert review.site_id is None and review.state == FlagState.open and review.evidence["sites"] == [site.code]
    assert compliance.network_standing(session=session)[0].standing == "termination_review"
    assert session.exec(select(audit.AuditEvent).where(audit.AuditEvent.action == "partner.termination_review")).one()


def test_red_cards_of_unpublished_quarters_raise_no_flag_until_hq_publishes_them(session, settings, site):
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q2", "red")
    add_score(session, site, "2026-Q3", "red")
    add_score(session, site, "2026-10", None, coverage=0.2)     # a month: no card, nothing to publish
    evaluate(session, settings)
    assert [f.state for f in flags_of(session, "red-card")] in ([], [FlagState.no_data])
    assert flags_of(session, "termination-review") == []
    assert [f.state for f in flags_of(session, "data-completeness")] == [FlagState.open]
    assert not [p for p in compliance.network_standing(session=session)
                if p.standing in ("on_notice", "termination_review")]
    publish_cards(session, "2026-Q2", "2026-Q3")
    evaluate(session, settings, NOW + H)
    (red,) = flags_of(session, "red-card")
    assert red.state == FlagState.open and red.evidence["quarter"] == "2026-Q3"
    (review,) = flags_of(session, "termination-review")
    assert review.state == FlagState.open and review.evidence["sites"] == [site.code]


def test_a_published_card_stays_in_force_when_a_newer_model_version_is_not_published_yet(session, settings, site):
    add_target(session, site, last_success=NOW)
    add_score(session, site, "2026-Q3", "red")
    publish_cards(session, "2026-Q3")
    session.add(SiteScore(site_id=site.id, period="2026-Q3", model_id="brand-health", model_version=2,
                          status="scored", score=80.0, card="green", coverage=0.9, computed_at=NOW))
    session.flush()
    evaluate(session, settings)
    (red,) = flags_of(session, "red-card")
    assert red.state == FlagState.open and red.evidence["card"] == "red"


def test_one_broken_rule_is_recorded_and_the_others_still_run(session, settings, site, monkeypatch):
    from brand_hub.compliance import rules

    def broken(site_facts, ctx):
        raise ZeroDivisionError("bad row")

    monkeypatch.setattr(rules, "SYSTEM_RULES", (rules.Rule("broken", "Broken", "坏", "minor", rules.Timing(), broken),
                                                *rules.SYSTEM_RULES))
    add_target(session, site, last_success=NOW - 80 * H)
    summary = evaluate(session, settings)
    assert summary.errors == [{"site": site.code, "rule": "broken", "error": "ZeroDivisionError: bad row"}]
    assert [f.rule for f in flags_of(session) if f.state != FlagState.no_data] == ["agent-unreachable"]


def test_missed_acknowledgement_escalates_and_mails_the_regional_manager(session, settings, site):
    settings = settings.replace(flag_regional_managers="east=east.manager@brand.cn")
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    evaluate(session, settings, NOW + 72 * H)
    (flag,) = flags_of(session, "agent-unreachable")
    assert flag.state == FlagState.escalated and flag.escalation_level == 1
    mails = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert "east.manager@brand.cn" in mails[-1].recipients and "manager@partner.cn" in mails[-1].recipients


def test_a_waiver_expires_and_the_flag_returns(session, settings, site):
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    (flag,) = flags_of(session, "agent-unreachable")
    hq = audit.Actor("hq@brand.cn")
    compliance.waive(session=session, settings=settings, flag=flag, actor=hq, now=NOW, until=NOW + 5 * H,
                     reason="site closed for renovation")
    evaluate(session, settings, NOW + 4 * H)
    assert flag.state == FlagState.waived
    evaluate(session, settings, NOW + 5 * H)
    assert flag.state == FlagState.open
    assert session.exec(select(audit.AuditEvent).where(audit.AuditEvent.action == "flag.waive")).one().actor == \
        "hq@brand.cn"


def test_a_plan_past_its_date_on_a_flag_still_open_is_mailed_once(session, settings, site):
    settings = settings.replace(flag_regional_managers="east=east.manager@brand.cn")
    add_target(session, site, last_success=NOW - 30 * H)
    evaluate(session, settings)
    (flag,) = flags_of(session, "agent-unreachable")
    partner = audit.Actor("manager@partner.cn")
    compliance.submit_plan(session=session, settings=settings, flag=flag, actor=partner, now=NOW,
                           what="换路由器", who="店长", due_on=date(2026, 11, 22))
    evaluate(session, settings, NOW + 48 * H)  # 2026-11-22 in Shanghai: due today, not past
    assert "plan_overdue" not in session.exec(select(FlagEvent.kind)).all()
    for _ in range(2):
        evaluate(session, settings, NOW + 72 * H)
    overdue = session.exec(select(OutboxMessage).where(OutboxMessage.subject.contains("整改计划已过期限"))).all()
    assert len(overdue) == 1 and "east.manager@brand.cn" in overdue[0].recipients
    assert session.exec(select(FlagEvent.kind)).all().count("plan_overdue") == 1


def test_a_network_larger_than_one_batch_is_evaluated_whole_and_a_partner_is_never_split(session, settings,
                                                                                          monkeypatch):
    from brand_hub.compliance import engine

    monkeypatch.setattr(engine, "CHUNK_SITES", 2)
    partners = [make_franchisee(session) for _ in range(3)]
    sites = [make_site(session, partner, agent_url="http://127.0.0.1:1/") for partner in partners for _ in range(3)]
    for site in sites:
        add_target(session, site, last_success=NOW - 30 * H)
    chunks = engine._chunks(session=session, site_codes=None)
    assert [len(c) for c in chunks] == [3, 3, 3]  # batches close only between partners
    summary = evaluate(session, settings)
    assert summary.sites == 9 and not summary.errors
    assert sorted(f.site_id for f in flags_of(session, "agent-unreachable")) == sorted(s.id for s in sites)


def _network_with_several_flags_a_site(session):
    """Two partners, each with an admin of its own and a site that opens several flags in one evaluation."""
    sites = []
    for n in (1, 2):
        partner = make_franchisee(session, contact_email=f"owner{n}@partner{n}.cn")
        make_user(session, Role.franchisee_admin, franchisee=partner, email=f"admin{n}@partner{n}.cn")
        site = make_site(session, partner, agent_url="http://127.0.0.1:1/", opened_on=date(2025, 1, 1))
        standard = session.exec(select(Standard)).first() or publish(session)
        session.add(StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=NOW - 1 * H))
        session.add(SiteConfigState(site_id=site.id, desired_hash="sha256:a", applied_hash="sha256:b",
                                    drift_since=NOW - 2 * H, drifted_keys=["hvac.co2_setpoint"]))
        add_target(session, site, last_success=NOW - 80 * H)
        sites.append(site)
    return sites


def one_step_at_a_time(monkeypatch) -> None:
    """The evaluator writing each step on its own, as it did before steps were written together: every site in
    a savepoint of its own, each new flag an ORM object flushed, each event recorded and mailed (``record``)."""
    from brand_hub.compliance import engine as flags_engine

    monkeypatch.setattr(flags_engine.Evaluator, "untouched", lambda self, site_id, franchisee_id: False)
    monkeypatch.setattr(flags_engine.Evaluator, "run_rules",
                        lambda self, rules, facts, defer=False, **kwargs: self._run_rules(rules, facts, **kwargs))


def _written(session) -> list[tuple]:
    """Every flag with its events and mails, named by what they are (not by their ids)."""
    flags = {f.id: f for f in flags_of(session)}

    def name(flag_id):
        flag = flags[flag_id]
        previous = (flags[flag.previous_id].rule, flags[flag.previous_id].subject) if flag.previous_id else None
        return (flag.site_id, flag.franchisee_id, flag.rule, flag.subject, flag.state.value, flag.severity.value,
                flag.open_key, previous, repr(sorted(flag.evidence.items())))

    events = {e.id: e for e in session.exec(select(FlagEvent))}
    out = [("event", name(e.flag_id), e.kind, e.from_state, e.to_state, e.reason, repr(e.data))
           for e in events.values()]
    for m in session.exec(select(OutboxMessage)):
        event = events[int(m.dedupe_key.removeprefix("flag-event:"))]
        assert event.flag_id == m.flag_id    # the mail is the event's, and of the event's flag
        body = m.body.replace(f"flag #{m.flag_id}", "flag #")
        out.append(("mail", name(m.flag_id), event.kind, tuple(m.recipients), m.subject, body))
    return sorted(out)


def test_a_sites_flags_and_events_written_together_are_linked_and_mailed_as_one_by_one(
        session, settings, monkeypatch):
    """The steps of a site are written together (one flush of the flags, one of the events): every event and
    mail belongs to its own flag, each partner's mail goes to that partner's people, and the result is the
    one writing each step on its own gives."""
    from brand_hub.compliance import engine as flags_engine

    _network_with_several_flags_a_site(session)
    savepoint = session.begin_nested()
    evaluate(session, settings)
    together = _written(session)
    savepoint.rollback()
    one_step_at_a_time(monkeypatch)
    evaluate(session, settings)
    assert _written(session) == together
    opened = [row for row in together if row[0] == "event" and row[2] == "opened"]
    assert len({row[1][:4] for row in opened}) == len(opened) >= 6       # several flags a site, one event each
    mails = [row for row in together if row[0] == "mail"]
    assert len(mails) >= 6
    for row in mails:
        n = 1 if row[1][1] == min(r[1][1] for r in mails) else 2
        assert row[3] == (f"admin{n}@partner{n}.cn", f"owner{n}@partner{n}.cn")


def _rows(session) -> dict:
    """Every row a flags evaluation writes, all columns, each id replaced by its rank among its table's rows
    (PostgreSQL's sequences do not roll back with the savepoint), the Message-IDs (random) left out."""
    def table(model):
        return [row._asdict() for row in session.execute(select(*model.__table__.c).order_by(model.id))]

    flags, events, mails = table(Flag), table(FlagEvent), table(OutboxMessage)
    flag_rank = {row["id"]: n for n, row in enumerate(flags)}
    event_rank = {row["id"]: n for n, row in enumerate(events)}
    for row in flags:
        row["id"], row["previous_id"] = flag_rank[row["id"]], flag_rank.get(row["previous_id"], row["previous_id"])
    for row in events:
        row["id"], row["flag_id"] = event_rank[row["id"]], flag_rank[row["flag_id"]]
    for row in mails:
        del row["id"], row["message_id"]
        row["dedupe_key"] = f"flag-event:{event_rank[int(row['dedupe_key'].removeprefix('flag-event:'))]}"
        row["body"] = row["body"].replace(f"flag #{row['flag_id']}", f"flag #{flag_rank[row['flag_id']]}")
        row["flag_id"] = flag_rank[row["flag_id"]]
    reviews = select(audit.AuditEvent).where(audit.AuditEvent.action == "partner.termination_review")
    audits = [(a.actor, a.entity_type, a.entity_id, {**a.after, "flag": flag_rank[a.after["flag"]]})
              for a in session.exec(reviews.order_by(audit.AuditEvent.id))]
    return {"flags": flags, "events": events, "mails": mails, "audits": audits}


def _together_then_one_step_at_a_time(session, settings, monkeypatch):
    """Evaluate with the batch's rows written together (then undone), and again one step at a time: both
    results, and the rows written, the same both ways."""
    savepoint = session.begin_nested()
    together = evaluate(session, settings)
    written = _rows(session)
    savepoint.rollback()
    one_step_at_a_time(monkeypatch)
    one_by_one = evaluate(session, settings)
    assert _rows(session) == written
    return together, written, one_by_one


def test_a_first_evaluation_writes_the_rows_one_step_at_a_time_writes(session, settings, monkeypatch):
    """A first evaluation writes the new flags of a batch's sites with one INSERT, their events with another,
    their mails with a third: the very rows (every column, in the same order) that writing each step on its own
    gives, across batches, with a site that had a flag before in the middle of a batch (written at once in
    its own savepoint), a recurrence linked to its resolved flag, and a partner under termination review."""
    from brand_hub.compliance import engine as flags_engine

    monkeypatch.setattr(flags_engine, "CHUNK_SITES", 3)
    sites = _network_with_several_flags_a_site(session)
    red = make_franchisee(session, contact_email="owner@red.cn")
    sites += [make_site(session, red, agent_url="http://127.0.0.1:1/", opened_on=date(2025, 1, 1)) for _ in range(2)]
    add_score(session, sites[-1], "2026-Q2", "red")
    add_score(session, sites[-1], "2026-Q3", "red")
    publish_cards(session, "2026-Q2", "2026-Q3")
    for n in range(4):  # more sites of the first partner: more than one batch
        sites.append(make_site(session, session.get(Franchisee, sites[0].franchisee_id), opened_on=date(2025, 1, 1),
                               agent_url="http://127.0.0.1:1/"))
    for site in sites[2:]:
        add_target(session, site, last_success=NOW - (30 if site.id % 2 else 80) * H)
    before = sites[3]  # a flag resolved last month: the new one is a recurrence, linked to it
    session.add(Flag(site_id=before.id, franchisee_id=before.franchisee_id, rule="agent-unreachable",
                     state=FlagState.resolved, opened_at=NOW - 800 * H, resolved_at=NOW - 700 * H,
                     created_at=NOW - 800 * H, updated_at=NOW - 700 * H, evidence={}))
    current = sites[5]  # a flag pending since yesterday: this site is written at once, between deferred ones
    session.add(Flag(site_id=current.id, franchisee_id=current.franchisee_id, rule="agent-unreachable",
                     state=FlagState.pending, pending_since=NOW - 30 * H, last_seen_at=NOW - 2 * H,
                     open_key=flags_engine.open_key(site_id=current.id, franchisee_id=current.franchisee_id,
                                                    rule="agent-unreachable", subject=""),
                     created_at=NOW - 30 * H, updated_at=NOW - 2 * H, evidence={}))
    session.flush()
    together, written, one_by_one = _together_then_one_step_at_a_time(session, settings, monkeypatch)
    assert dataclasses.replace(together, run_id=None) == dataclasses.replace(one_by_one, run_id=None)
    assert together.errors == [] and together.sites == len(sites)
    assert len(written["flags"]) >= 20 and len(written["mails"]) >= 10 and len(written["audits"]) == 1
    assert [row["kind"] for row in written["events"]].count("reopened") == 1
    (again,) = [row for row in written["flags"] if row["previous_id"] is not None]
    assert again["occurrence"] == 2 and again["site_id"] == before.id


def test_a_site_whose_rows_fail_in_a_batch_is_recorded_and_the_others_are_written(session, settings, monkeypatch):
    """When the batch's rows cannot be written together, each site's are written on its own: the one that fails
    is recorded and undone (as when each site is written in its own savepoint), the others are written, and the
    run's counters count only what was written."""
    from brand_hub.compliance import engine as flags_engine
    from brand_hub.compliance import notify

    monkeypatch.setattr(flags_engine, "CHUNK_SITES", 10)
    sites = _network_with_several_flags_a_site(session)
    sites.append(make_site(session, session.get(Franchisee, sites[0].franchisee_id), opened_on=date(2025, 1, 1),
                           agent_url="http://127.0.0.1:1/"))
    add_target(session, sites[-1], last_success=NOW - 80 * H)
    broken = sites[1]
    mail_for = notify.mail_for

    def failing(*, flag, **kwargs):
        if flag.site_id == broken.id:
            raise RuntimeError("no mail for this one")
        return mail_for(flag=flag, **kwargs)

    monkeypatch.setattr(notify, "mail_for", failing)
    together, written, one_by_one = _together_then_one_step_at_a_time(session, settings, monkeypatch)
    for name in ("sites", "opened", "resolved", "mails", "errors"):
        assert getattr(together, name) == getattr(one_by_one, name), name
    # (one step at a time stopped counting the failed site's observations at its first mail and had counted
    # its events up to there; the batch counts every observation judged, and only the events written)
    assert [e["site"] for e in together.errors] == [broken.code]
    assert broken.id not in {row["site_id"] for row in written["flags"]}
    assert {sites[0].id, sites[2].id} <= {row["site_id"] for row in written["flags"]}
    assert together.events == len(written["events"]) and together.mails == len(written["mails"])
