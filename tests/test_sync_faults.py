"""Exactly once, under the faults rural classrooms see: real broker, real receiver, real device processes.

Each test asserts every record is stored exactly once per (device, epoch, seq), the receiver's rollups
counted each once, and the auditor saw no acknowledgement of anything not yet committed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sync.servers import free_port, mosquitto_path
from sync.testbed import Rig, TcpProxy

pytestmark = pytest.mark.skipif(mosquitto_path() is None, reason="Debian mosquitto is not installed")


def finish(rig: Rig, *devices, timeout: float = 90) -> None:
    for d in devices:
        assert d.wait(timeout) == 0, (d.device_id, d.result, (rig.workdir / f"{d.device_id}.log").read_text()[-2000:])
        rig.assert_exactly_once(d)
        st = d.outbox_stats()
        assert st["pending"] == 0 and st["acked"] == d.records and st["dead_letter"] == 0
    assert rig.auditor is not None
    time.sleep(0.3)  # let the auditor see the last acks
    assert rig.auditor.audit.violations == []
    assert rig.auditor.audit.acks > 0


def test_broker_killed_and_restarted_mid_stream(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.receiver()
        devices = [rig.device(f"d{i}", 3000, "--rate", "1500") for i in range(2)]
        for _ in range(2):
            time.sleep(0.8)
            rig.restart_broker(down_s=0.7)
        finish(rig, *devices)


def test_device_killed_mid_batch_and_restarted(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.receiver()
        d = rig.device("d1", 4000, "--rate", "2000")
        for delay in (0.7, 0.5, 0.9):
            time.sleep(delay)
            d.restart()  # SIGKILL mid-append, mid-batch, and start again on the same data dir
        finish(rig, d)
        assert d.kills == 3


def test_receiver_killed_between_commit_and_ack(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        crashing = rig.receiver("--fault-exit-after-commit", "3")
        d = rig.device("d1", 2000, "--rate", "1000", "--ack-timeout", "2")
        assert crashing.proc is not None and crashing.proc.wait(timeout=30) == 70  # died after a commit, before its ack
        rig.receiver()  # a healthy receiver takes over; the device resends what was never acknowledged
        finish(rig, d)


def test_long_outage_through_a_cut_link(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.receiver()
        proxy = TcpProxy(rig.broker.port)
        try:
            d = rig.device("d1", 3000, "--rate", "300", broker_url=proxy.url)
            time.sleep(1.5)
            proxy.cut()  # the school's uplink is gone; the class keeps producing results
            time.sleep(6)
            mid = d.outbox_stats()
            assert mid["pending"] > 500, mid  # results pile up safely on the box meanwhile
            proxy.restore()
            finish(rig, d, timeout=120)
        finally:
            proxy.close()


def test_duplicated_and_reordered_deliveries(tmp_path: Path) -> None:
    """An impatient device (tiny ack timeout, wide window) resends batches the receiver already has."""
    with Rig(tmp_path) as rig:
        rig.receiver()
        d = rig.device("d1", 3000, "--ack-timeout", "0.05", "--inflight", "16", "--group", "50")
        finish(rig, d)
        assert d.result is not None and d.result["batches_resent"] > 0, d.result


def test_device_clock_jumping_back(tmp_path: Path) -> None:
    with Rig(tmp_path) as rig:
        rig.receiver()
        d = rig.device("d1", 1500, "--rate", "1000", "--clock-jump-at", "700", "--clock-jump-s", "-7200")
        finish(rig, d)
        import sqlite3

        conn = sqlite3.connect(rig.db_path)
        ts = [t for (t,) in conn.execute("SELECT ts FROM records WHERE device_id = 'd1' ORDER BY seq")]
        conn.close()
        assert max(ts[:650]) - min(ts[760:]) > 3600  # stored as sent: later seqs carry the earlier clock


def test_embedded_amqtt_broker_with_mqtt311(tmp_path: Path) -> None:
    """The demo's fallback broker speaks MQTT 3.1.1 only: device and receiver work with it too."""
    import subprocess
    import sys

    from sync.servers import wait_port

    class Amqtt:
        def __init__(self) -> None:
            self.port = free_port()
            self.proc: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            self.proc = subprocess.Popen([sys.executable, "-m", "sync.embedded_broker", "--port", str(self.port)])
            wait_port(self.port, 15, self.proc)

        def stop(self) -> None:
            if self.proc and self.proc.poll() is None:
                self.proc.terminate()
                self.proc.wait(timeout=10)

        kill = stop

        @property
        def url(self) -> str:
            return f"mqtt://127.0.0.1:{self.port}"

    with Rig(tmp_path, protocol_version="mqtt311", broker=Amqtt(), receiver_args=["--shared-group", ""]) as rig:
        rig.receiver()
        d = rig.device("d1", 1000)
        finish(rig, d)
