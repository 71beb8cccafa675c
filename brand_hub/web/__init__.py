"""What every blueprint shares: the request session, sign-in, CSRF, i18n, layout."""
from __future__ import annotations

from flask import Flask, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlmodel import Session

from ..settings import Settings


def settings() -> Settings:
    return current_app.extensions["brandhub.settings"]


def db() -> Session:
    """The request's session. The view commits once when its work is done."""
    if "db_session" not in g:
        g.db_session = Session(current_app.extensions["brandhub.engine"], expire_on_commit=False)
    return g.db_session


def settings_of(app: Flask) -> Settings:
    return app.extensions["brandhub.settings"]


def _close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_web(app: Flask) -> None:
    from . import access, converters, errors, filters, headers, i18n

    app.teardown_appcontext(_close_session)
    CSRFProtect(app)
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = None
    login.session_protection = "strong"
    login.user_loader(access.load_user)
    login.unauthorized_handler(access.unauthorized)
    i18n.init_app(app)
    filters.init_app(app)
    converters.init_app(app)
    errors.init_app(app)
    headers.init_app(app, production=settings_of(app).is_production)
