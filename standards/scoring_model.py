"""The scoring model: a versioned YAML file HQ authors, validated with file:line problems.

The model names the indicators (source, measure, thresholds, floor, target,
weight, minimum data), the card lines, the minimum weighted coverage for a
score and the NPS shrinkage constant. Scores store ``(model id, version)`` so
an old score can be reproduced with the very file it was computed with.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loader import Document, InvalidFiles, Problem, load_file, load_yaml, schema_problems
from .metrics import METRICS

SCHEMA: dict[str, Any] = json.loads((Path(__file__).with_name("scoring_model.schema.json")).read_text("utf-8"))
LIBRARY = Path(__file__).resolve().parent / "library" / "scoring"

# the measures that read one metric of the readings, and those that need thresholds
_METRIC_MEASURES = {"share_within", "desk_utilisation", "energy_intensity"}


@dataclass(frozen=True)
class Indicator:
    """One indicator of the model: how it is measured and how it is normalised."""

    id: str
    title_zh: str
    title_en: str
    source: str
    measure: str
    floor: float
    target: float
    weight: float
    min_data: dict[str, float]
    metric: str | None = None
    hours: str = "occupied_open"
    thresholds: dict[str, float] = field(default_factory=dict)
    card_floor: float | None = None
    standard: str | None = None
    key_metric: bool = False

    def title(self, locale: str) -> str:
        return self.title_en if str(locale).startswith("en") else self.title_zh


@dataclass(frozen=True)
class ScoringModel:
    """A whole scoring model file, parsed and checked."""

    id: str
    version: int
    title_zh: str
    title_en: str
    aggregation: str
    min_coverage: float
    green: float
    yellow: float
    nps_k: float
    nps_min_answers: int
    nps_z: float
    indicators: tuple[Indicator, ...]
    expected_metrics: tuple[str, ...] = ()
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total_weight(self) -> float:
        return sum(i.weight for i in self.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)


def parse_model(doc: Document) -> ScoringModel:
    """Validate a loaded document and build the model; raise ``InvalidFiles`` with every problem."""
    problems = list(doc.problems)
    if not problems:
        problems.extend(schema_problems(doc, SCHEMA))
    if not problems:
        problems.extend(_semantic_problems(doc))
    if problems:
        raise InvalidFiles(problems)
    data = doc.data
    indicators = tuple(
        Indicator(id=i["id"], title_zh=i["title_zh"], title_en=i["title_en"], source=i["source"],
                  measure=i["measure"], floor=float(i["floor"]), target=float(i["target"]),
                  weight=float(i["weight"]), min_data=dict(i["min_data"]), metric=i.get("metric"),
                  hours=i.get("hours", "occupied_open"), thresholds=dict(i.get("thresholds", {})),
                  card_floor=i.get("card_floor"), standard=i.get("standard"), key_metric=i.get("key_metric", False))
        for i in data["indicators"])
    return ScoringModel(id=data["id"], version=data["version"], title_zh=data["title_zh"], title_en=data["title_en"],
                        aggregation=data["aggregation"], min_coverage=float(data["min_coverage"]),
                        green=float(data["cards"]["green"]), yellow=float(data["cards"]["yellow"]),
                        nps_k=float(data["nps"]["k"]), nps_min_answers=int(data["nps"]["min_answers"]),
                        nps_z=float(data["nps"].get("z", 1.96)), indicators=indicators,
                        expected_metrics=tuple(data.get("expected_metrics", ())), source=data)


def _semantic_problems(doc: Document) -> list[Problem]:
    """What JSON Schema cannot say: unique ids, known metrics, sensible anchors and card lines."""
    data = doc.data
    problems = []
    if data["cards"]["yellow"] > data["cards"]["green"]:
        problems.append(doc.problem(("cards", "yellow"), "cards.yellow must not be above cards.green"))
    seen: set[str] = set()
    for n, ind in enumerate(data["indicators"]):
        at = ("indicators", n)
        if ind["id"] in seen:
            problems.append(doc.problem(at + ("id",), f"indicator id '{ind['id']}' is used twice"))
        seen.add(ind["id"])
        if ind["floor"] == ind["target"]:
            problems.append(doc.problem(at + ("target",), f"{ind['id']}: floor and target must differ"))
        metric = ind.get("metric")
        if ind["measure"] in _METRIC_MEASURES and not metric:
            problems.append(doc.problem(at, f"{ind['id']}: measure {ind['measure']} needs a metric"))
        if metric and metric not in METRICS:
            problems.append(doc.problem(at + ("metric",), f"{ind['id']}: unknown metric '{metric}'"))
        thresholds = ind.get("thresholds", {})
        if ind["measure"] == "share_within" and not ({"min", "max"} & set(thresholds)):
            problems.append(doc.problem(at, f"{ind['id']}: share_within needs thresholds.min and/or thresholds.max"))
        if ind["measure"] == "service_response" and "sla_minutes" not in thresholds:
            problems.append(doc.problem(at, f"{ind['id']}: service_response needs thresholds.sla_minutes"))
    for n, name in enumerate(data.get("expected_metrics", [])):
        if name not in METRICS:
            problems.append(doc.problem(("expected_metrics", n), f"unknown metric '{name}'"))
    return problems


def load_model_text(text: str, file: str = "<text>") -> ScoringModel:
    return parse_model(load_yaml(text, file))


def load_model_file(path: Path, root: Path | None = None) -> ScoringModel:
    return parse_model(load_file(path, root))


_LOADED: dict[tuple, dict[tuple[str, int], ScoringModel]] = {}


def load_library(directory: Path | str | None = None) -> dict[tuple[str, int], ScoringModel]:
    """Every model file of the folder, by (id, version); all problems of all files at once.

    Pages read the model on every request: the files are parsed again only when one of them
    changes (name, size or modification time), else the models parsed last time are returned.
    """
    root = Path(directory) if directory else LIBRARY
    paths = sorted(root.glob("*.y*ml"))
    try:
        key = (str(root.resolve()), tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths))
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return dict(_LOADED[key])
    models = _parse_library(root, paths)
    if key is not None:
        if len(_LOADED) > 16:
            _LOADED.clear()
        _LOADED[key] = models
    return dict(models)


def _parse_library(root: Path, paths: list[Path]) -> dict[tuple[str, int], ScoringModel]:
    models: dict[tuple[str, int], ScoringModel] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            model = load_model_file(path, root)
        except InvalidFiles as exc:
            problems.extend(exc.problems)
            continue
        key = (model.id, model.version)
        if key in models:
            problems.append(Problem(path.name, 1, f"model {model.id} version {model.version} is defined twice"))
        models[key] = model
    if problems:
        raise InvalidFiles(problems)
    return models


def current_model(directory: Path | str | None = None, model_id: str | None = None) -> ScoringModel:
    """The newest version of the model (of ``model_id``, or of the only model in the folder)."""
    models = load_library(directory)
    candidates = [m for (mid, _v), m in models.items() if model_id is None or mid == model_id]
    if not candidates:
        raise InvalidFiles([Problem(str(directory or LIBRARY), 1, "no scoring model file found")])
    return max(candidates, key=lambda m: (m.id, m.version))
