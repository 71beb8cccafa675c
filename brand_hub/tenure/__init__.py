"""Ownership over time: which partner (and agreement) held a site from which date to which date.

Everything tied to a site and a time (revenue reports, invoices and their lines,
true-ups, scores and cards, flags, acknowledgements, collected data, configs in
force) belongs to the partner that held the site *then*. This module keeps the
tenures, moves a site from one holder to the next (HQ, with an effective date,
audited), and answers the two questions the rest of the hub asks:

* the portal: which rows of a site-and-time model may this partner see
  (``held_by``: one SQL condition per kind of time, used by
  ``franchisee_portal.scope``);
* billing: which agreement a site-month belongs to (``agreement_of_month``,
  ``sites_by_agreement``), so a month is billed to the agreement in force then.

The rule for periods: a month (or quarter) belongs to whoever holds the site on
its last day, so the month of a move is the new holder's. A site without any
tenure row (created after migration 0011 and never moved) is held by its current
partner since ever: the first move writes that implicit tenure down.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, not_, or_, select as sa_select, union
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models import Agreement, Franchisee, Site, utcnow
from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus, RevenueReport
from brand_hub.models.collection import CollectionTarget, NpsResponse, OpsEvent, QuarantinedRecord, ReadingBucket
from brand_hub.models.compliance import Flag, FlagEvent, FlagState
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import SiteConfigState, SiteConfigVersion, StandardAcknowledgement
from brand_hub.models.tenure import SiteTenure


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class TenureError(Exception):
    """A move that cannot be made (the message says which site, which date, and why)."""


# ---------------------------------------------------------------- periods and instants

def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def quarter_of(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def _previous_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 2
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _previous_quarter(period: str) -> str:
    year, quarter = int(period[:4]), int(period[6])
    return f"{year - 1:04d}-Q4" if quarter == 1 else f"{year:04d}-Q{quarter - 1}"


def local_midnight(day: date, tz_name: str) -> datetime:
    """The UTC instant a local date starts at the site (a move takes effect at local midnight)."""
    try:
        zone = ZoneInfo(tz_name or "Asia/Shanghai")
    except Exception:  # an unknown zone name: the brand's default
        zone = ZoneInfo("Asia/Shanghai")
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


def local_today(site: Site, now: datetime | None = None) -> date:
    try:
        zone = ZoneInfo(site.timezone or "Asia/Shanghai")
    except Exception:
        zone = ZoneInfo("Asia/Shanghai")
    return (now or datetime.now(timezone.utc)).astimezone(zone).date()


def _period_owned(tenure: SiteTenure, period: str) -> bool:
    """Does ``tenure`` own this month (``2026-10``) or quarter (``2026-Q4``)?"""
    if "Q" in period:
        low, high = tenure.first_quarter, tenure.last_quarter
    else:
        low, high = tenure.first_month, tenure.last_month
    return (low is None or period >= low) and (high is None or period <= high)


def _instant_owned(tenure: SiteTenure, at: datetime) -> bool:
    return (tenure.held_from is None or at >= tenure.held_from) and (tenure.held_until is None or at < tenure.held_until)


# ---------------------------------------------------------------- reading tenures

def _implicit(site: Site) -> SiteTenure:
    """The tenure a never-moved site without a row has: its partner, since ever (not stored)."""
    starts = site.opened_on or (site.created_at.date() if site.created_at else date.today())
    return SiteTenure(site_id=site.id, franchisee_id=site.franchisee_id, agreement_id=site.agreement_id,
                      starts_on=starts)


def history(*, session: Session, site: Site) -> list[SiteTenure]:
    """The site's tenures, oldest first (never empty)."""
    rows = list(session.exec(select(SiteTenure).where(SiteTenure.site_id == site.id)
                             .order_by(SiteTenure.starts_on, SiteTenure.id)).all())
    return rows or [_implicit(site)]


def current(*, session: Session, site: Site) -> SiteTenure:
    return history(session=session, site=site)[-1]


def tenures_of(*, session: Session, site: Site, franchisee_id: int) -> list[SiteTenure]:
    """The partner's tenures of the site (several if it held it, lost it and took it back)."""
    return [t for t in history(session=session, site=site) if t.franchisee_id == franchisee_id]


def partner_of_month(*, session: Session, site: Site, period: str) -> int:
    """The partner a site-month belongs to (its revenue report's): the holder of the tenure that owns the month
    (``holder_of_month``), or the site's partner when none does (a site never moved). Stored on each revenue
    report, and rewritten by ``record_holders`` when the site moves."""
    return _partner_in(history(session=session, site=site), site, period)


