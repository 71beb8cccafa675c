"""Security headers, set once for every response of the hub.

The Content-Security-Policy lets pages load scripts, styles, images and fonts from the
hub itself only; the few inline scripts (chart data and set-up) carry the request's
nonce (``csp_nonce()`` in templates). Framing is refused, MIME sniffing off, the
referrer stays on the hub, and in production browsers are told to use HTTPS only.
"""
from __future__ import annotations

import secrets

from flask import Flask, g

HSTS = "max-age=31536000; includeSubDomains"


def csp_nonce() -> str:
    """The nonce of this response's inline scripts (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def init_app(app: Flask, *, production: bool) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def secure(response):
        headers = response.headers
        headers["Content-Security-Policy"] = policy(csp_nonce())
        headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if production:
            headers["Strict-Transport-Security"] = HSTS
        return response
