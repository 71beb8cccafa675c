"""The partner's home (a to-do list), own sites and agreements, and the admin's team.

Every look-up goes through ``franchisee_portal.scope``: a site or agreement of
another partner is not found (404), never shown; a staff member sees only the
sites assigned to them and none of the money (agreements are admins' only).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from brand_hub import accounts, audit, partner_staff, registry
from brand_hub.dashboard import reads as dashboard_reads
from brand_hub.models import Agreement, Franchisee, Site, SiteStatus
from brand_hub.paging import page_number, paginate
from brand_hub.web import db, settings
from brand_hub.web.access import PORTAL_ADMINS, PORTAL_ALL, roles_required

from .. import home_page
from ..blueprint import bp
from ..scope import (current_franchisee_id, get_owned, get_owned_by, is_staff, owned_select, site_holding,
                     visible_site_codes)

@bp.route("/")
@roles_required(PORTAL_ALL)
def home():
    """What to do next, soonest and worst first; then each site's card and what to fix first."""
    session = db()
    franchisee = get_owned(session, Franchisee, current_franchisee_id())
    from zoneinfo import ZoneInfo

    from brand_hub.scores import publications
    from brand_hub.scores.history import partner_cards

    # read once for the whole page (issue 10): the sites the user sees (a site manager: their sites only) and
    # the card publications
    visible = visible_site_codes(session)
    published = publications(session=session)
    found = home_page.home(session=session, franchisee_id=franchisee.id, site_ids=list(visible), codes=visible,
                           money=not is_staff(current_user), now=datetime.now(timezone.utc),
                           tz=settings().timezone, report_due_day=settings().revenue_report_due_day,
                           publications=published)
    cards = partner_cards(session=session, sites=visible, settings=settings(),
                          today=datetime.now(ZoneInfo(settings().timezone)).date(), publications=published)
    return render_template("portal/home.html", franchisee=franchisee, home=found, now=datetime.now(timezone.utc),
                           titles=_indicator_titles(), partner_cards=cards)


def _indicator_titles() -> dict[str, str]:
    """The scoring model's indicator titles in the reader's language (empty if the model cannot be read)."""
    from flask_babel import get_locale

    from brand_hub.dashboard.pages import current_indicators

    zh = str(get_locale() or "zh").startswith("zh")
    return {i.id: (i.title_zh if zh else i.title_en) for i in current_indicators(settings())}


@bp.route("/sites")
@roles_required(PORTAL_ALL)
def sites():
    """The sites the user may see, searched, filtered, sorted and paginated in SQL."""
    session = db()
    args = request.args
    status = args.get("status", "")
    if status and status not in {s.value for s in SiteStatus}:
        abort(400, _("Unknown site status."))
    stmt = owned_select(Site)
    q = args.get("q", "").strip()
    if q:
        stmt = stmt.where(Site.code.contains(q) | Site.name_zh.contains(q) | Site.name_en.contains(q)
                          | Site.city.contains(q) | Site.address.contains(q))
    if status:
        stmt = stmt.where(Site.status == SiteStatus(status))
    if args.get("city"):
        stmt = stmt.where(Site.city == args["city"])
    sort = args.get("sort", "code") if args.get("sort") in {"code", "name_zh", "city", "tier", "desks", "status"} else "code"
    direction = "desc" if args.get("dir") == "desc" else "asc"
    column = getattr(Site, sort)
    page = paginate(session, stmt.order_by(column.desc() if direction == "desc" else column, Site.code),
                    page=page_number(args))
    from brand_hub.registry import SiteQuery

    cities = sorted({c for c in session.exec(owned_select(Site).with_only_columns(Site.city).distinct())})
    partner = get_owned(session, Franchisee, current_franchisee_id())
    page.items = [(site, partner) for site in page.items]
    return render_template("portal/sites.html", page=page,
                           query=SiteQuery(q=q, status=status, city=args.get("city", ""), sort=sort,
                                           direction=direction, page=page.page),
                           options={"city": cities}, statuses=[s.value for s in SiteStatus])


