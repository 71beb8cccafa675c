"""HQ dashboard pages of the scores area: the network's scores and each site's scorecard."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from sqlmodel import select

from scoring import composite

from ..models import Franchisee, Site
from ..web import db, settings
from ..web.access import HQ_ALL, roles_required
from . import ScoringError, load_model, model_of, reports, sensitivity

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
    model, rows, problem = None, [], ""
    if view and view.rows:
        model = model_of(settings=settings(), row=view.rows[0][2])
        if model is not None and view.rows[0][2].card is not None:
            rows = sensitivity(session=session, period=period, model=model)
    else:
        try:
            model = load_model(settings=settings())
        except ScoringError as exc:
            problem = str(exc)
    return render_template("scores/index.html", periods=available, period=period, view=view, query=query,
                           options=reports.filter_options(session=session), model=model, sensitivity=rows,
                           problem=problem)


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


def scorecard_context(*, session, site: Site, period: str | None) -> dict:
    """What a scorecard page shows (the HQ page and the partner's page share it)."""
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
    return {"row": row, "model": model, "indicators": indicators, "history": history, "chart": chart,
            "key_titles": {i: _spec(model, i) for i in key_ids},
            "key_titles_json": {i: model.indicator(i).title(str(get_locale())) for i in key_ids},
            "improve": composite.improve_first([d | {"id": i} for i, d in row.indicators.items()]) if row else [],
            "percentiles": reports.network_percentiles(session=session, row=row) if row else {}}


def _spec(model, indicator_id: str):
    if model is None:
        return None
    try:
        return model.indicator(indicator_id)
    except KeyError:
        return None
