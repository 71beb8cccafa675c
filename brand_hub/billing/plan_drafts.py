"""Drafts of royalty plans: saved by name, validated like the file they would become, published as that file.

A draft never bills anything. Publishing writes the plan file into the brand's plan
folder (``BRANDHUB_ROYALTY_DIR``, the folder kept under version control), replacing
the file of the same plan id, and only with a higher version: the file stays the
source of truth, and invoices keep the (id, version) they were billed under.
"""
from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models.foresight import PlanDraft
from standards.loader import InvalidFiles, Problem
from standards.royalty_plan import LIBRARY, RoyaltyPlan, load_plan, load_plan_text

from . import BillingError, NotFound

_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff .\-]{0,79}$")
MAX_TEXT = 64 * 1024


def parse(text: str, name: str) -> RoyaltyPlan:
    """The plan in ``text``, or ``InvalidFiles`` with ``<name>.yaml:line: reason`` for every problem."""
    if len(text) > MAX_TEXT:
        raise InvalidFiles([Problem(f"{name}.yaml", 1, f"the plan is {len(text):,} characters; at most {MAX_TEXT:,}")])
    return load_plan_text(text, f"{name}.yaml")


def save(*, session: Session, name: str, text: str, actor: audit.Actor) -> PlanDraft:
    """Create or replace the draft called ``name``; refused (nothing saved) when the text is not a valid plan."""
    name = name.strip()
    if not _NAME.match(name):
        raise BillingError("a draft's name is 1 to 80 letters, digits, spaces, dots, dashes or underscores")
    plan = parse(text, name)
    draft = session.exec(select(PlanDraft).where(PlanDraft.name == name)).first()
    before = audit.snapshot(draft) if draft else None
    if draft is None:
        draft = PlanDraft(name=name, plan_id=plan.id, plan_version=plan.version, text=text, created_by=actor.label)
        session.add(draft)
    draft.plan_id, draft.plan_version, draft.text = plan.id, plan.version, text
    draft.updated_at = datetime.now(timezone.utc)
    session.flush()
    audit.record(session=session, actor=actor, action="plan_draft.save", entity_type="plan_draft",
                 entity_id=name, before=before, after={"plan": plan.id, "version": plan.version})
    return draft


def get(*, session: Session, name: str) -> PlanDraft:
    draft = session.exec(select(PlanDraft).where(PlanDraft.name == name)).first()
    if draft is None:
        raise NotFound(f"no plan draft called {name!r}")
    return draft


def all_drafts(*, session: Session) -> list[PlanDraft]:
    return list(session.exec(select(PlanDraft).order_by(PlanDraft.updated_at.desc())).all())


def plan_files(directory: Path) -> dict[str, Path]:
    """Each plan id in ``directory`` and the file that holds it."""
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            found[load_plan(path, directory).id] = path
        except InvalidFiles:
            continue
    return found


def plan_text(directory: str, plan_id: str) -> str:
    """The text of the file of ``plan_id``: what a new draft starts from."""
    path = plan_files(Path(directory) if directory else LIBRARY).get(plan_id)
    if path is None:
        raise NotFound(f"no royalty plan {plan_id!r}")
    return path.read_text(encoding="utf-8")


def publish(*, session: Session, name: str, directory: str, plans: dict[str, RoyaltyPlan],
            actor: audit.Actor) -> Path:
    """Write the draft as the plan file of its id; the version must be above the one in force."""
    if not directory:
        raise BillingError("publishing writes the plan file into the brand's plan folder: set "
                           "BRANDHUB_ROYALTY_DIR to that folder (kept under version control)")
    draft = get(session=session, name=name)
    plan = parse(draft.text, name)
    current = plans.get(plan.id)
    if current is not None and plan.version <= current.version:
        raise BillingError(f"plan {plan.id} is at version {current.version}; the draft must say version "
                           f"{current.version + 1} or above to be published")
    folder = Path(directory)
    target = plan_files(folder).get(plan.id, folder / f"{plan.id}.yaml")
    _write_atomically(target, draft.text)
    draft.published_at, draft.published_by = datetime.now(timezone.utc), actor.label
    audit.record(session=session, actor=actor, action="royalty_plan.publish", entity_type="royalty_plan",
                 entity_id=plan.id, before={"version": current.version} if current else None,
                 after={"version": plan.version, "draft": name, "file": target.name})
    session.flush()
    return target


def _write_atomically(target: Path, text: str) -> None:
    """Readers (a billing run) see the old file or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".draft-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
