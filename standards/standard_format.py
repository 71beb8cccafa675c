"""Brand standards as files: load a standards folder, validate it, hand back the standards.

A folder holds ``*.yaml`` files, each one standard or a chapter of several
(``{chapter, standards: [...]}``). The format's JSON Schema ships beside this module
(``standard.schema.json``). On top of the schema a standard is checked for what a
schema cannot say: a rule names a known metric or indicator, its thresholds lie
inside the metric's valid range, and every id is used once in the whole folder.
Every problem is ``file:line: reason``; a folder with any problem is refused as a whole.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .canonical import content_hash
from .loader import Document, InvalidFiles, Problem, load_file, schema_problems
from .metrics import METRICS

SCHEMA_PATH = Path(__file__).with_name("standard.schema.json")
LIBRARY_DIR = Path(__file__).with_name("library") / "standards"
CATEGORIES = ("space", "service", "community", "data_privacy", "iot")


@dataclass(frozen=True)
class Indicator:
    """An operations indicator a rule may name instead of a sensor metric."""

    name: str
    unit: str
    low: float
    high: float


# Indicators from NPS answers and operations events (their valid ranges, as metrics have).
INDICATORS: dict[str, Indicator] = {i.name: i for i in (
    Indicator("nps", "NPS", -100, 100),
    Indicator("nps_answers", "answers", 0, math.inf),
    Indicator("ticket_first_response_hours", "h", 0, math.inf),
    Indicator("ticket_resolution_hours", "h", 0, math.inf),
    Indicator("community_events", "events", 0, math.inf),
    Indicator("community_attendance", "people", 0, math.inf),
    Indicator("data_completeness", "share", 0, 1),
    Indicator("agent_offline_hours", "h", 0, math.inf),
    Indicator("implausible_revenue_reports", "reports", 0, math.inf),  # issue 11: revenue plausibility
)}


@dataclass(frozen=True)
class StandardSpec:
    """One standard as authored: its id, the author's version, the parsed content and where it is."""

    key: str
    version: int
    content: dict[str, Any]
    file: str
    line: int

    @property
    def hash(self) -> str:
        return content_hash(self.content)

    @property
    def category(self) -> str:
        return self.content["category"]

    @property
    def title_zh(self) -> str:
        return self.content["title"]["zh"]

    @property
    def title_en(self) -> str:
        return self.content["title"]["en"]

    @property
    def ack_days(self) -> int:
        return self.content["ack_days"]


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _chapter_schema() -> dict[str, Any]:
    return {**schema(), "$ref": "#/$defs/chapter"}


def check_document(doc: Document) -> tuple[list[StandardSpec], list[Problem]]:
    """The standards in one parsed file and every problem with them."""
    if doc.problems:
        return [], list(doc.problems)
    if not isinstance(doc.data, dict):
        return [], [doc.problem((), "expected a standard (a mapping with id, version, …) or a chapter")]
    chapter = "standards" in doc.data
    problems = schema_problems(doc, _chapter_schema() if chapter else schema())
    if problems:
        return [], problems
    entries = [(("standards", n), s) for n, s in enumerate(doc.data["standards"])] if chapter else [((), doc.data)]
    specs = []
    for path, data in entries:
        problems += _rule_problems(doc, path, data)
        specs.append(StandardSpec(data["id"], data["version"], data, doc.file, doc.line_of(path)))
    return specs, problems


def _rule_problems(doc: Document, at: tuple, data: dict[str, Any]) -> list[Problem]:
    """What the schema cannot check: the metric or indicator exists, thresholds are in its range."""
    problems = []
    seen: set[str] = set()
    for n, rule in enumerate(data.get("rules", [])):
        here = at + ("rules", n)
        if rule["id"] in seen:
            problems.append(doc.problem(here + ("id",), f"rule id '{rule['id']}' is used twice in '{data['id']}'"))
        seen.add(rule["id"])
        if ("metric" in rule) == ("indicator" in rule):
            problems.append(doc.problem(here, f"rule '{rule['id']}' needs exactly one of 'metric' or 'indicator'"))
            continue
        if "metric" in rule:
            target = METRICS.get(rule["metric"])
            if target is None:
                problems.append(doc.problem(here + ("metric",), f"unknown metric '{rule['metric']}' "
                                            f"(known: {', '.join(METRICS)})"))
                continue
        else:
            target = INDICATORS.get(rule["indicator"])
            if target is None:
                problems.append(doc.problem(here + ("indicator",), f"unknown indicator '{rule['indicator']}' "
                                            f"(known: {', '.join(INDICATORS)})"))
                continue
        if "min" not in rule and "max" not in rule:
            problems.append(doc.problem(here, f"rule '{rule['id']}' needs a threshold: 'min', 'max' or both"))
        for bound in ("min", "max"):
            value = rule.get(bound)
            if value is not None and not target.low <= value <= target.high:
                high = "∞" if math.isinf(target.high) else f"{target.high:g}"
                problems.append(doc.problem(here + (bound,), f"threshold {bound} {value:g} {target.unit} is outside "
                                            f"the valid range of {target.name} ({target.low:g}–{high})"))
        if "min" in rule and "max" in rule and rule["min"] > rule["max"]:
            problems.append(doc.problem(here + ("min",), f"min {rule['min']:g} is above max {rule['max']:g}"))
        if rule["measure"] == "share_within" and "share" not in rule:
            problems.append(doc.problem(here, f"rule '{rule['id']}': measure share_within needs 'share'"))
    return problems


def check_folder(directory: Path | str) -> tuple[list[StandardSpec], list[Problem]]:
    """Every standard in ``directory`` (recursively) and every problem, duplicate ids included."""
    root = Path(directory)
    if not root.is_dir():
        return [], [Problem(str(root), 1, "not a folder")]
    specs: list[StandardSpec] = []
    problems: list[Problem] = []
    files = sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")])
    if not files:
        problems.append(Problem(str(root), 1, "no standards (*.yaml) in this folder"))
    first: dict[str, StandardSpec] = {}
    for path in files:
        found, trouble = check_document(load_file(path, root))
        problems += trouble
        for spec in found:
            if spec.key in first:
                other = first[spec.key]
                problems.append(Problem(spec.file, spec.line,
                                        f"duplicate id '{spec.key}' (also at {other.file}:{other.line})"))
                continue
            first[spec.key] = spec
            specs.append(spec)
    return specs, problems


def load_folder(directory: Path | str | None = None) -> list[StandardSpec]:
    """The standards of a folder (default: the shipped library); ``InvalidFiles`` if anything is wrong."""
    specs, problems = check_folder(directory or LIBRARY_DIR)
    if problems:
        raise InvalidFiles(problems)
    return specs


def applies_to(content: dict[str, Any], *, tier: str, region: str) -> bool:
    """Whether a standard applies to a site of ``tier`` in ``region`` (no list: every site)."""
    scope = content.get("applies_to") or {}
    tiers, regions = scope.get("tiers"), scope.get("regions")
    return (not tiers or tier in tiers) and (not regions or region in regions)
