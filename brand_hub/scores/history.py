"""A site's card history as partners and HQ read it: published cards, cure windows, strikes.

The rules are the scoring model's ``card_rules``; the arithmetic is ``scoring.strikes``.
Compliance decides flags from the same rules on its own facts; this module serves the
pages and the renewal record.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from collections.abc import Callable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from scoring.strikes import CardHistory, CardRules, CriticalFlag, PublishedCard, Window, history
from standards.scoring_model import current_model

from ..models.compliance import Flag, Severity
from ..models.scoring import SiteScore
from ..settings import Settings
from . import Publications, card_in_force
from . import publications as read_publications


def card_rules(settings: Settings) -> CardRules:
    """The current model's card rules (the defaults when the model has none)."""
    try:
        return CardRules.from_model(current_model(settings.scoring_dir or None).source.get("card_rules"))
    except Exception:  # an unreadable model is reported by the scores pages; the defaults still explain cards
        return CardRules()


def histories(*, session: Session, site_ids: list[int], settings: Settings, today: date,
              owns: Callable[[str], bool] | None = None,
              publications: Publications | None = None) -> dict[int, CardHistory]:
    """Each site's history of published quarterly cards as of ``today`` (only the quarters ``owns`` keeps).

    ``publications``: the page's card publications, when it read them already (``scores.publications``).
    """
    if not site_ids:
        return {}
    zone = ZoneInfo(settings.timezone)
    if publications is None:
        publications = read_publications(session=session)
    published, dates = publications.keys, publications.dates(settings.timezone)
    cards: dict[int, dict[str, PublishedCard]] = defaultdict(dict)
    for row in session.exec(select(SiteScore).options(defer(SiteScore.indicators))   # cards only, not scorecards
                            .where(SiteScore.site_id.in_(site_ids), SiteScore.period.like("%Q%"))
                            .order_by(SiteScore.computed_at, SiteScore.id)):
        card = card_in_force(row, published)
        if owns is not None and not owns(row.period):
            continue
        if card in ("green", "yellow", "red"):   # newest published computation of each quarter wins
            cards[row.site_id][row.period] = PublishedCard(
                row.period, card, dates.get((row.period, row.model_id, row.model_version), today))
    flags: dict[int, list[CriticalFlag]] = defaultdict(list)
    for site_id, rule, subject, opened, resolved in session.exec(
            select(Flag.site_id, Flag.rule, Flag.subject, Flag.opened_at, Flag.resolved_at)
            .where(Flag.site_id.in_(site_ids), Flag.severity == Severity.critical, Flag.opened_at.is_not(None))):
        flags[site_id].append(CriticalFlag(f"{rule} {subject}".strip(), opened.astimezone(zone).date(),
                                           resolved.astimezone(zone).date() if resolved else None))
    rules = card_rules(settings)
    return {site_id: history(list(cards[site_id].values()), flags[site_id], rules, today) for site_id in site_ids}


@dataclass
class PartnerCards:
    """A partner's card history across its sites: one timeline, the open cure windows, each site's strikes."""

    events: list[tuple[date, str, str, str]]   # (when, kind, quarter, site code), newest first
    open_windows: list[tuple[str, Window]]      # (site code, window)
    strikes: dict[str, float]                   # site code → strikes in the rolling period
    review: list[str]                            # site codes whose strikes reach the review line
    rules: CardRules


def partner_cards(*, session: Session, sites: dict[int, str], settings: Settings, today: date,
                  publications: Publications | None = None) -> PartnerCards:
    """The cards of ``sites`` (id → code) as one partner timeline (HQ's partner page, the partner's home)."""
    found = histories(session=session, site_ids=list(sites), settings=settings, today=today,
                      publications=publications)
    events = sorted(((when, kind, quarter, sites[site_id]) for site_id, h in found.items()
                     for when, kind, quarter in h.events), reverse=True)
    return PartnerCards(events=events,
                        open_windows=[(sites[site_id], w) for site_id, h in found.items() for w in h.windows
                                      if w.state == "open"],
                        strikes={sites[site_id]: h.total for site_id, h in found.items() if h.total},
                        review=[sites[site_id] for site_id, h in found.items() if h.review],
                        rules=card_rules(settings))
