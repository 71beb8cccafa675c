"""Rules of the house that the code itself can be held to: one home for app-wide helpers, no portal page
leaning on an HQ views module, one enum column type, one "file:line: reason" shape."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sources(*packages: str):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def test_app_wide_template_helpers_are_installed_only_in_areas():
    found = [name for name, text in sources("brand_hub", "franchisee_portal")
             if re.search(r"\.app_(template_global|template_filter|context_processor)\b", text)]
    assert found == []


def test_the_portal_imports_no_hq_views_module():
    found = [name for name, text in sources("franchisee_portal")
             if re.search(r"^\s*from brand_hub\.\w+\.(views|trust_views)\b", text, re.M)]
    assert found == []


def test_models_take_their_enum_columns_from_models_types():
    found = [name for name, text in sources("brand_hub") if re.search(r"\b_enum\(|import _enum\b", text)]
    assert found == []


def test_importers_report_problems_not_text_lines():
    found = [name for name, text in sources("brand_hub", "site_agent", "cli")
             if re.search(r"(problems|errors)\.append\(f[\"']\{[a-z_.]*(file|name)\}:", text)]
    assert found == []


def test_commands_and_views_leave_their_queries_to_the_services_and_read_modules():
    """Views and commands parse, call and render: a query in one of them belongs in its area's read module."""
    found = [name for name, text in sources("cli", "brand_hub", "franchisee_portal")
             if (name.startswith("cli/") or name.endswith("views.py") or "/views/" in name)
             and re.search(r"\bselect\(", text)]
    assert found == []
