"""The partner's own scorecards: where each site stands and what to improve first."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import get_locale
from sqlalchemy.orm import defer

from brand_hub.models import Site
from brand_hub.models.scoring import SiteScore
from brand_hub.paging import page_number, paginate
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
    page = paginate(session, held_sites_select().order_by(Site.code),  # with sites held before, for their past
                    page=page_number(request.args))
    periods = session.exec(owned_select(SiteScore).with_only_columns(SiteScore.period).distinct()).all()
    periods = sorted(periods, key=reports.period_key, reverse=True)[:6]
    # the table shows scores and cards: each row's indicators (kilobytes of JSON) stay unread
    rows = session.exec(owned_select(SiteScore).options(defer(SiteScore.indicators, raiseload=True))
                        .where(SiteScore.site_id.in_([s.id for s in page.items]),
                               SiteScore.period.in_(periods))).all() if page.items else []
    shown = reports.newest(rows)
    published = published_keys(session=session)   # a quarter's card shows once HQ published it
    cards = {key: card_in_force(row, published) for key, row in shown.items()}
    return render_template("portal/scores.html", sites=page.items, page=page, periods=periods, shown=shown,
                           cards=cards)


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
