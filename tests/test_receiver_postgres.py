"""The receiver's storage rules again, on a real PostgreSQL (a throw-away cluster on a free port).

The storage-facing tests of test_receiver_ingest.py are imported here and run against PostgreSQL by
overriding the ``store`` fixture; a few PostgreSQL-only checks (concurrent writers) follow.
"""

from __future__ import annotations

import queue
import shutil
import threading
from collections.abc import Iterator

import pytest
from test_receiver_ingest import (  # noqa: F401 - collected again here, against PostgreSQL
    BATCH_T,
    DEV,
    EPOCH,
    batch,
    ingestor,
    recs,
    test_bad_envelopes_are_quarantined_and_not_answered,
    test_batch_is_stored_then_acked_with_its_ranges,
    test_device_stats_default_to_the_latest_epoch,
    test_duplicates_are_stored_once_and_still_acked,
    test_heartbeat_and_status_update_the_device_row,
    test_hello_is_answered_with_what_is_committed,
    test_non_finite_timestamps_are_rejected,
    test_records_inside_one_batch_may_arrive_in_any_order,
    test_rejected_records_are_listed_in_the_ack_and_quarantined_once,
    test_reordered_batches_leave_gaps_until_filled,
    test_rollups_count_only_newly_inserted_rows,
    test_schema_version_is_recorded_and_a_newer_one_refused,
    test_watermark_catches_up_over_many_reordered_batches,
)

from cloud_receiver import storage
from cloud_receiver.ingest import Ingestor
from cloud_receiver.report import device_stats
from cloud_receiver.storage import Store
from sync.servers import Postgres, postgres_bindir

pytestmark = pytest.mark.skipif(postgres_bindir() is None, reason="PostgreSQL is not installed")


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.start()
    except Exception as exc:  # e.g. no runuser, or a locked-down container
        server.stop()
        pytest.skip(f"cannot start PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def store(pg: Postgres) -> Iterator[Store]:
    s = Store(pg.url, create=False)
    storage.metadata.drop_all(s.engine)  # a clean database per test, much faster than CREATE DATABASE
    s.create_schema()
    yield s
    s.close()


def test_store_really_is_postgresql(store: Store) -> None:
    assert store.dialect == "postgresql"


def test_concurrent_writers_of_one_epoch_store_everything_once(store: Store, pg: Postgres) -> None:
    """Two receivers interleaving overlapping batches of one device: no duplicate, no deadlock, exact watermark."""
    other = Store(pg.url)
    errors: list[BaseException] = []

    def feed(s: Store, starts: list[int]) -> None:
        ing = Ingestor(s)
        try:
            for first in starts:
                ing.handle_batch(BATCH_T, batch(recs(first, first + 19)))
        except BaseException as exc:
            errors.append(exc)

    starts = list(range(1, 1000, 10))  # each seq is in two batches
    threads = [threading.Thread(target=feed, args=(store, starts)),
               threading.Thread(target=feed, args=(other, starts[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.close()
    assert not errors
    stats = device_stats(store, DEV, EPOCH)
    assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"]) == (1010, 1010, [])
    assert sum(r["records"] for r in store.rollups(DEV)) == 1010
    assert store.epoch_row(DEV, EPOCH)["records"] == 1010  # type: ignore[index]


def test_receiver_rides_out_a_database_outage(store: Store, pg: Postgres, tmp_path) -> None:
    """PostgreSQL goes away mid-stream: no ack while it is gone, the same message is stored once it is back."""
    from test_receiver_service import Box, Receiver

    from sync.servers import Mosquitto, mosquitto_path

    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed")
    with Mosquitto() as broker:
        receiver = Receiver(broker.url, pg.url, tmp_path / "r.log").wait_subscribed()
        box = Box(broker.port, "classroom-05", pg.url)
        try:
            box.send_batch(1, 20)
            assert box.next_ack().committed == [[1, 20]]
            pg.stop()
            box.store.engine.dispose()  # the box's own checking connection died with the server
            box.send_batch(21, 40)
            with pytest.raises(queue.Empty):
                box.acks.get(timeout=1.5)
            pg.start()
            assert box.next_ack(timeout=40).committed == [[21, 40]]
            assert receiver.proc.poll() is None
            assert "database error" in receiver.log()
        finally:
            box.close()
            receiver.stop()
            if pg.proc is None:
                pg.start()
        shutil.rmtree(broker.workdir, ignore_errors=True)
    store.engine.dispose()  # the fixture's pooled connection died in the outage too
    stats = device_stats(store, "classroom-05", "ep-1")
    assert (stats["records"], stats["contiguous_through_seq"]) == (40, 40)
