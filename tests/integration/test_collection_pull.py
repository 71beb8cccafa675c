"""A real agent on a real port, pulled by the hub over HTTP: the main path and its faults."""
from __future__ import annotations

import csv
import json
import logging
import re
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlmodel import Session, func, select

from brand_hub.collection.cycle import run_cycle
from brand_hub.models.collection import CollectionTarget, NpsResponse, OpsEvent, QuarantinedRecord, ReadingBucket
from site_agent.agent import Agent
from site_agent.config import AgentConfig
from site_agent.server import Server, create_app
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent

UCI = Path(__file__).resolve().parents[2] / "site_agent" / "data" / "uci-occupancy"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(timezone.utc)
COLUMNS = {"Temperature": "temperature_c", "Humidity": "humidity_pct", "Light": "illuminance_lux",
           "CO2": "co2_ppm", "Occupancy": "zone_occupied"}


@pytest.fixture
def agents(tmp_path):
    """Start agents on demand; all stopped at the end."""
    started = []

    def start(site_code: str, token: str, **config):
        running = start_agent(tmp_path, site_code, token, **config)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def connected_site(session: Session, agents, **config):
    """An active site whose agent runs on a real port and holds the token the hub issued."""
    site = make_site(session, make_franchisee(session))
    token = issue_site_token(session, site)
    agent = agents(site.code, token, **config)
    site.agent_url = agent.url
    session.add(site)
    session.commit()
    return site, agent, token


def ingest(agent, token: str, readings=(), events=()):
    answer = requests.post(agent.url + "/v1/ingest", json={"readings": list(readings), "events": list(events)},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def hours_ago(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).isoformat()


def count(session: Session, model, site_id: int) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model).where(model.site_id == site_id)).one()


def target_of(session: Session, site_id: int) -> CollectionTarget:
    session.expire_all()
    return session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site_id)).one()


def uci_readings(name: str, shift: timedelta):
    """The UCI file's rows as ingest readings, time-shifted, exactly as the file has them (quoting and all)."""
    with (UCI / name).open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    readings = []
    for row in body:
        values = dict(zip(header, row[1:]))   # the header does not name the leading row-id column
        at = datetime.fromisoformat(values["date"]).replace(tzinfo=SHANGHAI) + shift
        for column, metric in COLUMNS.items():
            readings.append({"zone": "office", "metric": metric, "value": float(values[column]),
                             "ts": at.isoformat()})
    return readings


def expected_buckets(readings):
    """Count and mean per 15-minute bucket, computed straight from the readings of the CSV."""
    sums: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    for r in readings:
        local = datetime.fromisoformat(r["ts"]).astimezone(SHANGHAI)
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
        sums[(r["metric"], start.astimezone(timezone.utc))].append(r["value"])
    return {key: (len(values), sum(values) / len(values)) for key, values in sums.items()}


def test_the_uci_office_replayed_through_the_agent_arrives_at_the_hub_bucket_for_bucket(engine, session, settings,
                                                                                       agents):
    site, agent, token = connected_site(session, agents)
    first = datetime(2015, 2, 2, tzinfo=SHANGHAI)
    shift = timedelta(weeks=((NOW - first).days // 7) - 3)   # same weekdays, ending a few days ago
    readings = uci_readings("datatest.txt", shift)
    for start in range(0, len(readings), 4000):
        assert ingest(agent, token, readings[start:start + 4000])["readings"]["refused"] == 0

    report = run_cycle(engine=engine, settings=settings)

    assert [o.status for o in report.outcomes] == ["ok"]
    expected = expected_buckets(readings)
    session.expire_all()
    stored = {(b.metric, b.bucket_start): (b.count, b.mean)
              for b in session.exec(select(ReadingBucket).where(ReadingBucket.site_id == site.id))}
    assert stored.keys() == expected.keys()
    for key, (n, mean) in expected.items():
        assert stored[key][0] == n, key
        assert stored[key][1] == pytest.approx(mean, rel=1e-9), key
    assert report.records == len(expected)


def test_nps_answers_and_operations_events_reach_the_hub_scrubbed(engine, session, settings, agents):
    site, agent, token = connected_site(session, agents)
    browser = requests.Session()  # issue 11: the post carries the signed token of the page it came from
    token_field = re.search(r'name="token" value="([^"]+)"', browser.get(agent.url + "/survey", timeout=10).text)
    browser.post(agent.url + "/survey", data={"score": "9", "comment": "很好，联系我 13812345678 或 a.b@example.cn",
                                              "lang": "zh_CN", "token": token_field.group(1)},
                 timeout=10).raise_for_status()
    ingest(agent, token, events=[
        {"id": "T-1", "kind": "ticket_opened", "at": hours_ago(5), "ref": "T-1"},
        {"id": "T-1r", "kind": "ticket_resolved", "at": hours_ago(4), "ref": "T-1"},
        {"id": "EV-9", "kind": "community_event", "at": hours_ago(3), "ref": "EV-9", "quantity": 42},
    ])

    run_cycle(engine=engine, settings=settings)

    answer = session.exec(select(NpsResponse).where(NpsResponse.site_id == site.id)).one()
    assert (answer.score, answer.comment) == (9, "很好，联系我 [phone] 或 [email]")
    events = session.exec(select(OpsEvent).where(OpsEvent.site_id == site.id).order_by(OpsEvent.occurred_at)).all()
    assert [(e.kind, e.ref, e.quantity) for e in events] == [
        ("ticket_opened", "T-1", None), ("ticket_resolved", "T-1", None), ("community_event", "EV-9", 42)]


def test_pulling_again_adds_nothing_and_new_data_is_picked_up_after_the_cursor(engine, session, settings, agents):
    site, agent, token = connected_site(session, agents)
    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 600 + i, "ts": hours_ago(10 - i)}
                          for i in range(5)])
    run_cycle(engine=engine, settings=settings)
    run_cycle(engine=engine, settings=settings)
    assert count(session, ReadingBucket, site.id) == 5

    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 700, "ts": hours_ago(2)}])
    report = run_cycle(engine=engine, settings=settings)

    assert report.records == 1
    assert count(session, ReadingBucket, site.id) == 6
    target = target_of(session, site.id)
    assert target.cursor_readings == "6" and target.consecutive_failures == 0 and target.records_last_pull == 1