def _partner_in(tenures: list[SiteTenure], site: Site, period: str) -> int:
    owning = [t for t in tenures if _period_owned(t, period)]
    return owning[-1].franchisee_id if owning else site.franchisee_id


def record_holders(*, session: Session, site: Site) -> None:
    """Write on each of the site's revenue reports the partner that holds its month now: after a move changed
    who owns which months (reports keep their holder so HQ's pages need not derive it on every request)."""
    tenures = history(session=session, site=site)
    for report in session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)).all():
        holder = _partner_in(tenures, site, report.period)
        if report.franchisee_id != holder:
            report.franchisee_id = holder
            session.add(report)
    session.flush()


@dataclass(frozen=True)
class Holding:
    """One partner's view of one site: its tenures there, and whether it holds the site today."""

    tenures: tuple[SiteTenure, ...]
    holds_now: bool

    def owns_period(self, period: str) -> bool:
        return any(_period_owned(t, period) for t in self.tenures)

    def owns_instant(self, at: datetime) -> bool:
        return any(_instant_owned(t, at) for t in self.tenures)

    @property
    def held_from(self) -> datetime | None:
        """The start of the partner's first tenure here (None: since ever)."""
        starts = [t.held_from for t in self.tenures]
        return None if any(s is None for s in starts) else min(starts)

    @property
    def held_until(self) -> datetime | None:
        """The end of the partner's last tenure here (None: it still holds the site)."""
        ends = [t.held_until for t in self.tenures]
        return None if any(e is None for e in ends) else max(ends)

    @property
    def last(self) -> SiteTenure:
        return self.tenures[-1]


def holding(*, session: Session, site: Site, franchisee_id: int) -> Holding:
    tenures = tenures_of(session=session, site=site, franchisee_id=franchisee_id)
    return Holding(tuple(tenures), holds_now=site.franchisee_id == franchisee_id)


def holder_of_month(*, session: Session, site: Site, period: str) -> SiteTenure | None:
    """The tenure that owns ``period`` (a month like ``2026-10``) at this site."""
    for tenure in reversed(history(session=session, site=site)):
        if _period_owned(tenure, period):
            return tenure
    return None


def require_month_holder(*, session: Session, site: Site, period: str, franchisee_id: int) -> None:
    """Refuse a partner's revenue report for a month it did not hold the site in.

    A correction of a month before a move can only be made by the partner that held
    the site then (and is trued up on its agreement, see ``brand_hub.billing.runs``).
    An unreadable period passes through: the revenue service names it.
    """
    if not _MONTH.fullmatch(period or ""):
        return
    holder = holder_of_month(session=session, site=site, period=period)
    if holder is None or holder.franchisee_id != franchisee_id:
        raise TenureError(_l("%(site)s was not yours in %(period)s: its revenue for that month is reported by the "
                             "partner that held the site then", site=site.code, period=period))



# ---------------------------------------------------------------- billing: which agreement a site-month belongs to

def agreement_of_month(*, session: Session, period: str, site_ids: list[int] | None = None) -> dict[int, int | None]:
    """Per site, the agreement in force for ``period`` (the tenure that owns the month).

    Sites without tenure rows answer with their current agreement; a site none of
    whose tenures owns the month (it was not held then) is absent.
    """
    stmt = select(Site.id, Site.agreement_id)
    if site_ids is not None:
        stmt = stmt.where(Site.id.in_(site_ids))
    current_of = dict(session.exec(stmt).all())
    tenure_stmt = select(SiteTenure)
    if site_ids is not None:
        tenure_stmt = tenure_stmt.where(SiteTenure.site_id.in_(site_ids))
    by_site: dict[int, list[SiteTenure]] = defaultdict(list)
    for tenure in session.exec(tenure_stmt.order_by(SiteTenure.starts_on, SiteTenure.id)).all():
        by_site[tenure.site_id].append(tenure)
    result: dict[int, int | None] = {}
    for site_id, agreement_id in current_of.items():
        tenures = by_site.get(site_id)
        if not tenures:
            result[site_id] = agreement_id
            continue
        owner = next((t for t in reversed(tenures) if _period_owned(t, period)), None)
        if owner is not None:
            result[site_id] = owner.agreement_id
    return result


def sites_by_agreement(*, session: Session, period: str, agreement_ids: list[int],
                       statuses) -> dict[int, list[Site]]:
    """The sites each agreement bills for ``period``: those whose month it held, ordered by code."""
    wanted = set(agreement_ids)
    sites = {s.id: s for s in session.exec(select(Site).where(Site.status.in_(statuses))).all()}
    result: dict[int, list[Site]] = defaultdict(list)
    for site_id, agreement_id in agreement_of_month(session=session, period=period, site_ids=list(sites)).items():
        if agreement_id in wanted:
            result[agreement_id].append(sites[site_id])
    for items in result.values():
        items.sort(key=lambda s: s.code)
    return result


