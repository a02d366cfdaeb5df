"""County receiver ingest throughput, in records per second, through a real mosquitto.

Three consumers take the same pre-built batches (default 100,000 realistic records in batches of 200 from
5 classroom boxes), one after the other, in one run:

1. receiver -> SQLite: the real ``cloud_receiver.service.Service`` (worker thread, validation, exactly-once
   insert, watermark, rollups, one transaction per batch, ack publish, manual PUBACK), in this process.
2. receiver -> PostgreSQL: the same, into a throw-away PostgreSQL cluster started here.
3. baseline: a bare paho subscriber that inflates, parses and ``executemany``-INSERTs each batch into
   SQLite and commits, in paho's network thread: no validation, no dedup, no acks. Same PRAGMAs as the
   receiver (WAL, synchronous=FULL) so the ratio is the cost of the receiver's semantics, not of fsync.

The publisher is a separate process (like the boxes), publishing QoS 1 as fast as the broker takes it
and, for the receiver runs, subscribing to the acks as boxes do. Time runs from the first batch received
to the last batch committed.

Run: .venv/bin/python bench/sync_throughput.py [--records 100000] [--batch 200] [--devices 5]
Prints ONE JSON line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloud_receiver.config import load_raw  # noqa: E402
from cloud_receiver.service import Service  # noqa: E402
from cloud_receiver.storage import Store  # noqa: E402
from sync.protocol import encode_batch, record_dict, topic  # noqa: E402
from sync.servers import Mosquitto, Postgres, postgres_bindir  # noqa: E402

KINDS = ("attendance.snapshot", "lesson.segment", "panel.usage", "engagement.sample")
TS0 = 1_767_000_000.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- workload ------------------------------------------------------------------------------------------------
def build_batches(n_records: int, batch: int, n_devices: int) -> list[tuple[str, bytes]]:
    """Interleaved batches from several boxes; each record's payload is ~60 bytes of JSON."""
    rnd = random.Random(7)
    per_device = n_records // n_devices
    streams = []
    for d in range(n_devices):
        device = f"bench-box-{d:02d}"
        out = []
        for first in range(1, per_device + 1, batch):
            recs = [record_dict(s, KINDS[s % len(KINDS)], 1, TS0 + s * 0.5, "boot-2f9c", 1000.0 + s * 0.5,
                                {"room": f"r-{d:02d}", "present": rnd.randint(25, 40), "absent": rnd.randint(0, 4),
                                 "lesson": "math", "conf": round(rnd.random(), 2)})
                    for s in range(first, min(first + batch, per_device + 1))]
            out.append((topic(device, "up", "batch"), encode_batch(device, "ep-bench", recs)))
        streams.append(out)
    return [b for group in zip(*streams, strict=True) for b in group]


def publish(port: int, batches_file: str, want_acks: bool) -> None:
    """Child process: publish every batch QoS 1, as fast as the broker takes them."""
    with open(batches_file, "rb") as f:
        batches: list[tuple[str, bytes]] = pickle.load(f)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    if want_acks:
        client.subscribe("edu/v1/d/+/down/ack", qos=1)
    infos = [client.publish(t, p, qos=1) for t, p in batches]
    for info in infos:
        info.wait_for_publish(120)
    client.loop_stop()
    client.disconnect()


def run_publisher(port: int, batches_file: str, want_acks: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--publish", str(port), batches_file,
                             *(["--acks"] if want_acks else [])], cwd=ROOT)


def wait_until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not done after {timeout} s")
        time.sleep(0.02)


# -- the three consumers ----------------------------------------------------------------------------------------
def through_receiver(broker: Mosquitto, db_url: str, batches_file: str, n_records: int,
                     timeout: float) -> float:
    config = load_raw({}, {"broker.url": broker.url, "database.url": db_url, "logging.level": "WARNING"})
    service = Service(config)
    service.start()
    try:
        if not service.connected.wait(15):
            raise RuntimeError("receiver did not subscribe")
        pub = run_publisher(broker.port, batches_file, want_acks=True)
        wait_until(lambda: service.stats.records >= n_records, timeout, "receiver ingest")
        pub.wait(60)
    finally:
        service.stop()
        service.wait()
    s = service.stats
    assert s.first_batch_received is not None and s.last_batch_committed is not None
    check = Store(db_url, writer=False, create=False)
    try:
        stored = check.count_all_records()
    finally:
        check.close()
    if stored != n_records:
        raise RuntimeError(f"receiver stored {stored} records, expected {n_records}")
    return n_records / (s.last_batch_committed - s.first_batch_received)


