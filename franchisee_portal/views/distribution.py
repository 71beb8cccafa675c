"""Portal pages of the distribution area: standards to acknowledge, and the config in force at each own site.

Every look-up goes through ``franchisee_portal.scope``: another partner's site or
acknowledgement is not found (404).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from brand_hub import distribution
from brand_hub.distribution import DistributionError
from brand_hub.distribution.views import site_config_context
from brand_hub.models import Site, SiteStatus
from brand_hub.models.standards import Standard, StandardAcknowledgement
from brand_hub.web import db, settings
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned, get_owned_by, owned_select, visible_site_ids


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.route("/standards")
@roles_required(PORTAL_ALL)
def standards():
    """What the partner's sites must acknowledge (text, what changed since their last version), and what they did."""
    session = db()
    sites = list(session.exec(owned_select(Site).where(Site.status != SiteStatus.terminated).order_by(Site.code)))
    pending = distribution.pending_for_sites(session=session, sites=sites)
    done = session.exec(owned_select(StandardAcknowledgement)
                        .where(StandardAcknowledgement.acknowledged_at.is_not(None))
                        .order_by(StandardAcknowledgement.acknowledged_at.desc()).limit(50)).all()
    standards_by_id = {s.id: s for s in session.exec(select(Standard).where(
        Standard.id.in_([a.standard_id for a in done])))}
    return render_template("portal/standards.html", pending=pending, done=done, standards_by_id=standards_by_id,
                           sites_by_id={s.id: s for s in sites}, now=_now())


@bp.route("/standards/acknowledgements/<int:ack_id>", methods=["POST"])
@roles_required(PORTAL_ALL)
def acknowledge_standard(ack_id: int):
    session = db()
    ack = get_owned(session, StandardAcknowledgement, ack_id)
    try:
        distribution.acknowledge(session=session, ack=ack, user=current_user, now=_now())
    except DistributionError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".standards"))
    session.commit()
    flash(_("Acknowledged. Thank you."), "success")
    return redirect(url_for(".standards"))


@bp.route("/configs")
@roles_required(PORTAL_ALL)
def configs():
    rows = distribution.config_rows(session=db(), now=_now(), grace_minutes=settings().config_drift_grace_minutes,
                                    franchisee_id=current_franchisee_id())
    visible = set(visible_site_ids(db()))  # a site manager sees their assigned sites only
    rows = [row for row in rows if row.site.id in visible]
    return render_template("portal/configs.html", rows=rows)


@bp.route("/sites/<code>/config")
@roles_required(PORTAL_ALL)
def site_config(code: str):
    session = db()
    site = get_owned_by(session, Site, code=code)
    return render_template("portal/site_config.html", site=site,
                           **site_config_context(session=session, site=site, args=request.args,
                                                 grace_minutes=settings().config_drift_grace_minutes))
