"""Validation at the edge and the site-local bucket clock."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from site_agent.intake import Reading, Refusal, bucket_start, check_event, check_reading, reading_from_mqtt

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
LIMIT = timedelta(minutes=5)


def check(zone="desk-1", metric="co2_ppm", value=612, at="2026-11-20T15:00:00+08:00"):
    return check_reading(zone, metric, value, at, site_zone=SHANGHAI, now=NOW, max_future=LIMIT)


def test_a_good_reading_is_taken_with_its_time_in_utc():
    assert check() == Reading("desk-1", "co2_ppm", datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc), 612.0)


def test_a_time_without_zone_is_the_sites_local_time():
    assert check(at="2026-11-20 15:00:00").at == datetime(2026, 11, 20, 7, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("fields, reason", [
    ({"metric": "radon_bq"}, "unknown_metric"),
    ({"value": 120}, "out_of_range"),              # CO2 below 250 ppm is a broken sensor
    ({"metric": "humidity_pct", "value": 104}, "out_of_range"),
    ({"metric": "zone_occupied", "value": 0.5}, "out_of_range"),
    ({"value": "abc"}, "unparseable"),
    ({"value": float("nan")}, "out_of_range"),
    ({"at": None}, "missing_timestamp"),
    ({"at": "yesterday"}, "unparseable"),
    ({"at": "2026-11-20T16:10:00+08:00"}, "future_timestamp"),
    ({"zone": "a zone with spaces"}, "bad_zone"),
])
def test_a_bad_reading_is_refused_with_its_reason(fields, reason):
    result = check(**fields)
    assert isinstance(result, Refusal) and result.reason == reason


@pytest.mark.parametrize("payload, value", [(b"731", 731.0), (b'{"ts": "2026-11-20T07:59:00Z", "value": 455}', 455.0)])
def test_an_mqtt_payload_may_be_a_number_or_a_timed_value(payload, value):
    result = reading_from_mqtt("brandhub/SH-01/open-desk/co2_ppm", payload, site_code="SH-01", site_zone=SHANGHAI,
                               now=NOW, max_future=LIMIT)
    assert isinstance(result, Reading) and result.value == value and result.zone == "open-desk"


@pytest.mark.parametrize("topic, payload, reason", [
    ("brandhub/OTHER/z/co2_ppm", b"500", "bad_topic"),
    ("brandhub/SH-01/z", b"500", "bad_topic"),
    ("brandhub/SH-01/z/co2_ppm", b"\xff\xfe", "unparseable"),
    ("brandhub/SH-01/z/co2_ppm", b"[1, 2]", "unparseable"),
    ("brandhub/SH-01/z/wind", b"3", "unknown_metric"),
])
def test_a_bad_mqtt_message_is_refused_not_raised(topic, payload, reason):
    result = reading_from_mqtt(topic, payload, site_code="SH-01", site_zone=SHANGHAI, now=NOW, max_future=LIMIT)
    assert isinstance(result, Refusal) and result.reason == reason


def test_buckets_follow_the_sites_local_quarter_hours_even_at_half_hour_offsets():
    kolkata = ZoneInfo("Asia/Kolkata")   # UTC+05:30
    moment = datetime(2026, 11, 20, 4, 44, tzinfo=timezone.utc)   # 10:14 local
    assert bucket_start(moment, kolkata, 15) == datetime(2026, 11, 20, 4, 30, tzinfo=timezone.utc)
    kathmandu = ZoneInfo("Asia/Kathmandu")   # UTC+05:45
    assert bucket_start(moment, kathmandu, 60) == datetime(2026, 11, 20, 4, 15, tzinfo=timezone.utc)


def test_the_repeated_hour_of_a_dst_change_gives_two_different_buckets():
    berlin = ZoneInfo("Europe/Berlin")   # 2026-10-25 02:00–03:00 local happens twice
    first = datetime(2026, 10, 25, 0, 20, tzinfo=timezone.utc)    # 02:20 CEST
    second = datetime(2026, 10, 25, 1, 20, tzinfo=timezone.utc)   # 02:20 CET
    assert bucket_start(first, berlin, 15) == datetime(2026, 10, 25, 0, 15, tzinfo=timezone.utc)
    assert bucket_start(second, berlin, 15) == datetime(2026, 10, 25, 1, 15, tzinfo=timezone.utc)


def test_daily_buckets_start_at_local_midnight():
    moment = datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc)   # 04:00 next day in Shanghai
    assert bucket_start(moment, SHANGHAI, 1440) == datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("event, reason", [
    ({"kind": "ticket_opened", "at": "2026-11-20T10:00:00"}, "missing_id"),
    ({"id": "x", "kind": "party", "at": "2026-11-20T10:00:00"}, "unknown_kind"),
    ({"id": "x", "kind": "community_event", "at": "2026-11-20T10:00:00", "quantity": -3}, "out_of_range"),
    ({"id": "x", "kind": "ticket_opened"}, "missing_timestamp"),
    ("ticket", "unparseable"),
])
def test_a_bad_operations_event_is_refused_with_its_reason(event, reason):
    result = check_event(event, site_zone=SHANGHAI, now=NOW, max_future=LIMIT)
    assert isinstance(result, Refusal) and result.reason == reason
