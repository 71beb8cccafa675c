"""HQ pages of renewals: agreements ending soon, what the record recommends and why, HQ's decision."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user

from standards.loader import InvalidFiles

from .. import audit, registry
from ..models import Agreement, Role
from ..web import db, settings
from ..web.access import HQ_ADMINS, HQ_ALL, roles_required
from ..web.lookups import or_404
from . import RenewalError, decide, due, load_rules, record

bp = Blueprint("renewals", __name__, url_prefix="/hq/renewals", template_folder="templates")

# Where each signal's evidence is shown: (endpoint, arguments from the agreement's partner).
EVIDENCE = {
    "termination_review": ("compliance.queue", lambda p: {"rule": "termination-review", "partner": p.code}),
    "strikes": ("dashboard.partner", lambda p: {"code": p.code}),
    "missed_windows": ("compliance.queue", lambda p: {"rule": "red-card", "partner": p.code}),
    "cured_windows": ("dashboard.partner", lambda p: {"code": p.code}),
    "score_trend": ("scores.index", lambda p: {"partner": p.code}),
    "revenue_per_desk_vs_cohort": ("billing.index", lambda p: {"franchisee": p.code}),
    "royalty_trend": ("billing.index", lambda p: {"franchisee": p.code}),
    "overdue_days_max": ("billing.index", lambda p: {"franchisee": p.code}),
    "overdue_balance": ("billing.index", lambda p: {"franchisee": p.code, "status": "overdue"}),
    "acks_late_share": ("compliance.queue", lambda p: {"rule": "standard-unacknowledged", "partner": p.code}),
    "flag_ack_hours_median": ("compliance.queue", lambda p: {"partner": p.code}),
    "disputes_rejected": ("billing.index", lambda p: {"franchisee": p.code}),
}


def evidence_url(key: str, partner) -> str:
    if key.startswith("flags:"):
        return url_for("compliance.queue", rule=key.split(":", 1)[1], partner=partner.code)
    endpoint, args = EVIDENCE.get(key, ("dashboard.partner", lambda p: {"code": p.code}))
    return url_for(endpoint, **args(partner))


def _today() -> date:
    return datetime.now(timezone.utc).astimezone(ZoneInfo(settings().timezone)).date()


def _rules():
    try:
        return load_rules(settings())
    except InvalidFiles as exc:
        abort(500, description=str(exc))


@bp.route("/")
@roles_required(HQ_ALL)
def index():
    page = due(session=db(), settings=settings(), rules=_rules(), today=_today(),
               page=max(1, min(request.args.get("page", 1, type=int) or 1, 10_000)))
    return render_template("renewals/index.html", page=page, locale=str(get_locale()), evidence_url=evidence_url,
                           window=settings().renewal_window_days, today=_today())


@bp.route("/<number>")
@roles_required(HQ_ALL)
def agreement(number: str):
    return _page(or_404(registry.get_agreement, number=number))


@bp.route("/<number>/decision", methods=["POST"])
@roles_required(HQ_ADMINS)
def decision(number: str):
    """Record HQ's decision on the agreement's current term end (administrators only)."""
    session = db()
    found = or_404(registry.get_agreement, number=number)
    renewal = record(session=session, agreement=found, settings=settings(), rules=_rules(), today=_today())
    try:
        new_end = request.form.get("new_end_date", "").strip()
        decide(session=session, agreement=found, outcome=request.form.get("outcome", ""),
               new_end_date=date.fromisoformat(new_end) if new_end else None,
               conditions=request.form.get("conditions", ""), recommendation=renewal.recommendation.outcome,
               actor=audit.Actor.of(current_user))
    except ValueError:
        session.rollback()
        return _page(found, _("The new term end is not a date like 2032-03-31."))
    except RenewalError as exc:
        session.rollback()
        return _page(found, str(exc))
    session.commit()
    flash(_("Decision on %(number)s recorded.", number=number), "success")
    return redirect(url_for(".index"))


def _page(found: Agreement, error: str = ""):
    renewal = record(session=db(), agreement=found, settings=settings(), rules=_rules(), today=_today())
    return render_template("renewals/agreement.html", r=renewal, locale=str(get_locale()), evidence_url=evidence_url,
                           error=error, form=request.form, can_decide=Role(current_user.role) in HQ_ADMINS), \
        (422 if error else 200)
