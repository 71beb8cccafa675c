"""Portal pages of the compliance area: the partner's flags, evidence in plain words, acknowledge, plans.

Every lookup goes through ``franchisee_portal.scope``: another partner's flag is a 404 on every route.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub import audit, compliance
from brand_hub.compliance.lifecycle import CURRENT
from brand_hub.models import Franchisee, Site
from brand_hub.models.compliance import Flag, Severity
from sqlalchemy import case
from brand_hub.web import db, settings
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned, get_owned_by, owned_select


def _rows(flags: list[Flag]) -> list[tuple]:
    sites = {s.id: s for s in db().exec(owned_select(Site)).all()}
    partner = get_owned(db(), Franchisee, current_franchisee_id())
    return [(f, sites.get(f.site_id), partner) for f in flags]


def _flags(stmt, show: str):
    if show != "all":
        stmt = stmt.where(Flag.state.in_(sorted(CURRENT, key=lambda s: s.value)))
    worst = case(*[(Flag.severity == severity, rank) for rank, severity in enumerate(Severity)], else_=-1)
    return db().exec(stmt.order_by(worst.desc(), Flag.opened_at.desc().nulls_last(), Flag.id.desc()).limit(300)).all()


@bp.route("/flags")
@roles_required(PORTAL_ALL)
def flags():
    show = request.args.get("show", "current")
    return render_template("portal/flags.html", rows=_rows(_flags(owned_select(Flag), show)), show=show, site=None)


@bp.route("/sites/<code>/flags")
@roles_required(PORTAL_ALL)
def site_flags(code: str):
    site = get_owned_by(db(), Site, code=code)
    show = request.args.get("show", "all")
    rows = _rows(_flags(owned_select(Flag).where(Flag.site_id == site.id), show))
    return render_template("portal/flags.html", rows=rows, show=show, site=site)


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
    try:
        compliance.acknowledge(session=db(), settings=settings(), flag=item, actor=_actor(),
                               now=datetime.now(timezone.utc), note=request.form.get("note", "").strip())
    except compliance.ComplianceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.flag", flag_id=flag_id))
    db().commit()
    flash(_("Thank you: the flag is acknowledged."), "success")
    return redirect(url_for("portal.flag", flag_id=flag_id))


@bp.route("/flags/<int:flag_id>/plan", methods=["POST"])
@roles_required(PORTAL_ALL)
def flag_plan(flag_id: int):
    item = get_owned(db(), Flag, flag_id)
    form = request.form
    try:
        due_on = date.fromisoformat(form.get("due_on", "")) if form.get("due_on") else None
    except ValueError:
        due_on = None
    try:
        compliance.submit_plan(session=db(), settings=settings(), flag=item, actor=_actor(),
                               now=datetime.now(timezone.utc), what=form.get("what", ""), who=form.get("who", ""),
                               due_on=due_on)
    except compliance.PlanIncomplete as exc:
        fields = {"what": _("What will be done"), "who": _("Who does it"), "due_on": _("By when")}
        flash(_("The plan needs: %(fields)s", fields=", ".join(str(fields[m]) for m in exc.missing)), "error")
        return redirect(url_for("portal.flag", flag_id=flag_id))
    except compliance.ComplianceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("portal.flag", flag_id=flag_id))
    db().commit()
    flash(_("Your plan was sent to HQ."), "success")
    return redirect(url_for("portal.flag", flag_id=flag_id))
