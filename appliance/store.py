"""The one module that owns SQLite connections.

WAL with ``synchronous=FULL``: a power cut mid-lesson may lose the transaction in flight, never a
committed grade. All access goes through one writer thread, so the event loop never waits on fsync
and there is never a second writer to hit ``database is locked``.

The writer thread group-commits: whatever callers queued while the last fsync ran is executed in one
SQLite transaction, each caller's function inside its own SAVEPOINT (a failing caller is rolled back
alone), and every caller's await returns only after the shared COMMIT. One fsync per group instead
of one per record is what lets 45 students' results land at once on a slow SD card.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
MAX_GROUP = 512


@dataclass(frozen=True)
class Migration:
    """One step of one owner's schema. ``owner`` is a feature or module name; versions count per owner."""

    owner: str
    version: int
    sql: str | Callable[[sqlite_utils.Database], None]
    description: str = ""


_REGISTRY: dict[tuple[str, int], Migration] = {}


def register_migration(migration: Migration) -> Migration:
    """Features call this at import time; the store applies pending steps when it opens."""
    key = (migration.owner, migration.version)
    existing = _REGISTRY.get(key)
    if existing is not None and existing != migration:
        raise ValueError(f"two different migrations for {key}")
    _REGISTRY[key] = migration
    return migration


register_migration(
    Migration(
        "core",
        1,
        """
        CREATE TABLE IF NOT EXISTS boots (
            boot_id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            version TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT
        );
        """,
        "boot history and the audit trail of teacher and technician actions",
    )
)


def connect(path: Path) -> sqlite3.Connection:
    """Open one connection with the pragmas every connection of this project must have."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class Store:
    """The classroom's local database. Use :meth:`run` from async code, :meth:`call` from threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite_utils.Database(connect(path))
        self.migrate()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._writer_loop, name=f"store-{path.name}", daemon=True)
        self._writer.start()
        self.groups = 0
        self.jobs_done = 0

    @property
    def db(self) -> sqlite_utils.Database:
        return self._db

    def migrate(self, migrations: list[Migration] | None = None) -> list[Migration]:
        """Apply pending migrations in (owner, version) order, each in its own transaction."""
        pending = sorted(migrations if migrations is not None else _REGISTRY.values(), key=lambda m: (m.owner, m.version))
        conn = self._db.conn
        with self._lock:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " owner TEXT NOT NULL, version INTEGER NOT NULL, applied_at REAL NOT NULL,"
                " description TEXT, PRIMARY KEY (owner, version))"
            )
            applied = {(o, v) for o, v in conn.execute("SELECT owner, version FROM schema_migrations")}
            done: list[Migration] = []
            for m in pending:
                if (m.owner, m.version) in applied:
                    continue
                prior = [v for o, v in applied if o == m.owner]
                if m.version != (max(prior) + 1 if prior else 1):
                    raise RuntimeError(f"migration {m.owner} v{m.version} is out of order (have {sorted(prior)})")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if isinstance(m.sql, str):
                        for statement in _split_sql(m.sql):
                            conn.execute(statement)
                    else:
                        m.sql(self._db)
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)", (m.owner, m.version, time.time(), m.description)
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                applied.add((m.owner, m.version))
                done.append(m)
                log.info("store: applied migration %s v%d %s", m.owner, m.version, m.description)
            return done

    def call(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` in its own transaction on the calling thread (start-up, CLI tools, tests)."""
        with self._lock:
            conn = self._db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._db)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` atomically on the writer thread; returns after its transaction is durable.

        ``fn`` writes a feature's domain rows and, in the same call, its outbox records: both commit
        or neither does.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop))  # type: ignore[arg-type]
        return await future

    def _writer_loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                group.append(job)
            with self._lock:
                outcomes = self._execute_group(group)
            self.groups += 1
            self.jobs_done += len(group)
            for job, (ok, value) in zip(group, outcomes, strict=True):
                job.settle(ok, value)
            if stop:
                return

    def _execute_alone(self, job: _Job) -> tuple[bool, object]:
        conn = self._db.conn
        try:
            value = job.fn(self._db)
        except Exception as exc:
            conn.execute("ROLLBACK")
            return False, exc
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("store: commit failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False, exc
        return True, value

    def _execute_group(self, group: list[_Job]) -> list[tuple[bool, object]]:
        conn = self._db.conn
        outcomes: list[tuple[bool, object]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            return [(False, exc)] * len(group)
        if len(group) == 1:  # alone in its transaction: no savepoint needed to isolate a failure
            return [self._execute_alone(group[0])]
        for job in group:
            conn.execute("SAVEPOINT job")
            try:
                value = job.fn(self._db)
            except Exception as exc:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((True, value))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # disk full, I/O error: nobody's work is durable
            log.error("store: commit of %d jobs failed: %s", len(group), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [(False, exc)] * len(group)
        return outcomes

    async def audit(self, actor: str, action: str, detail: str = "") -> None:
        """Record who did what (a teacher's command, a technician's override) on the writer thread."""
        await self.run(lambda db: audit_row(db, actor, action, detail))

    def close(self) -> None:
        """Finish every queued job, then close; idempotent."""
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join()
        with self._lock:
            self._db.conn.close()


def audit_row(db: sqlite_utils.Database, actor: str, action: str, detail: str = "") -> None:
    """The audit insert, for use inside a ``Store.run`` transaction alongside other rows."""
    db.execute(
        "INSERT INTO audit_log (ts, actor, action, detail) VALUES (?, ?, ?, ?)", [time.time(), actor, action, detail]
    )


@dataclass
class _Job:
    fn: Callable[[sqlite_utils.Database], object]
    future: asyncio.Future[object]
    loop: asyncio.AbstractEventLoop

    def settle(self, ok: bool, value: object) -> None:
        def _set() -> None:
            if self.future.done():  # the caller was cancelled; the work is committed regardless
                return
            if ok:
                self.future.set_result(value)
            else:
                self.future.set_exception(value)  # type: ignore[arg-type]

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(_set)


def _split_sql(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
