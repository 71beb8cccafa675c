"""The YAML loader keeps line numbers so every problem points at its line."""
from standards.canonical import content_hash
from standards.loader import load_yaml, schema_problems

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["id", "rules"],
          "properties": {"id": {"type": "string"},
                         "rules": {"type": "array", "items": {"type": "object", "properties": {
                             "threshold": {"type": "number"}}, "additionalProperties": False}}}}


def test_a_syntax_error_is_a_problem_with_its_line():
    doc = load_yaml("id: a\nrules: [\n  - x\n", "bad.yaml")
    assert doc.problems and doc.problems[0].file == "bad.yaml"
    assert str(doc.problems[0]).startswith("bad.yaml:")


def test_duplicate_keys_are_reported_at_the_second_one():
    doc = load_yaml("id: a\nrules: []\nid: b\n", "dup.yaml")
    assert [str(p) for p in doc.problems] == ["dup.yaml:3: duplicate key 'id'"]


def test_schema_problems_point_at_the_offending_value():
    doc = load_yaml("id: a\nrules:\n  - threshold: 5\n  - threshold: high\n  - treshold: 3\n", "s.yaml")
    problems = [str(p) for p in schema_problems(doc, SCHEMA)]
    assert "s.yaml:4: rules.1.threshold: expected number, got str 'high'" in problems
    assert "s.yaml:5: rules.2: unknown field 'treshold'" in problems


def test_a_missing_field_is_reported_at_the_top():
    doc = load_yaml("rules: []\n", "m.yaml")
    assert [str(p) for p in schema_problems(doc, SCHEMA)] == ["m.yaml:1: 'id' is missing"]


def test_the_content_hash_ignores_key_order():
    assert content_hash({"a": 1, "b": "门店"}) == content_hash({"b": "门店", "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
