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
    if not app.testing:
        settle_heap()
    return app


def settle_heap() -> None:
    """Put the objects built at start-up (modules, the app, the scoring model...) out of the garbage
    collector's reach (``gc.freeze``): every full collection walked all of them again, about 140,000
    objects, a pause of tens of milliseconds that landed on one request in a few dozen (issue 10: a
    page with a p50 of 93 ms had a p95 of 414 ms). Garbage is collected first, so nothing dead is kept.

    ``create_app`` calls it outside tests (a test suite builds hundreds of apps; it would only slow it).
    """
    import gc

    gc.collect()
    gc.freeze()
