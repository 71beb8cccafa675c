"""The HQ dashboard for the registry: overview, partners, sites, users, audit log.

Views only parse the request, call a service and render; every change goes
through ``brand_hub.registry`` or ``brand_hub.accounts``, which write the audit
events, and the view commits once.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import accounts, audit, registry, standing
from ..models import Agreement, AgreementStatus, Franchisee, FranchiseeStatus, Role, Site, SiteStatus, User
from ..web.lookups import or_404
from ..web import db, settings
from ..web.access import HQ_ADMINS, HQ_ALL, HQ_EDITORS, roles_required
from ..web import converters
from . import pages, reads

bp = Blueprint("dashboard", __name__, url_prefix="/hq", template_folder="templates")

PER_PAGE = 25  # the registry's lists (partners, sites, users): denser than the other lists' pages

def _actor() -> audit.Actor:
    return audit.Actor.of(current_user)


def _page_arg() -> int:
    return converters.page()


_or_404 = or_404


# ------------------------------------------------------------------ overview

@bp.route("/")
@roles_required(HQ_ALL)
def overview():
    """The brand-health dashboard (品牌健康度仪表盘): who is in trouble and why, then the census."""
    session = db()
    scope = _scope()
    return render_template("dashboard/overview.html", overview=pages.census(session=session),
                           board=pages.brand_health(session=session, scope=scope, indicators=_indicators(),
                                                    precomputed=True))


def _scope(franchisee_ids: tuple[int, ...] | None = None) -> pages.Scope:
    """What a dashboard page reads: today in HQ's zone, now, and which partners."""
    now = datetime.now(timezone.utc)
    return pages.Scope(today=now.astimezone(ZoneInfo(settings().timezone)).date(), now=now,
                       franchisee_ids=franchisee_ids)


def _indicators():
    """The current scoring model's indicators (none when the model files are missing or invalid)."""
    return pages.current_indicators(settings())


# ------------------------------------------------------------------ partners

@bp.route("/partners")
@roles_required(HQ_ALL)
def partners():
    """Partners, a page at a time, each with its standing (the same word as everywhere: ``brand_hub.standing``)."""
    trouble = request.args.get("standing") == "trouble"
    q = request.args.get("q", "").strip()
    page = reads.partners(session=db(), q=q, trouble=trouble, page=_page_arg(), per_page=PER_PAGE)
    return render_template("dashboard/partners.html", partners=page.items, page=page, trouble=trouble, q=q)


@bp.route("/partners/<code>")
@roles_required(HQ_ALL)
def partner(code: str):
    """One partner: why it stands where it stands, its sites' cards, money owed, open flags, then the registry."""
    session = db()
    franchisee = _or_404(registry.get_franchisee, code=code)
    held = reads.partner_registry(session=session, franchisee_id=franchisee.id)
    agreements, sites, users = held.agreements, held.sites, held.users
    scope = _scope((franchisee.id,))
    from ..scores import publications

    published = publications(session=session)   # read once for the page (issue 10)
    quarters = pages.published_quarters(session=session, publications=published)
    found = standing.standing_of(session=session, franchisee_id=franchisee.id)
    risk = pages.partner_risks(session=session, scope=scope, quarters=quarters,
                               standings={franchisee.id: found})[franchisee.id]
    flags, flag_total = pages.open_flags(session=session, franchisee_id=franchisee.id)
    return render_template("dashboard/partner.html", franchisee=franchisee, agreements=agreements, sites=sites,
                           users=users, risk=risk, quarters=quarters[:2], flags=flags, flag_total=flag_total,
                           cards=pages.partner_site_cards(session=session, franchisee_id=franchisee.id,
                                                          quarters=quarters),
                           history=pages.notice_history(session=session, franchisee_id=franchisee.id),
                           standing=found,
                           partner_cards=_partner_cards({s.id: s.code for s in sites}, published))


def _partner_cards(sites: dict[int, str], published):
    """The partner's card history across its sites (issue 12: cure windows and strikes, one timeline)."""
    from ..scores.history import partner_cards

    today = datetime.now(timezone.utc).astimezone(ZoneInfo(settings().timezone)).date()
    return partner_cards(session=db(), sites=sites, settings=settings(), today=today, publications=published)


def _partner_form(existing: Franchisee | None):
    errors: dict[str, str] = {}
    values = request.form.to_dict() if request.method == "POST" else (
        registry.export_partner_values(existing) if existing else {"status": "active"})
    if request.method == "POST":
        try:
            saved = registry.save_franchisee(session=db(), actor=_actor(), values=values, existing=existing,
                                             new=existing is None)
            db().commit()
            flash(_("Partner %(code)s saved.", code=saved.obj.code), "success")
            return redirect(url_for("dashboard.partner", code=saved.obj.code))
        except registry.InvalidRecord as exc:
            db().rollback()
            errors = exc.errors
    return render_template("dashboard/partner_form.html", values=values, errors=errors, existing=existing,
                           statuses=[s.value for s in FranchiseeStatus]), 422 if errors else 200


