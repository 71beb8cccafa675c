"""How flags read on the pages: states, severities, rule titles, and the evidence in plain words."""
from __future__ import annotations

import re

from flask_babel import get_locale, gettext as _, lazy_gettext as _l, lazy_pgettext

from brand_hub.models.compliance import Flag

def _flag_word(word: str):
    """A word about flags, translated in the ``flag`` context (plain ``open`` means opening hours elsewhere)."""
    return lazy_pgettext("flag", word)


STATES = {state: _flag_word(state.replace("_", " ")) for state in (
    "pending", "open", "acknowledged", "plan_submitted", "plan_accepted", "escalated", "waived", "no_data",
    "resolved")}
SEVERITIES = {severity: _flag_word(severity) for severity in ("info", "minor", "warning", "major", "critical")}
EVENTS = {
    "pending": _l("Condition seen"), "opened": _l("Opened"), "reopened": _l("Reopened"), "cleared": _l("Cleared"),
    "resolved": _l("Resolved"), "no_data": _l("No data"), "severity": _l("Severity changed"),
    "reminder": _l("Reminder sent"), "escalated": _l("Escalated"), "waiver_expired": _l("Waiver ended"),
    "acknowledge": _l("Acknowledged"), "submit_plan": _l("Plan submitted"), "accept_plan": _l("Plan accepted"),
    "reject_plan": _l("Plan returned"), "waive": _l("Waived"), "resolve": _l("Resolved by HQ"),
    "plan_overdue": _l("Plan past its date"),
}
ESCALATION = {0: _flag_word("partner"), 1: _flag_word("regional manager"), 2: _flag_word("brand HQ")}
STANDINGS = {"on_notice": _flag_word("on notice"), "termination_review": _flag_word("termination review")}
MEASURES = {"share_within": _l("share of readings within the limit"), "median": _l("median"),
            "mean": _l("mean"), "p95": _l("95th percentile"), "max": _l("maximum"), "min": _l("minimum"),
            "count_per_month": _l("count per month"), "value": _l("value")}


def _zh() -> bool:
    locale = get_locale()
    return bool(locale and locale.language == "zh")


def rule_title(flag: Flag) -> str:
    """The rule's title in the reader's language (stored on the flag when it was evaluated)."""
    zh, en = flag.evidence.get("rule_title_zh"), flag.evidence.get("rule_title_en")
    return (zh if _zh() else en) or en or zh or flag.rule


def _num(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.1f}".rstrip("0").rstrip(".")
    return str(value)


def describe(flag: Flag) -> str:
    """The evidence as one sentence a site manager understands."""
    e = flag.evidence
    if flag.state.value == "no_data":
        return _("There is not enough data to judge this rule yet. No data is not counted as compliance: "
                 "check that the site's sensors and agent are sending.")
    if flag.rule.startswith("std:") and "value" in e:
        limit = " – ".join(_num(v) for v in (e.get("min"), e.get("max")) if v is not None)
        if e.get("measure") == "share_within":
            return _("%(metric)s was within %(limit)s in %(share)s of %(hours)s readings over the last %(days)s "
                     "days; the standard %(standard)s v%(version)s asks for at least %(needed)s.",
                     metric=_metric(e.get("metric")), limit=limit, share=f"{float(e['value']):.1%}",
                     hours=_hours_words(e.get("hours")), days=e.get("window_days"),
                     standard=e.get("standard"), version=e.get("version"), needed=f"{float(e['share']):.0%}")
        return _("%(measure)s of %(metric)s over the last %(days)s days was %(value)s; the standard %(standard)s "
                 "v%(version)s asks for %(limit)s.", measure=MEASURES.get(e.get("measure"), e.get("measure")),
                 metric=_metric(e.get("metric")), days=e.get("window_days"), value=_num(e["value"]), limit=limit,
                 standard=e.get("standard"), version=e.get("version"))
    if flag.rule == "agent-unreachable":
        return _("The hub has not reached the site's agent for %(hours)s hours (warning after 24, critical "
                 "after 72). Check the site's network and the agent.", hours=e.get("down_hours"))
    if flag.rule == "feed-silent":
        return _("The agent answers but has sent no new readings since %(at)s. Check the sensors.",
                 at=e.get("newest_record_at") or "—")
    if flag.rule == "standard-unacknowledged":
        return _("Standard %(standard)s v%(version)s was due to be acknowledged by %(due)s.",
                 standard=e.get("standard"), version=e.get("version"), due=(e.get("due_at") or "")[:10])
    if flag.rule == "config-drift":
        return _("The site runs a different config from the one HQ published since %(since)s (keys: %(keys)s).",
                 since=(e.get("drift_since") or "")[:16], keys=", ".join(e.get("drifted_keys") or []) or "—")
    if flag.rule == "revenue-report-missing":
        return _("The revenue report for %(period)s was due by day %(day)s of the next month.",
                 period=e.get("period"), day=e.get("due_day"))
    if flag.rule == "invoice-overdue":
        return _("Invoice %(number)s (%(period)s) was due on %(due)s; CNY %(balance)s is still open.",
                 number=e.get("invoice"), period=e.get("period"), due=e.get("due_date"), balance=e.get("balance"))
    if flag.rule == "red-card":
        red = _("The site's card for %(quarter)s is red (score %(score)s).", quarter=e.get("quarter"),
                score=_num(e.get("score")))
        return red + (" " + cure_words(e) if e.get("window") else "")
    if flag.rule == "termination-review" and e.get("strikes"):
        return _("Strikes within the rolling period reached %(limit)s at %(sites)s. The partnership is under "
                 "review.", limit=_num(e.get("review_at")), sites=", ".join(
                     f"{code} ({_num(s.get('total'))}, {' · '.join(s.get('quarters') or [])})"
                     for code, s in (e.get("strikes") or {}).items()))
    if flag.rule == "termination-review":
        return _("Sites with two red cards in a row (%(quarters)s): %(sites)s. The partnership is under review.",
                 quarters=" → ".join(e.get("quarters") or []), sites=", ".join(e.get("sites") or []))
    if flag.rule == "data-completeness":
        return _("Data coverage for %(month)s was %(coverage)s; the scoring model needs at least %(needed)s.",
                 month=e.get("month"), coverage=f"{float(e.get('coverage') or 0):.0%}",
                 needed=f"{float(e.get('min_coverage') or 0):.0%}")
    return ""


