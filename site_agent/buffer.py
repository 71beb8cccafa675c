"""The agent's durable buffer: one SQLite file in WAL mode with fully synced commits.

A reading, answer or event is accepted only once its transaction is on disk, so a
``kill -9`` loses nothing the agent said it took. Readings are folded into open
buckets; a bucket is *sealed* (given the next sequence number of its stream) once
its end plus a grace period has passed. Sealed records never change, so the hub's
cursor (the last sequence number it committed) is exact: re-reading a page changes
nothing, and nothing is skipped.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS open_bucket (
    zone TEXT NOT NULL, metric TEXT NOT NULL, bucket_start TEXT NOT NULL, bucket_end TEXT NOT NULL,
    count INTEGER NOT NULL, total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
    PRIMARY KEY (zone, metric, bucket_start)
);
CREATE INDEX IF NOT EXISTS ix_open_bucket_end ON open_bucket (bucket_end);
CREATE TABLE IF NOT EXISTS bucket (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL, metric TEXT NOT NULL, bucket_start TEXT NOT NULL, bucket_minutes INTEGER NOT NULL,
    count INTEGER NOT NULL, total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL, sealed_at TEXT NOT NULL,
    UNIQUE (zone, metric, bucket_start)
);
CREATE TABLE IF NOT EXISTS nps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL UNIQUE, answered_at TEXT NOT NULL,
    score INTEGER NOT NULL, comment TEXT NOT NULL, language TEXT NOT NULL, received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL, ref TEXT NOT NULL, quantity INTEGER, data TEXT NOT NULL, received_at TEXT NOT NULL
);
-- readings taken into still-open buckets, by their own time: a reading sent twice (an MQTT
-- QoS 1 redelivery, a site system retrying a POST that timed out) is counted once
CREATE TABLE IF NOT EXISTS seen_reading (
    zone TEXT NOT NULL, metric TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (zone, metric, at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pulled (stream TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied_config (
    id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, hash TEXT NOT NULL, content TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
"""
STREAMS = {"readings": "bucket", "nps": "nps", "events": "event"}


