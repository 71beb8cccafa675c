"""Who hears of a flag's step, and what the mail says (Chinese first, English below).

Messages are queued in the outbox in the same transaction as the step itself, keyed
by the timeline event, so a re-evaluation never queues a mail twice.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from brand_hub.models import Franchisee, Role, Site, User
from brand_hub.models.compliance import Flag, FlagEvent
from brand_hub.settings import Settings

from . import outbox

MAILED_KINDS = {"opened", "reopened", "escalated", "reminder", "waiver_expired", "accept_plan", "reject_plan",
                "submit_plan", "plan_overdue"}

KIND_WORDS = {
    "opened": ("新合规事项", "New compliance flag"),
    "reopened": ("合规事项再次出现", "Compliance flag reopened"),
    "escalated": ("合规事项已升级", "Compliance flag escalated"),
    "reminder": ("合规事项待确认，即将到期", "Compliance flag: acknowledgement due soon"),
    "waiver_expired": ("豁免已到期，合规事项恢复", "Waiver ended: compliance flag back"),
    "accept_plan": ("整改计划已通过", "Corrective action plan accepted"),
    "reject_plan": ("整改计划被退回", "Corrective action plan returned"),
    "submit_plan": ("伙伴提交了整改计划", "Partner submitted a corrective action plan"),
    "plan_overdue": ("整改计划已过期限", "Corrective action plan past its date"),
}


def regional_managers(settings: Settings, region: str) -> list[str]:
    """The e-mails configured for ``region`` in ``flag_regional_managers`` (``east=a@x,b@x;north=c@x``)."""
    for part in settings.flag_regional_managers.split(";"):
        name, _, emails = part.partition("=")
        if name.strip() == region:
            return [e.strip() for e in emails.split(",") if e.strip()]
    return []


def _users(session: Session, *, roles: set[Role] | None = None, franchisee_id: int | None = None,
           cache: dict | None = None) -> list[str]:
    """The active users' e-mails (of ``roles``, of the partner); with ``cache`` each question is asked once."""
    key = ("users", frozenset(roles) if roles is not None else None, franchisee_id)
    if cache is not None and key in cache:
        return list(cache[key])
    stmt = select(User.email).where(User.active.is_(True))
    if roles is not None:
        stmt = stmt.where(User.role.in_(sorted(roles, key=lambda r: r.value)))
    if franchisee_id is not None:
        stmt = stmt.where(User.franchisee_id == franchisee_id)
    found = list(session.exec(stmt).all())
    if cache is not None:
        cache[key] = list(found)
    return found


def _get(session: Session, model, key: int | None, cache: dict | None):
    """``session.get``, kept in the run's ``cache``: the identity map holds its rows only weakly, so a site
    or partner read for one mail was read from the database again for the next (about 7 ms each)."""
    if key is None:
        return None
    if cache is None:
        return session.get(model, key)
    if (model, key) not in cache:
        cache[(model, key)] = session.get(model, key)
    return cache[(model, key)]


def preload(*, session: Session, cache: dict, site_ids: list[int], franchisee_ids: list[int]) -> None:
    """Put the sites, partners and partner admins that a batch's mails name in the run's ``cache``, in one
    statement each, where ``_get`` and ``_users`` would ask once per site and once per partner."""
    for model, ids in ((Site, site_ids), (Franchisee, franchisee_ids)):
        wanted = sorted({i for i in ids if (model, i) not in cache})
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start:start + 1000]
            found = {row.id: row for row in session.exec(select(model).where(model.id.in_(chunk)))}
            for key in chunk:
                cache[(model, key)] = found.get(key)
    roles = {Role.franchisee_admin}
    wanted = sorted({i for i in franchisee_ids if ("users", frozenset(roles), i) not in cache})
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        emails: dict[int, list[str]] = {i: [] for i in chunk}
        for franchisee_id, email in session.exec(select(User.franchisee_id, User.email).where(
                User.active.is_(True), User.role.in_(sorted(roles, key=lambda r: r.value)),
                User.franchisee_id.in_(chunk)).order_by(User.id)):
            emails[franchisee_id].append(email)
        for key, found in emails.items():
            cache[("users", frozenset(roles), key)] = found


