"""The receiver as users run it: a real ``classroom-cloud serve`` subprocess behind a real broker.

A raw paho client plays the classroom box: it publishes batches built with sync.protocol and, the
moment each ack arrives, checks the database for the records the ack claims; an ack that arrived before
its commit would fail the test.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from cloud_receiver.cli import main as cli_main
from cloud_receiver.storage import Store
from sync.protocol import Ack, encode_batch, iter_ranges, record_dict, topic
from sync.servers import Mosquitto, free_port, mosquitto_path, wait_port

from conftest import ROOT, wait_for

pytestmark = pytest.mark.skipif(mosquitto_path() is None, reason="mosquitto is not installed")

TS = 1_700_000_000.0


# -- the pieces: a receiver process, a fake classroom box, brokers -------------------------------------------
class Receiver:
    """``python -m cloud_receiver.cli serve ...`` with its log in a file."""

    def __init__(self, broker_url: str | None, db_url: str | None, log: Path, *extra: str) -> None:
        self.log_path = log
        self._log = open(log, "ab")
        flags = [*(["--broker", broker_url] if broker_url else []), *(["--db", db_url] if db_url else [])]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloud_receiver.cli", "serve", *flags, *extra],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_subscribed(self, timeout: float = 20.0) -> Receiver:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"receiver exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            return "subscribed" in self.log()
        wait_for(ready, timeout, interval=0.05)
        return self

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Box:
    """A classroom box reduced to its wire behaviour; verifies every ack against the database on arrival."""

    def __init__(self, port: int, device: str, db_url: str, protocol: int = mqtt.MQTTv5) -> None:
        self.device = device
        self.acks: queue.Queue[tuple[Ack, list[int]]] = queue.Queue()
        self.store = Store(db_url, writer=False, create=False)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"box-{device}-{uuid.uuid4().hex[:6]}",
                                  protocol=protocol)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic(device, "down", "ack"), qos=1)
        assert subscribed.wait(10), "box could not subscribe to its ack topic"

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        ack = Ack.from_bytes(msg.payload)
        missing = []
        for a, b in ack.committed:  # checked now, in the network thread, before anything else can happen
            stored = set(self.store.committed_seqs(self.device, ack.epoch, a, b))
            missing += [s for s in range(a, b + 1) if s not in stored]
        self.acks.put((ack, missing))

    def send(self, name: str, payload: bytes) -> None:
        info = self.client.publish(topic(self.device, "up", name), payload, qos=1)
        info.wait_for_publish(15)

    def send_batch(self, first: int, last: int, epoch: str = "ep-1") -> None:
        records = [record_dict(s, "attendance.snapshot", 1, TS + s, "boot-1", 5.0 + s,
                               {"room": "r-12", "present": 31, "absent": 2, "lesson": "math"})
                   for s in range(first, last + 1)]
        self.send("batch", encode_batch(self.device, epoch, records))

    def hello(self, first_pending: int | None, last_seq: int, epoch: str = "ep-1") -> None:
        self.send("hello", json.dumps({"v": 1, "type": "hello", "device": self.device, "epoch": epoch,
                                       "first_pending": first_pending, "last_seq": last_seq,
                                       "boot": "boot-1"}).encode())

    def next_ack(self, timeout: float = 15.0) -> Ack:
        ack, missing = self.acks.get(timeout=timeout)
        assert not missing, f"ack claimed seqs not yet committed: {missing[:10]}"
        return ack

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        self.store.close()


def cli_json(*args: str) -> Any:
    out = subprocess.run([sys.executable, "-m", "cloud_receiver.cli", *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    m = Mosquitto()
    with m:
        yield m
    shutil.rmtree(m.workdir, ignore_errors=True)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/county.db"


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for r in started:
        r.stop()


@pytest.fixture
def boxes() -> Iterator[list[Box]]:
    made: list[Box] = []
    yield made
    for b in made:
        b.close()


# -- behaviour ---------------------------------------------------------------------------------------
def test_acks_arrive_only_for_committed_records(broker, db_url, tmp_path, receivers, boxes) -> None:
    config = tmp_path / "classroom-cloud.toml"  # the way a county runs it: everything from the file
    config.write_text(f'[broker]\nurl = "{broker.url}"\nclient_id = "county-rx-1"\n\n'
                      f'[database]\nurl = "{db_url}"\n\n[rollups]\ntimezone = "Asia/Shanghai"\n')
    receivers.append(Receiver(None, None, tmp_path / "r.log", "--config", str(config)).wait_subscribed())
    box = Box(broker.port, "classroom-01", db_url)
    boxes.append(box)
    box.hello(None, 0)
    hello_ack = box.next_ack()
    assert (hello_ack.reply_to, hello_ack.committed) == ("hello", [])
    for first in range(1, 1000, 50):
        box.send_batch(first, first + 49)
    acks = [box.next_ack() for _ in range(20)]
    assert [a.committed for a in acks] == [[[f, f + 49]] for f in range(1, 1000, 50)]  # in arrival order
    assert all(a.reply_to == "batch" and a.rejected == [] for a in acks)
    box.hello(1, 1000)
    assert box.next_ack().committed == [[1, 1000]]
    stats = cli_json("device-stats", "classroom-01", "--db", db_url)
    assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"], stats["epoch"]) == (1000, 1000, [], "ep-1")
    # 1.7e9 is 22:13 UTC on 14 Nov 2023, already the 15th in the configured Asia/Shanghai
    assert {str(r["day"]) for r in box.store.rollups("classroom-01")} == {"2023-11-15"}
    assert receivers[0].stop() == 0  # SIGTERM is a clean stop
    assert "stopped after 20 batches (1000 records, 1000 new)" in receivers[0].log()


def test_bad_inputs_are_quarantined_and_the_receiver_keeps_going(broker, db_url, tmp_path, receivers, boxes) -> None:
    receivers.append(Receiver(broker.url, db_url, tmp_path / "r.log").wait_subscribed())
    box = Box(broker.port, "classroom-02", db_url)
    boxes.append(box)
    wrong_version = {"v": 2, "device": box.device, "epoch": "ep-1", "first_seq": 1, "last_seq": 1,
                     "records": [record_dict(1, "k", 1, TS, "b", 1.0, {})]}
    bad = {
        "bad JSON": zlib.compress(b'{"v":1,"records":['),
        "unsupported envelope version": zlib.compress(json.dumps(wrong_version).encode()),
        "device mismatch": encode_batch("classroom-99", "ep-1", [record_dict(1, "k", 1, TS, "b", 1.0, {})]),
        "oversize: 10485760 bytes": os.urandom(10 * 1024 * 1024),
        "oversize: inflates": zlib.compress(b"0" * (64 * 1024 * 1024), 9),
    }
    for payload in bad.values():
        box.send("batch", payload)
    box.send_batch(1, 10)  # processed in arrival order: its ack proves the bad ones were handled first
    ack = box.next_ack()
    assert (ack.reply_to, ack.committed) == ("batch", [[1, 10]])
    with pytest.raises(queue.Empty):
        box.acks.get(timeout=0.5)  # nothing answered the bad ones
    assert receivers[0].proc.poll() is None
    q = cli_json("quarantine", "--db", db_url)
    assert q["total"] == 5
    reasons = [r["reason"] for r in reversed(q["recent"])]
    for expected, reason in zip(bad, reasons, strict=True):
        assert expected in reason
    assert all(len(r["sample"].encode()) <= 1024 and r["device_id"] == box.device for r in q["recent"])
    log_lines = [line for line in receivers[0].log().splitlines() if "quarantined" in line]
    assert len(log_lines) == 5  # one clear line each
    stats = cli_json("device-stats", box.device, "--db", db_url)
    assert (stats["records"], stats["epoch"]) == (10, "ep-1")


def test_crash_between_commit_and_ack_stores_once(broker, db_url, tmp_path, receivers, boxes) -> None:
    first = Receiver(broker.url, db_url, tmp_path / "r1.log", "--fault-exit-after-commit", "2").wait_subscribed()
    receivers.append(first)
    box = Box(broker.port, "classroom-03", db_url)
    boxes.append(box)
    box.send_batch(1, 50)
    assert box.next_ack().committed == [[1, 50]]
    box.send_batch(51, 100)  # committed, then the receiver dies before acking
    assert first.proc.wait(timeout=15) == 70
    with pytest.raises(queue.Empty):
        box.acks.get(timeout=0.3)
    reader = Store(db_url, writer=False, create=False)
    try:
        assert reader.count_records(box.device, "ep-1") == 100  # the commit happened
        receivers.append(Receiver(broker.url, db_url, tmp_path / "r2.log").wait_subscribed())
        box.send_batch(51, 100)  # the box resends what was never acknowledged
        assert box.next_ack().committed == [[51, 100]]
        assert reader.count_records(box.device, "ep-1") == 100
        assert sum(r["records"] for r in reader.rollups(box.device)) == 100  # rollups did not double either
        epoch = reader.epoch_row(box.device, "ep-1")
        assert epoch is not None and (epoch["records"], epoch["contiguous_through"]) == (100, 100)
    finally:
        reader.close()


def test_two_receivers_on_a_shared_subscription_store_everything_once(broker, db_url, tmp_path, receivers,
                                                                     boxes) -> None:
    for i in range(2):
        receivers.append(Receiver(broker.url, db_url, tmp_path / f"r{i}.log").wait_subscribed())
    devices = [Box(broker.port, f"classroom-1{i}", db_url) for i in range(3)]
    boxes.extend(devices)
    for first in range(1, 1000, 50):
        for box in devices:
            box.send_batch(first, first + 49)
    for box in devices:
        acks = [box.next_ack() for _ in range(20)]
        assert sorted(s for a in acks for s in iter_ranges(a.committed)) == list(range(1, 1001))
    for box in devices:
        stats = cli_json("device-stats", box.device, "--db", db_url)
        assert (stats["records"], stats["contiguous_through_seq"], stats["gaps"]) == (1000, 1000, [])
    per_receiver = []
    for r in receivers:
        assert r.stop() == 0
        line = next(x for x in r.log().splitlines() if "stopped after" in x)
        per_receiver.append(int(line.split("stopped after ")[1].split()[0]))
    assert sum(per_receiver) == 60, per_receiver  # each batch went to exactly one receiver...
    assert min(per_receiver) > 0, per_receiver  # ...and both took a share


AMQTT_CONFIG = """\
listeners:
  default:
    type: tcp
    bind: 127.0.0.1:{port}
