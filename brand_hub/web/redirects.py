"""Where the hub may send a browser after sign-in or a language switch: home only.

A target is accepted only when it is a plain relative path of this app (it matches
one of the app's GET routes): no scheme, no host, no ``//``, no backslash, no
whitespace or control characters (browsers strip a tab, so ``/\\t/host`` would
become ``//host``). Anything else falls back to the default page.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

MAX_TARGET = 2000
_REFUSED_ENDPOINTS = frozenset({"auth.login", "auth.logout", "set_language", "static"})


def safe_target(raw: object, default: str) -> str:
    """``raw`` if it is a relative path of this app, else ``default``."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TARGET:
        return default
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return default
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        return default
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _args = adapter.match(parts.path, method="GET")
    except RequestRedirect:
        return raw  # e.g. a missing trailing slash: still one of ours
    except HTTPException:
        return default
    if endpoint in _REFUSED_ENDPOINTS:
        return default
    return raw
