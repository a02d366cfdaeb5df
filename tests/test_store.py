"""The store: pragmas that protect data on power loss, and versioned migrations."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from appliance.store import Migration, Store


def test_pragmas(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    conn = store.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    store.close()


def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    steps = [
        Migration("demo_feature", 1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
        Migration("demo_feature", 2, lambda db: db["t"].add_column("w", int)),
    ]
    assert [m.version for m in store.migrate(steps)] == [1, 2]
    assert store.migrate(steps) == []
    assert set(store.db["t"].columns_dict) == {"id", "v", "w"}
    with pytest.raises(RuntimeError, match="out of order"):
        store.migrate([Migration("other", 2, "SELECT 1")])
    store.close()


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    with pytest.raises(Exception, match="syntax error"):
        store.migrate([Migration("bad", 1, "CREATE TABLE ok1 (id INTEGER); CREATE TABLEX nope")])
    assert "ok1" not in store.db.table_names()
    assert store.db["schema_migrations"].count_where("owner = 'bad'") == 0
    store.close()


async def test_run_uses_writer_thread_and_survives_reopen(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    main_thread = threading.get_ident()
    thread_ids = await asyncio.gather(*(store.run(lambda db: threading.get_ident()) for _ in range(5)))
    assert main_thread not in thread_ids and len(set(thread_ids)) == 1
    await store.run(lambda db: db["audit_log"].insert({"ts": 1.0, "actor": "t", "action": "a", "detail": ""}))
    store.close()
    again = Store(tmp_path / "c.db")
    assert again.db["audit_log"].count == 1
    again.close()


async def test_group_commit_isolates_a_failing_caller(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.migrate([Migration("g", 1, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")])

    def good(i: int):
        return lambda db: db.execute("INSERT INTO t (id, v) VALUES (?, 'x')", [i]).lastrowid

    def bad(db):
        db.execute("INSERT INTO t (id, v) VALUES (1000, 'half-written')")
        raise ValueError("feature bug after a partial write")

    jobs = [store.run(good(i)) for i in range(1, 201)] + [store.run(bad)] + [store.run(good(i)) for i in range(201, 301)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert sum(isinstance(r, ValueError) for r in results) == 1
    assert store.db["t"].count == 300  # the bad caller's partial write was rolled back alone
    assert store.db.execute("SELECT count(*) FROM t WHERE id = 1000").fetchone()[0] == 0
    assert store.groups < 301 / 2  # concurrent callers really shared commits
    store.close()
    again = Store(tmp_path / "c.db")
    assert again.db["t"].count == 300
    again.close()


async def test_commit_failure_fails_every_caller_in_the_group(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    store.migrate([Migration("g", 1, "CREATE TABLE t (id INTEGER PRIMARY KEY)")])
    # a deferred foreign-key violation only fails at COMMIT, like a full disk would
    store.migrate([Migration("g", 2, "CREATE TABLE c (id INTEGER PRIMARY KEY, "
                                     "p INTEGER REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)")])
    import time

    busy = asyncio.ensure_future(store.run(lambda db: time.sleep(0.3)))  # the writer is busy meanwhile...
    await asyncio.sleep(0.05)
    ok = asyncio.ensure_future(store.run(lambda db: db.execute("INSERT INTO t (id) VALUES (1)")))
    orphan = asyncio.ensure_future(store.run(lambda db: db.execute("INSERT INTO c (id, p) VALUES (1, 999)")))
    await busy  # ...so these two were queued together and share the next group's COMMIT
    results = await asyncio.gather(ok, orphan, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), results
    assert store.db["t"].count == 0 and store.db["c"].count == 0
    # and the store keeps working afterwards
    await store.run(lambda db: db.execute("INSERT INTO t (id) VALUES (2)"))
    assert store.db["t"].count == 1
    store.close()
