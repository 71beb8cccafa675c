"""Site SaaS configs as layered files: brand default → region → tier → site override.

A configs folder holds ``brand.yaml`` (complete), ``regions/<region>.yaml``,
``tiers/<tier>.yaml`` and ``sites/<SITE-CODE>.yaml`` (partial). A site's effective
config is their deep merge in that order: mappings merge key by key, anything else
(numbers, strings, lists) is replaced whole by the later layer. For every leaf the
merge remembers which layer set it (the provenance), so HQ can see why a site has
the value it has. Feature flags are resolved per site on the way out: the agent
receives plain booleans, chosen stably by a hash of flag name and site code.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jsonschema import Draft202012Validator

from .canonical import content_hash
from .loader import Document, InvalidFiles, Problem, describe, load_file, schema_problems

SCHEMA_PATH = Path(__file__).with_name("site_config.schema.json")
LIBRARY_DIR = Path(__file__).with_name("library") / "configs"
BRAND = "brand"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of a complete (effective) site config."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


@cache
def layer_schema() -> dict[str, Any]:
    """The same schema with nothing required: a region, tier or site layer sets only what it changes."""
    return _without_required(schema())


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@dataclass
class ConfigLayers:
    """The parsed layer files of one configs folder."""

    brand: Document
    regions: dict[str, Document] = field(default_factory=dict)
    tiers: dict[str, Document] = field(default_factory=dict)
    sites: dict[str, Document] = field(default_factory=dict)

    def for_site(self, *, code: str, region: str, tier: str) -> list[tuple[str, Document]]:
        """The layers that apply to a site, weakest first, each with its provenance name."""
        chain = [(BRAND, self.brand)]
        if region in self.regions:
            chain.append((f"region:{region}", self.regions[region]))
        if tier in self.tiers:
            chain.append((f"tier:{tier}", self.tiers[tier]))
        if code in self.sites:
            chain.append((f"site:{code}", self.sites[code]))
        return chain


@dataclass(frozen=True)
class EffectiveConfig:
    """A site's merged config, ready to deliver, and the layer of every key (dotted path → layer)."""

    content: dict[str, Any]
    provenance: dict[str, str]

    @property
    def hash(self) -> str:
        return content_hash(self.content)


# -- loading and validation ------------------------------------------------------------------

def check_folder(directory: Path | str) -> tuple[ConfigLayers | None, list[Problem]]:
    """Parse and validate every layer file of ``directory``; every problem as file:line: reason."""
    root = Path(directory)
    brand_path = root / "brand.yaml"
    if not brand_path.is_file():
        return None, [Problem(str(brand_path), 1, "the brand default layer brand.yaml is missing")]
    problems: list[Problem] = []
    brand = load_file(brand_path, root)
    problems += _check_layer(brand, schema())
    layers = ConfigLayers(brand=brand)
    for folder, target in (("regions", layers.regions), ("tiers", layers.tiers), ("sites", layers.sites)):
        for path in sorted((root / folder).glob("*.y*ml")):
            doc = load_file(path, root)
            problems += _check_layer(doc, layer_schema())
            target[path.stem] = doc
    for path in sorted(root.glob("*.y*ml")):
        if path.name != "brand.yaml":
            problems.append(Problem(path.name, 1,
                                    "unexpected file: layers live in brand.yaml, regions/, tiers/, sites/"))
    return layers, problems or combination_problems(layers)


def combination_problems(layers: ConfigLayers) -> list[Problem]:
    """Merge every region with every tier (and each site layer over the brand) and check the results.

    Without the registry the region and tier of a site are unknown, so every pairing
    is tried; each problem is reported once, at the layer file and line that set the key.
    """
    found: set[Problem] = set()
    for region in [*layers.regions, ""]:
        for tier in [*layers.tiers, ""]:
            found.update(_strip_site(effective_problems(layers, code="", region=region, tier=tier)))
    for code in layers.sites:
        found.update(_strip_site(effective_problems(layers, code=code, region="", tier="")))
    return sorted(found)


def _strip_site(problems: list[Problem]) -> list[Problem]:
    return [Problem(p.file, p.line, p.message.split(": ", 1)[1]) for p in problems]


def _check_layer(doc: Document, layer_schema_: dict[str, Any]) -> list[Problem]:
    if doc.problems:
        return list(doc.problems)
    if not isinstance(doc.data, dict):
        return [doc.problem((), "expected a mapping of config keys")]
    problems = schema_problems(doc, layer_schema_)
    return problems or semantic_problems(doc.data, lambda path, msg: doc.problem(path, msg))


