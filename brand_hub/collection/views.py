"""HQ dashboard pages of the collection area: every agent's feed, one site's collected data."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlmodel import select

from .. import registry
from ..audit import Actor
from ..models import Site
from ..models.collection import CollectionTarget, QuarantinedRecord
from ..web import db, settings
from ..web.access import HQ_ADMINS, HQ_ALL, roles_required
from ..web.lookups import site_or_404
from . import SORTS, CollectionError, feed_rows, issue_token, site_series

bp = Blueprint("collection", __name__, url_prefix="/hq/collection", template_folder="templates")


def sort_args() -> tuple[str, str]:
    sort = request.args.get("sort", "state")
    direction = request.args.get("dir", "asc")
    return (sort if sort in SORTS else "state"), ("desc" if direction == "desc" else "asc")


@bp.route("/agents")
@roles_required(HQ_ALL)
def agents():
    sort, direction = sort_args()
    rows = feed_rows(session=db(), sort=sort, descending=direction == "desc")
    return render_template("collection/agents.html", rows=rows, sort=sort, direction=direction,
                           now=datetime.now(timezone.utc))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_data(code: str):
    site = site_or_404(code)
    return render_template("collection/site_data.html", **site_data_context(site))


def site_data_context(site: Site) -> dict:
    """What the site data page shows, in the dashboard and in the portal alike."""
    session = db()
    target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site.id)).first()
    quarantined = session.exec(select(QuarantinedRecord).where(QuarantinedRecord.site_id == site.id)
                               .order_by(QuarantinedRecord.received_at.desc()).limit(20)).all()
    return {"site": site, "target": target, "series": site_series(session=session, site_id=site.id),
            "quarantined": quarantined, "now": datetime.now(timezone.utc)}


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
