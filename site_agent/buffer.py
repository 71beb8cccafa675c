"""The agent's durable buffer: one SQLite file in WAL mode with fully synced commits.

A reading, answer or event is accepted only once its transaction is on disk, so a
``kill -9`` loses nothing the agent said it took. Readings are folded into open
buckets; a bucket is *sealed* (given the next sequence number of its stream) once
its end plus a grace period has passed and its stream has moved past it (or gone
quiet). A reading that arrives for a sealed bucket *amends* it: the bucket gets the
next revision and a new sequence number, so the hub's cursor meets it again and the
hub keeps the highest revision of each bucket. Re-reading a page changes nothing,
and nothing is skipped.
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
    last_arrival TEXT NOT NULL DEFAULT '', streamed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (zone, metric, bucket_start)
);
CREATE INDEX IF NOT EXISTS ix_open_bucket_end ON open_bucket (bucket_end);
CREATE TABLE IF NOT EXISTS bucket (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    zone TEXT NOT NULL, metric TEXT NOT NULL, bucket_start TEXT NOT NULL, bucket_minutes INTEGER NOT NULL,
    count INTEGER NOT NULL, total REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL, sealed_at TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
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
-- readings taken, by their own time, back to the amendment horizon: a reading sent twice (an
-- MQTT QoS 1 redelivery, a site system retrying a POST that timed out) is counted once
CREATE TABLE IF NOT EXISTS seen_reading (
    zone TEXT NOT NULL, metric TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (zone, metric, at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_seen_reading_at ON seen_reading (at);
-- how far each stream (a zone's metric) has got, by its readings' own time: a stream replaying
-- history keeps its buckets open until it has moved past them
CREATE TABLE IF NOT EXISTS stream_mark (
    zone TEXT NOT NULL, metric TEXT NOT NULL, newest TEXT NOT NULL, PRIMARY KEY (zone, metric)
) WITHOUT ROWID;
-- the last bare-number MQTT message taken per packet id, with the time it was dated: a
-- redelivery (DUP flag, same packet id, topic and payload) keeps that time, so it counts once
CREATE TABLE IF NOT EXISTS mqtt_packet (
    mid INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, dated TEXT NOT NULL
);
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
        _add_missing_columns(self._db)
        # A new buffer file starts its sequences at 1 again; its id tells the hub to start over too.
        self._db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('buffer_id', ?)", (uuid.uuid4().hex,))
        self.buffer_id = self._db.execute("SELECT value FROM meta WHERE name = 'buffer_id'").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- intake ------------------------------------------------------------------------------
    def add_readings(self, readings: list[tuple[str, str, datetime, float, datetime]],
                     now: datetime | None = None, streamed: bool = False,
                     horizon: datetime | None = None) -> tuple[int, int, int]:
        """Fold ``(zone, metric, bucket_start, value, at)`` into buckets; return (amended, duplicate, refused).

        A reading for a bucket already sealed (and so maybe already at the hub) amends it:
        the bucket gets the next revision and a new sequence number, so the hub's cursor
        meets it again; only a sealed bucket that started before ``horizon`` is not amended
        any more (the reading is refused: ``beyond_horizon``). A reading of a zone and metric at a moment already taken is the
        same reading sent again, and is not counted twice. ``streamed`` readings (MQTT) may
        be a replay of history or a broker's backlog: their buckets are sealed only once the
        stream has moved past them or paused (``seal``).
        """
        amended = duplicate = refused = 0
        span = timedelta(minutes=self.bucket_minutes)
        arrived = iso(now or datetime.now(timezone.utc))
        with self._lock, self._transaction():
            for zone, metric, start, value, at in readings:
                seen = self._db.execute("INSERT OR IGNORE INTO seen_reading (zone, metric, at) VALUES (?, ?, ?)",
                                        (zone, metric, _instant(at)))
                if seen.rowcount == 0:
                    duplicate += 1
                    continue
                self._db.execute(
                    "INSERT INTO stream_mark (zone, metric, newest) VALUES (?, ?, ?) ON CONFLICT (zone, metric) "
                    "DO UPDATE SET newest = max(newest, excluded.newest)", (zone, metric, iso(at)))
                cur = self._db.execute(
                    "INSERT INTO open_bucket (zone, metric, bucket_start, bucket_end, count, total, low, high, "
                    "last_arrival, streamed) SELECT ?, ?, ?, ?, 1, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM bucket WHERE zone = ? AND metric = ? AND bucket_start = ?) "
                    "ON CONFLICT (zone, metric, bucket_start) DO UPDATE SET count = count + 1, "
                    "total = total + excluded.total, low = min(low, excluded.low), high = max(high, excluded.high), "
                    "last_arrival = excluded.last_arrival, streamed = max(streamed, excluded.streamed)",
                    (zone, metric, iso(start), iso(start + span), value, value, value, arrived, int(streamed),
                     zone, metric, iso(start)))
                if cur.rowcount == 0:
                    if horizon is not None and start < horizon:
                        refused += 1
                        self._db.execute("DELETE FROM seen_reading WHERE zone = ? AND metric = ? AND at = ?",
                                         (zone, metric, _instant(at)))
                        continue
                    self._amend(zone, metric, iso(start), value, arrived)
                    amended += 1
        return amended, duplicate, refused

    def _amend(self, zone: str, metric: str, start: str, value: float, now: str) -> None:
        """Fold one reading into a sealed bucket: its next revision, under the stream's next sequence number."""
        seq, count, total, low, high, revision = self._db.execute(
            "SELECT seq, count, total, low, high, revision FROM bucket WHERE zone = ? AND metric = ? "
            "AND bucket_start = ?", (zone, metric, start)).fetchone()
        self._db.execute("DELETE FROM bucket WHERE seq = ?", (seq,))
        self._db.execute(
            "INSERT INTO bucket (zone, metric, bucket_start, bucket_minutes, count, total, low, high, sealed_at, "
            "revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (zone, metric, start, self.bucket_minutes, count + 1, total + value, min(low, value), max(high, value),
             now, revision + 1))

    def bare_reading_time(self, mid: int, topic: str, payload: bytes, redelivered: bool,
                          now: datetime) -> datetime:
        """The time a bare-number MQTT message is dated with: its first delivery's, on a redelivery.

        A QoS 1 redelivery carries the DUP flag and the packet id of the delivery the agent
        may already have taken; the buffer remembers, per packet id, the topic, payload and
        time of the last bare message it dated, so the redelivery gets the same time (and
        the same identity) and is counted once. Remembered before the reading is folded in:
        a crash in between leaves a date for a reading never taken, which is harmless.
        """
        with self._lock, self._transaction():
            if redelivered:
                row = self._db.execute("SELECT topic, payload, dated FROM mqtt_packet WHERE mid = ?",
                                       (mid,)).fetchone()
                if row and row[0] == topic and bytes(row[1]) == payload:
                    return datetime.strptime(row[2], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            self._db.execute("INSERT INTO mqtt_packet (mid, topic, payload, dated) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (mid) DO UPDATE SET topic = excluded.topic, payload = excluded.payload, "
                             "dated = excluded.dated", (mid, topic, payload, _instant(now)))
        return now

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

    def note_broker_dropped(self, total: int) -> int:
        """Keep the broker's cumulative dropped count; count (durably) what grew since last seen.

        A smaller total than last seen means the broker restarted and counts from 0 again.
        The first total ever seen is the baseline: drops before the agent knew the broker are
        not its readings' (or cannot be told apart).
        """
        with self._lock, self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE name = 'broker_dropped_seen'").fetchone()
            self._db.execute("INSERT INTO meta (name, value) VALUES ('broker_dropped_seen', ?) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(total),))
            if row is None:
                return 0
            last = int(row[0])
            new = total - last if total >= last else total
            if new:
                self._db.execute("INSERT INTO counter (name, value) VALUES ('mqtt:broker_dropped', ?) "
                                 "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (new,))
            return new

    def counters(self, prefix: str) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM counter WHERE name LIKE ?", (prefix + "%",)).fetchall()
        return {name[len(prefix):]: value for name, value in rows}

    # -- sealing, pulling, retention ---------------------------------------------------------
    def seal(self, now: datetime, grace: timedelta, quiet: timedelta = timedelta(seconds=3)) -> int:
        """Seal every open bucket whose data is in, oldest first; return how many.

        A bucket is sealed once it ended ``grace`` ago AND, if it was fed by a stream (MQTT),
        that stream has moved past it (a reading at or after its end) or paused for
        ``quiet``: a stream replaying history at speed, or a broker handing over its backlog,
        keeps its buckets open until it is done with them. Batches (POST, CSV) are complete
        as sent; a later batch amends.
        """
        cutoff = iso(now - grace)
        ready = ("FROM open_bucket o LEFT JOIN stream_mark m ON m.zone = o.zone AND m.metric = o.metric "
                 "WHERE o.bucket_end <= :cutoff AND (o.streamed = 0 OR m.newest >= o.bucket_end "
                 "OR o.last_arrival <= :quiet)")
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO bucket (zone, metric, bucket_start, bucket_minutes, count, total, low, high, sealed_at) "
                f"SELECT o.zone, o.metric, o.bucket_start, :minutes, o.count, o.total, o.low, o.high, :now {ready} "
                "ORDER BY o.bucket_start, o.zone, o.metric",
                {"minutes": self.bucket_minutes, "now": iso(now), "cutoff": cutoff, "quiet": iso(now - quiet)})
            sealed = cur.rowcount
            if sealed:
                self._db.execute(
                    "DELETE FROM open_bucket WHERE EXISTS (SELECT 1 FROM bucket b WHERE b.zone = open_bucket.zone "
                    "AND b.metric = open_bucket.metric AND b.bucket_start = open_bucket.bucket_start)")
        return sealed

    def forget_before(self, moment: datetime) -> None:
        """Forget the identities of readings older than ``moment`` (past the amendment horizon)."""
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM seen_reading WHERE at < ?", (_instant(moment),))

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


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A buffer file written by an older agent gets the columns this one needs (kept data stays)."""
    for table, column, spec in (("bucket", "revision", "INTEGER NOT NULL DEFAULT 0"),
                                ("open_bucket", "last_arrival", "TEXT NOT NULL DEFAULT ''"),
                                ("open_bucket", "streamed", "INTEGER NOT NULL DEFAULT 0")):
        names = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in names:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {spec}")


def _time_column(table: str) -> str:
    return {"bucket": "bucket_start", "nps": "answered_at", "event": "occurred_at"}[table]


def _record(stream: str, row: dict[str, Any]) -> dict[str, Any]:
    """A buffer row as the pull API shows it."""
    if stream == "readings":
        return {"seq": row["seq"], "zone": row["zone"], "metric": row["metric"], "bucket_start": row["bucket_start"],
                "bucket_minutes": row["bucket_minutes"], "count": row["count"],
                "mean": row["total"] / row["count"], "min": row["low"], "max": row["high"],
                "revision": row["revision"]}
    if stream == "nps":
        return {"seq": row["seq"], "record_id": row["record_id"], "answered_at": row["answered_at"],
                "score": row["score"], "comment": row["comment"], "language": row["language"]}
    return {"seq": row["seq"], "record_id": row["record_id"], "kind": row["kind"], "occurred_at": row["occurred_at"],
            "ref": row["ref"], "quantity": row["quantity"], "data": json.loads(row["data"])}
