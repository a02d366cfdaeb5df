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