# ---------------------------------------------------------------- compliance: a partner is judged on its own periods

def judged_sites(*, session: Session, sites: list) -> dict[int, list]:
    """The site facts each partner's rules see (``compliance.facts``): per partner, its sites with the
    scores of the periods it held them only.

    So a red card earned under the previous holder never counts towards the new holder's
    termination review, and the previous holder still answers for the quarters it held.
    Sites never moved are passed through unchanged, under their current partner.
    """
    import dataclasses

    tenures: dict[int, list[SiteTenure]] = defaultdict(list)
    for row in session.exec(select(SiteTenure).where(SiteTenure.site_id.in_([s.site_id for s in sites]))
                            .order_by(SiteTenure.starts_on, SiteTenure.id)).all():
        tenures[row.site_id].append(row)
    result: dict[int, list] = defaultdict(list)
    for site in sites:
        rows = tenures.get(site.site_id)
        if not rows or len({t.franchisee_id for t in rows}) == 1 and rows[0].franchisee_id == site.franchisee_id:
            result[site.franchisee_id].append(site)
            continue
        for partner_id in dict.fromkeys(t.franchisee_id for t in rows):  # each holder once, oldest first
            own = [t for t in rows if t.franchisee_id == partner_id]
            scores = {p: v for p, v in site.scores.items() if any(_period_owned(t, p) for t in own)}
            result[partner_id].append(dataclasses.replace(site, franchisee_id=partner_id, scores=scores))
    return result


# ---------------------------------------------------------------- the portal: which rows a partner may see

# How each site-and-time model reads its time: an instant column, a month, a period
# (month or quarter), "now" (current state: only today's holder), or a special rule.
INSTANT, MONTH, PERIOD, NOW = "instant", "month", "period", "now"
TIME_OF: dict[type, tuple[str, str]] = {
    RevenueReport: (MONTH, "period"),
    SiteScore: (PERIOD, "period"),
    ReadingBucket: (INSTANT, "bucket_start"),
    NpsResponse: (INSTANT, "answered_at"),
    OpsEvent: (INSTANT, "occurred_at"),
    QuarantinedRecord: (INSTANT, "received_at"),
    StandardAcknowledgement: (INSTANT, "acknowledged_at"),  # a pending duty: today's holder's
    SiteConfigVersion: (INSTANT, "created_at"),             # plus the version in force at the start
    CollectionTarget: (NOW, ""),
    SiteConfigState: (NOW, ""),
}


def is_time_tied(model) -> bool:
    return model in TIME_OF


def _window(tenure, kind: str, value):
    if kind == MONTH:
        return and_(or_(tenure.first_month.is_(None), value >= tenure.first_month),
                    or_(tenure.last_month.is_(None), value <= tenure.last_month))
    if kind == PERIOD:
        quarter = value.like("%Q%")
        return or_(
            and_(quarter, or_(tenure.first_quarter.is_(None), value >= tenure.first_quarter),
                 or_(tenure.last_quarter.is_(None), value <= tenure.last_quarter)),
            and_(not_(quarter), or_(tenure.first_month.is_(None), value >= tenure.first_month),
                 or_(tenure.last_month.is_(None), value <= tenure.last_month)))
    return and_(or_(tenure.held_from.is_(None), value >= tenure.held_from),
                or_(tenure.held_until.is_(None), value < tenure.held_until))


