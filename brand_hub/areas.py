"""Every area's web parts, registered in one place that the app factory calls.

Blueprints register in this order (HQ areas, then the portal); the template
helpers that pages of several areas share (flag words, standards markup, the
words of people, audit entries, metrics and feeds; the words and reads of
revenue checks and disputes, the NPS answers left out) are installed app-wide
here, so no page depends on another area's blueprint to get them.
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
    from .dashboard import words as people_words
    from .distribution import words as standard_words

    return {**flag_words.helpers(), **standard_words.helpers(), **people_words.helpers()}


def template_globals() -> dict:
    """Functions the pages of several areas call (HQ and portal invoice pages, scorecards), as Jinja globals."""
    from .billing import disputes, reads, trust_words
    from .scores.left_out import nps_left_out
    from .web import db

    def left_out(site, period) -> int:
        return nps_left_out(session=db(), site=site, period=period) if site is not None and period else 0

    return {
        "trust_words": lambda: trust_words,  # the words of issue 11 (findings, verdicts, states, diff causes)
        "revenue_checks_counts": lambda: reads.checks_counts(session=db()),
        "invoice_disputes": lambda invoice_id: disputes.of_invoice(session=db(), invoice_id=invoice_id),
        "invoice_line": lambda line_id: reads.invoice_line(session=db(), line_id=line_id),
        "nps_left_out": left_out,
    }


def register_areas(app: Flask) -> None:
    app.context_processor(template_helpers)
    for name, function in template_globals().items():
        app.add_template_global(function, name)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
