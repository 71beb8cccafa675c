"""The rule catalogue: each rule is an id, a severity, a `for` and a `keep_open_for`, and a probe.

A probe is pure: it reads the facts gathered for one site (or one partner) and says,
per subject, what it sees now (firing, clear or no data). The brand standards'
machine-checkable rules become rules here one for one; the system rules watch the
feed, acknowledgements, config drift, revenue reports, invoices and cards.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from scoring.composite import two_reds_in_a_row
from scoring.hours import is_open
from scoring.nps import NpsCounts, nps_value
from scoring.periods import Period, period_of
from scoring.strikes import CardHistory, CardRules, CriticalFlag, PublishedCard, history

from .lifecycle import Observation, Timing

WINDOW_DAYS = {"month": 30, "quarter": 91}
MIN_OPEN_BUCKETS = 8  # fewer 15-minute readings than two hours in a window: no data, not a verdict
STANDARD_FOR = timedelta(hours=2)
STANDARD_KEEP_OPEN = timedelta(hours=24)


# ------------------------------------------------------------------ facts (plain data, gathered by facts.py)

@dataclass(frozen=True)
class TargetFacts:
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    newest_record_at: datetime | None
    health_at: datetime | None
    last_error: str = ""


@dataclass(frozen=True)
class AckFacts:
    key: str
    version: int
    due_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class DriftFacts:
    drift_since: datetime | None
    drifted_keys: list[str]
    desired_hash: str
    applied_hash: str


@dataclass(frozen=True)
class ScoreFacts:
    period: str
    status: str
    score: float | None
    card: str | None
    coverage: float
    indicators: dict[str, Any]
    computed_at: datetime | None = None
    published_on: date | None = None     # when HQ published the quarter's card (quarters only)


@dataclass(frozen=True)
class MetricSummary:
    """What a metric rule measures, aggregated in the database over the readings the rule judges
    (the 15-minute means in its window, its hours): how many, how many within the rule's band, the
    extremes and the values at the ranks the median and the 95th percentile read (1-based, ascending)."""

    n: int
    within: int = 0
    low: float | None = None
    high: float | None = None
    ranked: dict[int, float] = field(default_factory=dict)


SUMMARISED = ("share_within", "median", "p95", "max", "min")   # measures an aggregate answers exactly


def summary_key(rule: dict[str, Any]) -> tuple:
    """Rules judging the same readings against the same band share one summary."""
    return (rule["metric"], rule.get("hours", "all"), WINDOW_DAYS.get(rule.get("window", "month"), 30),
            rule.get("min"), rule.get("max"))


def summary_ranks(n: int) -> set[int]:
    """The ranks (1-based, ascending) a summary of ``n`` values keeps: the median's middle one or two
    and the 95th percentile's nearest rank."""
    return {(n + 1) // 2, n // 2 + 1, max(1, math.ceil(0.95 * n))} if n else set()


@dataclass(frozen=True)
class InvoiceFacts:
    number: str
    period: str
    due_date: date | None
    balance: str
    overdue: bool


@dataclass
class SiteFacts:
    """Everything the probes may read about one site."""

    site_id: int
    code: str
    franchisee_id: int
    tier: str = "standard"
    region: str = ""
    timezone: str = "Asia/Shanghai"
    opening_hours: dict[str, Any] = field(default_factory=dict)
    opened_on: date | None = None
    has_agent: bool = True
    target: TargetFacts | None = None
    readings: dict[str, list[tuple[datetime, float, str]]] = field(default_factory=dict)  # metric → (start, mean, zone)
    metric_summaries: dict[tuple, MetricSummary] = field(default_factory=dict)  # summary_key(rule) → aggregates
    nps: list[tuple[datetime, int]] = field(default_factory=list)
    events: list[tuple[str, datetime, str, int | None]] = field(default_factory=list)  # kind, at, ref, quantity
    acks: list[AckFacts] = field(default_factory=list)
    drift: DriftFacts | None = None
    revenue_periods: set[str] = field(default_factory=set)
    scores: dict[str, ScoreFacts] = field(default_factory=dict)  # period → newest score
    critical_flags: list[CriticalFlag] = field(default_factory=list)  # for cure windows
    open_at: dict[datetime, bool] = field(default_factory=dict, repr=False)  # memo: is the site open then
    # issue 11: the plausibility verdict of each month's report in force, and the reasons of the implausible ones
    revenue_verdicts: dict[str, str] = field(default_factory=dict)
    revenue_doubts: dict[str, str] = field(default_factory=dict)

    def is_open(self, at: datetime) -> bool:
        """Whether the site is open during the 15-minute bucket starting ``at`` (memoised per run)."""
        known = self.open_at.get(at)
        if known is None:
            known = self.open_at[at] = is_open(at, 15, self.timezone, self.opening_hours)
        return known


@dataclass
class PartnerFacts:
    franchisee_id: int
    code: str
    invoices: list[InvoiceFacts] = field(default_factory=list)
    sites: list[SiteFacts] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """The run's clock and the settings the probes need."""

    now: datetime
    timezone: str = "Asia/Shanghai"
    revenue_report_due_day: int = 10
    drift_grace: timedelta = timedelta(minutes=60)
    min_coverage: float = 0.7
    card_rules: CardRules | None = None   # the model's card_rules; None: "two reds in a row"

    @property
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.timezone)).date()


