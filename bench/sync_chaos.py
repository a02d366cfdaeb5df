"""Chaos: many classroom boxes syncing through broker crashes and power cuts; count what arrived.

D devices (real ``sync.loadgen`` processes) each produce R records at a steady rate while the bench
SIGKILLs the broker K times and SIGKILLs a random device J times (restarting each on its own data dir).
At the end the receiver's database must hold every (device, epoch, seq) exactly once.

Run: .venv/bin/python bench/sync_chaos.py --devices 20 --records 5000 --broker-restarts 5 --device-kills 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from sync.testbed import Rig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--records", type=int, default=5000, help="records per device")
    ap.add_argument("--broker-restarts", type=int, default=5)
    ap.add_argument("--device-kills", type=int, default=10)
    ap.add_argument("--duration", type=float, default=40.0, help="target production time in seconds")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    rate = args.records / args.duration
    faults = ["broker"] * args.broker_restarts + ["device"] * args.device_kills
    rng.shuffle(faults)
    gap = args.duration * 0.9 / max(1, len(faults))
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp, Rig(Path(tmp)) as rig:
        rig.receiver()
        started = time.monotonic()
        devices = [rig.device(f"box{i:03d}", args.records, "--rate", f"{rate:.1f}", "--ack-timeout", "5",
                              "--max-seconds", str(args.duration * 10)) for i in range(args.devices)]
        done = {"broker": 0, "device": 0}
        for fault in faults:
            time.sleep(gap * rng.uniform(0.6, 1.4))
            if fault == "broker":
                rig.restart_broker(down_s=rng.uniform(0.2, 1.5))
            else:
                rng.choice([d for d in devices if d.running()] or devices).restart()
            done[fault] += 1
            print(f"[{time.monotonic() - started:5.1f} s] {fault} fault {done[fault]}", file=sys.stderr)
        codes = [d.wait(timeout=args.duration * 10) for d in devices]
        elapsed = time.monotonic() - started
        conn = sqlite3.connect(rig.db_path)
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT device_id || ':' || epoch || ':' || seq) "
                                      "FROM records").fetchone()
        epochs_per_device = dict(conn.execute("SELECT device_id, count(DISTINCT epoch) FROM records GROUP BY device_id"))
        in_range = conn.execute("SELECT count(*) FROM records WHERE seq BETWEEN 1 AND ?", (args.records,)).fetchone()[0]
        conn.close()
        expected = args.devices * args.records
        audit = rig.auditor.audit if rig.auditor else None
        result = {
            "bench": "sync_chaos",
            "devices": args.devices,
            "records": expected,
            "records_per_device": args.records,
            "stored": distinct,
            "lost": expected - min(in_range, distinct),
            "duplicates": rows - distinct,
            "records_per_s": round(distinct / elapsed, 1),
            "broker_restarts": done["broker"],
            "device_kills": sum(d.kills for d in devices),
            "devices_drained": sum(c == 0 for c in codes),
            "single_epoch_per_device": all(v == 1 for v in epochs_per_device.values()),
            "acks_audited": audit.acks if audit else 0,
            "acks_before_commit": len(audit.violations) if audit else None,
            "elapsed_s": round(elapsed, 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
