"""The few bands that only speak GATT: one retrying connection each, 0x2A37 notifications → samples.

Connections go through ``bleak_retry_connector.establish_connection``, which knows BlueZ's
transient failures (out of slots, aborted connections, stale caches) and retries them. A band
that walks out of the gym disconnects; we reconnect with backoff for as long as the driver runs.
A lost band is never fatal: it only stops producing samples.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from appliance.events import HeartRateSample
from drivers.backoff import Backoff
from drivers.heart_rate.gatt import MEASUREMENT_UUID, parse_heart_rate_measurement
from drivers.heart_rate.scanner import BandScanner, BandTable
from drivers.ratelimit import RateLimitedLog

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
# How often to look again for a band the scanner has not heard yet.
FIND_EVERY_S = 1.0
CONNECT_ATTEMPTS = 3


class GattBand:
    """Keeps one GATT band connected and turns its notifications into samples."""

    def __init__(
        self,
        address: str,
        scanner: BandScanner,
        table: BandTable,
        on_sample: Callable[[HeartRateSample], None],
        clock: Callable[[], float],
        logger: logging.Logger,
        malformed: RateLimitedLog,
        backend: type[BaseBleakClient] | None = None,
    ) -> None:
        self.address = address.upper()
        self.connected = False
        self.connects = 0
        self._scanner = scanner
        self._table = table
        self._on_sample = on_sample
        self._clock = clock
        self._log = logger
        self._malformed = malformed
        self._backend = backend

    async def run(self) -> None:
        """Connect, listen until the link drops, back off, repeat; until cancelled."""
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            device = self._scanner.device_for(self.address)
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
                    backend=self._backend,
                )
            except (BleakError, TimeoutError, OSError, EOFError) as exc:
                delay = backoff.next()
                self._log.info("GATT band %s not reachable (%s); retrying in %.0f s", self.address, exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                await client.start_notify(MEASUREMENT_UUID, self._on_notify)
                self.connected = True
                self.connects += 1
                backoff.reset()
                self._log.info("GATT band %s connected; receiving heart rate notifications", self.address)
                await lost.wait()
                self._log.info("GATT band %s disconnected; reconnecting", self.address)
            except (BleakError, TimeoutError, OSError, EOFError) as exc:
                self._log.info("GATT band %s failed after connecting: %s", self.address, exc)
            finally:
                self.connected = False
                await _disconnect_quietly(client, self._log)
            await asyncio.sleep(backoff.next())

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            m = parse_heart_rate_measurement(data)
        except ValueError as exc:
            self._malformed.warning(self.address, f"ignored a malformed notification from band {self.address}: {exc}")
            return
        sample = HeartRateSample(
            band_id=self.address,
            time=self._clock(),
            bpm=m.bpm,
            contact=m.contact,
            rr_ms=tuple(m.rr_ms),
            energy_kj=m.energy_kj,
            source="ble_gatt",
        )
        self._table.note(sample)
        self._on_sample(sample)


def _setter(event: asyncio.Event) -> Callable[[BleakClient], None]:
    """bleak's disconnected callback, bound to this connection's own event."""
    return lambda _client: event.set()


async def _disconnect_quietly(client: BleakClient, logger: logging.Logger) -> None:
    try:
        await asyncio.shield(client.disconnect())
    except (BleakError, TimeoutError, OSError, EOFError) as exc:
        logger.debug("disconnecting a GATT band: %s", exc)
