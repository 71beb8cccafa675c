"""The branded error pages: every 4xx and 5xx is our page, in the reader's language.

Each request gets a short id (``X-Request-Id``). An unexpected error is logged with it
and the page shows it, so a user can quote it and HQ can find the traceback in the
log; the page itself never shows a traceback.
"""
from __future__ import annotations

import logging
import secrets

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from .converters import BadInput

log = logging.getLogger("brand_hub.web")

_FALLBACK = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{code}</title></head>
<body><h1>{code}</h1><p>出错了。Something went wrong.</p><p>请求编号 Request id: {rid}</p>
<p><a href="/">返回首页 Back to the start page</a></p></body></html>"""


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = secrets.token_hex(6)
    return g.request_id


def _rollback() -> None:
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except Exception:  # a broken connection: the page is still shown
            log.exception("rollback failed [request %s]", request_id())


def error_page(code: int, detail: str = ""):
    """Our page for ``code``; if even that fails, a plain bilingual page (still no traceback)."""
    try:
        body = render_template("errors/error.html", code=code, detail=detail, request_id=request_id())
    except Exception:
        log.exception("error page failed [request %s]", request_id())
        _rollback()
        body = _FALLBACK.format(code=code, rid=request_id())
    return body, code


def init_app(app: Flask) -> None:
    @app.before_request
    def name_request() -> None:
        request_id()

    @app.after_request
    def tag(response):
        response.headers.setdefault("X-Request-Id", request_id())
        return response

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput):
        _rollback()
        return error_page(400, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code >= 500:
            log.error("%s %s gave %s [request %s]", request.method, request.path, exc.code, request_id())
            _rollback()
        detail = exc.description if exc.code in (400, 413) and exc.description else ""
        if exc.code == 400 and detail == HTTPException.description:
            detail = ""
        response = exc.get_response()
        body, code = error_page(exc.code, detail if isinstance(detail, str) else "")
        response.set_data(body)
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("%s %s failed [request %s]", request.method, request.path, request_id())
        _rollback()
        return error_page(500)
