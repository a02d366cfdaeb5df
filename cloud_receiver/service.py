"""The MQTT side of the receiver: subscribe, hand messages to one worker in arrival order, ack after commit.

Order of events for every message: commit -> publish the reply (down/ack, QoS 1) -> PUBACK the message.
paho's automatic PUBACK is off (``manual_ack_set``), so even the broker-level acknowledgement follows the
commit, and a receiver killed in between leaves the message unacknowledged for the device to resend.

Two threads besides the caller's: the network loop (ours, not paho's ``loop_start``, so reconnects get
exponential backoff with jitter) and the worker that talks to the database (so a slow commit never
stalls keepalives).
"""

from __future__ import annotations

import logging
import os
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import DBAPIError, OperationalError

from cloud_receiver.config import MQTT_PASSWORD_SECRET, ReceiverConfig
from cloud_receiver.ingest import Ingestor, Outcome
from cloud_receiver.storage import Store
from sync.protocol import TOPIC_ROOT

log = logging.getLogger("classroom_cloud.service")

FAULT_EXIT_CODE = 70
BACKOFF_MIN_S = 0.5
BACKOFF_MAX_S = 30.0
RECEIVE_MAXIMUM = 100  # unacknowledged QoS 1 messages the broker may push to us at once


def subscription(shared_group: str) -> str:
    plain = f"{TOPIC_ROOT}/+/up/#"
    return f"$share/{shared_group}/{plain}" if shared_group else plain


def jittered(delay: float) -> float:
    """Full jitter in [delay/2, delay]: a county's receivers restarting together do not reconnect in step."""
    return delay * (0.5 + random.random() / 2)


@dataclass
class Stats:
    """Counters for logs and the throughput bench (monotonic seconds)."""

    first_batch_received: float | None = None
    last_batch_committed: float | None = None
    batches: int = 0
    records: int = 0
    inserted: int = 0
    quarantined: int = 0


