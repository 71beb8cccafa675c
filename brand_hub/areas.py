"""Every area's web parts, registered in one place that the app factory calls.

Blueprints register in this order (HQ areas, then the portal); the template
helpers that pages of several areas share (flag words, standards markup) are
installed app-wide here, so no page depends on another area's blueprint to get
them.
"""
from __future__ import annotations

from flask import Blueprint, Flask


def blueprints() -> list[Blueprint]:
    """The HQ areas' blueprints and the portal's, in the order they register."""
    from franchisee_portal.views import bp as portal

    from .auth.views import bp as auth
    from .billing.views import bp as billing
    from .collection.views import bp as collection
    from .compliance.views import bp as compliance
    from .dashboard.views import bp as dashboard
    from .distribution.views import bp as distribution
    from .scores.views import bp as scores
    from .renewals.views import bp as renewals
    from .simulator.views import bp as simulator
    from .tenure.views import bp as tenure

    return [auth, dashboard, collection, distribution, scores, compliance, billing, portal, tenure, simulator,
            renewals]


def template_helpers() -> dict:
    """Helpers the pages of several areas use (HQ and portal alike)."""
    from .compliance import words as flag_words
    from .distribution import words as standard_words

    return {**flag_words.helpers(), **standard_words.helpers()}


def register_areas(app: Flask) -> None:
    app.context_processor(template_helpers)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
