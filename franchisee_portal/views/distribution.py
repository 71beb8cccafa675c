"""Portal pages of the distribution area: standards to acknowledge, and the config in force at each own site.

Every look-up goes through ``franchisee_portal.scope``: another partner's site or
acknowledgement is not found (404).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub import distribution
from brand_hub.distribution import DistributionError
from brand_hub.distribution import reads
from brand_hub.models import Site
from brand_hub.models.standards import StandardAcknowledgement
from brand_hub.paging import page_number, paginate
from brand_hub.scope import Scope
from brand_hub.web import db, settings
from brand_hub.web.access import PORTAL_ALL, roles_required
from brand_hub.web.lookups import or_404
from brand_hub.web.refusals import refused

from ..blueprint import bp
from ..scope import (current_franchisee_id, get_owned, get_owned_by, held_sites_select, owned_select,
                     portal_scope, site_holding, visible_site_ids)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@bp.route("/standards")
@roles_required(PORTAL_ALL)
def standards():
    """What the partner's sites must acknowledge (text, what changed since their last version), and what they did."""
    session = db()
    pending = reads.pending(session=session, scope=portal_scope(session), page=page_number(request.args,
                                                                                           "pending_page"))
    page = paginate(session, owned_select(StandardAcknowledgement)
                    .where(StandardAcknowledgement.acknowledged_at.is_not(None))
                    .order_by(StandardAcknowledgement.acknowledged_at.desc(), StandardAcknowledgement.id.desc()),
                    page=page_number(request.args))
    done = page.items
    standards_by_id = reads.standards_by_id(session=session, ids=[a.standard_id for a in done])
    held = {s.id: s for s in session.exec(held_sites_select().where(  # issue 17: names of sites held before
        Site.id.in_({a.site_id for a in done})))}
    return render_template("portal/standards.html", pending=pending, done=done, page=page,
                           standards_by_id=standards_by_id, sites_by_id=held, now=_now())


@bp.route("/standards/acknowledgements/<int:ack_id>", methods=["POST"])
@roles_required(PORTAL_ALL)
def acknowledge_standard(ack_id: int):
    session = db()
    ack = get_owned(session, StandardAcknowledgement, ack_id)
    with refused(DistributionError) as refusal:
        distribution.acknowledge(session=session, ack=ack, user=current_user, now=_now())
    if refusal:
        return redirect(url_for(".standards"))
    session.commit()
    flash(_("Acknowledged. Thank you."), "success")
    return redirect(url_for(".standards"))


@bp.route("/configs")
@roles_required(PORTAL_ALL)
def configs():
    page = reads.config_list(session=db(), scope=portal_scope(db()), now=_now(),
                             grace_minutes=settings().config_drift_grace_minutes, page=page_number(request.args))
    return render_template("portal/configs.html", rows=page.items, page=page)


@bp.route("/sites/<code>/config")
@roles_required(PORTAL_ALL)
def site_config(code: str):
    session = db()
    site = get_owned_by(session, Site, code=code)
    page = or_404(reads.site_config, missing=(DistributionError,), site=site, old=request.args.get("from", type=int),
                  new=request.args.get("to", type=int), grace_minutes=settings().config_drift_grace_minutes,
                  now=_now(), holding=site_holding(session, site))
    return render_template("portal/site_config.html", site=site, **page)
