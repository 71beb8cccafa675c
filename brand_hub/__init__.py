"""Brand Hub: the hub a coworking brand runs at HQ for its licensed sites."""
from __future__ import annotations

from flask import Flask

from .settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app (HQ dashboard and partner portal) for ``settings``."""
    from .areas import register_areas
    from .db import make_engine
    from .web import init_web

    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()),
                template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
    )
    app.extensions["brandhub.settings"] = settings
    app.extensions["brandhub.engine"] = make_engine(settings.database_url)
    init_web(app)
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)
    register_areas(app)
    return app
