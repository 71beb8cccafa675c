"""Portal pages of the collection area: the partner's own sites' data feeds and collected data."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import render_template

from brand_hub.collection import feed_rows
from brand_hub.collection.views import site_data_context, sort_args
from brand_hub.models import Site
from brand_hub.web import db
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import get_owned_by, owned_select, site_holding


@bp.route("/agents")
@roles_required(PORTAL_ALL)
def agents():
    sort, direction = sort_args()
    site_ids = [site.id for site in db().exec(owned_select(Site)).all()]
    rows = feed_rows(session=db(), site_ids=site_ids, sort=sort, descending=direction == "desc")
    return render_template("portal/agents.html", rows=rows, sort=sort, direction=direction,
                           now=datetime.now(timezone.utc))


@bp.route("/sites/<code>/data")
@roles_required(PORTAL_ALL)
def site_data(code: str):
    site = get_owned_by(db(), Site, code=code)
    return render_template("portal/site_data.html", **site_data_context(site, site_holding(db(), site)))
