"""The one module that owns SQLite connections.

WAL with ``synchronous=FULL``: a power cut mid-lesson may lose the transaction in flight, never a
committed grade. All access goes through one writer thread, so the event loop never waits on fsync
and there is never a second writer to hit ``database is locked``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import sqlite_utils

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000


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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._lock = threading.Lock()
        self._db = sqlite_utils.Database(connect(path))
        self.migrate()

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
        """Run ``fn(db)`` holding the store's lock (for threads and tests)."""
        with self._lock:
            return fn(self._db)

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn(db)`` on the store's writer thread, never blocking the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.call, fn)

    async def audit(self, actor: str, action: str, detail: str = "") -> None:
        """Record who did what (a teacher's command, a technician's override) on the writer thread."""
        row = {"ts": time.time(), "actor": actor, "action": action, "detail": detail}
        await self.run(lambda db: db.table("audit_log").insert(row))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            self._db.conn.close()


def _split_sql(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]
