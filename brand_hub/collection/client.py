"""Talking to one site agent over HTTP: bearer token, timeouts, retries with backoff.

The token goes only into the ``Authorization`` header; no message, log line or
recorded error ever contains it.
"""
from __future__ import annotations

import time
from typing import Any

import requests

from . import AgentAuthError, AgentError


class AgentClient:
    """One site's agent. Not shared between threads: each pull makes its own."""

    def __init__(self, base_url: str, token: str, *, timeout: float, retries: int, backoff: float,
                 verify: bool = True):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.http = requests.Session()
        self.http.verify = verify
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.http.headers["User-Agent"] = "brandhub-collector/1"

    def close(self) -> None:
        self.http.close()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/v1/health")

    def page(self, stream: str, after: str, limit: int) -> dict[str, Any]:
        return self._call("GET", f"/v1/{stream}", params={"after": after, "limit": limit})

    def put_config(self, version: int, content_hash: str, content: dict) -> str:
        answer = self._call("PUT", "/v1/config", json={"version": version, "hash": content_hash, "config": content})
        applied = answer.get("applied_hash")
        if not isinstance(applied, str):
            raise AgentError("config delivery: the agent's answer has no applied_hash")
        return applied

    def _call(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        """One request, retried on connection errors, timeouts and 5xx; 4xx are final."""
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            except requests.Timeout:
                last = f"{method} {path}: no answer within {self.timeout:g} s"
                continue
            except requests.ConnectionError as exc:
                last = f"{method} {path}: cannot connect ({_reason(exc)})"
                continue
            if response.status_code == 401:
                raise AgentAuthError(f"{method} {path}: 401 unauthorised (the agent refused the site token)")
            if response.status_code >= 500:
                last = f"{method} {path}: HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise AgentError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
            try:
                body = response.json()
            except ValueError:
                raise AgentError(f"{method} {path}: the answer is not JSON") from None
            if not isinstance(body, dict):
                raise AgentError(f"{method} {path}: the answer is not a JSON object")
            return body
        raise AgentError(f"{last} (after {self.retries + 1} attempts)")


def _reason(exc: Exception) -> str:
    """A short cause without the request (whose repr could carry headers)."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset"):
        if marker in text:
            return marker
    return type(exc).__name__
