"""The partner's own scorecards: where each site stands and what to improve first."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import get_locale

from brand_hub.models import Site
from brand_hub.models.scoring import SiteScore
from brand_hub.scope import Scope
from brand_hub.scores import card_in_force, published_keys, reads, reports
from brand_hub.web import converters, db, settings
from brand_hub.web.lookups import or_404
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned_by, held_sites_select, owned_select, portal_scope, site_holding


@bp.route("/scores")
@roles_required(PORTAL_ALL)
def scores():
    session = db()
    sites = session.exec(held_sites_select().order_by(Site.code)).all()  # with sites held before, for their past
    rows = session.exec(owned_select(SiteScore)).all()
    shown = reports.newest(rows)
    periods = sorted({p for (_s, p) in shown}, key=reports.period_key, reverse=True)[:6]
    published = published_keys(session=session)   # a quarter's card shows once HQ published it
    cards = {key: card_in_force(row, published) for key, row in shown.items()}
    return render_template("portal/scores.html", sites=sites, periods=periods, shown=shown, cards=cards)


@bp.route("/scores/<code>")
@roles_required(PORTAL_ALL)
def site_scorecard(code: str):
    session = db()
    site = get_owned_by(session, Site, code=code)
    return render_template("portal/site_scorecard.html", site=site,
                           **or_404(reads.scorecard, missing=(reads.NoSuchPeriod,), site=site,
                                    scope=portal_scope(db()),
                                    period=converters.period(request.args.get("period"), "period"),
                                    settings=settings(), locale=str(get_locale()),
                                    holding=site_holding(session, site)))
