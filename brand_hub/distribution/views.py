"""HQ dashboard pages of the distribution area: standards and their acknowledgement, site configs and drift."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import audit, distribution
from ..models import Site
from ..paging import page_number
from ..scope import Scope
from ..web import db, settings
from ..web.access import HQ_ALL, HQ_EDITORS, roles_required
from ..web import converters
from ..web.lookups import or_404, site_or_404
from ..web.refusals import refused
from . import DistributionError, reads
from .drift import check_drift

bp = Blueprint("distribution", __name__, url_prefix="/hq/distribution", template_folder="templates")


def _now() -> datetime:
    return datetime.now(timezone.utc)


_site_or_404 = site_or_404


@bp.route("/standards")
@roles_required(HQ_ALL)
def standards():
    session, now = db(), _now()
    return render_template("distribution/standards.html", now=now,
                           by_standard=reads.standards_progress(session=session, scope=Scope.hq(), now=now,
                                                                page=page_number(request.args, "standards_page")),
                           by_site=reads.sites_progress(session=session, scope=Scope.hq(), now=now,
                                                        page=page_number(request.args)))


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
    page = reads.config_list(session=db(), scope=Scope.hq(), now=_now(),
                             grace_minutes=settings().config_drift_grace_minutes, page=page_number(request.args))
    return render_template("distribution/configs.html", rows=page.items, page=page)


@bp.route("/sites/<code>/config")
@roles_required(HQ_ALL)
def site_config(code: str):
    """A site's config in force with the layer that set every key, its versions, a diff, and drift."""
    session = db()
    site = _site_or_404(code)
    return render_template("distribution/site_config.html", site=site, **site_config_of(site))


def site_config_of(site: Site) -> dict:
    """The config page's content for ``site`` (HQ and portal), versions to compare from the query."""
    return or_404(reads.site_config, missing=(DistributionError,), site=site,
                  old=converters.integer(request.args.get("from"), "from"),
                  new=converters.integer(request.args.get("to"), "to"),
                  grace_minutes=settings().config_drift_grace_minutes, now=_now())


@bp.route("/sites/<code>/config/rollback", methods=["POST"])
@roles_required(HQ_EDITORS)
def rollback(code: str):
    site = _site_or_404(code)
    version = converters.integer(request.form.get("version"), "version")
    if version is None:
        abort(400, "version is required")
    with refused(DistributionError) as refusal:
        outcome = distribution.rollback(session=db(), site=site, to_version=version,
                                        actor=audit.Actor.of(current_user), now=_now())
    if refusal:
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