def bare_baseline(broker: Mosquitto, db_path: Path, batches_file: str, n_records: int, timeout: float) -> float:
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE records (device_id TEXT, epoch TEXT, seq INTEGER, kind TEXT, v INTEGER, ts REAL, "
               "boot TEXT, mono REAL, payload TEXT)")
    db.commit()
    state = {"first": 0.0, "last": 0.0, "records": 0}
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if not state["first"]:
            state["first"] = time.monotonic()
        body = json.loads(zlib.decompress(msg.payload))
        dev, ep = body["device"], body["epoch"]
        db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?)",
                       [(dev, ep, r["seq"], r["kind"], r["v"], r["ts"], r["boot"], r["mono"],
                         json.dumps(r["payload"])) for r in body["records"]])
        db.commit()
        state["records"] += len(body["records"])
        state["last"] = time.monotonic()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.subscribe("edu/v1/d/+/up/#", qos=1)
    try:
        if not subscribed.wait(15):
            raise RuntimeError("baseline did not subscribe")
        pub = run_publisher(broker.port, batches_file, want_acks=False)
        wait_until(lambda: state["records"] >= n_records, timeout, "baseline ingest")
        pub.wait(60)
    finally:
        client.loop_stop()
        client.disconnect()
        db.close()
    return n_records / (state["last"] - state["first"])


# -- main ---------------------------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--devices", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--publish", nargs=2, metavar=("PORT", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--acks", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.publish:
        publish(int(args.publish[0]), args.publish[1], args.acks)
        return 0

    batches = build_batches(args.records, args.batch, args.devices)
    n = args.records // args.devices * args.devices
    wire = sum(len(p) for _, p in batches)
    log(f"{len(batches)} batches, {n} records, {wire / len(batches):.0f} bytes per batch on the wire")
    tmp = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    batches_file = str(tmp / "batches.pickle")
    with open(batches_file, "wb") as f:
        pickle.dump(batches, f)
    broker = Mosquitto(workdir=tmp / "mosquitto")
    # the whole run may sit in the broker's queue for a slow consumer: do not let it drop any
    broker.conf.write_text(broker.conf.read_text().replace("max_queued_messages 1000", "max_queued_messages 0"))
    pg: Postgres | None = None
    result: dict[str, Any] = {"bench": "sync_throughput", "records": n, "batch_records": args.batch,
                              "devices": args.devices, "batches": len(batches),
                              "bytes_per_batch": round(wire / len(batches))}
    try:
        broker.start()
        rate = through_receiver(broker, f"sqlite:///{tmp}/receiver.db", batches_file, n, args.timeout)
        log(f"receiver -> SQLite: {rate:,.0f} records/s")
        result["receiver_sqlite_records_per_s"] = round(rate)
        if args.skip_postgres or postgres_bindir() is None:
            result["receiver_postgres_records_per_s"] = None
        else:
            pg = Postgres().start()
            rate = through_receiver(broker, pg.url, batches_file, n, args.timeout)
            log(f"receiver -> PostgreSQL: {rate:,.0f} records/s")
            result["receiver_postgres_records_per_s"] = round(rate)
        rate = bare_baseline(broker, tmp / "bare.db", batches_file, n, args.timeout)
        log(f"bare baseline -> SQLite: {rate:,.0f} records/s")
        result["baseline_bare_sqlite_records_per_s"] = round(rate)
    finally:
        broker.stop()
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.workdir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    result["ratio_sqlite_vs_baseline"] = round(result["receiver_sqlite_records_per_s"]
                                               / result["baseline_bare_sqlite_records_per_s"], 3)
    result.update({"machine": machine(), "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
                   "target_receiver_sqlite_records_per_s": 20_000})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
