"""Sign in and out, for HQ staff and partners alike."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .. import accounts
from ..web import db, settings
from ..web.access import public

bp = Blueprint("auth", __name__, template_folder="templates")


def _home_for(user) -> str:
    return url_for("dashboard.overview") if user.is_hq else url_for("portal.home")


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and not target.startswith("/login"):
        return target
    return None


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
                                         lockout_minutes=s.login_lockout_minutes)
        except accounts.LockedOut:
            db().commit()
            flash(_("Too many failed sign-ins. The account is locked for a while; try again later."), "error")
            return render_template("auth/login.html"), 429
        db().commit()
        if user is None:
            flash(_("Wrong e-mail or password."), "error")
            return render_template("auth/login.html"), 401
        login_user(user)
        return redirect(_safe_next(request.args.get("next")) or _home_for(user))
    return render_template("auth/login.html")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/healthz")
@public
def healthz():
    return {"status": "ok"}
