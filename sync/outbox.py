"""The durable outbox: every record a feature produces, until the county has committed it.

paho keeps its queue in memory and mosquitto acknowledges before it writes to disk, so neither is the
durability layer; this table is. A record is written in the same SQLite transaction as the feature's
own row, gets a sequence number that is never reused (AUTOINCREMENT survives deletes) under an epoch
that changes on re-install, and leaves only when the receiver says it committed it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlite_utils

from appliance.component import OutboxFull
from appliance.store import Migration, Store, register_migration
from sync.kinds import CRITICAL, kind_of

log = logging.getLogger(__name__)

__all__ = ["Outbox", "OutboxFull", "PendingRecord", "stats", "stats_from_file"]

QuotaState = Literal["ok", "warning", "full"]
WARN_FRACTION = 0.70


def _create_outbox(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE outbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            priority INTEGER NOT NULL,
            v INTEGER NOT NULL,
            payload TEXT NOT NULL,
            size INTEGER NOT NULL,
            ts REAL NOT NULL,
            boot TEXT NOT NULL,
            mono REAL NOT NULL,
            acked_at REAL
        )"""
    )
    db.execute("CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_at IS NULL")
    db.execute("CREATE INDEX outbox_acked ON outbox (acked_at) WHERE acked_at IS NOT NULL")
    db.execute(
        """CREATE TABLE outbox_dead_letter (
            seq INTEGER PRIMARY KEY,
            epoch TEXT NOT NULL,
            kind TEXT NOT NULL,
            v INTEGER NOT NULL,
            payload TEXT NOT NULL,
            ts REAL NOT NULL,
            reason TEXT NOT NULL,
            parked_at REAL NOT NULL
        )"""
    )
    # The epoch is born with the database: a re-installed box starts a new epoch at seq 1.
    db.execute("INSERT INTO outbox_meta VALUES ('epoch', ?)", [uuid.uuid4().hex[:16]])


register_migration(Migration("outbox", 1, _create_outbox, "durable outbox, dead letters and the epoch"))


@dataclass(frozen=True)
class PendingRecord:
    seq: int
    kind: str
    v: int
    payload: str  # JSON text, as stored
    ts: float
    boot: str
    mono: float

    def wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "kind": self.kind, "v": self.v, "ts": self.ts, "boot": self.boot,
                "mono": self.mono, "payload": json.loads(self.payload)}


def read_epoch(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM outbox_meta WHERE key = 'epoch'").fetchone()
    if row is None:
        raise RuntimeError("outbox has no epoch: the store's outbox migration did not run")
    return str(row[0])


def stats(conn: sqlite3.Connection, now: float | None = None) -> dict[str, Any]:
    """The figures technicians and tests compare with the receiver's (works on a read-only connection)."""
    now = time.time() if now is None else now
    last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
    pending, pending_bytes, oldest = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0), min(ts) FROM outbox WHERE acked_at IS NULL"
    ).fetchone()
    acked = conn.execute("SELECT count(*) FROM outbox WHERE acked_at IS NOT NULL").fetchone()[0]
    dead = conn.execute("SELECT count(*) FROM outbox_dead_letter").fetchone()[0]
    return {
        "epoch": read_epoch(conn),
        "last_seq": int(last[0]) if last else 0,
        "pending": int(pending),
        "acked": int(acked),
        "oldest_pending_age_s": round(max(0.0, now - oldest), 3) if oldest is not None else None,
        "dead_letter": int(dead),
        "pending_bytes": int(pending_bytes),
    }


def stats_from_file(db_path: Path) -> dict[str, Any]:
    """For ``classroom outbox-stats``: read-only, safe while the daemon runs (WAL readers never block)."""
    if not db_path.exists():
        raise FileNotFoundError(f"no store at {db_path}; check device.data_dir")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return stats(conn)
    finally:
        conn.close()