class Service:
    def __init__(self, config: ReceiverConfig, fault_exit_after_commit: int | None = None,
                 store: Store | None = None) -> None:
        self.config = config
        self.stats = Stats()
        self.fault_exit_after_commit = fault_exit_after_commit
        self.topic_filter = subscription(config.broker.shared_group)
        self._queue: queue.Queue[tuple[int, mqtt.MQTTMessage] | None] = queue.Queue()
        self._stop = threading.Event()
        self._worker_done = threading.Event()
        self._generation = 0  # bumped per connection: a PUBACK for an old connection's mid must not be sent
        self._delay = BACKOFF_MIN_S
        self.connected = threading.Event()
        self._threads: list[threading.Thread] = []
        self.client = self._make_client()  # first: a missing secret fails before any database is touched
        self.store = store or Store(config.database.url, rollup_timezone=config.rollups.timezone)
        self.ingestor = Ingestor(self.store)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._threads = [threading.Thread(target=self._network, name="mqtt-network", daemon=True),
                         threading.Thread(target=self._work, name="ingest-worker", daemon=True)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Ask to stop: the message in hand is finished (commit, ack), the queued rest stays unacknowledged."""
        self._stop.set()

    def wait(self) -> None:
        while not self._stop.wait(0.5):
            pass
        self._queue.put(None)
        for t in self._threads:
            t.join(timeout=30)
        self.store.close()
        log.info("stopped after %d batches (%d records, %d new), %d quarantined", self.stats.batches,
                 self.stats.records, self.stats.inserted, self.stats.quarantined)

    def run(self) -> int:
        self.start()
        self.wait()
        return 0

    # -- MQTT ----------------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        b = self.config.broker
        v5 = b.protocol == "mqtt5"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=b.client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311, clean_session=None if v5 else True)
        client.manual_ack_set(True)
        client.max_inflight_messages_set(RECEIVE_MAXIMUM)
        client.max_queued_messages_set(0)
        if b.username:
            from appliance.config.secrets import read_secret

            client.username_pw_set(b.username, read_secret(MQTT_PASSWORD_SECRET))
        if b.tls:
            client.tls_set(ca_certs=str(b.ca_file) if b.ca_file else None,
                           certfile=str(b.cert_file) if b.cert_file else None,
                           keyfile=str(b.key_file) if b.key_file else None)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect(self) -> None:
        b = self.config.broker
        if b.protocol == "mqtt5":
            props = Properties(PacketTypes.CONNECT)
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            # Clean start: correctness rests on the device's hello/resend, not on a broker-held backlog.
            self.client.connect(b.host, b.port, b.keepalive, clean_start=True, properties=props)
        else:
            self.client.connect(b.host, b.port, b.keepalive)

    def _network(self) -> None:
        b = self.config.broker
        while not self._worker_done.is_set():
            try:
                self._connect()
            except OSError as exc:
                wait = jittered(self._delay)
                log.warning("cannot reach broker %s (%s); retrying in %.1f s", b.url, exc, wait)
                self._delay = min(self._delay * 2, BACKOFF_MAX_S)
                self._worker_done.wait(wait)
                continue
            rc = mqtt.MQTT_ERR_SUCCESS
            while rc == mqtt.MQTT_ERR_SUCCESS and not self._worker_done.is_set():
                rc = self.client.loop(timeout=0.2)
            if self._worker_done.is_set():
                break
            self.connected.clear()
            wait = jittered(self._delay)
            log.warning("lost broker %s (%s); reconnecting in %.1f s", b.url, mqtt.error_string(rc), wait)
            self._delay = min(self._delay * 2, BACKOFF_MAX_S)
            self._worker_done.wait(wait)
        if self.client.is_connected():
            self.client.disconnect()  # queued after our last acks, so they go out first
            deadline = time.monotonic() + 3
            while self.client.loop(timeout=0.1) == mqtt.MQTT_ERR_SUCCESS and time.monotonic() < deadline:
                pass

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason_code: mqtt.ReasonCode, properties: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("broker %s refused the connection: %s", self.config.broker.url, reason_code)
            return
        self._generation += 1
        self._delay = BACKOFF_MIN_S
        if self.config.broker.protocol == "mqtt5":
            client.subscribe(self.topic_filter, options=SubscribeOptions(qos=1))
        else:
            client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, reason_codes: list[mqtt.ReasonCode],
                      properties: Properties | None) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.error("broker %s refused subscription %s: %s (shared subscriptions unsupported? set "
                      "broker.shared_group = '')", self.config.broker.url, self.topic_filter,
                      ", ".join(str(rc) for rc in reason_codes))
            return
        log.info("connected to %s (%s), subscribed %s, storing into %s", self.config.broker.url,
                 self.config.broker.protocol, self.topic_filter, _safe_url(self.store.url))
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: mqtt.DisconnectFlags,
                       reason_code: mqtt.ReasonCode, properties: Properties | None) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if self.stats.first_batch_received is None and msg.topic.endswith("/up/batch"):
            self.stats.first_batch_received = time.monotonic()
        self._queue.put((self._generation, msg))

    # -- worker ----------------------------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                item = self._queue.get()
                if item is None:
                    break
                generation, msg = item
                outcome = self._process(msg.topic, bytes(msg.payload))
                if outcome is None:
                    break  # stopping while the database was away: leave the message unacknowledged
                self._after_commit(outcome)
                for reply in outcome.replies:
                    self.client.publish(reply.topic, reply.payload, qos=reply.qos)
                if msg.qos > 0 and generation == self._generation:
                    self.client.ack(msg.mid, msg.qos)
        finally:
            self._worker_done.set()

    def _process(self, topic: str, payload: bytes) -> Outcome | None:
        """Handle one message; while the database is unreachable, retry the same message with backoff."""
        delay = BACKOFF_MIN_S
        while True:
            try:
                return self.ingestor.handle(topic, payload)
            except DBAPIError as exc:
                if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                    log.error("database refused a message on %s (%s); it stays unanswered", topic,
                              str(exc).strip().splitlines()[0][:200])
                    return Outcome("ignored")
                wait = jittered(delay)
                log.error("database error (%s); retrying %s in %.1f s, nothing acknowledged meanwhile",
                          str(exc).strip().splitlines()[0][:200], topic, wait)
                if self._stop.wait(wait):
                    return None
                delay = min(delay * 2, BACKOFF_MAX_S)
            except Exception:  # a bug must not take the county offline: log it, leave the message unanswered
                log.exception("failed to process a message on %s; it stays unanswered", topic)
                return Outcome("ignored")

    def _after_commit(self, outcome: Outcome) -> None:
        if outcome.name == "quarantined":
            self.stats.quarantined += 1
        if not outcome.committed:
            return
        self.stats.batches += 1
        self.stats.records += outcome.records
        self.stats.inserted += outcome.inserted
        self.stats.last_batch_committed = time.monotonic()
        if self.fault_exit_after_commit is not None and self.stats.batches >= self.fault_exit_after_commit:
            log.error("fault injection: exiting after committing batch %d, before its ack", self.stats.batches)
            sys.stderr.flush()
            os._exit(FAULT_EXIT_CODE)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
