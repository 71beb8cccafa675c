"""Talking to one site agent over HTTP: bearer token, timeouts, retries with backoff (urllib3's ``Retry``).

The one client the hub uses for its agents (the collector and the drift check).
The token goes only into the ``Authorization`` header; no message, log line or
recorded error ever contains it.
"""
from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from . import AgentAuthError, AgentError


class AgentCallFailed(AgentError):
    """A call that failed; ``reason`` is the short cause (no retries count, no detail)."""

    def __init__(self, call: str, reason: str, detail: str = ""):
        super().__init__(f"{call}: {reason}{detail}")
        self.reason = reason


class AgentClient:
    """One site's agent. Not shared between threads: each pull makes its own."""

    def __init__(self, base_url: str, token: str, *, timeout: float, retries: int, backoff: float,
                 verify: bool = True):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.http = requests.Session()
        self.http.verify = verify
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["User-Agent"] = "brandhub-collector/1"
        # connection errors, timeouts and 5xx are retried with exponential backoff; 4xx are final.
        # PUT /v1/config is idempotent (the agent keys it by the config's hash), so it is retried too.
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
                      backoff_factor=backoff, status_forcelist=range(500, 600),
                      allowed_methods=frozenset({"GET", "PUT"}), raise_on_status=False,
                      respect_retry_after_header=False)
        adapter = HTTPAdapter(max_retries=retry)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    @classmethod
    def from_settings(cls, base_url: str, token: str, settings) -> "AgentClient":
        """A client with the collector's timeout, retries, backoff and TLS check."""
        return cls(base_url, token, timeout=settings.collect_timeout_seconds, retries=settings.collect_retries,
                   backoff=settings.collect_backoff_seconds, verify=settings.agent_tls_verify)

    def close(self) -> None:
        self.http.close()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def page(self, stream: str, after: str, limit: int) -> dict[str, Any]:
        return self._call("GET", f"/v1/{stream}", params={"after": after, "limit": limit})

    def config(self) -> dict[str, Any]:
        """What the agent holds (``GET /v1/config``): version, hash and content, or nulls."""
        return self._call("GET", "/v1/config")

    def put_config(self, version: int, content_hash: str, content: dict) -> str:
        answer = self._call("PUT", "/v1/config", json={"version": version, "hash": content_hash, "config": content})
        applied = answer.get("applied_hash")
        if not isinstance(applied, str):
            raise AgentError("config delivery: the agent's answer has no applied_hash")
        return applied

    def _call(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        """One request (retried by the adapter); the answer must be a JSON object."""
        call = f"{method} {path}"
        attempts = f" (after {self.retries + 1} attempts)"
        try:
            response = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise AgentCallFailed(call, f"no answer within {self.timeout:g} s", attempts) from None
        except requests.ConnectionError as exc:
            if _timed_out(exc):
                raise AgentCallFailed(call, f"no answer within {self.timeout:g} s", attempts) from None
            raise AgentCallFailed(call, "cannot connect", f" ({_reason(exc)}){attempts}") from None
        except requests.RequestException as exc:
            raise AgentCallFailed(call, type(exc).__name__) from None
        if response.status_code == 401:
            raise AgentAuthError(f"{call}: 401 unauthorised (the agent refused the site token)")
        if response.status_code >= 500:
            raise AgentCallFailed(call, f"HTTP {response.status_code}", attempts)
        if response.status_code >= 400:
            raise AgentCallFailed(call, f"HTTP {response.status_code}", f" {response.text[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise AgentCallFailed(call, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise AgentCallFailed(call, "the answer is not a JSON object")
        return body


def _timed_out(exc: Exception) -> bool:
    """A read timeout that outlived its retries reaches requests as a ConnectionError around it."""
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ReadTimeoutError)


def _reason(exc: Exception) -> str:
    """A short cause without the request (whose repr could carry headers)."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset"):
        if marker in text:
            return marker
    return type(exc).__name__
