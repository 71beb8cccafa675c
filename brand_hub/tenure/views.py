"""HQ pages of a site's holders: the tenure history, and the form that moves the site to another partner.

Thin: parse the form, call ``brand_hub.tenure.move_site`` (which audits), commit once.
Only HQ admins move sites; everyone at HQ reads the history.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, registry, tenure
from ..models import Site
from ..web import db
from ..web.access import HQ_ADMINS, HQ_ALL, roles_required
from ..web.lookups import site_or_404
from . import reads

bp = Blueprint("tenure", __name__, url_prefix="/hq", template_folder="templates")


def _page(site: Site, form: dict, errors: dict, status: int = 200):
    return render_template("tenure/site_tenure.html", site=site, form=form, errors=errors,
                           **reads.site_holders(session=db(), site=site)), status


@bp.route("/sites/<code>/holders")
@roles_required(HQ_ALL)
def site_tenure(code: str):
    site = site_or_404(code)
    return _page(site, {"franchisee": "", "agreement": "", "effective_on": tenure.local_today(site).isoformat()}, {})


@bp.route("/sites/<code>/holders", methods=["POST"])
@roles_required(HQ_ADMINS)
def move(code: str):
    session = db()
    site = site_or_404(code)
    form = {k: request.form.get(k, "").strip()[:80] for k in ("franchisee", "agreement", "effective_on")}
    errors: dict[str, str] = {}
    partner = agreement = None
    try:
        partner = registry.get_franchisee(session=session, code=form["franchisee"])
    except registry.NotFound:
        errors["franchisee"] = _("Choose the partner that takes the site over.")
    if form["agreement"]:
        try:
            agreement = registry.get_agreement(session=session, number=form["agreement"])
        except registry.NotFound:
            errors["agreement"] = _("No agreement with this number.")
    try:
        effective_on = date.fromisoformat(form["effective_on"])
    except ValueError:
        effective_on = None
        errors["effective_on"] = _("A date like 2026-11-01.")
    if not errors:
        try:
            tenure.move_site(session=session, site=site, franchisee=partner, agreement=agreement,
                             effective_on=effective_on, actor=audit.Actor.of(current_user))
        except tenure.TenureError as exc:
            session.rollback()
            errors["effective_on"] = str(exc)
        else:
            session.commit()
            flash(_("%(site)s is held by %(partner)s from %(date)s.", site=site.code, partner=partner.legal_name,
                    date=effective_on.isoformat()), "success")
            return redirect(url_for("tenure.site_tenure", code=site.code))
    return _page(site_or_404(code), form, errors, status=400)