SiteProbe = Callable[[SiteFacts, Context], dict[str, Observation]]
PartnerProbe = Callable[[PartnerFacts, Context], dict[str, Observation]]


@dataclass(frozen=True)
class Rule:
    """One rule: what it is called, how bad, how long before opening and before resolving, and its probe.

    ``scope`` is ``site`` or ``partner``; ``inhibited_by_agent_down``: the site's
    agent-unreachable condition silences it (one cause, one flag); ``enumerates``:
    the probe names every firing subject, so a subject it no longer names is clear.
    """

    id: str
    title_en: str
    title_zh: str
    severity: str
    timing: Timing
    probe: Callable[..., dict[str, Observation]]
    scope: str = "site"
    inhibited_by_agent_down: bool = False
    enumerates: bool = False
    source: dict[str, Any] = field(default_factory=dict)  # the standard (key, version, rule) it came from


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ------------------------------------------------------------------ system rules

AGENT_WARNING_AFTER = timedelta(hours=24)
AGENT_CRITICAL_AFTER = timedelta(hours=72)
FEED_UP_WITHIN = timedelta(hours=2)
FEED_STALE_AFTER = timedelta(hours=2)


def agent_unreachable(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """The hub has not reached the site's agent: warning after 24 h, critical after 72 h."""
    if not site.has_agent or site.target is None or site.target.last_attempt_at is None:
        return {"": Observation("clear")}
    last = site.target.last_success_at
    if last is not None and ctx.now - last < timedelta(minutes=30):
        return {"": Observation("clear", evidence={"last_success_at": _iso(last)})}
    since = last or site.target.last_attempt_at
    down = ctx.now - since
    severity = "critical" if down >= AGENT_CRITICAL_AFTER else "warning"
    evidence = {"last_success_at": _iso(last), "down_hours": round(down.total_seconds() / 3600, 1),
                "last_error": site.target.last_error[:200], "warning_after_hours": 24, "critical_after_hours": 72}
    return {"": Observation("firing", since=since, severity=severity, evidence=evidence)}


def agent_is_down(site: SiteFacts, ctx: Context) -> bool:
    """True once the agent has been unreachable for the agent rule's `for` (then it silences the metric rules)."""
    seen = agent_unreachable(site, ctx)[""]
    return seen.status == "firing" and seen.since is not None and ctx.now - seen.since >= AGENT_WARNING_AFTER


def feed_silent(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """The agent answers but sends no new records: sensors or the intake are broken at the site."""
    target = site.target
    if target is None or target.last_success_at is None or ctx.now - target.last_success_at > FEED_UP_WITHIN:
        return {"": Observation("clear")}
    newest = target.newest_record_at
    if newest is not None and ctx.now - newest <= FEED_STALE_AFTER:
        return {"": Observation("clear", evidence={"newest_record_at": _iso(newest)})}
    since = (newest + FEED_STALE_AFTER) if newest else target.last_success_at
    evidence = {"newest_record_at": _iso(newest), "last_success_at": _iso(target.last_success_at),
                "stale_after_hours": FEED_STALE_AFTER.total_seconds() / 3600}
    return {"": Observation("firing", since=since, evidence=evidence)}


def standard_unacknowledged(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """Each standard version the site has not acknowledged by its due date."""
    out = {}
    for ack in site.acks:
        if ack.acknowledged_at is None and ctx.now >= ack.due_at:
            out[f"{ack.key} v{ack.version}"] = Observation(
                "firing", since=ack.due_at,
                evidence={"standard": ack.key, "version": ack.version, "due_at": _iso(ack.due_at)})
    return out


def config_drift(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """The config the agent runs differs from the one HQ published (the rule's `for` is the grace period)."""
    if site.drift is None or site.drift.drift_since is None:
        return {"": Observation("clear")}
    evidence = {"drift_since": _iso(site.drift.drift_since), "drifted_keys": site.drift.drifted_keys[:20],
                "desired_hash": site.drift.desired_hash, "applied_hash": site.drift.applied_hash,
                "grace_minutes": ctx.drift_grace.total_seconds() / 60}
    return {"": Observation("firing", since=site.drift.drift_since, evidence=evidence)}


def _months_back(today: date, count: int) -> list[Period]:
    current = period_of(today)
    out = []
    for _ in range(count):
        current = current.previous()
        out.append(current)
    return out


def revenue_report_missing(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """A month's revenue report not in after the due day of the next month (the last three months)."""
    out = {}
    zone = ZoneInfo(ctx.timezone)
    for period in _months_back(ctx.today, 3):
        if site.opened_on is not None and site.opened_on >= period.after:
            continue
        due = datetime(period.after.year, period.after.month, ctx.revenue_report_due_day, tzinfo=zone) \
            + timedelta(days=1)
        if ctx.now < due or str(period) in site.revenue_periods:
            continue
        out[str(period)] = Observation("firing", since=due.astimezone(timezone.utc),
                                       evidence={"period": str(period), "due_day": ctx.revenue_report_due_day})
    return out


def invoice_overdue(partner: PartnerFacts, ctx: Context) -> dict[str, Observation]:
    """Each issued invoice of the partner with a balance past its due date."""
    out = {}
    for invoice in partner.invoices:
        if invoice.overdue and invoice.due_date is not None:
            due = datetime.combine(invoice.due_date + timedelta(days=1), datetime.min.time(), ZoneInfo(ctx.timezone))
            out[invoice.number] = Observation("firing", since=due.astimezone(timezone.utc), evidence={
                "invoice": invoice.number, "period": invoice.period, "due_date": invoice.due_date.isoformat(),
                "balance": invoice.balance})
    return out


def last_quarters(today: date, count: int) -> list[str]:
    """The last ``count`` finished quarters, newest first."""
    current = period_of(today, quarter=True)
    out = []
    for _ in range(count):
        current = current.previous()
        out.append(str(current))
    return out


def card_history(site: SiteFacts, ctx: Context) -> CardHistory:
    """The site's published quarterly cards, cure windows and strikes under the model's card rules."""
    cards = [PublishedCard(p, s.card, s.published_on or ctx.today) for p, s in site.scores.items()
             if "Q" in p and s.card in ("green", "yellow", "red")]
    return history(cards, site.critical_flags, ctx.card_rules or CardRules(), ctx.today)


def red_card(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """A red card stands until its cure window is cured (with card rules), else while it is the last card."""
    quarter = last_quarters(ctx.today, 1)[0]
    score = site.scores.get(quarter)
    if ctx.card_rules is not None:
        windows = [w for w in card_history(site, ctx).windows if w.state != "cured"]
        if windows:
            window = windows[-1]
            red = site.scores[window.quarter]
            return {"": Observation("firing", evidence={
                "quarter": window.quarter, "card": "red", "score": red.score, "window": window.state,
                "opened_on": window.opened_on.isoformat(), "due_on": window.due_on.isoformat(),
                "min_card": ctx.card_rules.cure_min_card, "flags": list(window.unresolved),
                "next_card": window.next_card})}
    if score is None or score.card in (None, "insufficient"):
        return {"": Observation("no_data", evidence={"quarter": quarter})}
    evidence = {"quarter": quarter, "card": score.card, "score": score.score}
    return {"": Observation("firing" if score.card == "red" and ctx.card_rules is None else "clear",
                            evidence=evidence)}


def termination_review(partner: PartnerFacts, ctx: Context) -> dict[str, Observation]:
    """Strikes within the rolling period reach the model's limit at a site (or, without card rules, two reds
    in a row): the partner goes under termination review."""
    previous, last = reversed(last_quarters(ctx.today, 2))
    sites, strikes = [], {}
    for site in partner.sites:
        if ctx.card_rules is not None:
            result = card_history(site, ctx)
            if result.review:
                sites.append(site.code)
                strikes[site.code] = {"total": result.total, "since": result.since_quarter,
                                      "quarters": [s.quarter for s in result.strikes]}
            continue
        cards = [(site.scores.get(q).card if site.scores.get(q) else None) for q in (previous, last)]
        if two_reds_in_a_row(cards):
            sites.append(site.code)
    if not sites:
        return {"": Observation("clear")}
    evidence: dict[str, Any] = {"quarters": [previous, last], "sites": sites}
    if strikes:
        evidence.update(strikes=strikes, review_at=ctx.card_rules.review_at)
    return {"": Observation("firing", evidence=evidence)}


def data_completeness(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
    """The latest finished month's score had too little data (below the model's minimum coverage)."""
    month = str(period_of(ctx.today).previous())
    score = site.scores.get(month)
    if score is None:
        return {"": Observation("no_data", evidence={"month": month})}
    evidence = {"month": month, "coverage": round(score.coverage, 3), "min_coverage": ctx.min_coverage,
                "status": score.status}
    below = score.status == "insufficient" or score.coverage < ctx.min_coverage
    return {"": Observation("firing" if below else "clear", evidence=evidence)}


H = timedelta(hours=1)
SYSTEM_RULES: tuple[Rule, ...] = (
    Rule("agent-unreachable", "Site agent unreachable", "门店采集端无法连接", "warning",
         Timing(for_=AGENT_WARNING_AFTER, keep_open_for=H), agent_unreachable),
    Rule("feed-silent", "Data feed silent while the agent is up", "采集端在线但无新数据", "major",
         Timing(for_=4 * H, keep_open_for=H), feed_silent),
    Rule("standard-unacknowledged", "Standard not acknowledged by its due date", "标准未按期确认", "minor",
         Timing(), standard_unacknowledged, enumerates=True),
    Rule("config-drift", "Site config drifted past its grace period", "门店配置偏离超过宽限期", "major",
         Timing(for_=H), config_drift),
    Rule("revenue-report-missing", "Monthly revenue report missing", "月度营业额报告缺失", "major",
         Timing(), revenue_report_missing, enumerates=True),
    Rule("invoice-overdue", "Invoice overdue", "账单逾期未付", "major",
         Timing(), invoice_overdue, scope="partner", enumerates=True),
    Rule("red-card", "Red card for the quarter", "季度红牌", "major", Timing(), red_card),
    Rule("termination-review", "Two red cards in a row: termination review", "连续两张红牌：解约审查",
         "critical", Timing(), termination_review, scope="partner"),
    Rule("data-completeness", "Data completeness below the model's minimum", "数据完整度低于模型要求", "minor",
         Timing(), data_completeness, inhibited_by_agent_down=True),
)


def system_rules(ctx: Context) -> tuple[Rule, ...]:
    """The system rules with the grace periods this run's settings give."""
    out = []
    for rule in SYSTEM_RULES:
        if rule.id == "config-drift":
            rule = Rule(**{**rule.__dict__, "timing": Timing(for_=ctx.drift_grace, keep_open_for=H)})
        out.append(rule)
    return tuple(out)


# ------------------------------------------------------------------ rules from the brand standards

def _window(rule: dict[str, Any], ctx: Context) -> tuple[datetime, int]:
    days = WINDOW_DAYS.get(rule.get("window", "month"), 30)
    return ctx.now - timedelta(days=days), days


def _measure(values: list[float], measure: str, rule: dict[str, Any]) -> float | None:
    if not values:
        return None
    if measure == "share_within":
        low, high = rule.get("min", float("-inf")), rule.get("max", float("inf"))
        return sum(1 for v in values if low <= v <= high) / len(values)
    if measure == "median":
        return float(statistics.median(values))
    if measure == "mean":
        return float(statistics.fmean(values))
    if measure == "p95":
        ordered = sorted(values)
        return float(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])  # nearest rank
    if measure == "max":
        return float(max(values))
    if measure == "min":
        return float(min(values))
    return float(values[-1])  # value: the single current figure


def _measure_summary(summary: MetricSummary, measure: str) -> float:
    """``_measure`` of the values a summary aggregates (``SUMMARISED`` measures only), to the bit."""
    n = summary.n
    if measure == "share_within":
        return summary.within / n
    if measure == "median":
        if n % 2:
            return float(summary.ranked[(n + 1) // 2])
        return float((summary.ranked[n // 2] + summary.ranked[n // 2 + 1]) / 2)
    if measure == "p95":
        return float(summary.ranked[max(1, math.ceil(0.95 * n))])
    return float(summary.high if measure == "max" else summary.low)


def meets(value: float, rule: dict[str, Any]) -> bool:
    """Whether a measured value satisfies the rule's threshold (share for share_within)."""
    if rule["measure"] == "share_within":
        return value >= float(rule["share"])
    if "min" in rule and value < rule["min"]:
        return False
    if "max" in rule and value > rule["max"]:
        return False
    return True


def _metric_values(site: SiteFacts, rule: dict[str, Any], start: datetime) -> list[float]:
    """The readings a rule judges: all, those in open hours, or those in open hours
    when someone was in the zone (an empty meeting room with the lights off is no breach)."""
    rows = [(at, mean, zone) for at, mean, zone in site.readings.get(rule["metric"], []) if at >= start]
    hours = rule.get("hours", "all")
    if hours != "all":
        rows = [row for row in rows if site.is_open(row[0])]
    if hours == "occupied":
        occupied = {(zone, at) for at, mean, zone in site.readings.get("zone_occupied", []) if mean > 0}
        rows = [row for row in rows if (row[2], row[0]) in occupied]
    return [mean for _, mean, _ in rows]


def _ticket_hours(site: SiteFacts, start: datetime, until: str) -> list[float]:
    opened = {ref: at for kind, at, ref, _ in site.events if kind == "ticket_opened"}
    out = []
    for kind, at, ref, _ in site.events:
        if kind == until and ref in opened and opened[ref] >= start:
            out.append((at - opened[ref]).total_seconds() / 3600)
    return out


def _indicator_values(site: SiteFacts, rule: dict[str, Any], start: datetime, days: int,
                      ctx: Context) -> list[float] | None:
    """The values an operations indicator is measured over; None when there is nothing to judge by."""
    name = rule["indicator"]
    per_month = 30 / days
    if name == "nps":
        counts = NpsCounts.of([score for at, score in site.nps if at >= start])
        value = nps_value(counts)
        return None if value is None else [value]
    if name == "nps_answers":
        return [sum(1 for at, _ in site.nps if at >= start) * per_month]
    if name == "community_events":
        return [sum(1 for kind, at, _, _ in site.events if kind == "community_event" and at >= start) * per_month]
    if name == "community_attendance":
        return [sum(q or 0 for kind, at, _, q in site.events if kind == "community_event" and at >= start)
                * per_month]
    if name == "ticket_first_response_hours":
        return _ticket_hours(site, start, "ticket_first_response") or None
    if name == "ticket_resolution_hours":
        return _ticket_hours(site, start, "ticket_resolved") or None
    if name == "agent_offline_hours":
        if site.target is None or site.target.last_attempt_at is None:
            return None
        last = site.target.last_success_at or site.target.last_attempt_at
        return [max(0.0, (ctx.now - last).total_seconds() / 3600)]
    if name == "implausible_revenue_reports":  # issue 11: months of the window whose report is implausible
        since = str(period_of(start.astimezone(ZoneInfo(ctx.timezone)).date()))
        judged = [p for p, verdict in site.revenue_verdicts.items() if p >= since and verdict != "insufficient_data"]
        return [float(sum(1 for p in judged if p in site.revenue_doubts))] if judged else None
    if name == "data_completeness":
        score = site.scores.get(str(period_of(ctx.today).previous()))
        raw = ((score.indicators or {}).get("data_completeness") or {}).get("raw") if score else None
        return None if raw is None else [float(raw)]
    return None


def standard_probe(standard: dict[str, Any], rule: dict[str, Any]) -> SiteProbe:
    """A probe for one machine-checkable rule of one published standard."""

    def probe(site: SiteFacts, ctx: Context) -> dict[str, Observation]:
        if not _applies(standard.get("content", {}), site):
            return {}
        start, days = _window(rule, ctx)
        summary = site.metric_summaries.get(summary_key(rule)) if "metric" in rule else None
        if summary is not None:  # aggregated in the database (facts.py): the same figures as the values give
            values: list[float] | None = None
        elif "metric" in rule:
            values = _metric_values(site, rule, start)
            if values is not None and len(values) < MIN_OPEN_BUCKETS:
                values = None
        else:
            values = _indicator_values(site, rule, start, days, ctx)
        evidence = {"standard": standard["key"], "version": standard["version"], "rule": rule["id"],
                    "metric": rule.get("metric") or rule.get("indicator"), "measure": rule["measure"],
                    "min": rule.get("min"), "max": rule.get("max"), "share": rule.get("share"),
                    "hours": rule.get("hours", "all"), "window_days": days, "window_start": _iso(start),
                    "window_end": _iso(ctx.now)}
        if summary is not None and summary.n >= MIN_OPEN_BUCKETS:
            value, samples = _measure_summary(summary, rule["measure"]), summary.n
        elif not values:
            return {"": Observation("no_data", evidence={**evidence, "samples": 0})}
        else:
            value, samples = _measure(values, rule["measure"], rule), len(values)
        assert value is not None
        evidence.update(value=round(value, 4), samples=samples)
        if rule.get("indicator") == "implausible_revenue_reports":  # issue 11: which months, and why
            evidence["reports"] = {p: why for p, why in sorted(site.revenue_doubts.items())
                                   if p >= str(period_of(start.astimezone(ZoneInfo(ctx.timezone)).date()))}
        return {"": Observation("clear" if meets(value, rule) else "firing", evidence=evidence)}

    return probe


def _applies(content: dict[str, Any], site: SiteFacts) -> bool:
    scope = content.get("applies_to") or {}
    tiers, regions = scope.get("tiers"), scope.get("regions")
    return (not tiers or site.tier in tiers) and (not regions or site.region in regions)


def standard_rules(standards: list[dict[str, Any]]) -> tuple[Rule, ...]:
    """One rule per machine-checkable rule of each standard's newest published version.

    ``standards``: dicts with key, version, title_zh, title_en, content (as published).
    """
    out = []
    for standard in standards:
        for rule in standard.get("content", {}).get("rules", []) or []:
            if not isinstance(rule, dict) or "id" not in rule or "measure" not in rule:
                continue
            out.append(Rule(
                id=f"std:{standard['key']}/{rule['id']}", title_en=standard.get("title_en") or standard["key"],
                title_zh=standard.get("title_zh") or standard["key"], severity=rule.get("severity", "minor"),
                timing=Timing(for_=STANDARD_FOR, keep_open_for=STANDARD_KEEP_OPEN),
                probe=standard_probe(standard, rule),
                # one cause, one flag: while the agent is down the system's agent-unreachable flag
                # speaks for the site, including for a standard's own offline-hours rule
                inhibited_by_agent_down=True,
                source={"standard": standard["key"], "version": standard["version"], "rule": rule}))
    return tuple(out)
