"""HQ dashboard pages of the scores area: the network's scores and each site's scorecard."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from scoring import composite

from .. import audit
from ..models import Franchisee, Role, Site
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_EDITORS, roles_required
from . import (ScoringError, card_in_force, load_model, model_of, publication, publish_cards, published_keys, reports,
               sensitivity)

bp = Blueprint("scores", __name__, url_prefix="/hq/scores", template_folder="templates")


@bp.route("/")
@roles_required(HQ_ALL)
def index():
    session = db()
    available = reports.periods(session=session)
    quarters = [p for p in available if "Q" in p]
    period = request.args.get("period") or (quarters or available or [""])[0]
    query = {k: request.args.get(k, "") for k in ("city", "tier", "partner")}
    view = reports.network_view(session=session, period=period, **query) if period else None
    model, rows, problem, published = None, [], "", None
    if view and view.rows:
        model = model_of(settings=settings(), row=view.rows[0][2])
        if model is not None and view.rows[0][2].card is not None:
            rows = sensitivity(session=session, period=period, model=model)
        top = view.rows[0][2]
        if top.card is not None:
            published = publication(session=session, period=period, model_id=top.model_id,
                                    model_version=top.model_version)
    else:
        try:
            model = load_model(settings=settings())
        except ScoringError as exc:
            problem = str(exc)
    return render_template("scores/index.html", periods=available, period=period, view=view, query=query,
                           options=reports.filter_options(session=session), model=model, sensitivity=rows,
                           problem=problem, publication=published,
                           can_publish=Role(current_user.role) in HQ_EDITORS)


@bp.route("/publish", methods=["POST"])
@roles_required(HQ_EDITORS)
def publish():
    """Publish a quarter's cards (the model version the overview shows): partners see them, compliance counts them."""
    session = db()
    period = request.form.get("period", "").strip()
    version = request.form.get("model_version", "")
    if not period:
        flash(_("Choose a quarter to publish."), "error")
        return redirect(url_for(".index"))
    try:
        model = load_model(settings=settings(), version=int(version) if version.isdigit() else None,
                           model_id=request.form.get("model_id") or None)
        row = publish_cards(session=session, period=period, model=model, actor=audit.Actor.of(current_user))
    except ScoringError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index", period=period))
    session.commit()
    flash(_("Cards of %(period)s published (%(model)s v%(version)s).", period=row.period, model=row.model_id,
            version=row.model_version), "success")
    return redirect(url_for(".index", period=period))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_scorecard(code: str):
    session = db()
    site = session.exec(select(Site).where(Site.code == code)).first()
    if site is None:
        abort(404)
    franchisee = session.get(Franchisee, site.franchisee_id)
    return render_template("scores/site_scorecard.html", site=site, franchisee=franchisee,
                           **scorecard_context(session=session, site=site, period=request.args.get("period")))


def scorecard_context(*, session, site: Site, period: str | None, partner: bool = False) -> dict:
    """What a scorecard page shows (the HQ page and the partner's page share it).

    ``card``: the card to show; a partner sees a quarter's card only once HQ published it
    (``card_pending`` then says it is not published yet).
    """
    history = reports.site_history(session=session, site_id=site.id)
    quarters = [r for r in history if r.card is not None]
    shown = [r for r in history if r.period == period] if period else (quarters or history)[-1:]
    if period and not shown:
        abort(404)
    row = shown[0] if shown else None
    model = model_of(settings=settings(), row=row) if row else None
    indicators = []
    if row is not None:
        for ind_id, data in row.indicators.items():
            spec = _spec(model, ind_id)
            indicators.append((spec, data))
    key_ids = [i.id for i in model.indicators if i.key_metric] if model else []
    same_kind = [r for r in history if row is None or ("Q" in r.period) == ("Q" in row.period)]
    chart = reports.trend(same_kind, key_ids)
    card = row.card if row is not None else None
    in_force = card_in_force(row, published_keys(session=session)) if row is not None else None
    pending = card is not None and in_force is None
    return {"row": row, "card": None if partner and pending else card, "card_pending": pending,
            "model": model, "indicators": indicators, "history": history, "chart": chart,
            "key_titles": {i: _spec(model, i) for i in key_ids},
            "key_titles_json": {i: model.indicator(i).title(str(get_locale())) for i in key_ids},
            "improve": composite.improve_first([d | {"id": i} for i, d in row.indicators.items()]) if row else [],
            "percentiles": reports.network_percentiles(session=session, row=row) if row else {},
            "card_history": _card_history(session, site)}


def _card_history(session, site: Site):
    """The site's cards, cure windows and strikes as of today in HQ's zone (shared by HQ and the portal)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from .history import histories

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(settings().timezone)).date()
    return histories(session=session, site_ids=[site.id], settings=settings(), today=today)[site.id]


def _spec(model, indicator_id: str):
    if model is None:
        return None
    try:
        return model.indicator(indicator_id)
    except KeyError:
        return None
