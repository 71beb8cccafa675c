"""Surveys people cannot stuff: one answer per device per survey window, judged here at the site.

* Each visit of the survey page gets a **signed, site-bound token** (HMAC with a secret
  made at the site and kept in this module's ledger); a POST without a valid, unused
  token of this site and of the last ``TOKEN_HOURS`` is refused.
* A device is known by a **salted hash** of its survey cookie and of its address and
  browser. The salt is the same local secret; hashes never leave the site (they are
  not in the buffer, not in any record the hub pulls).
* The **window** is the delivered site config's ``survey.window_days`` (default 30).
  A second answer from a device inside its window is **kept** in the ledger, marked
  a repeat, and **left out of NPS**: it is not written as an NPS answer; the hub only
  learns that one repeat was left out (an ``survey_repeat`` operations event with no
  score, no device), so the scorecard can say how many were left out.
* Each client may post at most ``RATE_LIMIT`` times per ``RATE_SECONDS``; beyond
  that the page says to wait (HTTP 429) and nothing is stored.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_WINDOW_DAYS = 30
TOKEN_HOURS = 2
RATE_LIMIT = 3
RATE_SECONDS = 60
COOKIE = "bh_survey_device"

SCHEMA = """
CREATE TABLE IF NOT EXISTS survey_secret (id INTEGER PRIMARY KEY CHECK (id = 1), secret BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS survey_token_used (nonce TEXT PRIMARY KEY, used_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS survey_answer (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id TEXT NOT NULL UNIQUE,
    device_hash TEXT NOT NULL,
    address_hash TEXT NOT NULL,
    answered_at TEXT NOT NULL,
    score INTEGER NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_survey_answer_device ON survey_answer (device_hash, answered_at);
CREATE INDEX IF NOT EXISTS ix_survey_answer_address ON survey_answer (address_hash, answered_at);
"""


class TokenRefused(ValueError):
    """The form's token is missing, forged, of another site, too old or already used."""


@dataclass(frozen=True)
class Judgement:
    """What the ledger made of one answer."""

    record_id: str
    repeat: bool


def window_days(config: dict[str, Any] | None) -> int:
    """The survey window from the delivered site config (``survey.window_days``), else 30 days."""
    try:
        value = int(((config or {}).get("survey") or {}).get("window_days", DEFAULT_WINDOW_DAYS))
    except (TypeError, ValueError):
        return DEFAULT_WINDOW_DAYS
    return value if 1 <= value <= 366 else DEFAULT_WINDOW_DAYS


class RateLimit:
    """At most ``limit`` posts per client in any ``seconds``; in memory (a restart forgives)."""

    def __init__(self, limit: int = RATE_LIMIT, seconds: float = RATE_SECONDS, clock=time.monotonic):
        self.limit, self.seconds, self.clock = limit, seconds, clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            hits = self._hits[client]
            while hits and now - hits[0] >= self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._hits.items() if not v][:5000]:
                    del self._hits[key]
            return True


class SurveyLedger:
    """The site's survey ledger: the local secret, used tokens and every answer's device judgement."""

    def __init__(self, path: str | Path, site_code: str):
        self.site_code = site_code
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT secret FROM survey_secret WHERE id = 1").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO survey_secret (id, secret) VALUES (1, ?)",
                             (secrets.token_bytes(32),))
            row = self._db.execute("SELECT secret FROM survey_secret WHERE id = 1").fetchone()
        self._secret: bytes = row[0]
        self.limits = RateLimit()

    def close(self) -> None:
        self._db.close()

    # -- tokens ----------------------------------------------------------------------------
    def _sign(self, payload: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._secret, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def issue_token(self, now: datetime) -> str:
        """A token for one visit of the page: this site, this moment, a fresh nonce, signed."""
        payload = f"{self.site_code}|{int(now.timestamp())}|{secrets.token_urlsafe(12)}".encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def spend_token(self, token: str | None, now: datetime) -> None:
        """Accept a token once: signed here, for this site, not older than ``TOKEN_HOURS``, never used."""
        try:
            body, signature = str(token or "").split(".", 1)
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            site, issued, nonce = payload.decode().split("|")
            issued_at = int(issued)
        except (ValueError, UnicodeDecodeError):
            raise TokenRefused("malformed") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise TokenRefused("signature")
        if site != self.site_code:
            raise TokenRefused("another site")
        if not 0 <= now.timestamp() - issued_at <= TOKEN_HOURS * 3600:
            raise TokenRefused("expired")
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO survey_token_used (nonce, used_at) VALUES (?, ?)",
                                      (nonce, now.isoformat()))
            if cursor.rowcount == 0:
                raise TokenRefused("used")
            self._db.execute("DELETE FROM survey_token_used WHERE used_at < ?",
                             ((now - timedelta(hours=TOKEN_HOURS + 1)).isoformat(),))

    # -- devices ---------------------------------------------------------------------------
    def device_hash(self, value: str) -> str:
        """A salted hash of a device trait; the salt never leaves the site, nor does the hash."""
        return hmac.new(self._secret, b"device|" + value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def judge(self, *, cookie: str, address: str, user_agent: str, score: int, now: datetime,
              window: int) -> Judgement:
        """Record an answer; it is a repeat when this device (cookie, or address and browser) answered
        within the window. Repeats are kept here, marked."""
        device = self.device_hash("cookie|" + cookie) if cookie else self.device_hash("none|" + uuid.uuid4().hex)
        where = self.device_hash(f"addr|{address}|{user_agent}")
        since = (now - timedelta(days=window)).isoformat()
        record_id = f"survey-{uuid.uuid4()}"
        with self._lock:
            seen = self._db.execute(
                "SELECT 1 FROM survey_answer WHERE repeat = 0 AND answered_at >= ? "
                "AND (device_hash = ? OR address_hash = ?) LIMIT 1", (since, device, where)).fetchone()
            self._db.execute("INSERT INTO survey_answer (record_id, device_hash, address_hash, answered_at, score, "
                             "repeat) VALUES (?, ?, ?, ?, ?, ?)",
                             (record_id, device, where, now.isoformat(), score, 1 if seen else 0))
        return Judgement(record_id=record_id, repeat=bool(seen))

    def counts(self) -> dict[str, int]:
        rows = dict(self._db.execute("SELECT repeat, COUNT(*) FROM survey_answer GROUP BY repeat").fetchall())
        return {"counted": rows.get(0, 0), "repeats": rows.get(1, 0)}


_LEDGERS: dict[int, SurveyLedger] = {}
_LEDGERS_LOCK = threading.Lock()


def ledger_for(agent) -> SurveyLedger:
    """The survey ledger beside the agent's buffer (``<buffer>.survey.sqlite``), one per agent."""
    with _LEDGERS_LOCK:
        found = _LEDGERS.get(id(agent))
        if found is None or found.site_code != agent.config.site_code:
            path = Path(agent.config.buffer_path)
            found = SurveyLedger(path.with_name(path.name + ".survey.sqlite"), agent.config.site_code)
            _LEDGERS[id(agent)] = found
        return found
