"""HQ dashboard pages of the compliance area: the flag queue, a flag's evidence and timeline, a site's flags."""
from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, compliance
from .. import standing as standing_service
from ..models import Franchisee, Site
from ..models.compliance import Flag, FlagState, Severity
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_EDITORS, roles_required
from ..web import converters
from ..web.lookups import or_404, site_or_404
from ..web.refusals import refused
from ..scope import Scope
from . import reads
from .lifecycle import waiver_refusal

bp = Blueprint("compliance", __name__, url_prefix="/hq/compliance", template_folder="templates")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


def _filters() -> compliance.FlagFilters:
    args = request.args
    state = args.get("state", "current")
    if state not in ("current", "all", *[s.value for s in FlagState]):
        state = "current"
    severity = args.get("severity", "")
    return compliance.FlagFilters(severity=severity if severity in Severity.__members__ else "",
                                  rule=args.get("rule", ""), partner=args.get("partner", ""),
                                  city=args.get("city", ""), state=state, age=args.get("age", ""))


def _flag_or_404(flag_id: int) -> Flag:
    return or_404(compliance.get_flag, flag_id=flag_id, missing=(compliance.FlagNotFound,))


STANDING_SHOWN = 20   # partners on notice listed above the queue; the partners list has them all


@bp.route("/")
@roles_required(HQ_ALL)
def queue():
    session = db()
    filters = _filters()
    page = reads.flags(session=session, scope=Scope.hq(), filters=filters, now=_now(), page=converters.page())
    figures = reads.queue_figures(session=session)   # the counts by state and by rule, and the rules, at once
    options = reads.queue_options(session=session, rules=figures.rules)
    return render_template("compliance/queue.html", rows=page.items, page=page,
                           filters=filters, options=options, states=[s.value for s in FlagState],
                           severities=[s.value for s in Severity],
                           standing=compliance.network_standing(session=session, limit=STANDING_SHOWN),
                           standing_total=standing_service.count_in_trouble(session=session),
                           counts=figures.counts, by_rule=figures.by_rule)


def _until() -> datetime | None:
    raw = request.form.get("until", "").strip()
    if not raw:
        return None
    try:
        day = converters.day(raw, "until")
    except converters.BadInput:
        return None
    return datetime.combine(day, time(23, 59), ZoneInfo(settings().timezone)).astimezone(timezone.utc)


@bp.route("/bulk", methods=["POST"])
@roles_required(HQ_EDITORS)
def bulk():
    action = request.form.get("action", "")
    ids = [converters.record_id(v, "flag") for v in request.form.getlist("flag") if v.isdigit()]
    if not ids:
        flash(_("Select at least one flag."), "error")
        return redirect(request.referrer or url_for(".queue"))
    until = _until()
    if action == "waive" and (problem := waiver_refusal(until, _now())) is not None:
        flash(str(problem), "error")
        return redirect(request.referrer or url_for(".queue"))
    done, refused = compliance.bulk(session=db(), settings=settings(), flag_ids=ids, action=action, actor=_actor(),
                                    now=_now(), reason=request.form.get("reason", "").strip(), until=until)
    db().commit()
    if done:
        flash(_("%(n)s flags updated.", n=len(done)), "success")
    for line in refused:
        flash(line, "error")
    return redirect(request.referrer or url_for(".queue"))


@bp.route("/flags/<int:flag_id>")
@roles_required(HQ_ALL)
def flag(flag_id: int):
    session = db()
    item = _flag_or_404(flag_id)
    return render_template("compliance/flag.html", flag=item,
                           site=session.get(Site, item.site_id) if item.site_id else None,
                           partner=session.get(Franchisee, item.franchisee_id),
                           events=compliance.timeline(session=session, flag=item),
                           history=compliance.history(session=session, flag=item),
                           plans=compliance.plans(session=session, flag=item))


@bp.route("/flags/<int:flag_id>/<action>", methods=["POST"])
@roles_required(HQ_EDITORS)
def flag_action(flag_id: int, action: str):
    item = _flag_or_404(flag_id)
    form, common = request.form, dict(session=db(), settings=settings(), flag=item, actor=_actor(), now=_now())
    reason = form.get("reason", "").strip()
    if action not in ("acknowledge", "waive", "resolve", "accept", "reject"):
        abort(404)
    with refused(compliance.ComplianceError) as refusal:
        if action == "acknowledge":
            compliance.acknowledge(**common, hq=True, note=reason)
        elif action == "waive":
            compliance.waive(**common, until=_until(), reason=reason)
        elif action == "resolve":
            compliance.resolve(**common, reason=reason)
        else:
            compliance.answer_plan(**common, accept=action == "accept", answer=reason)
    if refusal:
        return redirect(url_for(".flag", flag_id=flag_id))
    db().commit()
    flash(_("Flag updated."), "success")
    return redirect(url_for(".flag", flag_id=flag_id))


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site_flags(code: str):
    session = db()
    site = site_or_404(code)
    page = reads.flags(session=session, scope=Scope.hq(), filters=compliance.FlagFilters(site=code, state="all"),
                       now=_now(), page=converters.page())
    return render_template("compliance/site_flags.html", site=site, rows=page.items, page=page)