def test_small_pages_are_followed_until_the_agent_has_no_more(engine, session, settings, agents):
    site, agent, token = connected_site(session, agents)
    ingest(agent, token, [{"zone": f"z{i % 7}", "metric": "temperature_c", "value": 22, "ts": hours_ago(30 - i / 4)}
                          for i in range(100)])

    run_cycle(engine=engine, settings=settings.replace(collect_page_limit=7))

    assert count(session, ReadingBucket, site.id) == 100


def test_an_agent_that_is_down_is_recorded_as_failing_and_others_are_still_pulled(engine, session, settings, agents):
    good, agent, token = connected_site(session, agents)
    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 500, "ts": hours_ago(3)}])
    dead = make_site(session, make_franchisee(session), agent_url="http://127.0.0.1:9")
    issue_site_token(session, dead)
    session.commit()

    report = run_cycle(engine=engine, settings=settings.replace(collect_retries=1, collect_backoff_seconds=0.01))

    assert {o.site_code: o.status for o in report.outcomes} == {good.code: "ok", dead.code: "failed"}
    assert count(session, ReadingBucket, good.id) == 1
    failing = target_of(session, dead.id)
    assert failing.consecutive_failures == 1 and "cannot connect" in failing.last_error
    run_cycle(engine=engine, settings=settings.replace(collect_retries=0))
    assert target_of(session, dead.id).consecutive_failures == 2


def test_a_slow_agent_times_out_without_holding_up_the_others(engine, session, settings, agents):
    fast, agent, token = connected_site(session, agents)
    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 500, "ts": hours_ago(3)}])
    gate = threading.Event()

    def slow_app(environ, start_response):
        gate.wait(5)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    slow_server = Server(slow_app).start()
    slow = make_site(session, make_franchisee(session), agent_url=slow_server.url)
    issue_site_token(session, slow)
    session.commit()
    try:
        started = time.monotonic()
        report = run_cycle(engine=engine, settings=settings.replace(collect_timeout_seconds=0.5, collect_retries=0))
        elapsed = time.monotonic() - started
    finally:
        gate.set()
        slow_server.stop()

    assert {o.site_code: o.status for o in report.outcomes} == {fast.code: "ok", slow.code: "failed"}
    assert "no answer within 0.5 s" in target_of(session, slow.id).last_error
    assert count(session, ReadingBucket, fast.id) == 1
    assert elapsed < 4


def test_a_wrong_token_is_refused_with_401_and_nothing_is_stored(engine, session, settings, agents):
    site = make_site(session, make_franchisee(session))
    issue_site_token(session, site)
    agent = agents(site.code, "a-different-token")
    ingest(agent, "a-different-token", [{"zone": "a", "metric": "co2_ppm", "value": 500, "ts": hours_ago(3)}])
    site.agent_url = agent.url
    session.add(site)
    session.commit()

    report = run_cycle(engine=engine, settings=settings)

    assert report.outcomes[0].status == "failed"
    assert requests.get(agent.url + "/v1/readings", timeout=5).status_code == 401
    assert count(session, ReadingBucket, site.id) == 0
    assert "401" in target_of(session, site.id).last_error


