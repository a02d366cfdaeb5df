"""Real-process sync rigs for the fault tests and the chaos bench.

A rig is what a county runs, on loopback: a mosquitto broker, one or more receiver processes, and
classroom boxes (``sync.loadgen``) as separate processes that can be SIGKILLed. An auditor subscribes
to every ack and checks, the moment it arrives, that the receiver's database already holds every
record the ack claims: "nothing is acknowledged before it is committed", observed from outside.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sync import protocol
from sync.servers import Mosquitto, free_port, stop_process, wait_port


class Receiver:
    def __init__(self, rig: Rig, name: str, extra: list[str]) -> None:
        self.rig, self.name, self.extra = rig, name, extra
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Receiver:
        log = open(self.rig.workdir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloud_receiver.cli", "serve", "--broker", self.rig.broker.url,
             "--db", self.rig.db_url, "--client-id", f"{self.name}-{time.monotonic_ns()}",
             "--protocol", self.rig.protocol, *self.rig.receiver_args, *self.extra],
            stdout=log, stderr=log,
        )
        log.close()
        self.rig.wait_subscribed()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


class Device:
    """A classroom box as a process; restart() resumes from its own database, like a power cut."""

    def __init__(self, rig: Rig, device_id: str, records: int, extra: list[str], broker_url: str | None) -> None:
        self.rig, self.device_id, self.records, self.extra = rig, device_id, records, extra
        self.broker_url = broker_url or rig.broker.url
        self.data_dir = rig.workdir / device_id
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.result: dict[str, Any] | None = None

    def start(self) -> Device:
        self._log = open(self.rig.workdir / f"{self.device_id}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync.loadgen", "--device-id", self.device_id, "--data-dir", str(self.data_dir),
             "--broker", self.broker_url, "--records", str(self.records), "--protocol", self.rig.protocol,
             "--exit-when-drained", *self.extra],
            stdout=subprocess.PIPE, stderr=self._log,
        )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def restart(self) -> None:
        self.kill()
        self.start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout)
        self._log.close()
        lines = [line for line in out.decode().splitlines() if line.startswith("{")]
        self.result = json.loads(lines[-1]) if lines else None
        return self.proc.returncode

    def outbox_stats(self) -> dict[str, Any]:
        from sync.outbox import stats_from_file

        return stats_from_file(self.data_dir / "classroom.db")


@dataclass
class AckAudit:
    acks: int = 0
    records_acked: int = 0
    violations: list[str] = field(default_factory=list)


class Auditor:
    """Checks every ack against the receiver's committed rows the moment the ack is seen."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.audit = AckAudit()
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"auditor-{time.monotonic_ns()}",
                                  protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{protocol.TOPIC_ROOT}/+/down/ack", qos=1)
        self.client.on_message = self._on_ack
        self.client.reconnect_delay_set(1, 2)

    def start(self) -> Auditor:
        self.client.connect_async("127.0.0.1", self.rig.broker.port, 30)
        self.client.loop_start()
        return self

    def _on_ack(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parsed = protocol.parse_topic(msg.topic)
        try:
            ack = protocol.Ack.from_bytes(bytes(msg.payload))
        except protocol.ProtocolError as exc:
            self.audit.violations.append(f"malformed ack on {msg.topic}: {exc}")
            return
        if parsed is None or not ack.committed:
            return
        device = parsed[0]
        seqs = list(protocol.iter_ranges(ack.committed))
        conn = sqlite3.connect(self.rig.db_path, timeout=10)
        try:
            have = {row[0] for row in conn.execute(
                "SELECT seq FROM records WHERE device_id = ? AND epoch = ? AND seq BETWEEN ? AND ?",
                (device, ack.epoch, min(seqs), max(seqs)))}
        finally:
            conn.close()
        missing = [s for s in seqs if s not in have]
        with self._lock:
            self.audit.acks += 1
            self.audit.records_acked += len(seqs)
            if missing:
                self.audit.violations.append(f"{device}: ack covers {len(missing)} uncommitted seqs, e.g. {missing[:5]}")

    def stop(self) -> None:
        self.client.loop_stop()
        with contextlib.suppress(Exception):
            self.client.disconnect()


class TcpProxy:
    """A loopback TCP relay that can be cut: the simplest honest way to pull a classroom's network cable."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        """Drop every connection and refuse new ones until restore()."""
        self._open.clear()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._server.close()


class Rig:
    def __init__(self, workdir: Path, protocol_version: str = "mqtt5", broker: Any = None,
                 receiver_args: list[str] | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.protocol = protocol_version
        self.broker = broker or Mosquitto(workdir=workdir / "mosquitto")
        self.db_path = workdir / "county.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.receiver_args = receiver_args or []
        self.receivers: list[Receiver] = []
        self.devices: list[Device] = []
        self.auditor: Auditor | None = None

    def __enter__(self) -> Rig:
        if getattr(self.broker, "proc", None) is None:
            self.broker.start()
        self.auditor = Auditor(self).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for d in self.devices:
            d.kill()
        for r in self.receivers:
            r.stop()
        if self.auditor:
            self.auditor.stop()
        self.broker.stop()

    def receiver(self, *extra: str) -> Receiver:
        r = Receiver(self, f"receiver{len(self.receivers)}", list(extra)).start()
        self.receivers.append(r)
        return r

    def device(self, device_id: str, records: int, *extra: str, broker_url: str | None = None) -> Device:
        d = Device(self, device_id, records, list(extra), broker_url).start()
        self.devices.append(d)
        return d

    def restart_broker(self, down_s: float = 0.5) -> None:
        """SIGKILL the broker (no flush, no goodbye) and start it again on the same port."""
        self.broker.kill()
        time.sleep(down_s)
        self.broker.start()

    def wait_subscribed(self, timeout: float = 15.0) -> None:
        """Wait until the receiver answers a hello, so tests start from a listening county."""
        got = threading.Event()
        probe = f"probe-{time.monotonic_ns()}"
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=probe, protocol=mqtt.MQTTv311)
        c.on_message = lambda cl, u, m: got.set()
        wait_port(self.broker.port, timeout)
        c.connect("127.0.0.1", self.broker.port, 30)
        c.subscribe(protocol.topic(probe, "down", "ack"), qos=1)
        c.loop_start()
        deadline = time.monotonic() + timeout
        try:
            while not got.is_set() and time.monotonic() < deadline:
                c.publish(protocol.topic(probe, "up", "hello"), protocol.dumps(
                    {"type": "hello", "device": probe, "epoch": "probe", "first_pending": None, "last_seq": 0}), qos=1)
                got.wait(0.3)
        finally:
            c.loop_stop()
            c.disconnect()
        if not got.is_set():
            raise TimeoutError("the receiver did not answer a hello")

    def stored(self, device_id: str) -> dict[str, Any]:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            epochs = [r[0] for r in conn.execute("SELECT DISTINCT epoch FROM records WHERE device_id = ?", (device_id,))]
            rows, distinct, lo, hi = conn.execute(
                "SELECT count(*), count(DISTINCT epoch || ':' || seq), min(seq), max(seq) FROM records "
                "WHERE device_id = ?", (device_id,)).fetchone()
            rollup = conn.execute("SELECT coalesce(sum(records), 0) FROM rollup_daily WHERE device_id = ?",
                                  (device_id,)).fetchone()[0]
        finally:
            conn.close()
        return {"epochs": epochs, "rows": rows, "distinct": distinct, "min": lo, "max": hi, "rollup": rollup}

    def assert_exactly_once(self, device: Device) -> dict[str, Any]:
        """Every seq 1..N of the device's single epoch stored once; rollups counted each once."""
        got = self.stored(device.device_id)
        n = device.records
        problems = []
        if len(got["epochs"]) != 1:
            problems.append(f"epochs {got['epochs']}")
        if (got["rows"], got["distinct"], got["min"], got["max"]) != (n, n, 1, n):
            problems.append(f"rows {got['rows']} distinct {got['distinct']} range {got['min']}..{got['max']}, want 1..{n}")
        if got["rollup"] != n:
            problems.append(f"rollup counts {got['rollup']} records, want {n}")
        assert not problems, f"{device.device_id}: " + "; ".join(problems)
        return got
