"""Corrections are reviewed: a partner's change to a month already billed, or one that lowers the
figure by more than the royalty plan allows, waits for HQ finance before it is in force.

A correction is written as a new version of the report (every version is kept) with a
``correction_review`` row: pending → accepted or refused (with a reason). A version
that is pending or refused is not in force: billing, true-ups, estimates and the
plausibility cohort read the newest version *in force* (``in_force_clause``), so only
an accepted correction is trued up in the next run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, not_
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models import Site
from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus, ReportStatus, RevenueReport
from brand_hub.models.trust import CorrectionReview, ReviewStatus
from standards.royalty_plan import RoyaltyPlan

from . import BillingError, NotFound

CONFIRM_CHANGE_SHARE = Decimal("0.20")  # the portal asks to confirm a change larger than this
DEFAULT_REVIEW_CUT = Decimal("0.10")  # a plan without ``corrections.review_cut_above`` uses this
WHY_BILLED = "billed"
WHY_CUT = "large_cut"


def in_force_clause():
    """SQL: this report version is not waiting for review nor refused (for ``.where(...)``)."""
    return not_(exists().where(and_(CorrectionReview.report_id == RevenueReport.id,
                                    CorrectionReview.status != ReviewStatus.accepted)))


def review_cut(plan: RoyaltyPlan | None) -> Decimal:
    """The share by which a correction may lower a month before HQ must review it (from the plan file)."""
    if plan is None:
        return DEFAULT_REVIEW_CUT
    raw = (plan.source.get("corrections") or {}).get("review_cut_above")
    return Decimal(str(raw)) if raw is not None else DEFAULT_REVIEW_CUT


def check_breakdown(gross: Decimal, breakdown: dict[str, Decimal], labels: dict[str, str] | None = None) -> None:
    """Breakdown parts may not exceed the gross, alone or together; the refusal names the field."""
    labels = labels or {}
    for key, value in breakdown.items():
        if value > gross:
            raise BillingError(_l("%(field)s %(value)s is more than the gross revenue %(gross)s",
                                  field=labels.get(key, key), value=value, gross=gross))
    total = sum(breakdown.values(), Decimal("0"))
    if total > gross:
        raise BillingError(_l("the breakdown adds up to %(total)s, more than the gross revenue %(gross)s",
                              total=total, gross=gross))


def change_share(old: Decimal, new: Decimal) -> Decimal | None:
    """How much ``new`` differs from ``old`` as a share of ``old`` (None without an old figure)."""
    if old is None or old == 0:
        return None
    return abs(new - old) / old


def needs_confirmation(old: Decimal | None, new: Decimal) -> bool:
    share = change_share(old, new) if old is not None else None
    return share is not None and share > CONFIRM_CHANGE_SHARE


def was_billed(*, session: Session, site_id: int, period: str) -> bool:
    """Whether an issued invoice already charged this site's month on its revenue."""
    return session.exec(select(InvoiceLine.id).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
        InvoiceLine.site_id == site_id, InvoiceLine.service_period == period, InvoiceLine.kind == "royalty",
        Invoice.status != InvoiceStatus.draft).limit(1)).first() is not None


def review_reason(*, session: Session, site: Site, period: str, previous: RevenueReport | None, gross: Decimal,
                  plan: RoyaltyPlan | None) -> str | None:
    """Why this new figure must wait for HQ (``billed`` / ``large_cut``), or None when it is in force at once."""
    if previous is None or previous.status == ReportStatus.estimated:
        return None
    if was_billed(session=session, site_id=site.id, period=period):
        return WHY_BILLED
    if previous.gross_revenue > 0 and (previous.gross_revenue - gross) / previous.gross_revenue > review_cut(plan):
        return WHY_CUT
    return None


def hold_for_review(*, session: Session, report: RevenueReport, previous: RevenueReport, why: str,
                    requested_by: str, now: datetime) -> CorrectionReview:
    review = CorrectionReview(report_id=report.id, site_id=report.site_id, period=report.period, why=why,
                              previous_gross=previous.gross_revenue, requested_at=now, requested_by=requested_by)
    session.add(review)
    session.flush()
    return review


def pending(*, session: Session, limit: int = 200) -> list[tuple[CorrectionReview, RevenueReport, Site]]:
    return list(session.exec(select(CorrectionReview, RevenueReport, Site)
                             .join(RevenueReport, RevenueReport.id == CorrectionReview.report_id)
                             .join(Site, Site.id == CorrectionReview.site_id)
                             .where(CorrectionReview.status == ReviewStatus.pending)
                             .order_by(CorrectionReview.requested_at).limit(limit)).all())