@bp.route("/partners/new", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def partner_new():
    return _partner_form(None)


@bp.route("/partners/<code>/edit", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def partner_edit(code: str):
    return _partner_form(_or_404(registry.get_franchisee, code=code))


# ------------------------------------------------------------------ agreements

def _agreement_form(existing: Agreement | None, partner_code: str):
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = request.form.to_dict()
        values["franchisee"] = partner_code
        try:
            saved = registry.save_agreement(session=db(), actor=_actor(), values=values, existing=existing,
                                            new=existing is None)
            db().commit()
            flash(_("Agreement %(number)s saved.", number=saved.obj.number), "success")
            return redirect(url_for("dashboard.partner", code=partner_code))
        except registry.InvalidRecord as exc:
            db().rollback()
            errors = exc.errors
    else:
        values = registry.export_agreement_values(existing, partner_code) if existing else {
            "status": "active", "royalty_plan_id": "standard-2026"}
    return render_template("dashboard/agreement_form.html", values=values, errors=errors, existing=existing,
                           partner_code=partner_code,
                           statuses=[s.value for s in AgreementStatus]), 422 if errors else 200


@bp.route("/partners/<code>/agreements/new", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def agreement_new(code: str):
    franchisee = _or_404(registry.get_franchisee, code=code)
    return _agreement_form(None, franchisee.code)


@bp.route("/agreements/<number>/edit", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def agreement_edit(number: str):
    agreement = _or_404(registry.get_agreement, number=number)
    partner_code = db().get(Franchisee, agreement.franchisee_id).code
    return _agreement_form(agreement, partner_code)


# ------------------------------------------------------------------ sites

def _site_query() -> registry.SiteQuery:
    args = request.args
    return registry.SiteQuery(q=args.get("q", "").strip(), status=args.get("status", ""),
                              city=args.get("city", ""), region=args.get("region", ""), tier=args.get("tier", ""),
                              partner=args.get("partner") or args.get("franchisee", ""), sort=args.get("sort", "code"),
                              direction="desc" if args.get("dir") == "desc" else "asc", page=_page_arg(),
                              per_page=PER_PAGE)


@bp.route("/sites")
@roles_required(HQ_ALL)
def sites():
    query = _site_query()
    try:
        page = registry.search_sites(session=db(), query=query)
    except registry.InvalidValue as exc:
        abort(400, str(exc))
    return render_template("dashboard/sites.html", page=page, query=query,
                           options=registry.site_filter_options(session=db()),
                           statuses=[s.value for s in SiteStatus])


@bp.route("/sites/<code>")
@roles_required(HQ_ALL)
def site(code: str):
    site = _or_404(registry.get_site, code=code)
    session = db()
    franchisee = session.get(Franchisee, site.franchisee_id)
    agreement = session.get(Agreement, site.agreement_id) if site.agreement_id else None
    history = reads.site_history(session=session, site=site)
    return render_template("dashboard/site.html", site=site, franchisee=franchisee, agreement=agreement,
                           history=history, hours=registry.format_opening_hours(site.opening_hours))


def _site_form(existing: Site | None):
    errors: dict[str, str] = {}
    session = db()
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            saved = registry.save_site(session=session, actor=_actor(), values=values, existing=existing,
                                       new=existing is None)
            session.commit()
            flash(_("Site %(code)s saved.", code=saved.obj.code), "success")
            return redirect(url_for("dashboard.site", code=saved.obj.code))
        except registry.InvalidRecord as exc:
            session.rollback()
            errors = exc.errors
    elif existing is not None:
        values = registry.export_site_values(session=session, site=existing)
    else:
        values = {"status": "onboarding", "tier": "standard", "region": "east", "timezone": "Asia/Shanghai",
                  "franchisee": request.args.get("franchisee", ""),
                  "opening_hours": "mon-fri 09:00-21:00; sat-sun 10:00-18:00"}
    partner, agreements = reads.site_form_choices(session=session,
                                                  partner_code=str(values.get("franchisee") or "").strip())
    return render_template("dashboard/site_form.html", values=values, errors=errors, existing=existing,
                           partner=partner, agreements=agreements, statuses=[s.value for s in SiteStatus],
                           tiers=registry.TIERS, regions=registry.REGIONS), 422 if errors else 200


@bp.route("/sites/new", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def site_new():
    return _site_form(None)


@bp.route("/sites/<code>/edit", methods=["GET", "POST"])
@roles_required(HQ_EDITORS)
def site_edit(code: str):
    return _site_form(_or_404(registry.get_site, code=code))


# ------------------------------------------------------------------ users

@bp.route("/users", methods=["GET", "POST"])
@roles_required(HQ_ADMINS)
def users():
    session = db()
    errors: dict[str, str] = {}
    values = {"role": Role.hq_viewer.value}
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            user = accounts.create_user(session=session, actor=_actor(), email=values.get("email", ""),
                                        password=values.get("password", ""), role=values.get("role", ""),
                                        name=values.get("name", ""),
                                        franchisee_code=values.get("franchisee") or None)
            session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("dashboard.users"))
        except (accounts.AccountError, ValueError) as exc:
            session.rollback()
            errors["form"] = str(exc)
    page = reads.users(session=session, page=_page_arg(), per_page=PER_PAGE)
    return render_template("dashboard/users.html", rows=page.items, page=page, values=values, errors=errors,
                           roles=[r.value for r in Role]), 422 if errors else 200


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required(HQ_ADMINS)
def user_active(user_id: int):
    session = db()
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    active = request.form.get("active") == "1"
    try:
        accounts.set_active(session=session, actor=_actor(), user=user, active=active)
        session.commit()
    except accounts.AccountError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("dashboard.users"))
    flash(_("User %(email)s activated.", email=user.email) if active
          else _("User %(email)s deactivated.", email=user.email), "success")
    return redirect(url_for("dashboard.users"))


# ------------------------------------------------------------------ audit log

@bp.route("/audit", endpoint="audit")
@roles_required(HQ_EDITORS)
def audit_log():
    filters = {k: request.args.get(k, "").strip() for k in reads.AUDIT_FILTERS}
    page, entity_types = reads.audit_events(session=db(), filters=filters, page=_page_arg())
    return render_template("dashboard/audit.html", page=page, filters=filters, entity_types=entity_types)
