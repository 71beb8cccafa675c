"""Sign in and out, for HQ staff and partners alike."""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from flask_login import current_user, login_user, logout_user

from .. import accounts
from ..web import db, settings
from ..web.access import public
from ..web.redirects import safe_target
from . import sessions

bp = Blueprint("auth", __name__, template_folder="templates")


def _home_for(user) -> str:
    return url_for("dashboard.overview") if user.is_hq else url_for("portal.home")


def _fresh_cookie() -> None:
    """Drop everything the cookie held (old CSRF token, old session id), keeping the language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _commit_counts() -> None:
    """Store the failure counts; two failures racing to open the same count lose one, never a 500."""
    try:
        db().commit()
    except IntegrityError:
        db().rollback()


@bp.route("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(_home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "POST":
        s = settings()
        try:
            user = accounts.authenticate(session=db(), email=request.form.get("email", ""),
                                         password=request.form.get("password", ""),
                                         max_failures=s.login_max_failures,
                                         lockout_minutes=s.login_lockout_minutes,
                                         address=request.remote_addr or "",
                                         delay_seconds=s.login_delay_seconds,
                                         address_max_failures=s.login_address_max_failures)
        except accounts.LockedOut as exc:
            _commit_counts()
            from datetime import datetime, timezone

            wait = max(1, math.ceil((exc.until - datetime.now(timezone.utc)).total_seconds()))
            flash(_("Too many failed sign-ins. Wait %(seconds)s seconds, then try again.", seconds=wait), "error")
            return render_template("auth/login.html"), 429, {"Retry-After": str(wait)}
        if user is None:
            _commit_counts()
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html"), 401
        token = sessions.open_session(session=db(), user=user)
        db().commit()
        _fresh_cookie()
        login_user(user)
        session["sid"] = token
        return redirect(safe_target(request.args.get("next"), _home_for(user)))
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    sessions.revoke(session=db(), token=session.get("sid"), reason="logout")
    db().commit()
    logout_user()
    _fresh_cookie()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/healthz")
@public
def healthz():
    return {"status": "ok"}
