"""Royalty plans: versioned YAML files HQ authors, validated with file:line problems.

Amounts are decimal strings in the files (``"0.08"``) and ``Decimal`` in code; a
bare YAML number would be read as a binary float and silently change the money,
so it is refused. Tiers are half-open bands ``[from, up_to)`` on a site's
monthly gross revenue; only the last band may be open-ended.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import Decimal
from pathlib import Path
from typing import Any

from .loader import Document, InvalidFiles, Problem, load_file, load_yaml, schema_problems

SCHEMA: dict[str, Any] = json.loads(Path(__file__).with_name("royalty_plan.schema.json").read_text("utf-8"))
LIBRARY = Path(__file__).resolve().parent / "library" / "royalty"
METHODS = ("graduated", "volume", "flat")


@lru_cache(maxsize=1024)
def _band_label(lower: Decimal, upper: Decimal | None) -> str:
    """``[500,000, 1,000,000)``: written once per band, not once per invoice line."""
    return f"[{lower:,}, {f'{upper:,}' if upper is not None else '∞'})"


@dataclass(frozen=True)
class Tier:
    """One band ``[lower, upper)``; ``upper`` is None for the open last band."""

    lower: Decimal
    upper: Decimal | None
    rate: Decimal

    def label(self) -> str:
        return _band_label(self.lower, self.upper)


@dataclass(frozen=True)
class RoyaltyPlan:
    """A whole royalty plan file, parsed and checked."""

    id: str
    version: int
    title_zh: str
    title_en: str
    currency: str
    method: str
    tiers: tuple[Tier, ...]
    minimum_monthly: Decimal
    brand_fund_rate: Decimal
    tech_fee_per_desk: Decimal
    vat_rate: Decimal
    late_fee_daily_rate: Decimal
    late_fee_grace_days: int
    estimate_months: int
    estimate_uplift: Decimal
    # late fees: simple daily interest on the overdue principal, from due date + grace to each payment;
    # the total on one invoice never exceeds cap_rate × its principal (None: no cap)
    late_fee_cap_rate: Decimal | None = None
    late_fee_method: str = "simple_daily"
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def title(self, locale: str) -> str:
        return self.title_en if str(locale).startswith("en") else self.title_zh


def _float_problems(doc: Document, value: Any, path: tuple = ()) -> list[Problem]:
    """Every bare number where an amount or rate belongs (floats lose money)."""
    problems: list[Problem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"version", "grace_days", "months"}:
                continue
            problems += _float_problems(doc, item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += _float_problems(doc, item, path + (i,))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        where = ".".join(str(p) for p in path)
        problems.append(doc.problem(path, f'{where}: amounts and rates are decimal strings, write "{value}" '
                                          f"(a bare number is read as a float)"))
    return problems


def parse_plan(doc: Document) -> RoyaltyPlan:
    """Validate a loaded document and build the plan; raise ``InvalidFiles`` with every problem."""
    problems = list(doc.problems)
    if doc.data is not None:
        floats = _float_problems(doc, doc.data)
        problems += floats
        if not floats:
            problems += schema_problems(doc, SCHEMA)
    if problems:
        raise InvalidFiles(problems)
    data = doc.data
    tiers = _tiers(doc, data["royalty"]["tiers"], data["royalty"]["method"])
    return RoyaltyPlan(
        id=data["id"], version=data["version"], title_zh=data.get("title_zh", data["id"]),
        title_en=data.get("title_en", data["id"]), currency=data["currency"], method=data["royalty"]["method"],
        tiers=tiers, minimum_monthly=Decimal(data["royalty"].get("minimum_monthly", "0")),
        brand_fund_rate=Decimal(data["brand_fund_rate"]), tech_fee_per_desk=Decimal(data["tech_fee_per_desk"]),
        vat_rate=Decimal(data["vat_rate"]), late_fee_daily_rate=Decimal(data["late_fee"]["daily_rate"]),
        late_fee_grace_days=data["late_fee"]["grace_days"], estimate_months=data["missing_report"]["months"],
        estimate_uplift=Decimal(data["missing_report"]["uplift"]),
        late_fee_cap_rate=Decimal(data["late_fee"]["cap_rate"]) if "cap_rate" in data["late_fee"] else None,
        late_fee_method=data["late_fee"].get("method", "simple_daily"), source=data)


def _tiers(doc: Document, raw: list[dict[str, str]], method: str) -> tuple[Tier, ...]:
    """Bands in order, each starting where the previous ended; only the last is open."""
    problems: list[Problem] = []
    tiers: list[Tier] = []
    lower = Decimal("0")
    for i, item in enumerate(raw):
        path = ("royalty", "tiers", i)
        last = i == len(raw) - 1
        upper = Decimal(item["up_to"]) if "up_to" in item else None
        if upper is None and not last:
            problems.append(doc.problem(path, f"royalty.tiers.{i}: only the last band may leave out up_to"))
        if upper is not None and last:
            problems.append(doc.problem(path, f"royalty.tiers.{i}: the last band must be open (no up_to)"))
        if upper is not None and upper <= lower:
            problems.append(doc.problem(path + ("up_to",),
                                        f"royalty.tiers.{i}.up_to: {upper} must be above the band's start {lower}"))
        tiers.append(Tier(lower, upper, Decimal(item["rate"])))
        lower = upper if upper is not None else lower
    if method == "flat" and len(raw) != 1:
        problems.append(doc.problem(("royalty", "tiers"), "royalty.tiers: a flat plan has exactly one band"))
    if problems:
        raise InvalidFiles(problems)
    return tuple(tiers)


def load_plan_text(text: str, file: str = "<text>") -> RoyaltyPlan:
    return parse_plan(load_yaml(text, file))


def load_plan(path: Path, root: Path | None = None) -> RoyaltyPlan:
    return parse_plan(load_file(path, root))


def load_library(directory: Path | None = None) -> dict[str, RoyaltyPlan]:
    """Every plan in ``directory`` by id; all problems of all files at once; one file per id."""
    directory = directory or LIBRARY
    plans: dict[str, RoyaltyPlan] = {}
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            plan = load_plan(path, directory)
        except InvalidFiles as exc:
            problems += exc.problems
            continue
        if plan.id in plans:
            problems.append(Problem(path.name, 1, f"plan id '{plan.id}' is already defined by another file"))
        plans[plan.id] = plan
    if problems:
        raise InvalidFiles(problems)
    return plans
