"""The outbox: same-transaction appends, never-reused seqs, epochs, quota tiers, dead letters."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from appliance.component import OutboxFull
from appliance.store import Migration, Store
from sync.outbox import Outbox, stats_from_file


def make(tmp_path: Path, quota: int = 10_000_000, clock=None) -> tuple[Store, Outbox]:
    store = Store(tmp_path / "classroom.db")
    store.migrate([Migration("grades_test", 1, "CREATE TABLE grade (id INTEGER PRIMARY KEY, score REAL NOT NULL)")])
    kwargs = {"clock": clock} if clock else {}
    return store, Outbox(store, "boot-1", quota_bytes=quota, **kwargs)


async def test_record_and_domain_row_commit_together(tmp_path: Path) -> None:
    store, outbox = make(tmp_path)

    def grade(db, score):
        db.execute("INSERT INTO grade (score) VALUES (?)", [score])
        seq = outbox.add(db, "loadgen.sample", {"score": score})
        if score < 0:
            raise ValueError("feature bug after both inserts")
        return seq

    assert await store.run(lambda db: grade(db, 90)) == 1
    with pytest.raises(ValueError):
        await store.run(lambda db: grade(db, -1))
    # the failed append rolled back with its grade: seq 2 was never committed, so nobody ever saw it
    assert await store.run(lambda db: grade(db, 75)) == 2
    assert [r["score"] for r in store.db["grade"].rows] == [90, 75]
    st = await store.run(outbox.stats)
    assert (st["pending"], st["last_seq"]) == (2, 2)
    store.close()


async def test_seq_never_reused_and_epoch_survives_restart(tmp_path: Path) -> None:
    store, outbox = make(tmp_path)
    epoch = outbox.epoch
    seqs = [await outbox.append("loadgen.sample", {"i": i}) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    await store.run(lambda db: outbox.mark_committed(db, [[seqs[0], seqs[-1]]]))
    await store.run(lambda db: outbox.purge_acked(db, keep_days=0))
    assert store.db["outbox"].count == 0
    store.close()
    store, outbox = make(tmp_path)
    assert outbox.epoch == epoch
    assert await outbox.append("loadgen.sample", {"i": 99}) == seqs[-1] + 1
    store.close()
    # a re-install (new database) is a new epoch, starting again at 1
    other, fresh = make(tmp_path / "reinstalled")
    assert fresh.epoch != epoch and await fresh.append("loadgen.sample", {}) == 1
    other.close()


async def test_ack_and_park_and_stats(tmp_path: Path) -> None:
    now = [1000.0]
    store, outbox = make(tmp_path, clock=lambda: now[0])
    for i in range(10):
        await outbox.append("loadgen.sample", {"i": i})
    now[0] = 1030.0
    done = await store.run(lambda db: outbox.mark_committed(db, [[1, 4], [6, 6]]))
    assert done == 5
    parked = await store.run(lambda db: outbox.park(db, [(5, "payload schema 1 unsupported"), (99, "unknown")]))
    assert parked == 1
    st = await store.run(outbox.stats)
    assert st["pending"] == 4 and st["acked"] == 5 and st["dead_letter"] == 1 and st["last_seq"] == 10
    assert st["oldest_pending_age_s"] == 30.0
    dead = store.db.execute("SELECT seq, reason FROM outbox_dead_letter").fetchall()
    assert dead == [(5, "payload schema 1 unsupported")]
    # acknowledging again is harmless (a duplicate ack after a reconnect)
    assert await store.run(lambda db: outbox.mark_committed(db, [[1, 4]])) == 0
    # the CLI's read-only view agrees while the store is open
    view = stats_from_file(tmp_path / "classroom.db")
    for key in ("epoch", "last_seq", "pending", "acked", "dead_letter", "pending_bytes"):
        assert view[key] == st[key], key
    store.close()


async def test_clock_jumping_back_keeps_order_and_age_sane(tmp_path: Path) -> None:
    now = [5000.0]
    store, outbox = make(tmp_path, clock=lambda: now[0])
    a = await outbox.append("loadgen.sample", {"n": 1})
    now[0] = 1000.0  # the box's clock jumped back more than an hour
    b = await outbox.append("loadgen.sample", {"n": 2})
    assert b == a + 1
    st = await store.run(outbox.stats)
    assert st["oldest_pending_age_s"] == 0.0  # never negative
    rows = await store.run(lambda db: outbox.pending_after(db, 0, 10))
    assert [r.seq for r in rows] == [a, b]  # order is by seq, not by timestamp
    store.close()


async def test_quota_tiers_refuse_low_priority_first_and_never_grades(tmp_path: Path) -> None:
    store, outbox = make(tmp_path, quota=2000)
    big = {"blob": "x" * 400}
    while outbox.quota_state() == "ok":
        await outbox.append("loadgen.sample", big)  # critical
    assert outbox.quota_state() == "warning"
    while outbox.pending_bytes < 2000:
        await outbox.append("loadgen.sample", big)
    assert outbox.quota_state() == "full"
    with pytest.raises(OutboxFull):
        await outbox.append("device.health", {"disk": 1})  # telemetry stops at 100 %
    await outbox.append("panel.usage", {"action": "power"})  # low priority still fits until 110 %
    while outbox.pending_bytes < 2200:
        await outbox.append("loadgen.sample", big)
    with pytest.raises(OutboxFull):
        await outbox.append("panel.usage", {"action": "power"})
    for _ in range(20):  # grades and scores are never refused, however full
        await outbox.append("loadgen.sample", big)
    assert outbox.refused == 2
    store.close()


async def test_unknown_kind_and_non_json_numbers_are_refused_at_the_source(tmp_path: Path) -> None:
    store, outbox = make(tmp_path)
    with pytest.raises(KeyError, match=r"register it in sync\.kinds"):
        await outbox.append("no.such.kind", {})
    with pytest.raises(ValueError, match="JSON"):
        await outbox.append("loadgen.sample", {"heart_rate": float("nan")})
    assert (await store.run(outbox.stats))["last_seq"] == 0
    store.close()


async def test_concurrent_appends_are_all_durable(tmp_path: Path) -> None:
    store, outbox = make(tmp_path)
    seqs = await asyncio.gather(*(outbox.append("loadgen.sample", {"i": i}) for i in range(500)))
    assert sorted(seqs) == list(range(1, 501))
    store.close()
    conn = sqlite3.connect(tmp_path / "classroom.db")
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 500
    conn.close()
