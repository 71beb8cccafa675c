"""``billing.plans`` parses the plan files once per content (issue 10: speed) and still reads every edit."""
from __future__ import annotations

import shutil

import pytest

from brand_hub.billing import LIBRARY, plans
from standards.loader import InvalidFiles


def test_an_edited_added_or_removed_plan_file_is_read_on_the_next_call(tmp_path):
    shutil.copy(LIBRARY / "standard-2026.yaml", tmp_path / "standard-2026.yaml")
    first = plans(str(tmp_path))
    assert list(first) == ["standard-2026"] and plans(str(tmp_path)) == first
    text = (tmp_path / "standard-2026.yaml").read_text(encoding="utf-8")
    (tmp_path / "standard-2026.yaml").write_text(text.replace("version: 1", "version: 2", 1), encoding="utf-8")
    assert plans(str(tmp_path))["standard-2026"].version == 2
    shutil.copy(LIBRARY / "lite-2026.yaml", tmp_path / "lite-2026.yaml")
    assert sorted(plans(str(tmp_path))) == ["lite-2026", "standard-2026"]
    (tmp_path / "lite-2026.yaml").unlink()
    assert list(plans(str(tmp_path))) == ["standard-2026"]
    (tmp_path / "standard-2026.yaml").write_text("id: [broken", encoding="utf-8")
    for _ in range(2):  # a refused file is refused every time, never served from before
        with pytest.raises(InvalidFiles):
            plans(str(tmp_path))


def test_a_caller_changing_its_plans_changes_nobody_else_s():
    mine = plans()
    mine.pop("standard-2026")
    assert "standard-2026" in plans()
