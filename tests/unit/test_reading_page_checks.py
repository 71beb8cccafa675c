"""A page of readings is checked fast, but decided exactly as the record-by-record check decides."""
from __future__ import annotations

import math
import random

from brand_hub.collection import pages
from brand_hub.collection.pages import check_page

GOOD = {"zone": "open-desk", "metric": "co2_ppm", "bucket_start": "2026-11-20T07:15:00Z", "bucket_minutes": 15,
        "count": 15, "mean": 612.5, "min": 580.0, "max": 640.0, "revision": 0}
ODD_VALUES = [None, True, False, 0, -1, 1, 15, 1440, 1441, 2**70, 10**400, 0.5, -0.0, 1e308, math.inf, -math.inf,
              math.nan, "", "x", "600", [], {}, [1], "2026-11-20T07:15:00", "2026-11-20T07:15:00+08:00",
              "2026-13-01T00:00:00Z", "zone with space", "a" * 65, "temperature_c", "noise_dba", 250, 10000, 249.9,
              10000.5, 20, 140]


def one_by_one(records: list, site_id: int) -> tuple[list, list]:
    """The reference: ``_reading`` on every record, as the page check did before its fast path."""
    rows, bad = [], []
    for record in records:
        try:
            row = pages._reading(record)
        except pages._Bad as exc:
            bad.append((record, str(exc)))
            continue
        row["site_id"] = site_id
        rows.append(row)
    return rows, bad


def test_the_fast_check_keeps_and_refuses_exactly_what_the_full_check_does_with_the_same_reasons():
    rng = random.Random(15)
    records: list = []
    for i in range(4000):
        record = dict(GOOD, zone=rng.choice(["open-desk", "meeting.3", "lab_1"]),
                      metric=rng.choice(["co2_ppm", "temperature_c", "noise_dba"]))
        if record["metric"] != "co2_ppm":
            record.update(mean=22.0, min=21.0, max=23.0)
        for _ in range(rng.choice([0, 0, 1, 2])):
            key = rng.choice(list(GOOD) + ["extra"])
            if rng.random() < 0.1:
                record.pop(key, None)
            else:
                record[key] = rng.choice(ODD_VALUES)
        records.append(record if rng.random() > 0.01 else rng.choice(["text", 5, None, [record]]))
    page = check_page("readings", {"records": records, "cursor": "4000"}, 7, "0")
    rows, bad = one_by_one(records, 7)
    assert page.rows == rows
    assert [(id(r), reason) for r, reason in page.bad] == [(id(r), reason) for r, reason in bad]
    assert 0 < len(page.bad) < len(records) and page.newest == max(r["bucket_start"] for r in rows)


def test_whole_numbers_are_read_as_numbers_and_huge_ones_are_refused_not_raised():
    whole = dict(GOOD, mean=600, min=580, max=640)
    huge = dict(GOOD, mean=10**400)
    page = check_page("readings", {"records": [whole, huge], "cursor": "2"}, 1, "0")
    assert [(r["mean"], type(r["mean"])) for r in page.rows] == [(600.0, float)]
    assert page.bad == [(huge, page.bad[0][1])] and "mean" in page.bad[0][1]


def test_a_metric_that_is_not_text_is_refused_with_a_reason():
    record = dict(GOOD, metric=["co2_ppm"])
    page = check_page("readings", {"records": [record], "cursor": "1"}, 1, "0")
    assert page.rows == [] and "canonical metric" in page.bad[0][1]


def test_the_edges_the_fast_path_leaves_to_the_full_check_are_decided_by_it():
    """The fast path accepts a mean within [min, max] and ranges without math.isfinite; the tolerance on the
    mean, a missing field and the unbounded metrics' infinities are the full check's to decide."""
    within = dict(GOOD, mean=640.0 + 1e-7)                      # above max, inside the 1e-9 tolerance
    beyond = dict(GOOD, mean=640.0 + 1e-6)
    no_revision = {k: v for k, v in GOOD.items() if k != "revision"}
    no_mean = {k: v for k, v in GOOD.items() if k != "mean"}
    people = dict(GOOD, metric="people_count", mean=3.0, min=0.0, max=9.0)
    endless = [dict(people, max=math.inf, mean=math.inf), dict(people, max=math.inf), dict(people, max=math.nan),
               dict(people, min=-math.inf)]
    records = [within, beyond, no_revision, no_mean, people, *endless]
    page = check_page("readings", {"records": records, "cursor": str(len(records))}, 3, "0")
    rows, bad = one_by_one(records, 3)
    assert page.rows == rows and [(id(r), why) for r, why in page.bad] == [(id(r), why) for r, why in bad]
    assert [r["mean"] for r in page.rows] == [640.0 + 1e-7, 612.5, 3.0]
    assert [r for r, _why in page.bad] == [beyond, no_mean, *endless]
