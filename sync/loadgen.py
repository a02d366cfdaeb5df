"""A classroom box reduced to its sync path, for fault tests and the chaos bench.

It is the real thing, not a model of it: the same Store, Outbox and SyncLink under the same Supervisor
as the daemon, producing synthetic graded answers until its outbox has ``--records`` of them, then
waiting until the county has committed every one. Kill it with SIGKILL at any moment and start it again
on the same ``--data-dir``: it carries on where the database says it stopped.

  python -m sync.loadgen --device-id d01 --data-dir /tmp/d01 --broker mqtt://127.0.0.1:1883 --records 5000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import time
import uuid
from pathlib import Path

from appliance.bus import Bus
from appliance.component import Component, ComponentContext
from appliance.config.schema import SyncConfig
from appliance.store import Store
from appliance.supervisor import RestartPolicy, Supervisor
from sync.link import SyncLink
from sync.outbox import Outbox

log = logging.getLogger("loadgen")


class Producer(Component):
    """Appends graded answers in small concurrent groups, as a class handing in at once would."""

    name = "producer"
    kind = "feature"

    def __init__(self, outbox: Outbox, total: int, rate: float, group: int) -> None:
        self.outbox = outbox
        self.total = total
        self.rate = rate
        self.group = group
        self.done = asyncio.Event()

    async def run(self, ctx: ComponentContext) -> None:
        rng = random.Random()
        while True:
            st = await self.outbox.store.run(self.outbox.stats)
            produced = st["last_seq"]
            if produced >= self.total:
                self.done.set()
                while True:
                    ctx.heartbeat()
                    await asyncio.sleep(1)
            n = min(self.group, self.total - produced)
            started = time.monotonic()
            await asyncio.gather(*(
                self.outbox.append("loadgen.sample", {
                    "student": f"s{rng.randrange(45):02d}", "question": rng.randrange(1, 21),
                    "answer": rng.choice("ABCD"), "score": rng.choice([0, 2, 5]), "ms": rng.randrange(800, 9000),
                })
                for _ in range(n)
            ))
            ctx.heartbeat()
            if self.rate > 0:
                await asyncio.sleep(max(0.0, n / self.rate - (time.monotonic() - started)))


async def main_async(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    store = Store(data_dir / "classroom.db")
    offset = [0.0]
    outbox = Outbox(store, uuid.uuid4().hex, clock=lambda: time.time() + offset[0])
    cfg = SyncConfig(
        enabled=True, broker_url=args.broker, protocol=args.protocol, batch_max_age_s=args.batch_age,
        ack_timeout_s=args.ack_timeout, reconnect_min_s=0.2, reconnect_max_s=args.reconnect_max,
        heartbeat_interval_s=5, max_inflight_batches=args.inflight,
    )
    bus = Bus()
    sup = Supervisor(bus, RestartPolicy(backoff_initial_s=0.2, backoff_max_s=2), store, outbox=outbox)
    producer = Producer(outbox, args.records, args.rate, args.group)
    link = SyncLink(cfg, args.device_id, outbox, data_dir)
    sup.add(producer)
    sup.add(link)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sup.start()
    deadline = time.monotonic() + args.max_seconds
    code = 1
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            st = await store.run(outbox.stats)
            if args.clock_jump_at and st["last_seq"] >= args.clock_jump_at and offset[0] == 0.0:
                offset[0] = args.clock_jump_s
                log.warning("device clock jumped by %+.0f s", args.clock_jump_s)
            if producer.done.is_set() and st["pending"] == 0:
                code = 0
                if args.exit_when_drained:
                    break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    await stop.wait()
    finally:
        await sup.stop()
        st = await store.run(outbox.stats)
        store.close()
    print(json.dumps({"device": args.device_id, **st, "batches_sent": link.batches_sent,
                      "batches_resent": link.batches_resent}), flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="a classroom box's sync path, for tests and benches")
    ap.add_argument("--device-id", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--broker", required=True)
    ap.add_argument("--protocol", choices=["mqtt5", "mqtt311"], default="mqtt5")
    ap.add_argument("--records", type=int, required=True, help="total records this device produces")
    ap.add_argument("--rate", type=float, default=0, help="records/s (0 = as fast as the disk allows)")
    ap.add_argument("--group", type=int, default=20, help="concurrent appends per group commit")
    ap.add_argument("--batch-age", type=float, default=0.2, help="sync.batch_max_age_s")
    ap.add_argument("--ack-timeout", type=float, default=5.0, help="sync.ack_timeout_s")
    ap.add_argument("--reconnect-max", type=float, default=2.0, help="sync.reconnect_max_s")
    ap.add_argument("--inflight", type=int, default=4, help="sync.max_inflight_batches")
    ap.add_argument("--clock-jump-at", type=int, default=0, help="after this many records, jump the clock")
    ap.add_argument("--clock-jump-s", type=float, default=-3600.0)
    ap.add_argument("--exit-when-drained", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--log-level", default="WARNING")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format=f"{args.device_id} %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