def decide(*, session: Session, review_id: int, accept: bool, reason: str, actor: audit.Actor,
           now: datetime) -> CorrectionReview:
    """HQ finance accepts (the version is in force; the next run trues it up) or refuses with a reason."""
    review = session.exec(select(CorrectionReview).where(CorrectionReview.id == review_id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    if review is None:
        raise NotFound(_l("no correction %(id)s waiting for review", id=review_id))
    if review.status != ReviewStatus.pending:
        raise BillingError(_l("this correction was already decided (%(status)s)", status=review.status.value))
    if not accept and not reason.strip():
        raise BillingError(_l("a refusal needs a reason the partner can read"))
    if accept:
        newer = session.exec(select(RevenueReport.id).where(
            RevenueReport.site_id == review.site_id, RevenueReport.period == review.period,
            RevenueReport.version > session.get(RevenueReport, review.report_id).version,
            in_force_clause())).first()
        if newer is not None:
            raise BillingError(_l("a newer figure for this month is already in force; refuse this one"))
    before = audit.snapshot(review, ["status", "reason"])
    review.status = ReviewStatus.accepted if accept else ReviewStatus.refused
    review.reason = reason.strip()[:500]
    review.decided_at, review.decided_by = now, actor.label
    session.add(review)
    session.flush()
    audit.record(session=session, actor=actor, action="revenue.correction." + ("accept" if accept else "refuse"),
                 entity_type="revenue_report", entity_id=review.report_id, before=before,
                 after=audit.snapshot(review, ["status", "reason"]))
    return review


@dataclass(frozen=True)
class Version:
    """One version of a month's report, as the side-by-side view shows it."""

    report: RevenueReport
    review: CorrectionReview | None

    @property
    def in_force_state(self) -> str:
        if self.review is None or self.review.status == ReviewStatus.accepted:
            return "in_force"
        return self.review.status.value


def versions(*, session: Session, site_id: int, period: str) -> list[Version]:
    """Every version of a site's month, oldest first, with its review (kept forever, shown side by side)."""
    rows = session.exec(select(RevenueReport, CorrectionReview)
                        .join(CorrectionReview, CorrectionReview.report_id == RevenueReport.id, isouter=True)
                        .where(RevenueReport.site_id == site_id, RevenueReport.period == period)
                        .order_by(RevenueReport.version)).all()
    return [Version(report, review) for report, review in rows]


def next_version(*, session: Session, site_id: int, period: str) -> int:
    """One above every version ever written (pending and refused ones keep their numbers)."""
    newest = session.exec(select(RevenueReport.version).where(RevenueReport.site_id == site_id,
                                                              RevenueReport.period == period)
                          .order_by(RevenueReport.version.desc()).limit(1)).first()
    return (newest or 0) + 1


def _plan_of(session: Session, site: Site) -> RoyaltyPlan | None:
    from brand_hub.models import Agreement

    from . import plans

    agreement = session.get(Agreement, site.agreement_id) if site.agreement_id else None
    if agreement is None:
        return None
    try:
        return _library_plans(_library_stamp()).get(agreement.royalty_plan_id)
    except Exception:  # unreadable plan files: the default threshold still protects the month
        return None


def _library_stamp() -> tuple:
    """The plan files' names and modification times: the cache below reloads when a file changes."""
    from standards.royalty_plan import LIBRARY

    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in LIBRARY.glob("*.yaml")))


@lru_cache(maxsize=4)
def _library_plans(stamp: tuple) -> dict[str, RoyaltyPlan]:
    from . import plans

    return plans()


def after_submit(*, session: Session, site: Site, report: RevenueReport, previous: RevenueReport | None) -> None:
    """Hold the new version for HQ when it corrects a billed month or cuts the figure too far.

    An older correction of the same month still waiting is superseded: the partner's newest word
    is the one HQ decides on.
    """
    now = datetime.now(timezone.utc)
    for older in session.exec(select(CorrectionReview).where(
            CorrectionReview.site_id == site.id, CorrectionReview.period == report.period,
            CorrectionReview.status == ReviewStatus.pending, CorrectionReview.report_id != report.id)).all():
        older.status, older.decided_at, older.decided_by = ReviewStatus.refused, now, "system"
        older.reason = f"replaced by version {report.version}"
        session.add(older)
    lowered = previous is not None and report.gross_revenue < previous.gross_revenue
    why = review_reason(session=session, site=site, period=report.period, previous=previous,
                        gross=report.gross_revenue, plan=_plan_of(session, site) if lowered else None)
    if why is not None and previous is not None:
        hold_for_review(session=session, report=report, previous=previous, why=why,
                        requested_by=report.submitted_by, now=now)


def review_of(*, session: Session, report_id: int) -> CorrectionReview | None:
    return session.exec(select(CorrectionReview).where(CorrectionReview.report_id == report_id)).first()
