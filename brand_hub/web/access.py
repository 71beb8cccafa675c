"""Who may use which route. Every view states its roles with ``roles_required``."""
from __future__ import annotations

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from ..models import Role, User

HQ_ALL = frozenset({Role.hq_admin, Role.hq_manager, Role.hq_finance, Role.hq_viewer})
HQ_EDITORS = frozenset({Role.hq_admin, Role.hq_manager})
HQ_ADMINS = frozenset({Role.hq_admin})
HQ_FINANCE = frozenset({Role.hq_admin, Role.hq_finance})
PORTAL_ALL = frozenset({Role.franchisee_admin, Role.franchisee_staff})
PORTAL_ADMINS = frozenset({Role.franchisee_admin})
PUBLIC = frozenset()  # marker: no sign-in needed


def roles_required(roles):
    """Let only signed-in users with one of ``roles`` in; others get 403, anonymous ones login.

    The allowed roles are kept on the view (``view.allowed_roles``) so the access
    matrix test can check every route states them.
    """
    allowed = frozenset(Role(r) for r in roles)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path))
            if Role(current_user.role) not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorate


def public(view):
    """Mark a view as open to everyone (sign-in page, health check)."""
    view.allowed_roles = PUBLIC
    return view


def load_user(user_id: str) -> User | None:
    """The signed-in user, if the cookie's server-side session is still live.

    The session row is checked (and its last use noted) in a short transaction of
    its own, so a page that never commits still ends expired sessions for good.
    """
    from datetime import timedelta

    from flask import current_app, session as cookie
    from sqlmodel import Session

    from ..auth.sessions import current_session
    from . import db, settings

    if not user_id.isdigit() or len(user_id) > 18:
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.active:
        return None
    s = settings()
    with Session(current_app.extensions["brandhub.engine"]) as own:
        live = current_session(session=own, token=cookie.get("sid"), user_id=user.id,
                               idle=timedelta(minutes=s.session_idle_minutes),
                               absolute=timedelta(hours=s.session_absolute_hours))
        own.commit()
    if live is None:
        cookie.pop("sid", None)
        return None
    return user


def unauthorized():
    return redirect(url_for("auth.login", next=request.full_path))