@bp.route("/sites/<code>")
@roles_required(PORTAL_ALL)
def site(code: str):
    session = db()
    site = get_owned_by(session, Site, code=code)
    holding = site_holding(session, site)  # issue 17: a site held before shows the partner's own agreement
    agreement_id = site.agreement_id if holding.holds_now else holding.last.agreement_id
    agreement = None
    if agreement_id and not is_staff(current_user):  # issue 10: a site manager sees none of the money
        agreement = get_owned(session, Agreement, agreement_id)
    return render_template("portal/site.html", site=site, agreement=agreement, holding=holding)


@bp.route("/agreements")
@roles_required(PORTAL_ADMINS)
def agreements():
    session = db()
    page = paginate(session, owned_select(Agreement).order_by(Agreement.start_date, Agreement.number),
                    page=page_number(request.args))
    counts = dashboard_reads.agreement_site_counts(session=session, franchisee_id=current_franchisee_id(),
                                                   agreement_ids=[a.id for a in page.items])
    return render_template("portal/agreements.html", agreements=page.items, page=page, counts=counts)


@bp.route("/agreements/<number>")
@roles_required(PORTAL_ADMINS)
def agreement(number: str):
    session = db()
    agreement = get_owned_by(session, Agreement, number=number)
    sites = session.exec(owned_select(Site).where(Site.agreement_id == agreement.id).order_by(Site.code)).all()
    from brand_hub.renewals import decisions_of

    decisions = decisions_of(session=session, agreement_ids=[agreement.id]).get(agreement.id, [])
    return render_template("portal/agreement.html", agreement=agreement, sites=sites, renewal_decisions=decisions)


# ---------------------------------------------------------------- the admin's team (issue 10)

def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


@bp.route("/team", methods=["GET", "POST"])
@roles_required(PORTAL_ADMINS)
def team():
    """The partner's users; an admin adds site managers and chooses the sites each may see."""
    session = db()
    franchisee = get_owned(session, Franchisee, current_franchisee_id())
    values: dict = {}
    error = ""
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            site_ids = [int(v) for v in request.form.getlist("sites")]
            user = partner_staff.create_staff(session=session, actor=_actor(), franchisee=franchisee,
                                              email=values.get("email", ""), name=values.get("name", ""),
                                              password=values.get("password", ""), site_ids=site_ids)
        except (accounts.AccountError, partner_staff.TeamError, ValueError) as exc:
            session.rollback()
            error = str(exc)
        else:
            session.commit()
            flash(_("Colleague %(email)s added.", email=user.email), "success")
            return redirect(url_for("portal.team"))
    sites = session.exec(owned_select(Site).where(Site.status != SiteStatus.terminated).order_by(Site.code)).all()
    page = paginate(session, dashboard_reads.team_select(franchisee_id=franchisee.id), page=page_number(request.args))
    return render_template("portal/team.html", franchisee=franchisee, sites=sites, values=values, error=error,
                           users=page.items, page=page,
                           assigned=partner_staff.assignments(session=session, franchisee_id=franchisee.id),
                           site_codes={s.id: s.code for s in sites}), 422 if error else 200


@bp.route("/team/<int:user_id>/sites", methods=["POST"])
@roles_required(PORTAL_ADMINS)
def team_sites(user_id: int):
    session = db()
    try:
        user = partner_staff.get_staff(session=session, franchisee_id=current_franchisee_id(), user_id=user_id)
        partner_staff.set_sites(session=session, actor=_actor(), franchisee_id=current_franchisee_id(), user=user,
                                site_ids=[int(v) for v in request.form.getlist("sites")])
    except partner_staff.TeamError:
        session.rollback()
        abort(404)
    except ValueError:
        session.rollback()
        abort(400)
    session.commit()
    flash(_("Sites of %(email)s saved.", email=user.email), "success")
    return redirect(url_for("portal.team"))


@bp.route("/team/<int:user_id>/active", methods=["POST"])
@roles_required(PORTAL_ADMINS)
def team_active(user_id: int):
    session = db()
    active = request.form.get("active") == "1"
    try:
        user = partner_staff.set_staff_active(session=session, actor=_actor(), franchisee_id=current_franchisee_id(),
                                              user_id=user_id, active=active)
    except partner_staff.TeamError:
        session.rollback()
        abort(404)
    except accounts.AccountError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("portal.team"))
    session.commit()
    flash(_("%(email)s can sign in again.", email=user.email) if active
          else _("%(email)s can no longer sign in.", email=user.email), "success")
    return redirect(url_for("portal.team"))