def iso(moment: datetime) -> str:
    """The buffer's one spelling of a time: UTC, seconds, ``Z``; sorts as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(moment: datetime) -> str:
    """A reading's own time to the microsecond, in one fixed width so it sorts as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Buffer:
    """The buffer file. One connection, serialised by a lock (the agent's load is small)."""

    def __init__(self, path: str | Path, bucket_minutes: int = 15):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.bucket_minutes = bucket_minutes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        # A new buffer file starts its sequences at 1 again; its id tells the hub to start over too.
        self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('buffer_id', ?)", (uuid.uuid4().hex,))
        self.buffer_id = self._db.execute("SELECT value FROM meta WHERE name = 'buffer_id'").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- intake ------------------------------------------------------------------------------
    def add_readings(self, readings: list[tuple[str, str, datetime, float, datetime]]) -> tuple[int, int]:
        """Fold ``(zone, metric, bucket_start, value, at)`` into open buckets; return (late, duplicate).

        A reading for a bucket already sealed (and so maybe already at the hub) is late and
        refused: a sealed bucket never changes. A reading of a zone and metric at a moment
        already taken is the same reading sent again, and is not counted twice.
        """
        late = duplicate = 0
        span = timedelta(minutes=self.bucket_minutes)
        with self._lock, self._transaction():
            for zone, metric, start, value, at in readings:
                seen = self._db.execute("INSERT OR IGNORE INTO seen_reading (zone, metric, at) VALUES (?, ?, ?)",
                                        (zone, metric, _instant(at)))
                if seen.rowcount == 0:
                    duplicate += 1
                    continue
                cur = self._db.execute(
                    "INSERT INTO open_bucket (zone, metric, bucket_start, bucket_end, count, total, low, high) "
                    "SELECT ?, ?, ?, ?, 1, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM bucket WHERE zone = ? AND metric = ? AND bucket_start = ?) "
                    "ON CONFLICT (zone, metric, bucket_start) DO UPDATE SET count = count + 1, "
                    "total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high)",
                    (zone, metric, iso(start), iso(start + span), value, value, value, zone, metric, iso(start)))
                if cur.rowcount == 0:
                    late += 1
                    self._db.execute("DELETE FROM seen_reading WHERE zone = ? AND metric = ? AND at = ?",
                                     (zone, metric, _instant(at)))
        return late, duplicate

    def add_nps(self, answers: list[dict[str, Any]], now: datetime) -> int:
        """Store answers (already scrubbed); an answer whose record id is known is ignored. Return new ones."""
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO nps (record_id, answered_at, score, comment, language, received_at) "
                "VALUES (:record_id, :answered_at, :score, :comment, :language, :received_at)",
                [dict(a, received_at=iso(now)) for a in answers])
            return self._db.total_changes - before

    def add_events(self, events: list[dict[str, Any]], now: datetime) -> int:
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO event (record_id, kind, occurred_at, ref, quantity, data, received_at) "
                "VALUES (:record_id, :kind, :occurred_at, :ref, :quantity, :data, :received_at)",
                [dict(e, data=json.dumps(e["data"], ensure_ascii=False), received_at=iso(now)) for e in events])
            return self._db.total_changes - before

    def count(self, reasons: dict[str, int], prefix: str = "reject:") -> None:
        """Add to the durable counters (refusals by reason, records dropped at the buffer limit)."""
        if not reasons:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT INTO counter (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                [(prefix + reason, n) for reason, n in reasons.items()])

    def counters(self, prefix: str) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM counter WHERE name LIKE ?", (prefix + "%",)).fetchall()
        return {name[len(prefix):]: value for name, value in rows}

    # -- sealing, pulling, retention ---------------------------------------------------------
    def seal(self, now: datetime, grace: timedelta) -> int:
        """Seal every open bucket that ended before ``now - grace``, oldest first; return how many."""
        cutoff = iso(now - grace)
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO bucket (zone, metric, bucket_start, bucket_minutes, count, total, low, high, sealed_at) "
                "SELECT zone, metric, bucket_start, ?, count, total, low, high, ? FROM open_bucket "
                "WHERE bucket_end <= ? ORDER BY bucket_start, zone, metric",
                (self.bucket_minutes, iso(now), cutoff))
            sealed = cur.rowcount
            self._db.execute("DELETE FROM open_bucket WHERE bucket_end <= ?", (cutoff,))
            # a reading older than this belongs to a sealed bucket: sent again, it is refused as late
            forget = now - grace - timedelta(minutes=self.bucket_minutes)
            self._db.execute("DELETE FROM seen_reading WHERE at < ?", (_instant(forget),))
        return sealed

    def page(self, stream: str, after: int, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
        """Records of ``stream`` after sequence ``after``: (records, cursor to ask after next, more?).

        Asking after ``n`` also says the hub has committed everything up to ``n``.
        """
        table = STREAMS[stream]
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO pulled (stream, seq) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE "
                "SET seq = max(seq, excluded.seq)", (stream, after))
            rows = self._db.execute(f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after, limit + 1)).fetchall()
            names = [d[0] for d in self._db.execute(f"SELECT * FROM {table} LIMIT 0").description]
        more = len(rows) > limit
        rows = rows[:limit]
        records = [_record(stream, dict(zip(names, row))) for row in rows]
        cursor = rows[-1][0] if rows else after
        return records, cursor, more

    def depth(self) -> dict[str, Any]:
        """Unpulled records per stream, the oldest unpulled time, and the open buckets."""
        with self._lock:
            acked = dict(self._db.execute("SELECT stream, seq FROM pulled").fetchall())
            result: dict[str, Any] = {}
            oldest: list[str] = []
            for stream, table in STREAMS.items():
                seq = acked.get(stream, 0)
                n, first = self._db.execute(f"SELECT count(*), min(seq) FROM {table} WHERE seq > ?", (seq,)).fetchone()
                result[stream] = n
                if first is not None:
                    column = {"bucket": "bucket_start", "nps": "answered_at", "event": "occurred_at"}[table]
                    oldest.append(self._db.execute(f"SELECT {column} FROM {table} WHERE seq = ?",
                                                   (first,)).fetchone()[0])
            result["open_buckets"] = self._db.execute("SELECT count(*) FROM open_bucket").fetchone()[0]
        result["oldest_unpulled"] = min(oldest) if oldest else None
        return result

    def prune(self, now: datetime, retention: timedelta, limit: int) -> dict[str, int]:
        """Delete pulled records past retention; if the buffer is over ``limit``, drop the oldest anyway.

        Returns what was dropped unpulled by stream, so the caller can report it.
        """
        cutoff = iso(now - retention)
        dropped: dict[str, int] = {}
        with self._lock, self._transaction():
            acked = dict(self._db.execute("SELECT stream, seq FROM pulled").fetchall())
            for stream, table in STREAMS.items():
                self._db.execute(f"DELETE FROM {table} WHERE seq <= ? AND {_time_column(table)} < ?",
                                 (acked.get(stream, 0), cutoff))
            total = sum(self._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in STREAMS.values())
            excess = total - limit
            if excess > 0:
                # readings are the bulk; drop their oldest first
                for stream, table in STREAMS.items():
                    if excess <= 0:
                        break
                    cur = self._db.execute(
                        f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} ORDER BY seq LIMIT ?)", (excess,))
                    if cur.rowcount:
                        dropped[stream] = cur.rowcount
                        excess -= cur.rowcount
                self._db.executemany(
                    "INSERT INTO counter (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    [("dropped:" + s, n) for s, n in dropped.items()])
        return dropped

    # -- config ------------------------------------------------------------------------------
    def save_config(self, version: int, content_hash: str, content: dict, now: datetime) -> None:
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO applied_config (id, version, hash, content, applied_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET version = excluded.version, hash = excluded.hash, "
                "content = excluded.content, applied_at = excluded.applied_at",
                (version, content_hash, json.dumps(content, ensure_ascii=False), iso(now)))

    def config(self) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT version, hash, content, applied_at FROM applied_config").fetchone()
        if row is None:
            return None
        return {"version": row[0], "hash": row[1], "config": json.loads(row[2]), "applied_at": row[3]}

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (fsync'd, synchronous=FULL), ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _time_column(table: str) -> str:
    return {"bucket": "bucket_start", "nps": "answered_at", "event": "occurred_at"}[table]


def _record(stream: str, row: dict[str, Any]) -> dict[str, Any]:
    """A buffer row as the pull API shows it."""
    if stream == "readings":
        return {"seq": row["seq"], "zone": row["zone"], "metric": row["metric"], "bucket_start": row["bucket_start"],
                "bucket_minutes": row["bucket_minutes"], "count": row["count"],
                "mean": row["total"] / row["count"], "min": row["low"], "max": row["high"]}
    if stream == "nps":
        return {"seq": row["seq"], "record_id": row["record_id"], "answered_at": row["answered_at"],
                "score": row["score"], "comment": row["comment"], "language": row["language"]}
    return {"seq": row["seq"], "record_id": row["record_id"], "kind": row["kind"], "occurred_at": row["occurred_at"],
            "ref": row["ref"], "quantity": row["quantity"], "data": json.loads(row["data"])}
