"""The sync link as users see it: the demo drains its queue to the county, lessons throttle the uplink."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.bus import Bus
from appliance.config.schema import SyncConfig
from appliance.events import LiveLessonChanged, SyncStatus
from appliance.store import Store
from appliance.supervisor import RestartPolicy, Supervisor
from sync.link import SyncLink
from sync.outbox import Outbox
from sync.servers import mosquitto_path
from sync.testbed import Rig

from conftest import ROOT, DemoProcess, get_json, wait_for

pytestmark = pytest.mark.skipif(mosquitto_path() is None, reason="Debian mosquitto is not installed")


def cli(*args: str) -> dict:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    return json.loads(out.stdout)


def test_demo_queue_drains_and_both_ends_agree(demo_daemon: DemoProcess) -> None:
    status = wait_for(
        lambda: (s := get_json(demo_daemon.url + "/api/status"))["cloud"]["state"] == "online"
        and s["cloud"]["queued"] == 0 and s,
        timeout=40,
    )
    assert status["cloud"] == {"state": "online", "queued": 0}
    sync = get_json(demo_daemon.url + "/api/sync")
    assert sync["configured"] and sync["acked"] >= 300  # the demo's homework backlog reached the county

    def agree() -> tuple[dict, dict] | None:
        device = cli("-m", "appliance.cli", "outbox-stats", "--data-dir", str(demo_daemon.data_dir), "--json")
        county = cli("-m", "cloud_receiver.cli", "device-stats", "demo-classroom",
                     "--db", f"sqlite:///{demo_daemon.data_dir / 'county.db'}", "--json")
        same = (device["pending"] == 0 and county["records"] == device["acked"] == device["last_seq"]
                and county["contiguous_through_seq"] == device["last_seq"] and county["gaps"] == [])
        return (device, county) if same else None

    device, county = wait_for(agree, timeout=30, interval=0.5)
    assert set(device) == {"epoch", "last_seq", "pending", "acked", "oldest_pending_age_s"}
    assert county["epoch"] == device["epoch"]


async def test_live_lesson_throttles_the_uplink(tmp_path: Path) -> None:
    with Rig(tmp_path / "rig") as rig:
        rig.receiver()
        store = Store(tmp_path / "box" / "classroom.db")
        outbox = Outbox(store, "boot")
        bus = Bus()
        cfg = SyncConfig(enabled=True, broker_url=rig.broker.url, batch_max_records=20, batch_max_age_s=0.1,
                         live_lesson_batches_per_min=2, reconnect_min_s=0.2)
        link = SyncLink(cfg, "box1", outbox, tmp_path)
        sup = Supervisor(bus, RestartPolicy(), store, outbox=outbox)
        sup.add(link)
        statuses = bus.subscribe(SyncStatus, maxsize=1000)
        bus.publish(LiveLessonChanged(active=True))  # a dual-teacher lesson is on air
        await sup.start()
        try:
            await asyncio.gather(*(outbox.append("loadgen.sample", {"i": i}) for i in range(200)))
            await asyncio.sleep(4)
            during = await store.run(outbox.stats)
            assert link.batches_sent <= 2, link.batches_sent  # the budget: 2 batches a minute
            assert during["pending"] >= 200 - 2 * 20
            last: SyncStatus = await asyncio.wait_for(statuses.get(), 5)
            assert last.throttled
            bus.publish(LiveLessonChanged(active=False))  # lesson over: full speed

            async def drained() -> None:
                while (await statuses.get()).pending:
                    pass

            await asyncio.wait_for(drained(), 20)
            assert (await store.run(outbox.stats))["pending"] == 0
        finally:
            await sup.stop()
            store.close()
        box = rig.stored("box1")
        assert (box["rows"], box["distinct"], box["min"], box["max"]) == (200, 200, 1, 200)