class Outbox:
    """Appends records inside callers' transactions and serves the sync link's queries."""

    def __init__(
        self,
        store: Store,
        boot_id: str,
        quota_bytes: int = 512 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.boot_id = boot_id
        self.quota_bytes = quota_bytes
        self._clock = clock
        self._monotonic = monotonic
        self.epoch = store.call(lambda db: read_epoch(db.conn))
        self.pending_bytes = store.call(lambda db: stats(db.conn)["pending_bytes"])
        self.refused = 0
        self._listeners: list[Callable[[], None]] = []

    # -- producing -----------------------------------------------------------------------------------
    def add(self, db: sqlite_utils.Database, kind: str, payload: dict[str, Any], ts: float | None = None) -> int:
        """Append one record inside the caller's transaction (call it from a ``store.run`` function)."""
        spec = kind_of(kind)
        # Refuse NaN/Infinity here, where the feature can still fix it, not at the county's quarantine.
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if spec.priority != CRITICAL and self._over_quota_for(spec.priority):
            self.refused += 1
            if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                log.warning(
                    "outbox over quota (%d of %d bytes pending): refused %d low-priority records so far (%s)",
                    self.pending_bytes, self.quota_bytes, self.refused, kind,
                )
            raise OutboxFull(f"outbox over quota: {kind} (priority {spec.priority}) not recorded")
        cur = db.conn.execute(
            "INSERT INTO outbox (kind, priority, v, payload, size, ts, boot, mono) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, spec.priority, spec.schema_version, text, len(text), self._clock() if ts is None else ts,
             self.boot_id, self._monotonic()),
        )
        self.pending_bytes += len(text)
        for listener in self._listeners:
            listener()
        return int(cur.lastrowid or 0)

    async def append(self, kind: str, payload: dict[str, Any]) -> int:
        """A record with no domain row of its own (telemetry, events): its own durable transaction."""
        return await self.store.run(lambda db: self.add(db, kind, payload))

    async def append_many(self, kind: str, payloads: list[dict[str, Any]]) -> list[int]:
        """Several records in one transaction (a lesson's per-student aggregates): one fsync for all."""
        return await self.store.run(lambda db: [self.add(db, kind, p) for p in payloads])

    def on_append(self, listener: Callable[[], None]) -> None:
        """``listener`` runs on the store's writer thread after each add; keep it tiny and thread-safe."""
        self._listeners.append(listener)

    def _over_quota_for(self, priority: int) -> bool:
        # The least important kinds stop first: telemetry at 100 %, then each tier 10 % later.
        return self.pending_bytes >= self.quota_bytes * (1.0 + 0.1 * (3 - priority))

    def quota_state(self) -> QuotaState:
        if self.pending_bytes >= self.quota_bytes:
            return "full"
        return "warning" if self.pending_bytes >= WARN_FRACTION * self.quota_bytes else "ok"

    # -- the sync link's side -------------------------------------------------------------------------
    def pending_after(self, db: sqlite_utils.Database, after_seq: int, limit: int) -> list[PendingRecord]:
        rows = db.conn.execute(
            "SELECT seq, kind, v, payload, ts, boot, mono FROM outbox WHERE acked_at IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [PendingRecord(*row) for row in rows]

    def pending_range(self, db: sqlite_utils.Database) -> tuple[int | None, int]:
        first = db.conn.execute("SELECT min(seq) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
        last = db.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return (int(first) if first is not None else None), (int(last[0]) if last else 0)

    def mark_committed(self, db: sqlite_utils.Database, ranges: Iterable[Iterable[int]]) -> int:
        """The receiver committed these seqs: they stop being pending (kept for diagnostics)."""
        now, done = self._clock(), 0
        for pair in ranges:
            a, b = (int(x) for x in pair)
            size = db.conn.execute(
                "SELECT coalesce(sum(size), 0) FROM outbox WHERE seq BETWEEN ? AND ? AND acked_at IS NULL", (a, b)
            ).fetchone()[0]
            cur = db.conn.execute(
                "UPDATE outbox SET acked_at = ? WHERE seq BETWEEN ? AND ? AND acked_at IS NULL", (now, a, b)
            )
            done += cur.rowcount
            self.pending_bytes = max(0, self.pending_bytes - int(size))
        return done

    def park(self, db: sqlite_utils.Database, rejected: Iterable[tuple[int, str]]) -> int:
        """Records the receiver refuses for good go to the dead-letter table instead of being resent for ever."""
        parked, now = 0, self._clock()
        for seq, reason in rejected:
            row = db.conn.execute(
                "SELECT kind, v, payload, ts, size FROM outbox WHERE seq = ? AND acked_at IS NULL", (seq,)
            ).fetchone()
            if row is None:
                continue
            kind, v, payload, ts, size = row
            db.conn.execute(
                "INSERT OR REPLACE INTO outbox_dead_letter VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, self.epoch, kind, v, payload, ts, str(reason)[:500], now),
            )
            db.conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self.pending_bytes = max(0, self.pending_bytes - int(size))
            parked += 1
            log.error("outbox: receiver rejected record %d (%s): %s; parked in outbox_dead_letter", seq, kind, reason)
        return parked

    def purge_acked(self, db: sqlite_utils.Database, keep_days: float) -> int:
        cutoff = self._clock() - keep_days * 86400
        return int(db.conn.execute("DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at < ?", (cutoff,)).rowcount)

    def recount(self, db: sqlite_utils.Database) -> None:
        """Re-derive the pending byte count (self-heals after rolled-back appends)."""
        self.pending_bytes = int(
            db.conn.execute("SELECT coalesce(sum(size), 0) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
        )

    def stats(self, db: sqlite_utils.Database) -> dict[str, Any]:
        out = stats(db.conn, self._clock())
        out["quota_state"] = self.quota_state()
        out["refused"] = self.refused
        return out
