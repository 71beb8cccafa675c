"""What the scores pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from sqlmodel import Session

from scoring import composite

from ..models import Site
from ..scope import Scope
from ..settings import Settings
from . import card_shown, model_of, published_keys, reports


class NoSuchPeriod(LookupError):
    """The site has no score for the asked period."""


def scorecard(*, session: Session, site: Site, scope: Scope, period: str | None, settings: Settings,
              locale: str, holding=None) -> dict:
    """What a scorecard page shows (the HQ page and the partner's page share it).

    ``card``: the card to show, by the service's publish rule (``card_shown``): a partner
    sees a quarter's card only once HQ published it (``card_pending`` says it is not yet).
    A ``period`` the site has no score for is ``NoSuchPeriod``. ``holding`` (issue 17, the
    portal): the partner's tenures of the site; only the periods they own are shown.
    """
    history = reports.site_history(session=session, site_id=site.id)
    if holding is not None:
        history = [r for r in history if holding.owns_period(r.period)]
    quarters = [r for r in history if r.card is not None]
    shown = [r for r in history if r.period == period] if period else (quarters or history)[-1:]
    if period and not shown:
        raise NoSuchPeriod(period)
    row = shown[0] if shown else None
    model = model_of(settings=settings, row=row) if row else None
    indicators = []
    if row is not None:
        for ind_id, data in row.indicators.items():
            spec = _spec(model, ind_id)
            indicators.append((spec, data))
    key_ids = [i.id for i in model.indicators if i.key_metric] if model else []
    same_kind = [r for r in history if row is None or ("Q" in r.period) == ("Q" in row.period)]
    chart = reports.trend(same_kind, key_ids)
    card, pending = card_shown(row, published_keys(session=session), to_partner=not scope.is_hq)
    return {"row": row, "card": card, "card_pending": pending,
            "model": model, "indicators": indicators, "history": history, "chart": chart,
            "key_titles": {i: _spec(model, i) for i in key_ids},
            "key_titles_json": {i: model.indicator(i).title(locale) for i in key_ids},
            "improve": composite.improve_first([d | {"id": i} for i, d in row.indicators.items()]) if row else [],
            "percentiles": reports.network_percentiles(session=session, row=row) if row else {},
            "card_history": _card_history(session, site, settings, holding)}


def _card_history(session: Session, site: Site, settings: Settings, holding=None):
    """The site's cards, cure windows and strikes as of today in HQ's zone (a partner: its own quarters)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from .history import histories

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(settings.timezone)).date()
    owns = holding.owns_period if holding is not None else None
    return histories(session=session, site_ids=[site.id], settings=settings, today=today, owns=owns)[site.id]


def _spec(model, indicator_id: str):
    if model is None:
        return None
    try:
        return model.indicator(indicator_id)
    except KeyError:
        return None
