"""The site data charts read the coarsest readings that answer their span: buckets, hours or days."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from brand_hub.collection import site_series
from tests.builders import add_buckets, make_franchisee, make_site

END = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)


def buckets(site, days: float) -> list[dict]:
    """CO2 every 15 minutes for ``days`` up to END, with uneven counts so only a weighted mean is right."""
    rows = []
    for n in range(int(days * 96)):
        mean, count = 500.0 + n % 4 * 100, (15, 5, 10, 30)[n % 4]
        rows.append(dict(site_id=site.id, zone="open-desk", metric="co2_ppm", bucket_start=END - (n + 1) *
                         timedelta(minutes=15), bucket_minutes=15, count=count, mean=mean, min=mean - 1,
                         max=mean + 1))
    return rows


def test_a_week_is_charted_per_hour_a_day_per_bucket_and_a_quarter_per_day(session):
    partner = make_franchisee(session)
    week, day, quarter = (make_site(session, partner) for _ in range(3))
    add_buckets(session, buckets(week, 10) + buckets(day, 1) + buckets(quarter, 92))

    hourly = site_series(session=session, site_id=week.id)
    points = hourly["metrics"]["co2_ppm"]["open-desk"]
    assert hourly["resolution"] == "hour" and len(points) == 7 * 24
    # each hour, its readings' mean: 500×15 + 600×5 + 700×10 + 800×30 over 60 readings, not the buckets' 650
    assert {p["y"] for p in points} == {round((500 * 15 + 600 * 5 + 700 * 10 + 800 * 30) / 60, 3)}
    assert {(p["min"], p["max"], p["n"]) for p in points} == {(499.0, 801.0, 60)}
    assert hourly["buckets"] == 7 * 24 * 4

    assert site_series(session=session, site_id=day.id)["resolution"] == "bucket"
    assert len(site_series(session=session, site_id=day.id)["metrics"]["co2_ppm"]["open-desk"]) == 96

    daily = site_series(session=session, site_id=quarter.id, days=90)
    assert daily["resolution"] == "day" and len(daily["metrics"]["co2_ppm"]["open-desk"]) == 90
    *whole_days, today = daily["metrics"]["co2_ppm"]["open-desk"]
    assert {p["n"] for p in whole_days} == {24 * 60} and today["n"] == 4 * 60      # END is 04:00 UTC


def test_a_tenure_that_ends_inside_an_hour_is_charted_from_the_buckets(session):
    site = make_site(session, make_franchisee(session))
    add_buckets(session, buckets(site, 10))
    cut = END - timedelta(days=1, minutes=30)
    series = site_series(session=session, site_id=site.id, held_until=cut)
    assert series["resolution"] == "bucket"
    assert max(p["x"] for p in series["metrics"]["co2_ppm"]["open-desk"]) < cut.isoformat()
    whole = site_series(session=session, site_id=site.id, held_until=END - timedelta(days=1))
    assert whole["resolution"] == "hour"