# The system's own reasons are stored in English on each event (the record stays as written);
# these are the ones it writes, read back in the reader's language. A person's own words pass as they are.
_REASONS: tuple[tuple[re.Pattern, object], ...] = (
    (re.compile(r"condition seen"), _l("condition seen")),
    (re.compile(r"no data to judge by"), _l("no data to judge by")),
    (re.compile(r"data is back; condition seen"), _l("data is back; condition seen")),
    (re.compile(r"data is back and meets the rule"), _l("data is back and meets the rule")),
    (re.compile(r"acknowledgement due soon"), _l("acknowledgement due soon")),
    (re.compile(r"acknowledged by HQ"), _l("acknowledged by HQ")),
    (re.compile(r"acknowledged by the partner"), _l("acknowledged by the partner")),
    (re.compile(r"condition held for (?P<held>[\d.]+) h \(rule needs (?P<need>[\d.]+) h\)"),
     _l("condition held for %(held)s h (rule needs %(need)s h)")),
    (re.compile(r"condition clear for (?P<held>[\d.]+) h \(rule keeps open (?P<need>[\d.]+) h\)"),
     _l("condition clear for %(held)s h (rule keeps open %(need)s h)")),
    (re.compile(r"condition cleared before it held for (?P<need>[\d.]+) h"),
     _l("condition cleared before it held for %(need)s h")),
)


def event_reason(reason: str) -> str:
    """An event's reason in the reader's language when the system wrote it; as written otherwise."""
    for pattern, message in _REASONS:
        found = pattern.fullmatch(reason or "")
        if found:
            return str(message) % found.groupdict() if found.groupdict() else str(message)
    return reason


def helpers() -> dict:
    """What the templates of the flag pages use."""
    return {"flag_state": lambda v: STATES.get(getattr(v, "value", v), v),
            "flag_severity": lambda v: SEVERITIES.get(getattr(v, "value", v), v),
            "flag_event": lambda v: EVENTS.get(v, v), "flag_rule": rule_title, "flag_describe": describe,
            "flag_escalation": lambda n: ESCALATION.get(n, n), "flag_standing": lambda v: STANDINGS.get(v, v),
            "flag_reason": event_reason}


def _metric(name: str | None) -> str:
    """A metric's name with its unit in the reader's language (``co2_ppm`` → 二氧化碳（ppm）)."""
    from brand_hub.dashboard.words import metric_words

    return metric_words(name)


def _hours_words(hours: str | None) -> str:
    if hours == "occupied":
        return _("occupied open-hour")
    return _("open-hour") if hours == "open" else _("all")



CARDS = {"green": _l("green"), "yellow": _l("yellow"), "red": _l("red")}


def cure_words(evidence: dict) -> str:
    """What cures a red card's window, and by when, in the reader's language."""
    flags = ", ".join(evidence.get("flags") or [])
    if evidence.get("window") == "missed":
        return _("The cure window closed on %(due)s without a cure: this red counts as a strike.",
                 due=evidence.get("due_on"))
    cure = _("To cure it by %(due)s: the next published card at least %(card)s", due=evidence.get("due_on"),
             card=CARDS.get(evidence.get("min_card") or "yellow", evidence.get("min_card")))
    if flags:
        cure += _(", and these critical flags resolved: %(flags)s", flags=flags)
    return cure + "."
