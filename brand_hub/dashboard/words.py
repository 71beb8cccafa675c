"""Machine words read by people: who did something (``system``, ``cli:ops``), in the reader's language.

Registered for every template (``actor_words``) by the dashboard blueprint.
"""
from __future__ import annotations

from flask_babel import gettext as _


def actor_words(actor: str | None) -> str:
    """``system`` → 系统 (automatic), ``cli:ops`` → 命令行（ops）, ``demo`` → 演示数据; an e-mail as it is."""
    actor = (actor or "").strip()
    if not actor:
        return "—"
    if actor == "system":
        return _("the system (automatic)")
    if actor == "demo":
        return _("demo data")
    if actor.startswith("cli:"):
        return _("command line (%(user)s)", user=actor[4:] or "?")
    return actor


def helpers() -> dict:
    return {"actor_words": actor_words}
