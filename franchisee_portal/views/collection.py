"""Portal pages of the collection area: the partner's own sites' data feeds and collected data."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import render_template, request

from brand_hub.collection import reads
from brand_hub.models import Site
from brand_hub.paging import page_number
from brand_hub.scope import Scope
from brand_hub.web import db
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned_by, portal_scope, site_holding


@bp.route("/agents")
@roles_required(PORTAL_ALL)
def agents():
    sort, direction = reads.feed_sort(request.args)
    feed = reads.feed(session=db(), scope=portal_scope(db()), sort=sort, descending=direction == "desc",
                      page=page_number(request.args))
    return render_template("portal/agents.html", rows=feed.page.items, page=feed.page, sort=sort,
                           direction=direction, now=datetime.now(timezone.utc))


@bp.route("/sites/<code>/data")
@roles_required(PORTAL_ALL)
def site_data(code: str):
    site = get_owned_by(db(), Site, code=code)
    return render_template("portal/site_data.html",
                           **reads.site_data(session=db(), site=site, holding=site_holding(db(), site)))
