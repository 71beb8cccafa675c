"""Cards that accumulate: cure windows after a red card, strikes in a rolling period, termination review.

A red card is not the end: it opens a *cure window*. The partner cures it when the next
published card is at least the model's ``cure.min_card`` and the critical flags open
when the window opened are resolved by its due date. An uncured red is a strike; a
yellow card counts as a fraction of one; a cured red keeps counting for a while, then
stops. Enough strikes inside a rolling number of quarters put the partner under
termination review. Every number is in the scoring model file (``card_rules``), so a
brand can tune them and old decisions can be reproduced.

Pure code: cards, flags and dates in; windows, strikes and the verdict out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from .periods import parse_period, period_of

CARD_ORDER = {"red": 0, "yellow": 1, "green": 2}


@dataclass(frozen=True)
class CardRules:
    """``card_rules`` of a scoring model file (defaults: today's "two reds in a row" outcome)."""

    version: int = 1
    cure_window_days: int = 120
    cure_min_card: str = "yellow"
    cure_needs_critical_flags_resolved: bool = True
    red_strike: float = 1.0
    yellow_strike: float = 0.5
    review_at: float = 2.0
    rolling_quarters: int = 8
    cured_red_counts_days: int = 365

    @classmethod
    def from_model(cls, data: dict | None) -> "CardRules":
        """Read the ``card_rules`` section (already validated by the model's schema)."""
        if not data:
            return cls()
        cure, strikes = data.get("cure", {}), data.get("strikes", {})
        return cls(version=int(data.get("version", 1)),
                   cure_window_days=int(cure.get("window_days", cls.cure_window_days)),
                   cure_min_card=str(cure.get("min_card", cls.cure_min_card)),
                   cure_needs_critical_flags_resolved=bool(cure.get("critical_flags_resolved",
                                                                    cls.cure_needs_critical_flags_resolved)),
                   red_strike=float(strikes.get("red", cls.red_strike)),
                   yellow_strike=float(strikes.get("yellow", cls.yellow_strike)),
                   review_at=float(strikes.get("review_at", cls.review_at)),
                   rolling_quarters=int(strikes.get("rolling_quarters", cls.rolling_quarters)),
                   cured_red_counts_days=int(strikes.get("cured_red_counts_days", cls.cured_red_counts_days)))


@dataclass(frozen=True)
class PublishedCard:
    quarter: str
    card: str                 # green / yellow / red
    published_on: date


@dataclass(frozen=True)
class CriticalFlag:
    label: str                # what the partner reads, e.g. "feed-silent" or a flag's title
    opened_on: date
    resolved_on: date | None


@dataclass(frozen=True)
class Window:
    """The cure window a red card opened, and how it ended (or not yet)."""

    quarter: str
    opened_on: date
    due_on: date
    state: str                # open / cured / missed
    closed_on: date | None
    next_card: str | None
    flags: tuple[str, ...]    # critical flags the window names
    unresolved: tuple[str, ...]


@dataclass(frozen=True)
class Strike:
    quarter: str
    card: str
    weight: float
    reason: str               # red_open / red_missed / red_cured / yellow
    counts_until: date | None = None


@dataclass
class CardHistory:
    cards: list[PublishedCard]
    windows: list[Window]
    strikes: list[Strike]
    rules: CardRules
    total: float = 0.0
    review: bool = False
    since_quarter: str = ""
    events: list[tuple[date, str, str]] = field(default_factory=list)   # (when, kind, quarter), oldest first


def history(cards: list[PublishedCard], flags: list[CriticalFlag], rules: CardRules, today: date) -> CardHistory:
    """Windows, strikes and the review verdict of one site's published cards as of ``today``."""
    cards = sorted(cards, key=lambda c: parse_period(c.quarter).first)
    windows = [_window(card, _next(cards, card), flags, rules, today) for card in cards if card.card == "red"]
    first = _rolling_start(today, rules.rolling_quarters)
    strikes: list[Strike] = []
    by_quarter = {w.quarter: w for w in windows}
    for card in cards:
        if parse_period(card.quarter).first < first:
            continue
        if card.card == "yellow" and rules.yellow_strike:
            strikes.append(Strike(card.quarter, "yellow", rules.yellow_strike, "yellow"))
        elif card.card == "red":
            window = by_quarter[card.quarter]
            if window.state == "cured":
                until = (window.closed_on or window.due_on) + timedelta(days=rules.cured_red_counts_days)
                if today <= until:
                    strikes.append(Strike(card.quarter, "red", rules.red_strike, "red_cured", until))
            else:
                strikes.append(Strike(card.quarter, "red", rules.red_strike, f"red_{window.state}"))
    total = round(sum(s.weight for s in strikes), 6)
    events = sorted([(c.published_on, f"card_{c.card}", c.quarter) for c in cards]
                    + [(w.closed_on, f"window_{w.state}", w.quarter) for w in windows if w.closed_on]
                    + [(w.opened_on, "window_opened", w.quarter) for w in windows])
    return CardHistory(cards=cards, windows=windows, strikes=strikes, rules=rules, total=total,
                       review=total >= rules.review_at, since_quarter=str(period_of(first, quarter=True)),
                       events=events)


def _next(cards: list[PublishedCard], card: PublishedCard) -> PublishedCard | None:
    later = [c for c in cards if parse_period(c.quarter).first > parse_period(card.quarter).first]
    return later[0] if later else None


def _window(card: PublishedCard, following: PublishedCard | None, flags: list[CriticalFlag], rules: CardRules,
            today: date) -> Window:
    opened, due = card.published_on, card.published_on + timedelta(days=rules.cure_window_days)
    named = [f for f in flags if f.opened_on <= opened and (f.resolved_on is None or f.resolved_on > opened)] \
        if rules.cure_needs_critical_flags_resolved else []
    unresolved = tuple(f.label for f in named if f.resolved_on is None or f.resolved_on > min(today, due))
    last_fix = max((f.resolved_on for f in named if f.resolved_on), default=opened)
    good_card = following is not None and CARD_ORDER[following.card] >= CARD_ORDER[rules.cure_min_card]
    base = dict(quarter=card.quarter, opened_on=opened, due_on=due, next_card=following.card if following else None,
                flags=tuple(f.label for f in named), unresolved=unresolved)
    if following is not None and not good_card:
        return Window(state="missed", closed_on=following.published_on, **base)
    if unresolved and today > due:
        return Window(state="missed", closed_on=due, **base)
    if good_card and not unresolved:
        return Window(state="cured", closed_on=max(following.published_on, last_fix), **base)
    return Window(state="open", closed_on=None, **base)


def _rolling_start(today: date, quarters: int) -> date:
    """The first day of the rolling period: the last ``quarters`` finished quarters."""
    current = period_of(today, quarter=True)
    for _ in range(quarters):
        current = current.previous()
    return current.first
