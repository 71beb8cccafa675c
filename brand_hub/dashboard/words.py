"""Machine words read by people: who did something, what an audit event did, values with their units.

Registered for every template by the dashboard blueprint (``actor_words``,
``audit_sentence``, ``audit_changes``, ``value_words``). Everything reads in the
request's language; stored words (``flag.waive``, ``flagship``, ``system``) never
reach a page as they are.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _, lazy_gettext as _l

from brand_hub.web.labels import LABELS, label

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

ACTIONS = {
    "create": _l("created"), "update": _l("changed"), "publish": _l("published"), "issue": _l("issued"),
    "credit_note": _l("issued a credit note on"), "payment": _l("recorded a payment on"), "run": _l("ran"),
    "compute": _l("computed"), "acknowledge": _l("acknowledged"), "waive": _l("waived"), "resolve": _l("resolved"),
    "accept_plan": _l("accepted the plan of"), "reject_plan": _l("returned the plan of"),
    "submit_plan": _l("submitted a plan for"), "activate": _l("changed the access of"),
    "password": _l("set a new password for"), "sites": _l("changed the sites of"),
    "termination_review": _l("put under termination review"), "agent_token_issue": _l("issued an agent token for"),
    "agent_token_rotate": _l("rotated the agent token of"), "import": _l("imported"), "ignore": _l("ignored"),
}
ENTITIES = {
    "site": _l("site"), "franchisee": _l("partner"), "partner": _l("partner"), "agreement": _l("agreement"),
    "user": _l("user"), "flag": _l("flag"), "invoice": _l("invoice"), "billing_run": _l("billing run"),
    "card_publication": _l("quarterly cards"), "score_period": _l("scores"), "standard": _l("standard"),
    "site_config": _l("site config"), "revenue_report": _l("revenue report"),
}
FIELDS = {
    "status": _l("status"), "state": _l("state"), "code": _l("code"), "name_zh": _l("Chinese name"),
    "name_en": _l("English name"), "legal_name": _l("legal name"), "city": _l("city"), "region": _l("region"),
    "tier": _l("tier"), "desks": _l("desks"), "area_m2": _l("area (m²)"), "address": _l("address"),
    "timezone": _l("time zone"), "opening_hours": _l("opening hours"), "agent_url": _l("agent address"),
    "opened_on": _l("opened on"), "email": _l("e-mail"), "role": _l("role"), "active": _l("can sign in"),
    "number": _l("number"), "period": _l("period"), "total": _l("total"), "amount": _l("amount"),
    "reason": _l("reason"), "waived_until": _l("waived until"), "resolution": _l("resolution"),
    "sites": _l("sites"), "version": _l("version"), "key": _l("key"), "start_date": _l("start date"),
    "end_date": _l("end date"), "royalty_plan_id": _l("royalty plan"), "territory": _l("territory"),
    "contact_name": _l("contact"), "contact_email": _l("contact e-mail"), "contact_phone": _l("contact phone"),
    "franchisee_id": _l("partner"), "agreement_id": _l("agreement"), "paid_on": _l("paid on"),
    "drafts": _l("drafts"), "published_by": _l("published by"), "model_version": _l("model version"),
}


METRICS = {
    "co2_ppm": (_l("CO2"), "ppm"), "temperature_c": (_l("temperature"), "°C"), "humidity_pct": (_l("humidity"), "%"),
    "illuminance_lux": (_l("illuminance"), "lux"), "noise_dba": (_l("noise"), "dB(A)"),
    "pm25_ugm3": (_l("PM2.5"), "µg/m³"), "people_count": (_l("people"), _l("people")),
    "zone_occupied": (_l("zone occupied"), ""), "energy_kwh": (_l("energy"), "kWh"),
}
STATUS_WORDS = {
    "partially_paid": _l("partially paid"), "issued": _l("issued"), "paid": _l("paid"), "credited": _l("credited"),
    "reported": _l("reported"), "estimated": _l("estimated"), "corrected": _l("corrected"),
}
ERRORS = (  # what the collector stores as the last error, read as a cause a site manager can act on
    ("ConnectTimeout", _l("the agent did not answer in time")),
    ("ReadTimeout", _l("the agent did not answer in time")),
    ("ConnectError", _l("the hub could not connect to the agent (network, address or agent down)")),
    ("ConnectionError", _l("the hub could not connect to the agent (network, address or agent down)")),
    ("SSLError", _l("the agent's TLS certificate was refused")),
    ("AgentAuthError", _l("the agent refused the hub's token")),
    ("PageError", _l("the agent sent a page the hub could not read")),
)
FEED_BEHIND_HOURS = 6  # an agent that answers but whose newest reading is older than this is "behind"


def metric_words(name: str | None, unit: bool = True) -> str:
    """``co2_ppm`` → 二氧化碳（ppm）: the metric's name in the reader's language with its unit."""
    if not name:
        return "—"
    title, symbol = METRICS.get(name, (name, ""))
    return f"{title}（{symbol}）" if unit and symbol and _zh() else (f"{title} ({symbol})" if unit and symbol
                                                                   else str(title))


def _zh() -> bool:
    from flask_babel import get_locale

    locale = get_locale()
    return bool(locale and locale.language == "zh")


def error_words(text: str | None) -> str:
    """A stored collector error as its cause in words, the technical text kept short after it."""
    text = (text or "").strip()
    for marker, words in ERRORS:
        if marker in text:
            detail = text.split(":", 1)[1].strip() if ":" in text else ""
            return f"{words}" + (f" — {detail[:80]}" if detail and marker not in detail else "")
    return text[:160]


def feed_words(row, now: datetime) -> tuple[str, str]:
    """A feed's state as (badge class, words), counting lag: an agent that answers with old data is behind."""
    lag = row.lag(now)
    if row.state == "ok" and lag is not None and lag.total_seconds() > FEED_BEHIND_HOURS * 3600:
        return "failing", _("behind by %(hours)s h", hours=int(lag.total_seconds() // 3600))
    words = {"ok": _("ok"), "failing": _("failing"), "never": _("not pulled yet"), "no_agent": _("no agent")}
    return row.state, words.get(row.state, row.state)


def actor_words(actor: str | None) -> str:
    """``system`` → 系统（自动）, ``cli:ops`` → 命令行（ops）, ``demo`` → 演示数据; an e-mail as it is."""
    actor = (actor or "").strip()
    if not actor:
        return "—"
    if actor == "system":
        return _("the system (automatic)")
    if actor == "demo":
        return _("demo data")
    if actor.startswith("cli:"):
        return _("command line (%(user)s)", user=actor[4:] or "?")
    return actor


def value_words(value: Any) -> str:
    """A stored value as a person reads it: times in the reader's zone, stored words translated, no reprs."""
    from brand_hub.web.filters import local_date, local_dt, money

    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return local_dt(value)
    if isinstance(value, date):
        return local_date(value)
    if isinstance(value, (list, tuple)):
        return "、".join(value_words(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{field_words(k)}: {value_words(v)}" for k, v in value.items()) or "—"
    if isinstance(value, str):
        if ISO_TIME.match(value):
            try:
                return local_dt(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        if ISO_DAY.match(value):
            try:
                return local_date(date.fromisoformat(value))
            except ValueError:
                return value
        if value in LABELS:
            return label(value)
        if value in STATUS_WORDS:
            return str(STATUS_WORDS[value])
        from brand_hub.compliance.words import SEVERITIES, STATES

        if value in STATES:
            return str(STATES[value])
        if value in SEVERITIES:
            return str(SEVERITIES[value])
    return str(value)


def field_words(name: str) -> str:
    return str(FIELDS.get(name, name.replace("_", " ")))


def audit_sentence(event) -> str:
    """「刘海燕 changed site SH-JA-01」 in the reader's language."""
    kind, _dot, verb = (event.action or "").rpartition(".")
    entity = ENTITIES.get(event.entity_type or kind, event.entity_type)
    what = str(ACTIONS.get(verb, verb.replace("_", " ")))
    name = (event.after or {}).get("code") or (event.after or {}).get("number") or event.entity_id
    return _("%(who)s %(did)s %(what)s %(name)s", who=actor_words(event.actor), did=what, what=entity,
             name=name or "")


def audit_changes(event, limit: int = 8) -> list[tuple[str, str, str]]:
    """Field by field: (field, before, after) in words; a creation lists what it was created with."""
    before, after = event.before or {}, event.after or {}
    keys = [k for k in list(before) + [k for k in after if k not in before]
            if k not in {"id", "created_at", "updated_at", "password_hash", "agent_token_hash"}]
    if not before:
        keys = [k for k in keys if after.get(k) not in (None, "", {}, [])]
    return [(field_words(k), value_words(before.get(k)) if before else "", value_words(after.get(k)))
            for k in keys[:limit]]


def entity_words(entity_type: str) -> str:
    return str(ENTITIES.get(entity_type, entity_type))


def helpers() -> dict:
    return {"actor_words": actor_words, "audit_sentence": audit_sentence, "audit_changes": audit_changes,
            "value_words": value_words, "entity_words": entity_words, "metric_words": metric_words,
            "error_words": error_words, "feed_words": feed_words, "metric_thresholds": metric_thresholds,
            "metric_titles": lambda names: {n: metric_words(n) for n in names}}


def metric_thresholds() -> dict[str, dict[str, float]]:
    """Per metric, the limits the scoring model's indicators hold it to (drawn as lines on the charts)."""
    from flask import current_app

    from brand_hub.dashboard.pages import current_indicators

    out: dict[str, dict[str, float]] = {}
    for indicator in current_indicators(current_app.extensions["brandhub.settings"]):
        limits = getattr(indicator, "thresholds", None) or {}
        if indicator.metric and limits:
            out.setdefault(indicator.metric, {}).update({k: float(v) for k, v in limits.items()
                                                         if isinstance(v, (int, float))})
    return out
