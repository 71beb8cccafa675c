"""Portal pages of the compliance area: the partner's flags, evidence in plain words, acknowledge, plans.

Every lookup goes through ``franchisee_portal.scope``: another partner's flag is a 404 on every route.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub import audit, compliance
from brand_hub.compliance import reads
from brand_hub.models import Site
from brand_hub.models.compliance import Flag
from brand_hub.paging import Page
from brand_hub.scope import Scope
from brand_hub.web import converters, db, settings
from brand_hub.web.access import PORTAL_ALL, roles_required
from brand_hub.web.refusals import refused

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned, get_owned_by, portal_scope


def _flags(show: str, site: Site | None = None) -> Page:
    """The partner's flags (of one site; a site manager: of their sites), worst first like HQ's queue, then
    newest: current ones unless ``show`` is all."""
    filters = compliance.FlagFilters(state="all" if show == "all" else "current", site=site.code if site else "")
    return reads.flags(session=db(), scope=portal_scope(db()), filters=filters,
                       now=datetime.now(timezone.utc), page=converters.page())


@bp.route("/flags")
@roles_required(PORTAL_ALL)
def flags():
    show = request.args.get("show", "current")
    page = _flags(show)
    return render_template("portal/flags.html", rows=page.items, page=page, show=show, site=None)


@bp.route("/sites/<code>/flags")
@roles_required(PORTAL_ALL)
def site_flags(code: str):
    site = get_owned_by(db(), Site, code=code)
    show = request.args.get("show", "all")
    page = _flags(show, site)
    return render_template("portal/flags.html", rows=page.items, page=page, show=show, site=site)


@bp.route("/flags/<int:flag_id>")
@roles_required(PORTAL_ALL)
def flag(flag_id: int):
    item = get_owned(db(), Flag, flag_id)
    site = get_owned(db(), Site, item.site_id) if item.site_id else None
    return render_template("portal/flag.html", flag=item, site=site,
                           events=compliance.timeline(session=db(), flag=item),
                           plans=compliance.plans(session=db(), flag=item), today=date.today())


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


@bp.route("/flags/<int:flag_id>/acknowledge", methods=["POST"])
@roles_required(PORTAL_ALL)
def flag_acknowledge(flag_id: int):
    item = get_owned(db(), Flag, flag_id)
    with refused(compliance.ComplianceError) as refusal:
        compliance.acknowledge(session=db(), settings=settings(), flag=item, actor=_actor(),
                               now=datetime.now(timezone.utc), note=request.form.get("note", "").strip())
    if refusal:
        return redirect(url_for("portal.flag", flag_id=flag_id))
    db().commit()
    flash(_("Thank you: the flag is acknowledged."), "success")
    return redirect(url_for("portal.flag", flag_id=flag_id))


def _plan_refusal(exc: Exception) -> str:
    """An incomplete plan names the form's fields it lacks; other refusals read as the service wrote them."""
    if isinstance(exc, compliance.PlanIncomplete):
        fields = {"what": _("What will be done"), "who": _("Who does it"), "due_on": _("By when")}
        return _("The plan needs: %(fields)s", fields=", ".join(str(fields[m]) for m in exc.missing))
    return str(exc)


@bp.route("/flags/<int:flag_id>/plan", methods=["POST"])
@roles_required(PORTAL_ALL)
def flag_plan(flag_id: int):
    item = get_owned(db(), Flag, flag_id)
    form = request.form
    try:
        due_on = converters.day(form.get("due_on"), "due_on")
    except converters.BadInput:
        due_on = None  # asked again below, as a missing date
    with refused(compliance.ComplianceError, message=_plan_refusal) as refusal:
        compliance.submit_plan(session=db(), settings=settings(), flag=item, actor=_actor(),
                               now=datetime.now(timezone.utc), what=form.get("what", ""), who=form.get("who", ""),
                               due_on=due_on)
    if refusal:
        return redirect(url_for("portal.flag", flag_id=flag_id))
    db().commit()
    flash(_("Your plan was sent to HQ."), "success")
    return redirect(url_for("portal.flag", flag_id=flag_id))