def test_the_token_never_appears_in_logs_or_recorded_errors(engine, session, settings, agents, caplog):
    site, agent, token = connected_site(session, agents)
    dead = make_site(session, make_franchisee(session), agent_url="http://127.0.0.1:9")
    dead_token = issue_site_token(session, dead)
    session.commit()
    caplog.set_level(logging.DEBUG)

    run_cycle(engine=engine, settings=settings.replace(collect_retries=0))

    assert caplog.records, "the cycle logs what it did"
    text = caplog.text
    assert token not in text and dead_token not in text
    assert dead_token not in target_of(session, dead.id).last_error
    session.expire_all()
    assert token not in site.agent_token_hash


def test_a_malformed_page_quarantines_the_bad_records_and_keeps_the_good(engine, session, settings):
    good_record = {"zone": "a", "metric": "co2_ppm", "bucket_start": "2026-11-01T02:00:00Z", "bucket_minutes": 15,
                   "count": 3, "mean": 600.0, "min": 550.0, "max": 650.0}
    bad_records = [dict(good_record, metric="radon"), dict(good_record, zone="b", count=0),
                   dict(good_record, zone="c", mean=900.0), "not even an object"]

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        body = {"records": [], "cursor": "0", "more": False}
        if path == "/v1/health":
            body = {"agent_version": "test", "buffer_depth": 5}
        elif path == "/v1/readings" and "after=0" in environ.get("QUERY_STRING", ""):
            body = {"records": [good_record, *bad_records], "cursor": "5", "more": False}
        elif path == "/v1/readings":
            body = {"records": [], "cursor": "5", "more": False}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    server = Server(app).start()
    site = make_site(session, make_franchisee(session), agent_url=server.url)
    issue_site_token(session, site)
    session.commit()
    try:
        report = run_cycle(engine=engine, settings=settings)
        run_cycle(engine=engine, settings=settings)
    finally:
        server.stop()

    assert report.outcomes[0].status == "ok" and report.outcomes[0].quarantined == 4
    assert count(session, ReadingBucket, site.id) == 1
    reasons = sorted(q.reason for q in session.exec(select(QuarantinedRecord)
                                                   .where(QuarantinedRecord.site_id == site.id)))
    assert len(reasons) == 4
    assert any("radon" in r for r in reasons) and any("count" in r for r in reasons)
    assert any("mean" in r for r in reasons) and any("not an object" in r for r in reasons)
    assert target_of(session, site.id).cursor_readings == "5"


def test_a_page_with_a_broken_frame_keeps_nothing_and_the_cursor_stays(engine, session, settings):

    def app(environ, start_response):
        body = {"agent_version": "test"} if environ["PATH_INFO"] == "/v1/health" else {"records": "oops",
                                                                                        "cursor": "9"}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    server = Server(app).start()
    site = make_site(session, make_franchisee(session), agent_url=server.url)
    issue_site_token(session, site)
    session.commit()
    try:
        report = run_cycle(engine=engine, settings=settings)
    finally:
        server.stop()

    assert report.outcomes[0].status == "failed"
    target = target_of(session, site.id)
    assert target.cursor_readings == "0" and "'records' is not a list" in target.last_error


def test_a_page_read_twice_changes_nothing(engine, session, settings):
    """An agent that answers the same page again (as after a crash) adds no duplicates."""
    record = {"zone": "a", "metric": "co2_ppm", "bucket_start": "2026-11-01T02:00:00Z", "bucket_minutes": 15,
              "count": 3, "mean": 600.0, "min": 550.0, "max": 650.0}
    nps = {"record_id": "r1", "answered_at": "2026-11-01T02:00:00Z", "score": 7, "comment": "", "language": "en"}

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        body = {"agent_version": "test"}
        if path == "/v1/readings":
            body = {"records": [record, record], "cursor": "2", "more": False}
        elif path == "/v1/nps":
            body = {"records": [nps, nps], "cursor": "2", "more": False}
        elif path == "/v1/events":
            body = {"records": [], "cursor": "0", "more": False}
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    server = Server(app).start()
    site = make_site(session, make_franchisee(session), agent_url=server.url)
    issue_site_token(session, site)
    session.commit()
    try:
        for _ in range(2):
            rewind_cursors(engine, site.id)
            run_cycle(engine=engine, settings=settings)
    finally:
        server.stop()

    assert count(session, ReadingBucket, site.id) == 1
    assert count(session, NpsResponse, site.id) == 1