def held_by(model, franchisee_id: int, *, now: datetime | None = None):
    """The SQL condition: this row of ``model`` belongs to a time the partner held its site.

    For a site with tenure rows, one of the partner's tenures must cover the row's
    time; a site without any is its current partner's for all time.
    """
    now = now or datetime.now(timezone.utc)
    kind, column = TIME_OF[model]
    site_id = model.site_id
    tenure = aliased(SiteTenure)
    any_tenure = aliased(SiteTenure)
    if kind == NOW:
        return site_id.in_(sa_select(Site.id).where(Site.franchisee_id == franchisee_id))
    if model is StandardAcknowledgement:
        value = func.coalesce(StandardAcknowledgement.acknowledged_at, now)
        covered = _window(tenure, INSTANT, value)
    elif model is SiteConfigVersion:
        later = aliased(SiteConfigVersion)
        in_force_at_start = ~exists().where(later.site_id == SiteConfigVersion.site_id,
                                            later.created_at > SiteConfigVersion.created_at,
                                            later.created_at <= tenure.held_from)
        covered = and_(or_(tenure.held_until.is_(None), SiteConfigVersion.created_at < tenure.held_until),
                       or_(tenure.held_from.is_(None), SiteConfigVersion.created_at >= tenure.held_from,
                           in_force_at_start))
    else:
        covered = _window(tenure, kind, getattr(model, column))
    by_tenure = exists().where(tenure.site_id == site_id, tenure.franchisee_id == franchisee_id, covered)
    untracked = and_(~exists().where(any_tenure.site_id == site_id),
                     site_id.in_(sa_select(Site.id).where(Site.franchisee_id == franchisee_id)))
    # Both branches imply a site the partner holds or held: said first, it lets the database start from the
    # partner's few sites (an index on ``site_id``) instead of testing the tenures of every row of the table
    # (the portal's scores page read all 20,000 scores of a 10,000-site network to find its six periods).
    return and_(site_id.in_(sites_ever_held(franchisee_id)), or_(by_tenure, untracked))


def sites_ever_held(franchisee_id: int):
    """The ids of the sites the partner holds or held (a subquery).

    A union of two index look-ups rather than one ``OR``: the planner reads an ``OR`` across two
    tables as "half the sites" and scans whole tables for a partner's fifty sites."""
    return union(sa_select(Site.id).where(Site.franchisee_id == franchisee_id),
                 sa_select(SiteTenure.site_id).where(SiteTenure.franchisee_id == franchisee_id))


# ---------------------------------------------------------------- moving a site

def _describe(session: Session, tenure: SiteTenure) -> dict[str, Any]:
    partner = session.get(Franchisee, tenure.franchisee_id)
    agreement = session.get(Agreement, tenure.agreement_id) if tenure.agreement_id else None
    return {"franchisee": partner.code if partner else tenure.franchisee_id,
            "agreement": agreement.number if agreement else "",
            "starts_on": tenure.starts_on.isoformat(), "ends_on": tenure.ends_on.isoformat() if tenure.ends_on else None}


def move_site(*, session: Session, site: Site, franchisee: Franchisee, agreement: Agreement | None,
              effective_on: date, actor: audit.Actor, now: datetime | None = None) -> SiteTenure:
    """Hand ``site`` to ``franchisee`` (under ``agreement``) from ``effective_on`` (a local date at the site).

    Ends the current tenure the day before, starts the new one, points the site at its
    new partner and agreement, closes the old partner's open flags of the site (they
    stay the old partner's history; the new partner's flags start afresh), and writes
    one ``site.move`` audit event. Refused: an agreement of another partner, a date
    in the future or not after the current tenure began, no change at all, or a move
    that would take away months already on an issued invoice of another agreement.
    """
    now = now or utcnow()
    if agreement is not None and agreement.franchisee_id != franchisee.id:
        raise TenureError(_l("agreement %(number)s belongs to another partner", number=agreement.number))
    if effective_on > local_today(site, now):
        raise TenureError(_l("a move takes effect today or earlier, not on %(date)s", date=effective_on.isoformat()))
    tenures = history(session=session, site=site)
    old = tenures[-1]
    if old.franchisee_id == franchisee.id and old.agreement_id == (agreement.id if agreement else None):
        raise TenureError(_l("%(site)s is already held by %(partner)s under this agreement", site=site.code,
                             partner=franchisee.code))
    if effective_on <= old.starts_on and len(tenures) == 1:
        return _correct_first_holder(session, site, old, franchisee, agreement, effective_on, actor, now)
    if effective_on <= old.starts_on:
        raise TenureError(_l("%(site)s has been held by its current partner since %(since)s: a move must take "
                             "effect after that day", site=site.code, since=old.starts_on.isoformat()))
    first_month, first_quarter = month_of(effective_on), quarter_of(effective_on)
    _refuse_if_invoiced(session, site, first_month, old.agreement_id)
    before = _describe(session, old)
    if old.id is None:  # the implicit tenure of a never-moved site: write it down first
        old.created_by = actor.label
        session.add(old)
    old.ends_on = effective_on
    old.held_until = local_midnight(effective_on, site.timezone)
    old.last_month = _previous_month(first_month)
    old.last_quarter = _previous_quarter(first_quarter)
    session.add(old)
    new = SiteTenure(site_id=site.id, franchisee_id=franchisee.id, agreement_id=agreement.id if agreement else None,
                     starts_on=effective_on, held_from=old.held_until, first_month=first_month,
                     first_quarter=first_quarter, created_at=now, created_by=actor.label)
    session.add(new)
    if old.franchisee_id != franchisee.id:
        _close_flags(session, site, old.franchisee_id, franchisee, effective_on, actor, now)
    site.franchisee_id, site.agreement_id, site.updated_at = franchisee.id, new.agreement_id, now
    session.add(site)
    session.flush()
    record_holders(session=session, site=site)
    audit.record(session=session, actor=actor, action="site.move", entity_type="site", entity_id=site.code,
                 before=before, after=_describe(session, new))
    return new


