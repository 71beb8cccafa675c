"""HQ dashboard pages of the collection area: every agent's feed, one site's collected data."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from .. import registry
from ..audit import Actor
from ..paging import page_number
from ..scope import Scope
from ..web import db, settings
from ..web.access import HQ_ADMINS, HQ_ALL, roles_required
from ..web.lookups import site_or_404
from . import CollectionError, issue_token, reads

bp = Blueprint("collection", __name__, url_prefix="/hq/collection", template_folder="templates")


def sort_args() -> tuple[str, str]:
    return reads.feed_sort(request.args)


@bp.route("/agents")
@roles_required(HQ_ALL)
def agents():
    sort, direction = sort_args()
    feed = reads.feed(session=db(), scope=Scope.hq(), sort=sort, descending=direction == "desc",
                      page=page_number(request.args))
    return render_template("collection/agents.html", rows=feed.page.items, page=feed.page, failing=feed.failing,
                           sort=sort, direction=direction, now=datetime.now(timezone.utc))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_data(code: str):
    site = site_or_404(code)
    return render_template("collection/site_data.html", **reads.site_data(session=db(), site=site))


@bp.route("/sites/<code>/token", methods=["POST"])
@roles_required(HQ_ADMINS)
def rotate_token(code: str):
    session = db()
    try:
        token = issue_token(session=session, site_code=code, secret_key=settings().secret_key,
                            actor=Actor.of(current_user), rotate=True)
    except CollectionError as exc:
        abort(404, description=str(exc))
    session.commit()
    site = registry.get_site(session=session, code=code)
    page = render_template("collection/token.html", site=site, token=token)
    return page, 200, {"Cache-Control": "no-store"}