def rewind_cursors(engine, site_id: int) -> None:
    """Put the cursors back to the start, as a collector that crashed before saving them would find them."""
    with Session(engine) as s:
        target = s.exec(select(CollectionTarget).where(CollectionTarget.site_id == site_id)).first()
        if target:
            target.cursor_readings = target.cursor_nps = target.cursor_events = "0"
            s.add(target)
            s.commit()


def test_an_agent_restarted_mid_stream_continues_from_the_hubs_cursor(engine, session, settings, tmp_path):
    site = make_site(session, make_franchisee(session))
    token = issue_site_token(session, site)
    config = AgentConfig(site_code=site.code, token=token, buffer_path=str(tmp_path / "restart.buffer"))
    agent = Agent(config)
    agent.ingest_readings([agent.check("a", "humidity_pct", 40 + i % 50, hours_ago(40 - i / 4)) for i in range(100)])
    served = {"pages": 0}
    app = create_app(agent)

    def stop_after_three_pages(environ, start_response):
        if environ["PATH_INFO"] == "/v1/readings":
            served["pages"] += 1
            if served["pages"] > 3:   # the agent goes down in the middle of the stream
                start_response("503 Service Unavailable", [("Content-Type", "application/json")])
                return [b"{}"]
        return app(environ, start_response)

    first = Server(stop_after_three_pages).start()
    site.agent_url = first.url
    session.add(site)
    session.commit()
    try:
        report = run_cycle(engine=engine, settings=settings.replace(collect_page_limit=10, collect_retries=0))
    finally:
        first.stop()
        agent.close()
    assert report.outcomes[0].status == "failed" and count(session, ReadingBucket, site.id) == 30

    restarted = Agent(config)    # the same buffer file, a new process and port
    restarted.ingest_readings([restarted.check("a", "humidity_pct", 70, hours_ago(5))])
    second = Server(create_app(restarted)).start()
    site.agent_url = second.url
    session.add(site)
    session.commit()
    try:
        report = run_cycle(engine=engine, settings=settings.replace(collect_page_limit=10))
    finally:
        second.stop()
        restarted.close()

    assert report.outcomes[0].status == "ok" and report.records == 71
    assert count(session, ReadingBucket, site.id) == 101


def test_the_feed_health_records_version_backlog_refusals_and_the_newest_reading(engine, session, settings, agents):
    site, agent, token = connected_site(session, agents)
    newest = (NOW - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    ingest(agent, token, [
        {"zone": "a", "metric": "co2_ppm", "value": 500, "ts": (newest - timedelta(hours=3)).isoformat()},
        {"zone": "a", "metric": "co2_ppm", "value": 510, "ts": (newest + timedelta(minutes=1)).isoformat()},
        {"zone": "a", "metric": "co2_ppm", "value": 5, "ts": newest.isoformat()}])

    run_cycle(engine=engine, settings=settings)

    target = target_of(session, site.id)
    assert (target.agent_version, target.buffer_depth, target.rejects) == ("1.0.0", 2, {"out_of_range": 1})
    assert target.newest_record_at == newest and target.records_last_pull == 2
    assert target.last_success_at is not None and target.lease_owner is None


def test_an_agent_with_a_new_buffer_is_read_from_its_start(engine, session, settings, agents, tmp_path):
    site, agent, token = connected_site(session, agents)
    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 500 + i, "ts": hours_ago(20 - i)}
                          for i in range(5)])
    run_cycle(engine=engine, settings=settings)
    agent.stop()

    replaced = agents(site.code, token, buffer_path=str(tmp_path / "new-disk.buffer"))   # sequences start at 1 again
    ingest(replaced, token, [{"zone": "b", "metric": "co2_ppm", "value": 600, "ts": hours_ago(3)}])
    site.agent_url = replaced.url
    session.add(site)
    session.commit()
    report = run_cycle(engine=engine, settings=settings)

    assert report.records == 1
    assert count(session, ReadingBucket, site.id) == 6


def test_records_dropped_at_the_sites_buffer_limit_show_in_the_hubs_feed_health(engine, session, settings, agents):
    site, agent, token = connected_site(session, agents, buffer_limit=3)
    ingest(agent, token, [{"zone": "a", "metric": "co2_ppm", "value": 500 + i, "ts": hours_ago(20 - i)}
                          for i in range(5)])
    agent.agent.housekeeping()

    report = run_cycle(engine=engine, settings=settings)

    assert report.records == 3
    assert target_of(session, site.id).rejects == {"dropped_at_buffer_limit": 2}
