"""HQ dashboard pages of the scores area: the network's scores and each site's scorecard."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit
from ..models import Franchisee, Role
from ..paging import page_number
from ..scope import Scope
from ..web import converters, db, settings
from ..web.access import HQ_ALL, HQ_EDITORS, roles_required
from ..web.lookups import or_404, site_or_404
from ..web.refusals import refused
from . import ScoringError, load_model, model_of, publication, publish_cards, reads, reports

bp = Blueprint("scores", __name__, url_prefix="/hq/scores", template_folder="templates")


@bp.route("/")
@roles_required(HQ_ALL)
def index():
    session = db()
    available = reports.periods(session=session)
    quarters = [p for p in available if "Q" in p]
    period = converters.period(request.args.get("period"), "period") or (quarters or available or [""])[0]
    query = {k: request.args.get(k, "") for k in ("city", "tier", "partner")}
    view = reads.network(session=session, scope=Scope.hq(), period=period, page=page_number(request.args),
                         **query) if period else None
    model, rows, problem, published = None, [], "", None
    if view and view.top:
        top = view.top
        model = model_of(settings=settings(), row=top)
        if model is not None and top.card is not None:
            rows = reads.sensitivity(session=session, period=period, model=model)
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
    period = converters.period(request.form.get("period"), "period", default="")
    version = request.form.get("model_version", "")
    if not period:
        flash(_("Choose a quarter to publish."), "error")
        return redirect(url_for(".index"))
    with refused(ScoringError) as refusal:
        model = load_model(settings=settings(), version=int(version) if version.isdigit() else None,
                           model_id=request.form.get("model_id") or None)
        row = publish_cards(session=session, period=period, model=model, actor=audit.Actor.of(current_user))
    if refusal:
        return redirect(url_for(".index", period=period))
    session.commit()
    flash(_("Cards of %(period)s published (%(model)s v%(version)s).", period=row.period, model=row.model_id,
            version=row.model_version), "success")
    return redirect(url_for(".index", period=period))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_scorecard(code: str):
    session = db()
    site = site_or_404(code)
    franchisee = session.get(Franchisee, site.franchisee_id)
    return render_template("scores/site_scorecard.html", site=site, franchisee=franchisee,
                           **or_404(reads.scorecard, missing=(reads.NoSuchPeriod,), site=site, scope=Scope.hq(),
                                    period=converters.period(request.args.get("period"), "period"),
                                    settings=settings(), locale=str(get_locale())))