def recipients(*, session: Session, settings: Settings, flag: Flag, event: FlagEvent,
               cache: dict | None = None) -> list[str]:
    """The partner always; the regional manager from escalation level 1; brand HQ from level 2.

    ``cache`` (one evaluation's): the users are looked up once per partner and role in a run, not per mail."""
    partner = _get(session, Franchisee, flag.franchisee_id, cache)
    site = _get(session, Site, flag.site_id, cache) if flag.site_id else None
    out = [partner.contact_email] if partner and partner.contact_email else []
    if event.kind != "submit_plan":
        out += _users(session, roles={Role.franchisee_admin}, franchisee_id=flag.franchisee_id, cache=cache)
    level = int(event.data.get("level", flag.escalation_level)) if event.kind == "escalated" else 0
    if event.kind in ("submit_plan", "plan_overdue") or level >= 1:
        managers = regional_managers(settings, site.region if site else "")
        out += managers or _users(session, roles={Role.hq_manager}, cache=cache)
    if level >= 2 or (flag.rule == "termination-review" and event.kind in ("opened", "reopened")):
        out += _users(session, roles={Role.hq_admin}, cache=cache)
    return out


def compose(*, flag: Flag, event: FlagEvent, site_code: str, partner_code: str, title_zh: str, title_en: str,
            settings: Settings) -> tuple[str, str]:
    """Subject and plain-text body of the mail for one timeline event."""
    zh, en = KIND_WORDS.get(event.kind, ("合规事项更新", "Compliance flag update"))
    where = site_code or partner_code
    subject = f"[{settings.brand_name}] {zh} / {en}: {title_zh} · {where}"
    evidence = "\n".join(f"  {k}: {v}" for k, v in sorted(flag.evidence.items()) if v not in (None, "", []))
    due = flag.ack_due_at.strftime("%Y-%m-%d %H:%M UTC") if flag.ack_due_at else "—"
    body = (f"{zh}：{title_zh}\n门店/伙伴：{where}\n严重程度：{flag.severity.value}\n状态：{flag.state.value}\n"
            f"确认截止：{due}\n说明：{event.reason}\n\n"
            f"{en}: {title_en}\nSite/partner: {where}\nSeverity: {flag.severity.value}\nState: {flag.state.value}\n"
            f"Acknowledge by: {due}\nWhy: {event.reason}\n\n"
            f"依据 Evidence (flag #{flag.id}):\n{evidence}\n")
    return subject, body


def queue_for(*, session: Session, settings: Settings, flag: Flag, event: FlagEvent, title_zh: str, title_en: str,
              now: datetime, cache: dict | None = None) -> bool:
    """Queue the mail for ``event`` if its kind is mailed; True when a message was queued."""
    mail = mail_for(session=session, settings=settings, flag=flag, event=event, title_zh=title_zh,
                    title_en=title_en, cache=cache)
    if mail is None:
        return False
    return outbox.enqueue(session=session, now=now, **mail) is not None


def mail_for(*, session: Session, settings: Settings, flag: Flag, event: FlagEvent, title_zh: str, title_en: str,
             cache: dict | None = None) -> dict | None:
    """The mail of ``event`` as ``outbox.enqueue``'s arguments (but ``now``); None when its kind is not mailed."""
    if event.kind not in MAILED_KINDS:
        return None
    site = _get(session, Site, flag.site_id, cache) if flag.site_id else None
    partner = _get(session, Franchisee, flag.franchisee_id, cache)
    subject, body = compose(flag=flag, event=event, site_code=site.code if site else "",
                            partner_code=partner.code if partner else "", title_zh=title_zh, title_en=title_en,
                            settings=settings)
    domain = settings.mail_from.rpartition("@")[2] or "brandhub"
    return dict(dedupe_key=f"flag-event:{event.id}",
                recipients=recipients(session=session, settings=settings, flag=flag, event=event, cache=cache),
                subject=subject, body=body, flag_id=flag.id, domain=domain)
