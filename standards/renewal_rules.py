"""Renewal recommendation rules: a YAML file HQ authors, validated with file:line problems.

The rules say which facts of the record refer an agreement to review and which call for
conditions; the arithmetic that reads them is ``scoring.renewal`` (pure).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .loader import Document, InvalidFiles, load_file, load_yaml, schema_problems

SCHEMA: dict[str, Any] = json.loads(Path(__file__).with_name("renewal_rules.schema.json").read_text("utf-8"))
LIBRARY = Path(__file__).resolve().parent / "library" / "renewals"


@dataclass(frozen=True)
class Test:
    signal: str
    rule: str | None
    at_least: float | None
    at_most: float | None
    reason_zh: str
    reason_en: str
    condition_zh: str = ""
    condition_en: str = ""
    line: int = 0

    def key(self) -> str:
        return f"{self.signal}:{self.rule}" if self.rule else self.signal


@dataclass(frozen=True)
class RenewalRules:
    id: str
    version: int
    title_zh: str
    title_en: str
    reminders_days: tuple[int, ...]
    refer_to_review: tuple[Test, ...]
    conditions: tuple[Test, ...]


def parse_rules(doc: Document) -> RenewalRules:
    problems = list(doc.problems) or schema_problems(doc, SCHEMA)
    if not problems:
        for section in ("refer_to_review", "conditions"):
            for n, item in enumerate(doc.data[section]):
                if item["signal"] == "flags" and "rule" not in item:
                    problems.append(doc.problem((section, n), f"{section}.{n}: signal flags needs a rule"))
    if problems:
        raise InvalidFiles(problems)
    data = doc.data

    def tests(section: str) -> tuple[Test, ...]:
        return tuple(Test(signal=t["signal"], rule=t.get("rule"), at_least=t.get("at_least"), at_most=t.get("at_most"),
                          reason_zh=t["reason_zh"], reason_en=t["reason_en"], condition_zh=t.get("condition_zh", ""),
                          condition_en=t.get("condition_en", ""), line=doc.line_of((section, n)))
                     for n, t in enumerate(data[section]))

    return RenewalRules(id=data["id"], version=data["version"], title_zh=data["title_zh"], title_en=data["title_en"],
                        reminders_days=tuple(sorted(data["reminders_days"], reverse=True)),
                        refer_to_review=tests("refer_to_review"), conditions=tests("conditions"))


def load_rules_text(text: str, file: str = "<text>") -> RenewalRules:
    return parse_rules(load_yaml(text, file))


_LOADED: dict[tuple, RenewalRules] = {}


def load_rules(directory: str | Path | None = None) -> RenewalRules:
    """The rules file in ``directory`` (or the brand's library); exactly one file.

    The renewal pages read the rules on every request: the file is parsed again only when it
    changes (name, size or modification time), as ``standards.scoring_model.load_library`` does;
    parsing and validating it took longer than the rest of an agreement's page. A refused file is
    never kept: it is refused again on the next read.
    """
    root = Path(directory) if directory else LIBRARY
    files = sorted(root.glob("*.yaml"))
    if len(files) != 1:
        from .loader import Problem

        raise InvalidFiles([Problem(str(root), 1, f"expected one renewal rules file, found {len(files)}")])
    try:
        stat = files[0].stat()
        key = (str(files[0].resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    rules = parse_rules(load_file(files[0], root))
    if key is not None:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = rules
    return rules
