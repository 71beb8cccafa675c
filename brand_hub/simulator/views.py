"""HQ pages of the fee-schedule simulator: saved plan drafts, their comparison, publishing one.

The arithmetic is ``brand_hub.billing.simulate`` (billing's own line rules); the drafts are
``brand_hub.billing.plan_drafts``. These views parse, call and render.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from standards.loader import InvalidFiles

from .. import audit
from ..billing import BillingError, NotFound, plan_drafts, plans, simulate
from ..web import db, settings
from ..web.access import HQ_FINANCE, roles_required

bp = Blueprint("simulator", __name__, url_prefix="/hq/simulator", template_folder="templates")


def _months_or_default() -> tuple[str, str]:
    from datetime import date

    today = date.today()
    last = f"{today.year}-{today.month:02d}"
    last = simulate.shift_period(last, -1)
    return request.args.get("from") or simulate.shift_period(last, -11), request.args.get("to") or last


@bp.route("/")
@roles_required(HQ_FINANCE)
def index():
    session = db()
    drafts = plan_drafts.all_drafts(session=session)
    chosen = [name for name in request.args.getlist("draft") if name]
    first, last = _months_or_default()
    try:
        rise = Decimal(request.args.get("rise") or "10")
        if not (0 <= rise <= 1000):
            raise InvalidOperation
    except InvalidOperation:
        rise = Decimal("10")
    result, problem, scenarios = None, "", []
    current = _plans()
    if chosen and current is not None:
        try:
            scenarios = [simulate.Scenario(name, plan_drafts.parse(plan_drafts.get(session=session, name=name).text,
                                                                   name)) for name in chosen]
            result = simulate.simulate(session=session, plans=current, drafts=scenarios,
                                       periods=simulate.months_between(first, last))
        except (BillingError, InvalidFiles) as exc:
            problem = str(exc)
    if result is not None and request.args.get("format") == "csv":
        return _csv(result)
    return render_template("simulator/index.html", drafts=drafts, chosen=chosen, first=first, last=last,
                           rise=rise, threshold=rise / 100, result=result, problem=problem,
                           plans=sorted((current or {}).values(), key=lambda p: p.id),
                           chart=_chart(result, current, scenarios) if result else None, locale=str(get_locale()))


def _plans():
    try:
        return plans(settings().royalty_dir)
    except InvalidFiles as exc:
        flash(_("The royalty plans in force are refused: %(problems)s", problems=str(exc)), "error")
        return None


@bp.route("/drafts/new", methods=["POST"])
@roles_required(HQ_FINANCE)
def new_draft():
    plan_id = request.form.get("plan", "")
    try:
        text = plan_drafts.plan_text(settings().royalty_dir, plan_id)
    except BillingError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    return render_template("simulator/draft.html", draft=None, name="", text=text, problems=[])


@bp.route("/drafts/<name>", methods=["GET", "POST"])
@roles_required(HQ_FINANCE)
def draft(name: str):
    session = db()
    existing = None
    try:
        existing = plan_drafts.get(session=session, name=name)
    except NotFound:
        if request.method == "GET":
            abort(404)
    if request.method == "GET":
        return render_template("simulator/draft.html", draft=existing, name=existing.name, text=existing.text,
                               problems=[])
    return _save(request.form.get("name", name), request.form.get("text", ""), existing)


@bp.route("/drafts", methods=["POST"])
@roles_required(HQ_FINANCE)
def save_draft():
    return _save(request.form.get("name", ""), request.form.get("text", ""), None)


def _save(name: str, text: str, existing):
    session = db()
    try:
        saved = plan_drafts.save(session=session, name=name, text=text, actor=audit.Actor.of(current_user))
    except InvalidFiles as exc:
        session.rollback()
        return render_template("simulator/draft.html", draft=existing, name=name, text=text,
                               problems=[str(p) for p in exc.problems]), 422
    except BillingError as exc:
        session.rollback()
        return render_template("simulator/draft.html", draft=existing, name=name, text=text,
                               problems=[str(exc)]), 422
    session.commit()
    flash(_("Draft %(name)s saved.", name=saved.name), "success")
    return redirect(url_for(".index", draft=saved.name))


@bp.route("/drafts/<name>/publish", methods=["POST"])
@roles_required(HQ_FINANCE)
def publish(name: str):
    session = db()
    current = _plans()
    if current is None:
        return redirect(url_for(".index"))
    try:
        path = plan_drafts.publish(session=session, name=name, directory=settings().royalty_dir, plans=current,
                                   actor=audit.Actor.of(current_user))
    except (BillingError, InvalidFiles) as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".index", draft=name))
    session.commit()
    flash(_("Published as %(file)s: the next billing run uses it.", file=path.name), "success")
    return redirect(url_for(".index"))


def _chart(result: simulate.Simulation, current: dict, drafts: list) -> dict:
    """Each site a point (average monthly revenue, effective rate) per scenario, and each plan's curve:
    the effective rate it gives across revenue, for a site of the network's median desks."""
    months = max(len(result.periods), 1)
    points = {name: [{"x": float(row.revenue / months), "y": float(row.effective_rate(name) or 0) * 100,
                      "site": row.key} for row in result.sites if row.revenue > 0] for name in result.scenarios}
    top = max((p["x"] for pts in points.values() for p in pts), default=0.0)
    low = min((p["x"] for pts in points.values() for p in pts), default=0.0)
    used = sorted({plan_id for plan_id in result.plan_ids if plan_id in current})
    curves = {f"{plan_id} v{current[plan_id].version}": simulate.rate_curve(current[plan_id], low, top, result.median_desks)
              for plan_id in used}
    curves.update({d.name: simulate.rate_curve(d.plan, low, top, result.median_desks) for d in drafts})
    return {"scenarios": result.scenarios, "points": points, "curves": curves}


def _csv(result: simulate.Simulation) -> Response:
    """What the page shows, per partner and per site, as a spreadsheet opens it (UTF-8 with a BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["level", "code", "name", "revenue", "estimated_months", *result.scenarios,
                     *[f"change:{n}" for n in result.scenarios[1:]]])
    for level, rows in (("partner", result.partners), ("site", result.sites), ("total", [result.total])):
        for row in rows:
            writer.writerow([level, row.key, row.label, f"{row.revenue:.2f}", row.estimated_months,
                             *[f"{row.amounts[n]:.2f}" for n in result.scenarios],
                             *[f"{row.delta(n):.2f}" for n in result.scenarios[1:]]])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=simulation-{result.periods[0]}-"
                                                    f"{result.periods[-1]}.csv"})
