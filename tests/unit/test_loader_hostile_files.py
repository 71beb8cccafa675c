"""Hostile YAML files give clear problems (file:line: reason) fast, never a traceback or a blow-up."""
from __future__ import annotations

import time

import pytest

from standards.loader import MAX_FILE_BYTES, load_file, load_yaml

ALIAS_BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _only_problem(doc) -> str:
    assert doc.data is None or doc.problems, doc.data
    assert doc.problems
    return str(doc.problems[0])


def test_an_alias_bomb_is_refused_at_once():
    assert len(ALIAS_BOMB.encode()) < 400
    start = time.perf_counter()
    doc = load_yaml(ALIAS_BOMB, "bomb.yaml")
    assert time.perf_counter() - start < 1.0
    assert _only_problem(doc) == "bomb.yaml:1: anchors (&a) are not allowed; write the value out"


def test_a_lone_alias_is_refused_at_its_line():
    doc = load_yaml("a: 1\nb: *x\n", "alias.yaml")
    assert str(doc.problems[0]).startswith("alias.yaml:2: ")


def test_five_thousand_nested_brackets_are_a_problem_not_a_traceback():
    doc = load_yaml("key: " + "[" * 5000, "deep.yaml")
    assert doc.data is None
    assert str(doc.problems[0]).startswith("deep.yaml:1: ")
    balanced = load_yaml("[" * 5000 + "]" * 5000, "deep2.yaml")
    assert "nested deeper than 64 levels" in str(balanced.problems[0])


def test_an_unquoted_impossible_date_is_a_problem_at_its_line():
    doc = load_yaml("name: x\nopened_on: 2026-13-01\n", "site.yaml")
    assert [str(p) for p in doc.problems] == [
        "site.yaml:2: '2026-13-01' cannot be read: month must be in 1..12 (quote it if it is text)"]


def test_a_valid_date_still_reads_as_a_date():
    from datetime import date

    assert load_yaml("opened_on: 2026-12-01\n").data == {"opened_on": date(2026, 12, 1)}


def test_a_nul_byte_in_a_value_is_refused():
    doc = load_yaml('name: "Site\\0 One"\n', "nul.yaml")
    assert "contains the control character U+0000" in str(doc.problems[0])
    raw = load_yaml("name: Site\x00One\n", "raw-nul.yaml")
    assert raw.problems and str(raw.problems[0]).startswith("raw-nul.yaml:1: ")


def test_an_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (MAX_FILE_BYTES + 10), encoding="utf-8")
    doc = load_file(path, tmp_path)
    assert str(doc.problems[0]) == f"big.yaml:1: the file is larger than {MAX_FILE_BYTES} bytes"


def test_a_mapping_as_a_key_is_a_problem():
    doc = load_yaml("? [a, b]\n: 1\n", "key.yaml")
    assert doc.problems and "key" in str(doc.problems[0])


@pytest.mark.parametrize("text", ["{" * 100_000, "- " * 50_000 + "x", "a: [" + ",".join(["1"] * 10) + "]"])
def test_hostile_shapes_never_raise(text):
    load_yaml(text, "x.yaml")
