"""One MQTT session for the device: a paho-mqtt 2.x client on its own network thread.

paho's own reconnect loop has no jitter and hides when a session ended; here every session is a fresh
client whose end is reported, and the caller decides when to try again. Callbacks run on paho's
thread and are handed to the event loop, never processed there.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker url {url!r}: expected mqtt://HOST:PORT or mqtts://HOST:PORT")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls)


@dataclass
class SessionEvent:
    kind: str  # "connected" | "refused" | "disconnected" | "message"
    detail: str = ""
    topic: str = ""
    payload: bytes = b""


class MqttSession:
    def __init__(
        self,
        client_id: str,
        address: BrokerAddress,
        mqtt5: bool,
        keepalive: int,
        post: Callable[[SessionEvent], None],
        will: tuple[str, bytes] | None = None,
        username: str | None = None,
        password: str | None = None,
        tls_files: tuple[str | None, str | None, str | None] = (None, None, None),
    ) -> None:
        self.address = address
        self.mqtt5 = mqtt5
        self.keepalive = keepalive
        self._post = post
        kwargs: dict[str, Any] = {} if mqtt5 else {"clean_session": True}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if mqtt5 else mqtt.MQTTv311,
            reconnect_on_failure=False,
            **kwargs,
        )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        if username:
            self.client.username_pw_set(username, password)
        if address.tls:
            ca, cert, key = tls_files
            self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- paho callbacks (network thread) ------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._post(SessionEvent("refused", str(reason)))
        else:
            self._post(SessionEvent("connected"))

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._post(SessionEvent("disconnected", str(reason)))

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._post(SessionEvent("message", topic=msg.topic, payload=bytes(msg.payload)))

    # -- life cycle (blocking: call from an executor) ------------------------------------------------
    def open(self) -> None:
        """TCP connect and send CONNECT; CONNACK arrives later as a 'connected' or 'refused' event."""
        if self.mqtt5:
            self.client.connect(self.address.host, self.address.port, self.keepalive, clean_start=True)
        else:
            self.client.connect(self.address.host, self.address.port, self.keepalive)
        self._thread = threading.Thread(target=self._network, name="mqtt-network", daemon=True)
        self._thread.start()

    def _network(self) -> None:
        while not self._stop.is_set():
            rc = self.client.loop(timeout=0.2)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self._post(SessionEvent("disconnected", mqtt.error_string(rc)))
                return

    def close(self) -> None:
        self._stop.set()
        try:
            self.client.disconnect()
        except Exception:  # the socket may already be gone
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        try:
            self.client.socket() and self.client.socket().close()  # type: ignore[union-attr]
        except Exception:
            pass

    # -- thread-safe operations ------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_QUEUE_SIZE):
            raise ConnectionError(f"publish to {topic} failed: {mqtt.error_string(info.rc)}")

    def subscribe(self, topics: list[str], qos: int = 1) -> None:
        rc, _mid = self.client.subscribe([(t, qos) for t in topics])
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe failed: {mqtt.error_string(rc)}")


def bridge(loop: asyncio.AbstractEventLoop, sink: Callable[[SessionEvent], None]) -> Callable[[SessionEvent], None]:
    """Turn a paho-thread callback into a call on the event loop."""

    def post(event: SessionEvent) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(sink, event)

    return post