def semantic_problems(data: dict[str, Any], report) -> list[Problem]:
    """What the schema cannot say: a real time zone, opening intervals that start before they end."""
    problems = []
    zone = data.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(report(("timezone",), f"timezone: unknown IANA time zone '{zone}'"))
    for day, intervals in (data.get("opening_hours") or {}).items():
        for n, (start, end) in enumerate(intervals):
            if start >= end:
                problems.append(report(("opening_hours", day, n), f"opening_hours.{day}: {start}–{end} ends before "
                                                                   "it starts"))
    quiet = (data.get("notifications") or {}).get("quiet_hours")
    if quiet and quiet[0] == quiet[1]:
        problems.append(report(("notifications", "quiet_hours"), "notifications.quiet_hours: start equals end"))
    return problems


def load_folder(directory: Path | str | None = None) -> ConfigLayers:
    """The layers of a folder (default: the shipped library); ``InvalidFiles`` if anything is wrong."""
    layers, problems = check_folder(directory or LIBRARY_DIR)
    if problems or layers is None:
        raise InvalidFiles(problems)
    return layers


# -- merge, provenance, flags ----------------------------------------------------------------

def merge_layers(chain: list[tuple[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    """Deep-merge ``(layer name, data)`` pairs, weakest first; return the result and its provenance."""
    merged: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for name, data in chain:
        _merge_into(merged, data or {}, name, provenance, ())
    return merged, provenance


def _merge_into(target: dict, source: dict, layer: str, provenance: dict[str, str], at: tuple) -> None:
    for key, value in source.items():
        path = at + (key,)
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value, layer, provenance, path)
            continue
        dotted = ".".join(map(str, path))
        if key in target:  # a value set by a weaker layer is replaced whole: forget where its leaves came from
            for old in [p for p in provenance if p == dotted or p.startswith(dotted + ".")]:
                del provenance[old]
        target[key] = copy.deepcopy(value)
        for leaf in _leaves(value, path):
            provenance[".".join(map(str, leaf))] = layer


def _leaves(value: Any, at: tuple) -> list[tuple]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, at + (k,))]
    return [at]


def rollout_bucket(flag: str, site_code: str) -> int:
    """0–99, the same for a flag and a site on every run and every machine."""
    digest = hashlib.sha256(f"{flag}:{site_code}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def flag_on(flag: str, definition: dict[str, Any], site_code: str) -> bool:
    """A flag is on for a site when enabled and the site is named or falls inside the percentage."""
    if not definition.get("enabled", False):
        return False
    if site_code in definition.get("sites", []):
        return True
    return rollout_bucket(flag, site_code) < definition.get("percent", 100 if "sites" not in definition else 0)


def effective_config(layers: ConfigLayers, *, code: str, region: str, tier: str) -> EffectiveConfig:
    """A site's merged config with its flags resolved to booleans, and the layer of every key."""
    chain = layers.for_site(code=code, region=region, tier=tier)
    merged, provenance = merge_layers([(name, doc.data) for name, doc in chain])
    flags = merged.get("features", {})
    merged["features"] = {name: flag_on(name, definition, code) for name, definition in sorted(flags.items())}
    for name in flags:
        layers_of_flag = sorted({v for k, v in provenance.items() if k.startswith(f"features.{name}.")},
                                key=[n for n, _ in chain].index)
        for key in [k for k in provenance if k.startswith(f"features.{name}.")]:
            del provenance[key]
        provenance[f"features.{name}"] = layers_of_flag[-1] if layers_of_flag else BRAND
    return EffectiveConfig(merged, provenance)


def effective_problems(layers: ConfigLayers, *, code: str, region: str, tier: str) -> list[Problem]:
    """Validate a site's merged layers; a problem points at the layer file and line that set the key."""
    chain = layers.for_site(code=code, region=region, tier=tier)
    merged, provenance = merge_layers([(name, doc.data) for name, doc in chain])
    documents = dict(chain)

    def report(path, message: str) -> Problem:
        dotted = ".".join(map(str, path))
        layer = provenance.get(dotted) or next(
            (v for k, v in provenance.items() if k.startswith(dotted + ".")), BRAND)
        return documents.get(layer, layers.brand).problem(path, f"site {code}: {message}")

    problems = []
    for error in _validator().iter_errors(merged):
        where = ".".join(str(p) for p in error.absolute_path)
        message = describe(error)
        problems.append(report(tuple(error.absolute_path), f"{where}: {message}" if where else message))
    return problems or semantic_problems(merged, report)


# -- diff ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One leaf that differs between two configs (or standards): ``added``, ``removed`` or ``changed``."""

    path: str
    kind: str
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def flatten(value: Any, at: str = "") -> dict[str, Any]:
    """Leaves of nested mappings as ``{"a.b.c": value}``; lists and scalars are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{at}.{key}" if at else str(key)))
        return out
    return {at: value} if at else {}


def diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[Change]:
    """Every leaf added, removed or changed from ``old`` to ``new``, sorted by path."""
    before, after = flatten(old or {}), flatten(new or {})
    changes = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            changes.append(Change(path, "added", new=after[path]))
        elif path not in after:
            changes.append(Change(path, "removed", old=before[path]))
        elif before[path] != after[path]:
            changes.append(Change(path, "changed", before[path], after[path]))
    return changes
