"""The receiver's processing rules, without MQTT, against a real SQLite file.

tests/test_receiver_postgres.py runs the storage-facing tests below again on a real PostgreSQL by
importing them and overriding the ``store`` fixture, so both databases keep one behaviour.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud_receiver import storage
from cloud_receiver.ingest import Ingestor
from cloud_receiver.report import device_stats
from cloud_receiver.storage import Store
from sync.protocol import Ack, encode_batch, record_dict, topic

NOW = 1_700_000_000.0
DEV = "classroom-07"
EPOCH = "ep-a"
BATCH_T = topic(DEV, "up", "batch")
HELLO_T = topic(DEV, "up", "hello")


# -- fixtures and helpers --------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/receiver.db")
    yield s
    s.close()


@pytest.fixture
def ingestor(store: Store) -> Ingestor:
    return Ingestor(store, clock=lambda: NOW)


def recs(first: int, last: int, kind: str = "attendance.snapshot", ts: float = NOW) -> list[dict[str, Any]]:
    return [record_dict(s, kind, 1, ts + s, "boot-1", 100.0 + s, {"room": "r1", "present": 30, "n": s})
            for s in range(first, last + 1)]


def batch(records: list[dict[str, Any]], device: str = DEV, epoch: str = EPOCH) -> bytes:
    return encode_batch(device, epoch, records)


def raw_batch(body: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(body).encode())


def ack(data: bytes | None) -> Ack:
    assert data is not None, "expected an ack"
    return Ack.from_bytes(data)


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def rollup_counts(store: Store) -> dict[tuple[str, str], int]:
    return {(str(r["day"]), r["kind"]): r["records"] for r in store.rollups(DEV)}


# -- batches ----------------------------------------------------------------------------------------------
def test_batch_is_stored_then_acked_with_its_ranges(ingestor: Ingestor, store: Store) -> None:
    a = ack(ingestor.handle_batch(BATCH_T, batch(recs(1, 10))))
    assert (a.reply_to, a.epoch, a.committed, a.rejected) == ("batch", EPOCH, [[1, 10]], [])
    assert store.committed_seqs(DEV, EPOCH, 1, 100) == list(range(1, 11))
    stats = device_stats(store, DEV)
    assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"]) == (10, 10, [])
    row = store.device_row(DEV)
    assert row is not None and row["last_batch_at"] == NOW


def test_duplicates_are_stored_once_and_still_acked(ingestor: Ingestor, store: Store) -> None:
    first = ingestor.handle(BATCH_T, batch(recs(1, 10)))
    again = ingestor.handle(BATCH_T, batch(recs(1, 10)))
    overlap = ingestor.handle(BATCH_T, batch(recs(5, 15)))
    assert (first.inserted, again.inserted, overlap.inserted) == (10, 0, 5)
    assert ack(again.replies[0].payload).committed == [[1, 10]]
    assert ack(overlap.replies[0].payload).committed == [[5, 15]]
    assert count(store, storage.records) == 15
    assert store.epoch_row(DEV, EPOCH)["records"] == 15  # type: ignore[index]
    assert sum(rollup_counts(store).values()) == 15


def test_reordered_batches_leave_gaps_until_filled(ingestor: Ingestor, store: Store) -> None:
    ingestor.handle_batch(BATCH_T, batch(recs(21, 30)))
    ingestor.handle_batch(BATCH_T, batch(recs(1, 10)))
    stats = device_stats(store, DEV)
    assert (stats["records"], stats["contiguous_through_seq"], stats["max_seq"]) == (20, 10, 30)
    assert stats["gaps"] == [[11, 20]]
    ingestor.handle_batch(BATCH_T, batch(recs(15, 16)))
    assert device_stats(store, DEV)["gaps"] == [[11, 14], [17, 20]]
    ingestor.handle_batch(BATCH_T, batch(recs(11, 20)))
    stats = device_stats(store, DEV)
    assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"]) == (30, 30, [])


def test_watermark_catches_up_over_many_reordered_batches(ingestor: Ingestor, store: Store, monkeypatch) -> None:
    monkeypatch.setattr(storage, "WATERMARK_STEP", 7)  # force several catch-up queries
    for first in range(91, 0, -10):  # newest first
        ingestor.handle_batch(BATCH_T, batch(recs(first, first + 9)))
    stats = device_stats(store, DEV)
    assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"]) == (100, 100, [])


def test_records_inside_one_batch_may_arrive_in_any_order(ingestor: Ingestor, store: Store) -> None:
    body = recs(1, 6)
    shuffled = [body[3], body[0], body[5], body[1], body[4], body[2]]
    envelope = {"v": 1, "device": DEV, "epoch": EPOCH, "first_seq": 1, "last_seq": 6, "records": shuffled}
    a = ack(ingestor.handle_batch(BATCH_T, raw_batch(envelope)))
    assert a.committed == [[1, 6]]
    assert device_stats(store, DEV)["contiguous_through_seq"] == 6


def test_rollups_count_only_newly_inserted_rows(ingestor: Ingestor, store: Store) -> None:
    day1 = dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC).timestamp()
    day2 = dt.datetime(2024, 3, 2, 10, tzinfo=dt.UTC).timestamp()
    ingestor.handle_batch(BATCH_T, batch(recs(1, 4, "attendance.snapshot", day1) + recs(5, 7, "panel.usage", day2)))
    expected = {("2024-03-01", "attendance.snapshot"): 4, ("2024-03-02", "panel.usage"): 3}
    assert rollup_counts(store) == expected
    ingestor.handle_batch(BATCH_T, batch(recs(1, 4, "attendance.snapshot", day1)))  # resent: nothing new
    ingestor.handle_batch(BATCH_T, batch(recs(6, 9, "panel.usage", day2)))  # 6, 7 old; 8, 9 new
    expected[("2024-03-02", "panel.usage")] = 5
    assert rollup_counts(store) == expected


def test_rollup_days_follow_the_configured_time_zone(tmp_path) -> None:
    s = Store(f"sqlite:///{tmp_path}/tz.db", rollup_timezone="Asia/Shanghai")
    try:
        late_utc = dt.datetime(2024, 3, 1, 20, tzinfo=dt.UTC).timestamp()  # 04:00 next day in Shanghai
        Ingestor(s, clock=lambda: NOW).handle_batch(BATCH_T, batch(recs(1, 1, "k", late_utc - 1)))
        assert [str(r["day"]) for r in s.rollups(DEV)] == ["2024-03-02"]
    finally:
        s.close()


def test_rejected_records_are_listed_in_the_ack_and_quarantined_once(ingestor: Ingestor, store: Store) -> None:
    body = recs(1, 6)
    body[1]["kind"] = ""  # the protocol's own check
    body[2]["payload"] = "not an object"
    body[3]["kind"] = "nul\x00inside"  # the receiver's checks: what PostgreSQL could not store
    body[4]["payload"] = {"text": "\ud800"}  # a lone surrogate is not UTF-8
    for _ in range(2):  # the device resends when the first ack is lost
        envelope = {"v": 1, "device": DEV, "epoch": EPOCH, "first_seq": 1, "last_seq": 6, "records": body}
        a = ack(ingestor.handle_batch(BATCH_T, raw_batch(envelope)))  # ASCII JSON: \ud800 survives the wire
        assert a.committed == [[1, 1], [6, 6]]
        assert [r["seq"] for r in a.rejected] == [2, 3, 4, 5]
        assert all(isinstance(r["reason"], str) and r["reason"] for r in a.rejected)
    assert count(store, storage.records) == 2
    _, rows = store.recent_quarantine()
    assert sorted((r["seq"], r["epoch"], r["device_id"]) for r in rows) == [(s, EPOCH, DEV) for s in (2, 3, 4, 5)]
    assert all(len(r["sample"].encode()) <= 1024 for r in rows)
    stats = device_stats(store, DEV)
    # a rejected record will never come again, so it closes its gap: the watermark passes it
    assert (stats["records"], stats["rejected"], stats["contiguous_through_seq"], stats["gaps"]) == (2, 4, 6, [])


def test_non_finite_timestamps_are_rejected(ingestor: Ingestor, store: Store) -> None:
    body = json.dumps({"v": 1, "device": DEV, "epoch": EPOCH, "first_seq": 1, "last_seq": 2, "records": [
        {"seq": 1, "kind": "k", "v": 1, "ts": NOW, "boot": "b", "mono": 1.0, "payload": {}},
        {"seq": 2, "kind": "k", "v": 1, "ts": float("nan"), "boot": "b", "mono": 1.0, "payload": {}},
    ]})
    a = ack(ingestor.handle_batch(BATCH_T, zlib.compress(body.encode())))
    assert (a.committed, [r["seq"] for r in a.rejected]) == ([[1, 1]], [2])


ENVELOPE_CASES = {
    "bad JSON": (lambda: zlib.compress(b'{"v": 1, "device": '), "bad JSON"),
    "wrong version": (lambda: raw_batch({"v": 2, "device": DEV, "epoch": EPOCH, "first_seq": 1, "last_seq": 1,
                                         "records": recs(1, 1)}), "unsupported envelope version"),
    "device mismatch": (lambda: batch(recs(1, 3), device="classroom-99"), "device mismatch"),
    "10 MB of junk": (lambda: os.urandom(10 * 1024 * 1024), "oversize"),
    "zip bomb": (lambda: zlib.compress(b"0" * (64 * 1024 * 1024), 9), "oversize"),
    "not zlib": (lambda: b"\x00\x01 plain bytes", "not zlib"),
}


@pytest.mark.parametrize("case", list(ENVELOPE_CASES))
def test_bad_envelopes_are_quarantined_and_not_answered(ingestor: Ingestor, store: Store, case: str) -> None:
    make, reason = ENVELOPE_CASES[case]
    payload = make()
    outcome = ingestor.handle(BATCH_T, payload)
    assert (outcome.name, outcome.replies, outcome.committed) == ("quarantined", [], False)
    assert count(store, storage.records) == 0
    assert count(store, storage.device_epochs) == 0
    total, rows = store.recent_quarantine()
    assert total == 1
    row = rows[0]
    assert reason in row["reason"]
    assert (row["topic"], row["device_id"], row["size"], row["seq"]) == (BATCH_T, DEV, len(payload), None)
    assert len(row["sample"].encode()) <= 1024


def test_unknown_topics_are_quarantined(ingestor: Ingestor, store: Store) -> None:
    assert ingestor.handle(f"edu/v1/d/{DEV}/up/selfie", b"{}").name == "quarantined"
    assert ingestor.handle("somewhere/else", b"{}").name == "quarantined"
    assert store.recent_quarantine()[0] == 2


# -- control messages ---------------------------------------------------------------------------------------
def hello(first_pending: int | None, last_seq: int, **extra: Any) -> bytes:
    return json.dumps({"v": 1, "type": "hello", "device": DEV, "epoch": EPOCH, "first_pending": first_pending,
                       "last_seq": last_seq, "boot": "boot-1", **extra}).encode()


def test_hello_is_answered_with_what_is_committed(ingestor: Ingestor, store: Store) -> None:
    ingestor.handle_batch(BATCH_T, batch(recs(1, 10)))
    ingestor.handle_batch(BATCH_T, batch(recs(15, 20)))
    a = ack(ingestor.handle_hello(HELLO_T, hello(5, 25)))
    assert (a.reply_to, a.epoch, a.committed) == ("hello", EPOCH, [[5, 10], [15, 20]])
    assert ack(ingestor.handle_hello(HELLO_T, hello(None, 20))).committed == []
    assert ack(ingestor.handle_hello(HELLO_T, hello(21, 25))).committed == []
    row = store.device_row(DEV)
    assert row is not None and (row["epoch"], row["last_seq"], row["last_hello_at"]) == (EPOCH, 25, NOW)


@pytest.mark.parametrize("payload", [
    hello(1, 5, v=2),  # a newer device: wait for the receiver's upgrade, do not answer
    hello(1, 5, device="classroom-99"),
    hello(1, 5, epoch=""),
    b"not json",
])
def test_bad_hellos_are_quarantined_and_not_answered(ingestor: Ingestor, store: Store, payload: bytes) -> None:
    assert ingestor.handle_hello(HELLO_T, payload) is None
    assert store.recent_quarantine()[0] == 1


def test_heartbeat_and_status_update_the_device_row(ingestor: Ingestor, store: Store) -> None:
    hb = {"v": 1, "type": "heartbeat", "epoch": EPOCH, "pending": 12, "oldest_pending_age_s": 3.5,
          "disk_free_bytes": 5_000_000_000, "last_seq": 40, "ts": NOW, "boot": "boot-1"}
    ingestor.handle_heartbeat(topic(DEV, "up", "heartbeat"), json.dumps(hb).encode())
    ingestor.handle_status(topic(DEV, "up", "status"), b'{"v":1,"online":true,"ts":1,"boot":"b"}')
    row = store.device_row(DEV)
    assert row is not None
    assert (row["online"], row["pending"], row["oldest_pending_age_s"], row["disk_free_bytes"], row["last_seq"],
            row["last_heartbeat_at"], row["status_at"]) == (True, 12, 3.5, 5_000_000_000, 40, NOW, NOW)
    ingestor.handle_status(topic(DEV, "up", "status"), b'{"v":1,"online":false,"ts":2,"boot":"b"}')
    assert store.device_row(DEV)["online"] is False  # type: ignore[index]
    assert ingestor.handle(topic(DEV, "up", "status"), b"").name == "ignored"  # retained message cleared
    hb["pending"] = "lots"  # a wrong field is stored as unknown, the rest still counts
    ingestor.handle_heartbeat(topic(DEV, "up", "heartbeat"), json.dumps(hb).encode())
    assert store.device_row(DEV)["pending"] is None  # type: ignore[index]
    stats = device_stats(store, DEV, now=NOW + 7)
    assert (stats["online"], stats["last_heartbeat_age_s"], stats["records"], stats["known"]) == (False, 7, 0, False)


def test_device_stats_default_to_the_latest_epoch(store: Store) -> None:
    clock = iter([NOW, NOW + 10]).__next__
    ing = Ingestor(store, clock=clock)
    ing.handle_batch(BATCH_T, batch(recs(1, 5), epoch="ep-old"))
    ing.handle_batch(BATCH_T, batch(recs(1, 3), epoch="ep-new"))
    assert (device_stats(store, DEV)["epoch"], device_stats(store, DEV)["records"]) == ("ep-new", 3)
    assert device_stats(store, DEV, "ep-old")["records"] == 5


def test_schema_version_is_recorded_and_a_newer_one_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        assert conn.execute(select(storage.schema_info.c.value)).scalar_one() == str(storage.SCHEMA_VERSION)
        conn.execute(storage.schema_info.update().values(value=str(storage.SCHEMA_VERSION + 1)))
    with pytest.raises(storage.StoreError, match="newer"):
        store.create_schema()
