"""Outbox appends per second with synchronous=FULL, against a naive one-commit-per-record loop.

Baseline: bare sqlite3, same pragmas (WAL, synchronous=FULL), one INSERT + COMMIT per record: what a
feature would get writing straight to SQLite. Measured: ``Outbox.append`` through the Store's writer
thread, (a) one producer awaiting each append in turn, (b) 45 producers at once (a class handing in),
which the writer group-commits: every append still returns only after its own fsync'd commit, and
(c) ``append_many`` of 45 records per transaction (a lesson's per-student aggregates).

Run: .venv/bin/python bench/outbox_append.py [--n 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from appliance.store import Store
from sync.outbox import Outbox

PAYLOAD = {"student": "p-17", "assignment": "math-2026-11-22", "question": 7, "correct": True, "score": 5,
           "writing_s": 42}


def baseline(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, payload TEXT, ts REAL)")
    text = json.dumps(PAYLOAD)
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO outbox (kind, payload, ts) VALUES (?, ?, ?)", ("loadgen.sample", text, time.time()))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def outbox_many_rate(path: Path, n: int, per_txn: int) -> float:
    store = Store(path)
    outbox = Outbox(store, "bench-boot")
    start = time.perf_counter()
    for _ in range(n // per_txn):
        await outbox.append_many("loadgen.sample", [PAYLOAD] * per_txn)
    elapsed = time.perf_counter() - start
    store.close()
    return (n // per_txn * per_txn) / elapsed


async def outbox_rate(path: Path, n: int, producers: int) -> float:
    store = Store(path)
    outbox = Outbox(store, "bench-boot")

    async def producer(count: int) -> None:
        for _ in range(count):
            await outbox.append("loadgen.sample", PAYLOAD)

    start = time.perf_counter()
    await asyncio.gather(*(producer(n // producers) for _ in range(producers)))
    elapsed = time.perf_counter() - start
    assert (await store.run(outbox.stats))["last_seq"] == n // producers * producers
    store.close()
    return (n // producers * producers) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)
        base = baseline(d / "baseline.db", args.n)
        seq = asyncio.run(outbox_rate(d / "sequential.db", args.n, 1))
        conc = asyncio.run(outbox_rate(d / "concurrent.db", args.n, 45))
        many = asyncio.run(outbox_many_rate(d / "many.db", args.n, 45))
    print(json.dumps({
        "bench": "outbox_append",
        "n": args.n,
        "synchronous": "FULL",
        "baseline_one_commit_per_record_per_s": round(base),
        "outbox_sequential_per_s": round(seq),
        "outbox_45_producers_per_s": round(conc),
        "outbox_append_many_45_per_s": round(many),
        "ratio_sequential_vs_baseline": round(seq / base, 2),
        "ratio_concurrent_vs_baseline": round(conc / base, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