def _correct_first_holder(session: Session, site: Site, first: SiteTenure, franchisee: Franchisee,
                          agreement: Agreement | None, effective_on: date, actor: audit.Actor,
                          now: datetime) -> SiteTenure:
    """A site handed over on or before its first day: nobody else held it, so its first holder is corrected."""
    before = _describe(session, first)
    old_partner_id = first.franchisee_id
    first.franchisee_id, first.agreement_id = franchisee.id, agreement.id if agreement else None
    if first.id is None:
        first.created_by = actor.label
    session.add(first)
    if old_partner_id != franchisee.id:
        _close_flags(session, site, old_partner_id, franchisee, effective_on, actor, now)
    site.franchisee_id, site.agreement_id, site.updated_at = franchisee.id, first.agreement_id, now
    session.add(site)
    session.flush()
    record_holders(session=session, site=site)
    audit.record(session=session, actor=actor, action="site.move", entity_type="site", entity_id=site.code,
                 before=before, after=_describe(session, first))
    return first


def _refuse_if_invoiced(session: Session, site: Site, first_month: str, old_agreement_id: int | None) -> None:
    """A move dated back must not take away a month an issued invoice already billed."""
    billed = session.exec(select(InvoiceLine.service_period).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                          .where(InvoiceLine.site_id == site.id, InvoiceLine.kind == "royalty",
                                 InvoiceLine.service_period >= first_month,
                                 Invoice.status != InvoiceStatus.draft)
                          .order_by(InvoiceLine.service_period)).first()
    if billed is not None:
        raise TenureError(_l("%(site)s: %(period)s is already on an issued invoice; a move can take effect from "
                             "%(next)s at the earliest", site=site.code, period=billed,
                             next=_next_month_start(billed)))


def _next_month_start(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return date(year + (month == 12), month % 12 + 1, 1).isoformat()


def _close_flags(session: Session, site: Site, old_partner_id: int, new_partner: Franchisee, effective_on: date,
                 actor: audit.Actor, now: datetime) -> None:
    """The old partner's open flags of the site end with its tenure (they stay in its history)."""
    reason = (f"site handed over to {new_partner.code} on {effective_on.isoformat()}: "
              "closed with the previous partner's tenure")
    for flag in session.exec(select(Flag).where(Flag.site_id == site.id, Flag.franchisee_id == old_partner_id,
                                                Flag.open_key.is_not(None))).all():
        from_state = FlagState(flag.state)
        flag.state, flag.open_key, flag.resolved_at, flag.updated_at = FlagState.resolved, None, now, now
        flag.resolution = reason[:500]
        session.add(flag)
        session.add(FlagEvent(flag_id=flag.id, at=now, actor=actor.label, actor_id=actor.user_id, kind="resolved",
                              from_state=from_state.value, to_state=FlagState.resolved.value, reason=reason,
                              data={"handed_over_to": new_partner.code, "effective_on": effective_on.isoformat()}))


def hand_over_if_moved(*, session: Session, actor: audit.Actor, site: Site | None,
                       fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The registry's save calls this for every site it writes (imports and the HQ form).

    When the cleaned fields give an existing site another partner or agreement, the
    site is moved (effective ``moved_on``, or today at the site) before the other
    fields are applied. Returns the fields without ``moved_on`` (not a site column).
    """
    fields = dict(fields)
    moved_on = fields.pop("moved_on", None)
    if site is None or site.id is None:
        return fields, False
    partner_id, agreement_id = fields.get("franchisee_id", site.franchisee_id), fields.get("agreement_id")
    if partner_id == site.franchisee_id and agreement_id == site.agreement_id:
        return fields, False
    from brand_hub.registry import InvalidRecord  # the registry imports this module

    partner = session.get(Franchisee, partner_id)
    agreement = session.get(Agreement, agreement_id) if agreement_id else None
    try:
        move_site(session=session, site=site, franchisee=partner, agreement=agreement,
                  effective_on=moved_on or local_today(site), actor=actor)
    except TenureError as exc:
        raise InvalidRecord({"moved_on" if moved_on else "franchisee": str(exc)}) from exc
    return fields, True