plugins:
  amqtt.plugins.authentication.AnonymousAuthPlugin:
    allow_anonymous: true
"""


@pytest.fixture
def amqtt_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    cfg = tmp_path / "amqtt.yaml"
    cfg.write_text(AMQTT_CONFIG.format(port=port))
    with open(tmp_path / "amqtt.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", "from amqtt.scripts.broker_script import main; main()",
                                 "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, 20, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_amqtt_broker_with_mqtt311(amqtt_port, db_url, tmp_path, receivers, boxes) -> None:
    url = f"mqtt://127.0.0.1:{amqtt_port}"
    receivers.append(Receiver(url, db_url, tmp_path / "r.log", "--protocol", "mqtt311", "--shared-group", "")
                     .wait_subscribed())
    assert "subscribed edu/v1/d/+/up/#" in receivers[0].log()
    box = Box(amqtt_port, "classroom-04", db_url, protocol=mqtt.MQTTv311)
    boxes.append(box)
    for first in (1, 21, 41):
        box.send_batch(first, first + 19)
    assert [box.next_ack().committed for _ in range(3)] == [[[1, 20]], [[21, 40]], [[41, 60]]]
    box.hello(1, 60)
    assert box.next_ack().committed == [[1, 60]]
    assert receivers[0].stop() == 0


# -- the command line ------------------------------------------------------------------------------------
def test_check_config(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[broker]\nurl = "mqtt://broker.county.example:1883"\nshared_group = ""\n'
                    '[database]\nurl = "postgresql://receiver@db.county.example/classroom"\n')
    assert cli_main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[broker]\nurl = "http://broker"\npassword = "hunter2"\nkeepalive = 1\n\n[databse]\nurl = "x"\n')
    capsys.readouterr()
    assert cli_main(["check-config", str(bad)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("broker.password: secrets never go in the config file") for line in lines)
    assert any(line.startswith("broker.url: got 'http://broker'") and "bad.toml:2" in line for line in lines)
    assert any(line.startswith("broker.keepalive:") and "bad.toml:4" in line for line in lines)
    assert any(line.startswith("databse: unknown key; did you mean 'database'?") for line in lines)
    assert cli_main(["check-config", str(tmp_path / "missing.toml")]) == 2


def test_serve_refuses_a_bad_setup_with_one_clear_line(tmp_path: Path, capsys, monkeypatch) -> None:
    assert cli_main(["serve"]) == 2
    assert cli_main(["serve", "--broker", "mqtt://127.0.0.1:1", "--db", "mysql://x"]) == 2
    assert "database.url: got 'mysql://x'; use sqlite:///PATH" in capsys.readouterr().err
    cfg = tmp_path / "c.toml"
    cfg.write_text('[broker]\nurl = "mqtts://broker:8883"\ncert_file = "/etc/c.pem"\n')
    assert cli_main(["serve", "--config", str(cfg)]) == 2
    assert capsys.readouterr().err.strip() == "broker: cert_file and key_file go together; set both or neither (" \
        f"{cfg}:1)"
    monkeypatch.delenv("CLASSROOM_SECRET_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    cfg.write_text(f'[broker]\nusername = "rx"\n[database]\nurl = "sqlite:///{tmp_path}/never.db"\n')
    assert cli_main(["serve", "--config", str(cfg)]) == 2
    assert "secret 'mqtt-password' not found" in capsys.readouterr().err
    assert not (tmp_path / "never.db").exists()


def test_device_stats_table_and_missing_database(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    Store(url).close()
    assert cli_main(["device-stats", "classroom-09", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "records stored" in out and "(none seen)" in out
    assert cli_main(["device-stats", "x", "--db", f"sqlite:///{tmp_path}/none.db"]) == 1
    assert "no such database file" in capsys.readouterr().err
