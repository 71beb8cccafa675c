"""HQ dashboard pages of the distribution area: standards and their acknowledgement, site configs and drift."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from sqlmodel import select

from standards.site_config import flatten

from .. import audit, distribution
from ..models import Franchisee, Site
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_EDITORS, roles_required
from ..web import converters
from . import DistributionError
from .drift import check_drift

bp = Blueprint("distribution", __name__, url_prefix="/hq/distribution", template_folder="templates")

CATEGORIES = {"space": _l("Space"), "service": _l("Service"), "community": _l("Community"),
              "data_privacy": _l("Data and privacy"), "iot": _l("IoT")}


@bp.app_context_processor
def _standard_helpers() -> dict:
    """``category_label(word)`` and ``requirement(text)`` for the HQ and portal pages that show standards."""
    return {"category_label": lambda word: str(CATEGORIES.get(word, word)), "requirement": requirement_html}


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def requirement_html(text: str) -> Markup:
    """A standard's requirement text as HTML: paragraphs per line and **bold**, everything else escaped."""
    lines = [line.strip() for line in str(escape(text)).splitlines() if line.strip()]
    return Markup("".join("<p>" + _BOLD.sub(r"<strong>\1</strong>", line) + "</p>" for line in lines))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _site_or_404(code: str) -> Site:
    site = db().exec(select(Site).where(Site.code == code)).first()
    if site is None:
        abort(404)
    return site


@bp.route("/standards")
@roles_required(HQ_ALL)
def standards():
    session, now = db(), _now()
    return render_template("distribution/standards.html", now=now,
                           by_standard=distribution.progress_by_standard(session=session, now=now),
                           by_site=distribution.progress_by_site(session=session, now=now))


@bp.route("/standards/<key>")
@roles_required(HQ_ALL)
def standard(key: str):
    """One standard: its versions, its text, and the diff between any two versions."""
    session = db()
    versions = distribution.standard_versions(session=session, key=key)
    if not versions:
        abort(404)
    new = converters.integer(request.args.get("to"), "to", default=versions[0].version)
    older = [v.version for v in versions if v.version < new]  # authors may skip version numbers
    old = converters.integer(request.args.get("from"), "from", default=older[0] if older else new)
    try:
        after = distribution.get_standard(session=session, key=key, version=new)
        before = distribution.get_standard(session=session, key=key, version=old) if old != new else None
    except DistributionError as exc:
        abort(404, str(exc))
    text_diff, field_changes = distribution.changes(before, after)
    return render_template("distribution/standard.html", versions=versions, standard=after, before=before,
                           text_diff=text_diff, field_changes=field_changes)


@bp.route("/configs")
@roles_required(HQ_ALL)
def configs():
    session = db()
    rows = distribution.config_rows(session=session, now=_now(), grace_minutes=settings().config_drift_grace_minutes)
    partners = dict(session.exec(select(Franchisee.id, Franchisee.code)).all())
    return render_template("distribution/configs.html", rows=rows, partners=partners)


@bp.route("/sites/<code>/config")
@roles_required(HQ_ALL)
def site_config(code: str):
    """A site's config in force with the layer that set every key, its versions, a diff, and drift."""
    session = db()
    site = _site_or_404(code)
    return render_template("distribution/site_config.html", site=site,
                           **site_config_context(session=session, site=site, args=request.args,
                                                 grace_minutes=settings().config_drift_grace_minutes))


def site_config_context(*, session, site: Site, args, grace_minutes: int) -> dict:
    """What the HQ and portal config pages of a site show (shared so both say the same)."""
    versions = distribution.versions(session=session, site_id=site.id)
    state = distribution.site_state(session=session, site_id=site.id)
    current = next((v for v in versions if state and v.version == state.desired_version), None)
    changes, old, new = [], None, None
    if len(versions) > 1:
        new = converters.integer(args.get("to"), "to", default=versions[0].version)
        old = converters.integer(args.get("from"), "from", default=max(new - 1, 1))
        try:
            old, new, changes = distribution.diff_versions(session=session, site=site, old=old, new=new)
        except DistributionError:
            abort(404)
    leaves = flatten(current.content) if current else {}
    return dict(versions=versions, state=state, current=current, changes=changes, old=old, new=new,
                leaves=sorted(leaves.items()), provenance=current.provenance if current else {},
                drifted=distribution.is_drifted(state, now=_now(), grace_minutes=grace_minutes))


@bp.route("/sites/<code>/config/rollback", methods=["POST"])
@roles_required(HQ_EDITORS)
def rollback(code: str):
    site = _site_or_404(code)
    version = converters.integer(request.form.get("version"), "version")
    if version is None:
        abort(400, "version is required")
    try:
        outcome = distribution.rollback(session=db(), site=site, to_version=version,
                                        actor=audit.Actor.of(current_user), now=_now())
    except DistributionError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".site_config", code=code))
    db().commit()
    flash(_("Version %(new)s (the content of version %(old)s) is queued for delivery.", new=outcome.version,
            old=version), "success")
    return redirect(url_for(".site_config", code=code))


@bp.route("/sites/<code>/config/drift", methods=["POST"])
@roles_required(HQ_EDITORS)
def inspect(code: str):
    """Ask the site's agent what config it holds, to name the keys that differ."""
    site = _site_or_404(code)
    checks = check_drift(session=db(), settings=settings(), now=_now(), site_codes=[site.code])
    db().commit()
    if not checks:
        flash(_("The site holds its desired config."), "success")
    elif checks[0].error:
        flash(_("The agent could not be asked: %(error)s", error=checks[0].error), "error")
    else:
        flash(_("Differing keys: %(keys)s", keys=", ".join(checks[0].keys) or "—"), "warning")
    return redirect(url_for(".site_config", code=code))
