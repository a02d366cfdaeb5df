"""One shared BLE scanner for the whole class: adverts → vendor plug-ins → HeartRateSample.

40-50 bands cannot each hold a GATT connection (an adapter manages 3-8), so the box listens to
what the bands broadcast. One scanner, not one per band: BlueZ allows a single discovery
session per adapter and several would fight over it.

BlueZ is known to go quiet (duplicate filtering, a wedged controller) while still "scanning".
:meth:`BandScanner.check_silence` notices that nothing was heard for ``silent_restart_s`` and
restarts discovery, counting restarts so the technician can see a flaky adapter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from appliance.events import HeartRateSample, HeartRateSource
from drivers.heart_rate.vendors import parse_advertisement
from drivers.ratelimit import RateLimitedLog


@dataclass
class BandInfo:
    """What the box last heard from one band, for the technician's adapter status."""

    band_id: str
    source: HeartRateSource
    rssi: int | None = None
    battery: int | None = None
    battery_low: bool | None = None
    last_seen: float = 0.0  # driver clock (lesson time in a simulated lesson)
    last_seen_mono: float = 0.0  # real monotonic, for "heard in the last 10 s"

    def as_status(self, now: float) -> dict[str, Any]:
        return {
            "band_id": self.band_id,
            "rssi": self.rssi,
            "battery": self.battery,
            "battery_low": self.battery_low,
            "last_seen_s": round(max(0.0, now - self.last_seen), 1),
            "source": self.source,
        }


class BandTable:
    """Bands heard over any transport, keyed by band id (the Bluetooth address)."""

    def __init__(self) -> None:
        self.bands: dict[str, BandInfo] = {}

    def note(self, sample: HeartRateSample, battery_low: bool | None = None) -> None:
        info = self.bands.get(sample.band_id)
        if info is None:
            info = self.bands[sample.band_id] = BandInfo(sample.band_id, sample.source)
        info.source = sample.source
        info.last_seen = sample.time
        info.last_seen_mono = time.monotonic()
        if sample.rssi is not None:
            info.rssi = sample.rssi
        if sample.battery is not None:
            info.battery = sample.battery
        if battery_low is not None:
            info.battery_low = battery_low

    def heard_within(self, seconds: float) -> list[BandInfo]:
        cutoff = time.monotonic() - seconds
        return [b for b in self.bands.values() if b.last_seen_mono >= cutoff]


class BandScanner:
    """The shared scanner: turns every advert it hears into samples and remembers GATT bands' devices."""

    def __init__(
        self,
        adapter: str,
        on_sample: Callable[[HeartRateSample], None],
        clock: Callable[[], float],
        table: BandTable,
        logger: logging.Logger,
        silent_restart_s: float,
        backend: type[BaseBleakScanner] | None = None,
        gatt_addresses: tuple[str, ...] = (),
    ) -> None:
        self.adapter = adapter
        self.silent_restart_s = silent_restart_s
        self.restarts = 0
        self.adverts = 0
        self.first_advert_heard = False
        self.last_advert_mono: float | None = None
        self._on_sample = on_sample
        self._clock = clock
        self._table = table
        self._log = logger
        self._malformed = RateLimitedLog(logger)
        self._gatt = {a.upper() for a in gatt_addresses}
        self._devices: dict[str, BLEDevice] = {}
        self._running = False
        self._started_mono = 0.0
        kwargs: dict[str, Any] = {}
        if backend is None:
            # DuplicateData: ask BlueZ to report every advert, not only ones whose data changed.
            kwargs["bluez"] = {"adapter": adapter, "filters": {"DuplicateData": True}}
        self._scanner = BleakScanner(self._on_advert, backend=backend, **kwargs)

    @property
    def malformed(self) -> int:
        """How many malformed adverts were ignored."""
        return self._malformed.total

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        """Start discovery; raises whatever the backend raises (BleakError, OSError without BlueZ)."""
        await self._scanner.start()
        self._running = True
        self._started_mono = time.monotonic()

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        try:
            await self._scanner.stop()
        except Exception as exc:  # the adapter may already be gone; stopping must not raise then
            self._log.debug("stopping the scanner on %s: %s", self.adapter, exc)

    async def check_silence(self) -> bool:
        """Restart discovery if nothing was heard for ``silent_restart_s``; True if it restarted."""
        if not self._running:
            return False
        # Silence counts from the later of the last advert and the last (re)start.
        since = max(self.last_advert_mono or 0.0, self._started_mono)
        if time.monotonic() - since < self.silent_restart_s:
            return False
        self.restarts += 1
        self._log.warning(
            "heart-rate scanner on %s heard nothing for %.0f s; restarting it (restart #%d)",
            self.adapter,
            time.monotonic() - since,
            self.restarts,
        )
        await self.stop()
        await self.start()
        return True

    def last_advert_age_s(self) -> float | None:
        return None if self.last_advert_mono is None else time.monotonic() - self.last_advert_mono

    def device_for(self, address: str) -> BLEDevice | None:
        """The BLEDevice of a GATT band, once its (connectable) advert has been heard."""
        return self._devices.get(address.upper())

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self.adverts += 1
        self.last_advert_mono = time.monotonic()
        self.first_advert_heard = True
        address = device.address.upper()
        if address in self._gatt:
            self._devices[address] = device
        try:
            reading = parse_advertisement(device, adv)
        except ValueError as exc:
            self._malformed.warning(address, f"ignored a malformed advert from band {address}: {exc}")
            return
        if reading is None:
            return
        sample = HeartRateSample(
            band_id=address,
            time=self._clock(),
            bpm=reading.bpm,
            contact=reading.contact,
            rr_ms=reading.rr_ms,
            energy_kj=reading.energy_kj,
            battery=reading.battery,
            rssi=adv.rssi,
            source="ble_broadcast",
        )
        self._table.note(sample, reading.battery_low)
        self._on_sample(sample)
