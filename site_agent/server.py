"""The agent's HTTP side: pull API v1, ingest, config and the public survey page.

One Flask app serves one agent, or many (a simulator, the demo): then each site's
agent lives under ``/sites/<code>`` and ``MultiSite`` picks it from the path.
The server is werkzeug's threaded WSGI server, run in a background thread.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, abort, g, jsonify, render_template, request
from werkzeug.serving import BaseWSGIServer, make_server

from standards.agent_wire import MAX_PAGE

from .agent import Agent, ConfigRejected
from .buffer import STREAMS
from .strings import STRINGS
from .survey_page import survey_page

ENVIRON_KEY = "site_agent.agent"
MAX_CURSOR = 2**63 - 1  # SQLite's INTEGER
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32


def create_app(default: Agent | None = None) -> Flask:
    """The agent's web app; ``default`` serves requests that do not name a site in the path."""
    app = Flask(__name__, template_folder="templates")
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.json.ensure_ascii = False

    @app.before_request
    def find_agent() -> None:
        agent = request.environ.get(ENVIRON_KEY) or default
        if agent is None:
            abort(404)
        g.agent = agent

    def authorised() -> Agent:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else None
        if not g.agent.token_ok(token):
            abort(401)
        return g.agent

    @app.errorhandler(401)
    def unauthorised(_exc):
        return jsonify(error="unauthorised", detail="a valid bearer token is required"), 401, \
            {"WWW-Authenticate": 'Bearer realm="site-agent"'}

    @app.errorhandler(400)
    def bad_request(exc):
        return jsonify(error="bad_request", detail=getattr(exc, "description", "")), 400

    @app.errorhandler(413)
    def too_large(_exc):
        return jsonify(error="too_large", detail=f"at most {MAX_JSON_BYTES} bytes"), 413

    @app.errorhandler(404)
    def not_found(_exc):
        return jsonify(error="not_found"), 404

    @app.get("/v1/health")
    def health():
        return jsonify(authorised().health())

    @app.get("/v1/<stream>")
    def pull(stream: str):
        agent = authorised()
        if stream not in STREAMS:
            abort(404)
        after = _int_arg("after", 0)
        limit = min(max(_int_arg("limit", 1000), 1), MAX_PAGE)
        return jsonify(agent.page(stream, after, limit))

    @app.post("/v1/ingest")
    def ingest():
        agent = authorised()
        body = _json_body()
        return jsonify(agent.ingest_payload(body))

    @app.get("/v1/config")
    def get_config():
        applied = authorised().current_config()
        if applied is None:
            return jsonify(version=None, hash=None, config=None)
        return jsonify(version=applied["version"], hash=applied["hash"], config=applied["config"],
                       applied_at=applied["applied_at"])

    @app.put("/v1/config")
    def put_config():
        agent = authorised()
        try:
            applied_hash = agent.apply_config(_json_body())
        except ConfigRejected as exc:
            return jsonify(error="config_rejected", detail=str(exc)), 422
        return jsonify(applied_hash=applied_hash)

    @app.route("/survey", methods=["GET", "POST"])
    def survey():
        lang = request.values.get("lang") or _browser_language()
        lang = lang if lang in STRINGS else "zh_CN"
        return survey_page(g.agent, lang)  # issue 11: signed visits, one answer per device per window

    return app


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be an integer")
    if value < 0:
        abort(400, description=f"{name} must not be negative")
    if value > MAX_CURSOR:
        abort(400, description=f"{name} must be at most {MAX_CURSOR}")
    return value


def _json_body() -> Any:
    """The request's JSON, bounded in size and nesting (deep nesting would blow the parser's stack); else 400.

    A body that is not JSON at all is None (the caller answers that as unparseable, as before).
    """
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        abort(413)
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        abort(413)
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                abort(400, description=f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return request.get_json(silent=True)


def _browser_language() -> str:
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else "zh_CN"


class MultiSite:
    """WSGI middleware: ``/sites/<code>/…`` is served by that site's agent."""

    def __init__(self, app: Flask, agents: dict[str, Agent] | None = None):
        self.app = app
        self.agents: dict[str, Agent] = dict(agents or {})

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        parts = path.split("/", 3)
        if len(parts) >= 3 and parts[1] == "sites" and parts[2] in self.agents:
            environ[ENVIRON_KEY] = self.agents[parts[2]]
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/sites/{parts[2]}"
            environ["PATH_INFO"] = "/" + (parts[3] if len(parts) > 3 else "")
        return self.app(environ, start_response)


class Server:
    """A threaded WSGI server on a background thread; ``port=0`` picks a free port."""

    def __init__(self, wsgi_app, host: str = "127.0.0.1", port: int = 0):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server: BaseWSGIServer = make_server(host, port, wsgi_app, threaded=True)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"agent-http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "Server":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
