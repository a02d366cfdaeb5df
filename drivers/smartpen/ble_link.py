"""Pens over Bluetooth LE, one BleakClient each: find, connect, notify, write; reconnect with backoff.

A Neo pen exposes its protocol on one GATT service: 0x19F1 (notify 0x2BA1, write 0x2BA0) on older
firmware, a 128-bit service on newer (both below, as the public SDKs list them). The pen's frames arrive
as notifications split at the ATT MTU; the session's decoder reassembles them. Requests are written
without response, in MTU-sized pieces.

Finding a pen needs a scan. Scans are serialised through one lock per adapter so pens looking for
themselves do not start parallel discovery sessions on BlueZ. Connecting goes through
``bleak_retry_connector.establish_connection``, which retries BlueZ's transient failures. A pen that is
not around (in a schoolbag, switched off) is looked for again every ``FIND_EVERY_S``; a failed
connection backs off with :class:`drivers.backoff.Backoff`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from drivers.backoff import Backoff
from drivers.smartpen.pens import PenRegistry
from drivers.smartpen.vendors import PenSession

SERVICE_16 = "000019f1-0000-1000-8000-00805f9b34fb"
NOTIFY_16 = "00002ba1-0000-1000-8000-00805f9b34fb"
WRITE_16 = "00002ba0-0000-1000-8000-00805f9b34fb"
SERVICE_128 = "4f99f138-9d53-5bfa-9e50-b147491afe68"
NOTIFY_128 = "64cd86b1-2256-5aeb-9f04-2caf6c60ae57"
WRITE_128 = "8bc8cc7d-88ca-56b0-af9a-9bf514d0d61a"
CHARACTERISTICS = ((NOTIFY_128, WRITE_128), (NOTIFY_16, WRITE_16))

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
SCAN_TIMEOUT_S = 5.0
FIND_EVERY_S = 2.0
CONNECT_ATTEMPTS = 3
BLE_ERRORS = (BleakError, TimeoutError, OSError, EOFError)


class AdapterProblem:
    """Shared by a driver's BLE links: whether scanning works on the adapter at all."""

    def __init__(self) -> None:
        self.scan_lock = asyncio.Lock()
        self.problem: str | None = "not scanned yet"
        self.scans = 0


def describe_ble_error(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return "BlueZ is not running (no D-Bus system bus socket)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class BlePenLink:
    """Keeps one pen connected over BLE and feeds its notifications to a session."""

    def __init__(
        self,
        address: str,
        adapter: str,
        registry: PenRegistry,
        shared: AdapterProblem,
        log: logging.Logger,
        client_backend: type[BaseBleakClient] | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
    ) -> None:
        self.address = address.upper()
        self.adapter = adapter
        self._registry = registry
        self._shared = shared
        self._log = log
        self._client_backend = client_backend
        self._scanner_backend = scanner_backend
        self.session: PenSession | None = None
        self.connects = 0
        self._early: list[bytes] = []

    async def run(self) -> None:
        """Find, connect, serve until the link drops, repeat; until cancelled."""
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            try:
                device = await self._find()
            except BLE_ERRORS as exc:
                delay = backoff.next()
                self._shared.problem = f"bluetooth adapter {self.adapter} unavailable: {describe_ble_error(exc)}"
                await asyncio.sleep(delay)
                continue
            self._shared.problem = None
            if device is None:
                await asyncio.sleep(FIND_EVERY_S)
                continue
            lost = asyncio.Event()
            try:
                client = await establish_connection(
                    BleakClient,
                    device,
                    device.name or self.address,
                    disconnected_callback=_setter(lost),
                    max_attempts=CONNECT_ATTEMPTS,
                    backend=self._client_backend,
                )
            except BLE_ERRORS as exc:
                delay = backoff.next()
                self._log.info("pen %s not reachable over BLE (%s); retrying in %.0f s", self.address, exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                await self._serve(client, lost)
                backoff.reset()
            except BLE_ERRORS as exc:
                self._log.info("pen %s failed after connecting: %s", self.address, exc)
            finally:
                if self.session is not None:
                    self._registry.disconnect(self.session, "the BLE link dropped (out of range or switched off)")
                    self.session = None
                await _disconnect_quietly(client, self._log)
            await asyncio.sleep(backoff.next())

    async def _find(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self._scanner_backend is not None:
            kwargs["backend"] = self._scanner_backend
        else:
            kwargs["bluez"] = {"adapter": self.adapter}
        async with self._shared.scan_lock:
            self._shared.scans += 1
            return await BleakScanner.find_device_by_address(self.address, timeout=SCAN_TIMEOUT_S, **kwargs)

    async def _serve(self, client: BleakClient, lost: asyncio.Event) -> None:
        notify, write = _characteristics(client)
        outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._early = []
        self.session = None
        await client.start_notify(notify, self._on_notify)
        writer = asyncio.create_task(self._write_loop(client, write, outbox), name=f"pen-ble-writer-{self.address}")
        try:
            self.connects += 1
            self.session = self._registry.connect(self.address, "ble", outbox.put_nowait)
            for data in self._early:
                self.session.feed(data)
            self._early = []
            done = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({done, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                done.cancel()
            failed = writer.exception() if writer.done() and not writer.cancelled() else None
            if failed is not None:
                raise failed
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if self.session is None:
            self._early.append(bytes(data))
        else:
            self.session.feed(bytes(data))

    async def _write_loop(
        self, client: BleakClient, char: BleakGATTCharacteristic, outbox: asyncio.Queue[bytes]
    ) -> None:
        size = max(20, client.mtu_size - 3)
        while True:
            data = await outbox.get()
            for i in range(0, len(data), size):
                await client.write_gatt_char(char, data[i : i + size], response=False)


def _characteristics(client: BleakClient) -> tuple[BleakGATTCharacteristic, BleakGATTCharacteristic]:
    for notify_uuid, write_uuid in CHARACTERISTICS:
        notify = client.services.get_characteristic(notify_uuid)
        write = client.services.get_characteristic(write_uuid)
        if notify is not None and write is not None:
            return notify, write
    raise BleakError("no Neo pen service (0x19F1 or the 128-bit one) on this device")


def _setter(event: asyncio.Event) -> Callable[[BleakClient], None]:
    """bleak's disconnected callback, bound to this connection's own event."""
    return lambda _client: event.set()


async def _disconnect_quietly(client: BleakClient, log: logging.Logger) -> None:
    try:
        await asyncio.shield(client.disconnect())
    except BLE_ERRORS as exc:
        log.debug("disconnecting a pen: %s", exc)
