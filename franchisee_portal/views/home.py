"""The partner's own company, sites and agreements.

Every look-up goes through ``franchisee_portal.scope``: a site or agreement of
another partner is not found (404), never shown.
"""
from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import func
from sqlmodel import select

from brand_hub import registry
from brand_hub.models import Agreement, Franchisee, Site, SiteStatus, User
from brand_hub.web import converters, db
from brand_hub.web.access import PORTAL_ALL, roles_required

from ..blueprint import bp
from ..scope import current_franchisee_id, get_owned, get_owned_by, owned_select, site_holding


@bp.route("/")
@roles_required(PORTAL_ALL)
def home():
    session = db()
    franchisee = get_owned(session, Franchisee, current_franchisee_id())
    sites = session.exec(owned_select(Site).order_by(Site.code)).all()
    agreements = session.exec(owned_select(Agreement).order_by(Agreement.start_date)).all()
    colleagues = session.exec(owned_select(User).where(User.active.is_(True)).order_by(User.email)).all()
    by_status = {s.value: sum(1 for site in sites if SiteStatus(site.status) is s) for s in SiteStatus}
    return render_template("portal/home.html", franchisee=franchisee, sites=sites, agreements=agreements,
                           colleagues=colleagues, by_status=by_status,
                           desks=sum(s.desks for s in sites if SiteStatus(s.status) is not SiteStatus.terminated))


@bp.route("/sites")
@roles_required(PORTAL_ALL)
def sites():
    args = request.args
    query = registry.SiteQuery(q=args.get("q", "").strip(), status=args.get("status", ""),
                               city=args.get("city", ""), sort=args.get("sort", "code"),
                               direction="desc" if args.get("dir") == "desc" else "asc",
                               page=converters.page(), per_page=50)
    try:
        page = registry.search_sites(session=db(), query=query, franchisee_id=current_franchisee_id())
    except registry.InvalidValue as exc:
        abort(400, str(exc))
    return render_template("portal/sites.html", page=page, query=query,
                           options=registry.site_filter_options(session=db(), franchisee_id=current_franchisee_id()),
                           statuses=[s.value for s in SiteStatus])


@bp.route("/sites/<code>")
@roles_required(PORTAL_ALL)
def site(code: str):
    session = db()
    site = get_owned_by(session, Site, code=code)
    holding = site_holding(session, site)  # issue 17: a site held before shows the partner's own agreement
    agreement_id = site.agreement_id if holding.holds_now else holding.last.agreement_id
    agreement = get_owned(session, Agreement, agreement_id) if agreement_id else None
    return render_template("portal/site.html", site=site, agreement=agreement, holding=holding)


@bp.route("/agreements")
@roles_required(PORTAL_ALL)
def agreements():
    session = db()
    rows = session.exec(owned_select(Agreement).order_by(Agreement.start_date)).all()
    sites = session.exec(owned_select(Site).order_by(Site.code)).all()
    counts = dict(session.exec(select(Site.agreement_id, func.count())
                               .where(Site.franchisee_id == current_franchisee_id())
                               .group_by(Site.agreement_id)).all())
    return render_template("portal/agreements.html", agreements=rows, sites=sites, counts=counts)


@bp.route("/agreements/<number>")
@roles_required(PORTAL_ALL)
def agreement(number: str):
    session = db()
    agreement = get_owned_by(session, Agreement, number=number)
    sites = session.exec(owned_select(Site).where(Site.agreement_id == agreement.id).order_by(Site.code)).all()
    from brand_hub.renewals import decisions_of

    decisions = decisions_of(session=session, agreement_ids=[agreement.id]).get(agreement.id, [])
    return render_template("portal/agreement.html", agreement=agreement, sites=sites, renewal_decisions=decisions)
