"""A partner's standing with the brand: the one place "on notice" is decided.

Two sources say a partner is in trouble, and they used to disagree on the pages:
the registry status HQ sets by hand (``Franchisee.status``) and the compliance
flags the rules raise from published cards (``red-card`` on a site,
``termination-review`` on the partner). The standing combines them, in this
order, so every page (HQ overview, partners list, partner page, portal) shows the
same word:

1. suspended / terminated in the registry: that, whatever the flags say;
2. a termination-review flag in force: ``termination_review``;
3. a red-card flag in force, or the registry says on notice: ``on_notice``;
4. otherwise the registry status (``active`` or ``prospect``).

Counting and filtering happen in SQL (``on_notice_condition``), so a network of
thousands of partners is never loaded to count the few in trouble.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, case, exists, func, or_
from sqlmodel import Session, select

from brand_hub.compliance.lifecycle import ACTIVE
from brand_hub.models import Franchisee, FranchiseeStatus
from brand_hub.models.compliance import Flag

NOTICE_RULES = ("red-card", "termination-review")
TROUBLE = frozenset({"on_notice", "termination_review"})
_ACTIVE_STATES = sorted(ACTIVE, key=lambda s: s.value)


@dataclass(frozen=True)
class Standing:
    """Where one partner stands, and the flags that put it there (red cards, termination review)."""

    franchisee_id: int
    registry_status: str
    standing: str  # prospect | active | on_notice | termination_review | suspended | terminated
    flags: tuple[Flag, ...] = field(default_factory=tuple)

    @property
    def in_trouble(self) -> bool:
        """On notice or under termination review: HQ watches it, the partner is told why."""
        return self.standing in TROUBLE

    @property
    def set_by_hq_only(self) -> bool:
        """On notice because HQ set the registry status, with no card flag behind it."""
        return self.standing == "on_notice" and not self.flags


def decide(registry_status: str, flag_rules: set[str]) -> str:
    """The standing from the registry status and the rules of the partner's notice flags in force."""
    if registry_status in (FranchiseeStatus.suspended.value, FranchiseeStatus.terminated.value):
        return registry_status
    if "termination-review" in flag_rules:
        return "termination_review"
    if "red-card" in flag_rules or registry_status == FranchiseeStatus.on_notice.value:
        return "on_notice"
    return registry_status


def _notice_flags():
    return and_(Flag.rule.in_(NOTICE_RULES), Flag.state.in_(_ACTIVE_STATES))


def on_notice_condition():
    """SQL condition on ``Franchisee``: on notice or under termination review (not suspended/terminated)."""
    flagged = exists().where(Flag.franchisee_id == Franchisee.id, _notice_flags())
    return and_(Franchisee.status.not_in([FranchiseeStatus.suspended, FranchiseeStatus.terminated]),
                or_(Franchisee.status == FranchiseeStatus.on_notice, flagged))


def count_in_trouble(*, session: Session) -> int:
    """How many partners are on notice or under termination review (one statement)."""
    return session.exec(select(func.count()).select_from(Franchisee).where(on_notice_condition())).one()


def standings(*, session: Session, franchisee_ids: list[int] | None = None) -> dict[int, Standing]:
    """The standing of each partner (all of them, or ``franchisee_ids``), in two statements."""
    stmt = select(Franchisee.id, Franchisee.status)
    flag_stmt = select(Flag).where(_notice_flags()).order_by(Flag.franchisee_id, Flag.id)
    if franchisee_ids is not None:
        stmt = stmt.where(Franchisee.id.in_(franchisee_ids))
        flag_stmt = flag_stmt.where(Flag.franchisee_id.in_(franchisee_ids))
    flags: dict[int, list[Flag]] = {}
    for flag in session.exec(flag_stmt):
        flags.setdefault(flag.franchisee_id, []).append(flag)
    out = {}
    for franchisee_id, status in session.exec(stmt):
        status = getattr(status, "value", status)
        own = flags.get(franchisee_id, [])
        out[franchisee_id] = Standing(franchisee_id, status, decide(status, {f.rule for f in own}), tuple(own))
    return out


def standing_of(*, session: Session, franchisee_id: int) -> Standing:
    """One partner's standing (``active`` with no flags for an unknown id)."""
    return standings(session=session, franchisee_ids=[franchisee_id]).get(
        franchisee_id, Standing(franchisee_id, FranchiseeStatus.active.value, FranchiseeStatus.active.value))


def in_trouble(*, session: Session, limit: int | None = None) -> list[tuple[Franchisee, Standing]]:
    """Partners on notice or under termination review, termination review first, then by code.

    ``limit``: the first so many only (ordered and cut in SQL; ``count_in_trouble`` says how many in all).
    """
    review = exists().where(Flag.franchisee_id == Franchisee.id, Flag.rule == "termination-review",
                            Flag.state.in_(_ACTIVE_STATES))
    stmt = (select(Franchisee).where(on_notice_condition())
            .order_by(case((review, 0), else_=1), Franchisee.code))
    if limit is not None:
        stmt = stmt.limit(limit)
    partners = session.exec(stmt).all()
    found = standings(session=session, franchisee_ids=[p.id for p in partners])
    rows = [(p, found[p.id]) for p in partners]
    return sorted(rows, key=lambda pair: (pair[1].standing != "termination_review", pair[0].code))
