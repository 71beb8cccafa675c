"""Brand Hub: the hub a coworking brand runs at HQ for its licensed sites."""
from __future__ import annotations

from importlib import import_module

from flask import Flask

from .settings import Settings

# Every area's blueprint, registered in this order. Each module exposes ``bp``.
BLUEPRINTS = (
    "brand_hub.auth.views",
    "brand_hub.dashboard.views",
    "brand_hub.collection.views",
    "brand_hub.distribution.views",
    "brand_hub.scores.views",
    "brand_hub.compliance.views",
    "brand_hub.billing.views",
    "franchisee_portal.views",
    "brand_hub.simulator.views",
    "brand_hub.renewals.views",
)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app (HQ dashboard and partner portal) for ``settings``."""
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
    for module_name in BLUEPRINTS:
        app.register_blueprint(import_module(module_name).bp)
    return app
