"""The scores service on the real databases: SQL aggregation, storing, idempotence, model versions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from brand_hub import audit
from brand_hub.models import AuditEvent
from brand_hub.models.collection import NpsResponse, OpsEvent, ReadingBucket
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.scores import ScoringError, publish_cards, published_keys, red_twice, score_period
from scoring.periods import parse_period
from standards.scoring_model import current_model, load_model_text
from tests.builders import make_franchisee, make_site, rebuild_rollups
from tests.unit.test_scoring_composite import SMALL_MODEL

OCTOBER = parse_period("2026-10")
MONDAY = datetime(2026, 10, 4, 16, tzinfo=timezone.utc)     # Monday 2026-10-05 00:00 in Shanghai


def small_model(version: int = 1, co2_weight: int = 40):
    text = SMALL_MODEL.format(aggregation="weighted_mean").replace("version: 1", f"version: {version}")
    return load_model_text(text.replace("weight: 40", f"weight: {co2_weight}"), "small.yaml")


def add_hour(session, site, local_hour: int, metric: str, zone: str, mean: float, count: int = 3) -> None:
    """Four 15-minute buckets of one zone and metric in a local hour of Monday 2026-10-05."""
    start = MONDAY + timedelta(hours=local_hour)
    for quarter in range(4):
        session.add(ReadingBucket(site_id=site.id, zone=zone, metric=metric, count=count, mean=mean, min=mean,
                                  max=mean, bucket_start=start + timedelta(minutes=15 * quarter)))


def add_event(session, site, kind: str, at: datetime, ref: str, quantity: int | None = None) -> None:
    n = session.exec(select(OpsEvent)).all()
    session.add(OpsEvent(site_id=site.id, record_id=f"e{len(n)}-{kind}-{ref}", kind=kind, occurred_at=at, ref=ref,
                         quantity=quantity))
    session.flush()


def known_monday(session, **site_fields):
    """Two zones on Monday 09–18 (Shanghai): 8 occupied open hours, 6 of them at or under 1000 ppm.

    At 14:00 zone A has 9 readings at 900 and zone B 3 at 1300: the hour's mean is
    (8100 + 3900) / 12 = 1000, compliant — only a count-weighted mean gets this right.
    """
    site = make_site(session, make_franchisee(session), opening_hours={"mon": [["09:00", "18:00"]]}, **site_fields)
    for h in range(9, 14):
        add_hour(session, site, h, "co2_ppm", "A", 700)
        add_hour(session, site, h, "co2_ppm", "B", 900)
    add_hour(session, site, 14, "co2_ppm", "A", 900, count=9)
    add_hour(session, site, 14, "co2_ppm", "B", 1300, count=3)
    for h, value in ((15, 1200), (16, 1100)):
        add_hour(session, site, h, "co2_ppm", "A", value)
        add_hour(session, site, h, "co2_ppm", "B", value)
    for h in range(9, 17):
        add_hour(session, site, h, "zone_occupied", "A", 1)
        add_hour(session, site, h, "zone_occupied", "B", 0)
    add_hour(session, site, 17, "co2_ppm", "A", 1500)              # open but empty: not counted
    add_hour(session, site, 17, "zone_occupied", "A", 0)
    add_hour(session, site, 3, "co2_ppm", "A", 3000)               # 03:00 spike in the closed, empty office
    add_hour(session, site, 3, "zone_occupied", "A", 0)
    opened = MONDAY + timedelta(hours=10)
    for n, minutes in enumerate((60, 120, 300)):
        add_event(session, site, "ticket_opened", opened, f"T{n}")
        add_event(session, site, "ticket_first_response", opened + timedelta(minutes=minutes), f"T{n}")
    for n in range(8):
        add_event(session, site, "membership_renewed", MONDAY + timedelta(days=2), f"M{n}")
    for n in range(2):
        add_event(session, site, "membership_ended", MONDAY + timedelta(days=3), f"X{n}")
    rebuild_rollups(session, [site.id])
    return site


def run(session, model, **kwargs):
    return score_period(session=session, period=kwargs.pop("period", OCTOBER), model=model, actor=audit.SYSTEM,
                        **kwargs)


def test_known_buckets_give_exactly_the_hand_computed_indicators_score_and_card(session):
    site = known_monday(session)
    report = run(session, small_model(), site_codes=[site.code])
    row = report.scores[0]
    co2 = row.indicators["co2_compliance"]
    assert co2["raw"] == pytest.approx(0.75)
    assert co2["inputs"]["eligible_hours"] == 8 and co2["inputs"]["hours_within"] == 6
    assert co2["normalised"] == pytest.approx(300 / 7)
    assert row.indicators["member_renewal"]["raw"] == pytest.approx(0.8)
    assert row.indicators["service_response"]["inputs"]["median_minutes"] == 120
    assert row.score == pytest.approx((40 * 300 / 7 + 30 * 75 + 30 * 100) / 100)
    assert (row.status, row.card, row.period) == ("scored", None, "2026-10")     # months carry no card


def test_a_quarter_gets_a_card_and_missing_data_is_reweighted_not_imputed(session):
    site = known_monday(session)
    session.execute(OpsEvent.__table__.delete().where(OpsEvent.kind.like("ticket%")))
    row = run(session, small_model(), period=parse_period("2026-Q4"), site_codes=[site.code]).scores[0]
    assert row.indicators["service_response"]["status"] == "missing"
    assert row.coverage == pytest.approx(0.7)
    assert row.score == pytest.approx((40 * 300 / 7 + 30 * 75) / 70)
    assert row.card == "yellow"


def test_a_site_without_enough_data_is_insufficient(session):
    site = make_site(session, make_franchisee(session))
    row = run(session, small_model(), site_codes=[site.code]).scores[0]
    assert (row.status, row.score) == ("insufficient", None)
    assert row.coverage == 0


def test_rescoring_the_same_period_changes_nothing(session):
    site = known_monday(session)
    first = run(session, small_model(), site_codes=[site.code])
    session.commit()
    before = [(r.id, r.score, r.indicators, r.computed_at) for r in session.exec(select(SiteScore))]
    again = run(session, small_model(), site_codes=[site.code])
    session.commit()
    after = [(r.id, r.score, r.indicators, r.computed_at) for r in session.exec(select(SiteScore))]
    assert first.changed == 1 and again.changed == 0
    assert after == before and len(after) == 1


def test_a_new_model_version_adds_a_score_and_keeps_the_old_one(session):
    site = known_monday(session)
    old = run(session, small_model(1), site_codes=[site.code]).scores[0]
    old_score = old.score
    run(session, small_model(2, co2_weight=80), site_codes=[site.code])
    rows = {r.model_version: r for r in session.exec(select(SiteScore).where(SiteScore.site_id == site.id))}
    assert set(rows) == {1, 2}
    assert rows[1].score == pytest.approx(old_score)
    assert rows[2].score == pytest.approx((80 * 300 / 7 + 30 * 75 + 30 * 100) / 140)


def test_one_bad_site_does_not_stop_the_run_and_the_run_is_audited(session):
    good = known_monday(session)
    bad = make_site(session, make_franchisee(session), timezone="Mars/Olympus_Mons")
    report = run(session, small_model())
    assert [s.site_id for s in report.scores] == [good.id]
    assert bad.code in report.failures and "Mars/Olympus_Mons" in report.failures[bad.code]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "scores.compute")).one()
    assert event.entity_id == "2026-10" and event.after["failed"] == [bad.code]


def test_an_unknown_site_code_is_refused(session):
    with pytest.raises(ScoringError, match="NOPE"):
        run(session, small_model(), site_codes=["NOPE"])


def test_two_red_quarters_in_a_row_are_found(session):
    partner = make_franchisee(session)
    twice, once = make_site(session, partner), make_site(session, partner)
    for site, cards in ((twice, ("red", "red")), (once, ("green", "red"))):
        for period, card in zip(("2026-Q2", "2026-Q3"), cards):
            session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1,
                                  status="scored", score=40.0, card=card, coverage=1.0, indicators={}))
    session.flush()
    assert red_twice(session=session, period="2026-Q3") == [twice.id]


def test_the_brand_model_scores_nps_shrunk_toward_the_network_and_data_completeness(session):
    site = known_monday(session, desks=10)
    other = make_site(session, make_franchisee(session))
    answered = MONDAY + timedelta(hours=12)
    for n, value in enumerate([10] * 12 + [8] * 5 + [3] * 3):         # 20 answers: NPS 45
        session.add(NpsResponse(site_id=site.id, record_id=f"a{n}", answered_at=answered, score=value))
    for n, value in enumerate([10] * 5 + [0] * 5):                     # the other site: NPS 0
        session.add(NpsResponse(site_id=other.id, record_id=f"b{n}", answered_at=answered, score=value))
    session.flush()
    row = run(session, current_model(), site_codes=[site.code]).scores[0]
    nps = row.indicators["nps"]
    network = 100 * (17 - 8) / 30                                      # pooled: 17 promoters, 8 detractors
    assert nps["inputs"]["nps"] == 45 and nps["inputs"]["network_nps"] == pytest.approx(network, abs=0.01)
    assert nps["raw"] == pytest.approx(20 / 50 * 45 + 30 / 50 * network)
    completeness = row.indicators["data_completeness"]
    # received: co2 in A 10 h + B 8 h, occupancy A 10 h + B 8 h = 36 h of buckets, each holding 3
    # readings but A's co2 at 14:00 (9): 36 × 4 × 3 + 4 × 6 reading-minutes (a reading covers a
    # minute). Expected: those four streams
    # from their first reading (A at 03:00, B at 09:00 on 5 October) to the end of October, and the
    # six metrics never sent for the whole month
    october_minutes = 31 * 24 * 60
    october_end = datetime(2026, 10, 31, 16, tzinfo=timezone.utc)

    def since(local_hour: int) -> float:
        return (october_end - MONDAY - timedelta(hours=local_hour)).total_seconds() / 60

    expected = 2 * since(3) + 2 * since(9) + 6 * october_minutes
    assert completeness["inputs"]["minutes_expected"] == pytest.approx(expected)
    assert completeness["raw"] == pytest.approx((36 * 4 * 3 + 4 * 6) / expected)
    assert row.status == "insufficient"                # most of the model's weight has no data: no made-up score


def test_the_scheduled_job_scores_the_running_month_so_far(settings, session):
    from brand_hub.scores.jobs import score_running_month

    site = known_monday(session)
    session.commit()
    score_running_month(settings=settings, now=datetime(2026, 10, 5, 4, tzinfo=timezone.utc))   # Monday 12:00
    session.expire_all()
    row = session.exec(select(SiteScore).where(SiteScore.site_id == site.id)).one()
    assert (row.period, row.model_id) == ("2026-10", "brand-health")
    # the month so far ends at Monday noon: open hours 09–12 only, all three inside the limit
    assert row.indicators["co2_compliance"]["inputs"]["open_hours"] == 3
    assert row.indicators["co2_compliance"]["inputs"]["hours_within"] == 3


def test_streams_count_from_the_periods_start_unless_the_zone_was_fitted_during_it(session):
    from brand_hub.scores.inputs import readings

    site = make_site(session, make_franchisee(session))
    start, end = parse_period("2026-10").bounds("Asia/Shanghai")
    fitted = start + timedelta(days=12, hours=3)

    def bucket(zone: str, at: datetime) -> None:
        session.add(ReadingBucket(site_id=site.id, zone=zone, metric="co2_ppm", bucket_start=at, count=3, mean=600,
                                  min=600, max=600))

    bucket("A", start - timedelta(days=20))      # A reported in September, was down on 1 October
    bucket("A", start + timedelta(days=2))
    bucket("B", fitted)                          # B was fitted on 13 October
    bucket("B", fitted + timedelta(hours=1))
    session.flush()
    found = readings(session=session, site_id=site.id, start=start, end=end, slot_minutes=60, metrics={"co2_ppm"})
    assert sorted(found.streams["co2_ppm"]) == [start, fitted] and found.zones == 2


def test_publishing_a_quarters_cards_stores_one_audited_publication_and_is_idempotent(session):
    known_monday(session)
    model = small_model()
    run(session, model, period=parse_period("2026-Q4"))
    assert published_keys(session=session) == set()
    hq = audit.Actor(label="ops@brand.cn", user_id=None)
    first = publish_cards(session=session, period="2026-Q4", model=model, actor=hq)
    again = publish_cards(session=session, period="2026-Q4", model=model, actor=audit.SYSTEM)
    assert again.id == first.id and again.published_by == "ops@brand.cn"
    (row,) = session.exec(select(CardPublication)).all()
    assert (row.period, row.model_id, row.model_version) == ("2026-Q4", model.id, model.version)
    assert row.published_at.tzinfo is not None
    (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == "scores.publish")).all()
    assert (event.actor, event.entity_id) == ("ops@brand.cn", "2026-Q4")
    assert published_keys(session=session) == {("2026-Q4", model.id, model.version)}


def test_a_month_has_no_cards_to_publish_and_an_unscored_quarter_is_refused(session):
    known_monday(session)
    model = small_model()
    run(session, model)                                            # October is scored, but it is a month
    with pytest.raises(ScoringError, match="cards are quarterly"):
        publish_cards(session=session, period="2026-10", model=model, actor=audit.SYSTEM)
    with pytest.raises(ScoringError, match="no site has a score for 2026-Q4"):
        publish_cards(session=session, period="2026-Q4", model=model, actor=audit.SYSTEM)
    assert session.exec(select(CardPublication)).all() == []


def test_reading_sites_on_several_threads_scores_exactly_as_one_does_and_a_bad_site_still_fails_alone(session):
    sites = [known_monday(session) for _ in range(5)]
    bad = make_site(session, make_franchisee(session), timezone="Mars/Olympus_Mons")
    session.commit()  # the reading threads see committed data only
    parallel = score_period(session=session, period=parse_period("2026-10"), model=small_model(),
                            actor=audit.Actor("test"), workers=3)
    by_thread = {(r.site_id, r.score, r.coverage, str(r.indicators)) for r in parallel.scores}
    assert set(parallel.failures) == {bad.code}
    session.rollback()
    serial = score_period(session=session, period=parse_period("2026-10"), model=small_model(),
                          actor=audit.Actor("test"), workers=1)
    assert {(r.site_id, r.score, r.coverage, str(r.indicators)) for r in serial.scores} == by_thread
    assert {r.site_id for r in serial.scores} == {s.id for s in sites} and set(serial.failures) == {bad.code}


def test_completeness_counts_reading_minutes_so_a_partial_bucket_lowers_it(session):
    from brand_hub.scores.inputs import readings

    site = make_site(session, make_franchisee(session))
    start = MONDAY
    session.add(ReadingBucket(site_id=site.id, zone="A", metric="co2_ppm", bucket_start=start, count=15, mean=600,
                              min=600, max=600))                               # whole: 15 readings in 15 minutes
    session.add(ReadingBucket(site_id=site.id, zone="A", metric="co2_ppm", bucket_start=start + timedelta(minutes=15),
                              count=6, mean=600, min=600, max=600))            # chopped: 6 of 15
    session.add(ReadingBucket(site_id=site.id, zone="A", metric="co2_ppm", bucket_start=start + timedelta(minutes=30),
                              count=40, mean=600, min=600, max=600))           # faster sensors: still 15 minutes
    session.flush()
    found = readings(session=session, site_id=site.id, start=start, end=start + timedelta(hours=1), slot_minutes=60,
                     metrics={"co2_ppm"})
    [slot] = found.slots.values()
    assert slot["co2_ppm"].minutes == 15 + 6 + 15


def test_a_month_a_late_reading_amended_is_scored_again_on_the_jobs_next_run_and_only_once(session, settings):
    from brand_hub.models.collection import ReadingAmendment
    from brand_hub.scores.jobs import rescore_amended

    site = known_monday(session)
    model = current_model()
    run(session, model, site_codes=[site.code])
    before = session.exec(select(SiteScore).where(SiteScore.site_id == site.id)).one()
    received = before.indicators["data_completeness"]["inputs"]["minutes_received"]
    late = session.exec(select(ReadingBucket).where(ReadingBucket.site_id == site.id)).first()
    late.count, late.revision = late.count + 1, 1          # what the store does with an amended bucket
    session.add(late)
    rebuild_rollups(session, [site.id])                     # and what the store does to the rollups
    session.add(ReadingAmendment(site_id=site.id, first_bucket=late.bucket_start, last_bucket=late.bucket_start,
                                 buckets=1))
    session.flush()
    december = datetime(2026, 12, 3, tzinfo=timezone.utc)

    assert rescore_amended(session=session, model=model, settings=settings, now=december) == ["2026-10"]
    session.expire_all()
    after = session.exec(select(SiteScore).where(SiteScore.site_id == site.id)).one()
    assert after.indicators["data_completeness"]["inputs"]["minutes_received"] == received + 1
    assert rescore_amended(session=session, model=model, settings=settings, now=december) == []
