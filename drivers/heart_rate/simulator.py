"""A simulated PE class of heart-rate bands, speaking real bytes through bleak's own types.

The driver talks to it exactly as to BlueZ: :meth:`HeartRateSimulator.scanner_backend` is a
``BaseBleakScanner`` subclass that builds real ``BLEDevice``/``AdvertisementData`` objects
(Polar 0x006B manufacturer data for most bands, 0x180D service data for a few) and hands them
to ``call_detection_callbacks``; :meth:`HeartRateSimulator.client_backend` is a
``BaseBleakClient`` subclass whose GATT-only bands notify 0x2A37 bytes to ``start_notify``'s
callback. Everything above the driver sees the same events as from hardware.

Physiology over a 45-minute lesson (roll call, warm-up, intervals, game, cool-down): each
student has a resting HR, HRmax = 208 - 0.7 × age (ages 9-15) and a fitness factor; HR follows
the phase's intensity with first-order dynamics, faster up than down, plus correlated noise.

Planted cases (deterministic with the seed, see :attr:`HeartRateSimulator.planted`) give tests
and the demo something to find: a lost skin contact, a battery that dies, a band that leaves
radio range, one critical and one high heart-rate episode. The lesson repeats every 45 minutes
(bands recharged in between).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from drivers.heart_rate.gatt import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    MEASUREMENT_UUID,
    SERVICE_UUID,
    encode_heart_rate_measurement,
)
from drivers.heart_rate.vendors import polar

LESSON_S = 45 * 60
# (name, start s, end s, share of heart-rate reserve); intervals alternate hard/easy every minute.
PHASES: tuple[tuple[str, int, int], ...] = (
    ("roll_call", 0, 300),
    ("warm_up", 300, 720),
    ("intervals", 720, 1500),
    ("game", 1500, 2220),
    ("cool_down", 2220, LESSON_S),
)
# Ordinary students stay below this share of HRmax, so only the planted cases raise alerts.
ORDINARY_CAP = 0.87

BandKind = Literal["polar", "standard", "gatt"]
CaseKind = Literal["contact_loss", "battery_out", "out_of_range", "critical_hr", "high_hr"]

FOREIGN_DEVICES = (  # what else a school gym hears: a phone, a speaker, a laptop
    ("4C:11:AE:00:00:01", None, {0x004C: bytes.fromhex("1005031c0a6b2e")}, -62),
    ("F4:4E:FD:00:00:02", "JBL Flip 5", {0x0057: b"\x01\x02"}, -70),
    ("D8:3A:DD:00:00:03", "LAPTOP-4F2K", {0x0006: bytes.fromhex("0109202202")}, -75),
)


@dataclass(frozen=True)
class PlantedCase:
    """Something a test or the demo should see; times are lesson seconds (0-2700)."""

    kind: CaseKind
    band_id: str
    start_s: float
    end_s: float
    description: str


@dataclass
class SimBand:
    index: int
    band_id: str
    name: str
    kind: BandKind
    age: int
    hr_rest: float
    hr_max: float
    fitness: float
    rssi: int
    battery_start: float
    battery_per_s: float
    hr: list[float]  # one value per lesson second
    energy_kj: list[float]


@dataclass(frozen=True)
class BandState:
    """A band at one moment: is it on the air, and what does it say."""

    on_air: bool
    bpm: int
    contact: bool
    battery: int
    rssi: int
    energy_kj: int
    rr_ms: tuple[float, ...]


class HeartRateSimulator:
    """N simulated bands over a simulated lesson clock (``time_scale`` × real time)."""

    def __init__(
        self, bands: int = 45, rate_hz: float = 1.0, time_scale: float = 1.0, seed: int = 7, gatt_bands: int = 2
    ) -> None:
        self.rate_hz = rate_hz
        self.time_scale = time_scale
        self.seed = seed
        self._rng = random.Random(seed)
        self._start_unix = time.time()
        self._mono0 = time.monotonic()
        self._offset_s = 0.0
        self._stall_generation = 0
        self.bands = [self._make_band(i, bands, gatt_bands) for i in range(bands)]
        self.planted: dict[CaseKind, PlantedCase] = {}
        self._plant()
        self._by_id = {b.band_id: b for b in self.bands}

    # -- clock ----------------------------------------------------------------------------------------
    def elapsed_s(self) -> float:
        """Lesson seconds since the simulated class started (keeps counting across lessons)."""
        return self._offset_s + (time.monotonic() - self._mono0) * self.time_scale

    def lesson_s(self) -> float:
        """Seconds into the current lesson, 0-2700."""
        return self.elapsed_s() % LESSON_S

    def now(self) -> float:
        """Lesson-clock unix time: what samples carry, so a 20× demo reads like a real lesson."""
        return self._start_unix + self.elapsed_s()

    def seek(self, lesson_s: float) -> None:
        """Jump the clock to a lesson second (demo and tests: reach a planted case quickly)."""
        lesson_index = int(self.elapsed_s() // LESSON_S)
        target = lesson_index * LESSON_S + lesson_s
        self._offset_s += target - self.elapsed_s()

    # -- faults ----------------------------------------------------------------------------------------
    def stall_scanner(self) -> None:
        """Make every running scanner go silent until it is restarted, like a wedged BlueZ discovery."""
        self._stall_generation += 1

    @property
    def stall_generation(self) -> int:
        return self._stall_generation

    # -- who's who --------------------------------------------------------------------------------------
    @property
    def gatt_addresses(self) -> tuple[str, ...]:
        return tuple(b.band_id for b in self.bands if b.kind == "gatt")

    def band(self, band_id: str) -> SimBand:
        return self._by_id[band_id]

    def hr_max(self, band_id: str) -> float:
        return self._by_id[band_id].hr_max

    def state(self, band: SimBand, lesson_s: float | None = None) -> BandState:
        """What ``band`` is doing at ``lesson_s`` (now by default)."""
        t = self.lesson_s() if lesson_s is None else lesson_s % LESSON_S
        i = min(int(t), LESSON_S - 1)
        battery = band.battery_start - band.battery_per_s * t
        on_air = battery > 0
        rssi = band.rssi + self._rng.randint(-3, 3)
        contact = True
        for case in self.planted.values():
            if case.band_id != band.band_id or not case.start_s <= t < case.end_s:
                continue
            if case.kind == "out_of_range":
                on_air = False
            elif case.kind == "contact_loss":
                contact = False
        bpm = round(band.hr[i]) if contact else 0
        beats = 2 if bpm >= 100 else 1
        rr = tuple(60000.0 / bpm * (1 + self._rng.gauss(0, 0.01)) for _ in range(beats)) if bpm else ()
        return BandState(on_air, bpm, contact, max(0, math.ceil(battery)), rssi, int(band.energy_kj[i]), rr)

    # -- bleak backends ---------------------------------------------------------------------------------
    def scanner_backend(self) -> type[BaseBleakScanner]:
        """A ``BaseBleakScanner`` class bound to this class of bands (pass it as ``backend=``)."""
        sim = self

        class BoundScanner(SimulatedBleakScanner):
            simulator = sim

        return BoundScanner

    def client_backend(self) -> type[SimulatedBleakClient]:
        """A ``BaseBleakClient`` class for the GATT-only bands (pass it as ``backend=``)."""
        sim = self

        class BoundClient(SimulatedBleakClient):
            simulator = sim

        return BoundClient

    def gatt_state(self, address: str) -> BandState | None:
        """The state of a GATT-only band, None for an address that is not one."""
        band = self._by_id.get(address.upper())
        return None if band is None or band.kind != "gatt" else self.state(band)

    # -- construction -----------------------------------------------------------------------------------
    def _make_band(self, i: int, n: int, gatt: int) -> SimBand:
        rng = self._rng
        kind: BandKind = "gatt" if i >= n - gatt else ("standard" if i % 8 == 5 else "polar")
        band_id = f"A0:9E:1A:{0x10 + i // 256:02X}:{i % 256:02X}:{(i * 37 + 11) % 256:02X}"
        name = {"polar": f"Polar H10 {0x5A00 + i:08X}", "standard": f"HW-HR {i:04d}", "gatt": f"HRM-Pro {i:04d}"}
        age = rng.randint(9, 15)
        hr_max = 208 - 0.7 * age
        fitness = rng.uniform(0.85, 1.15)
        hr_rest = rng.uniform(72, 92) - (fitness - 1) * 20
        battery_start = rng.uniform(55, 100)
        band = SimBand(
            i,
            band_id,
            name[kind],
            kind,
            age,
            hr_rest,
            hr_max,
            fitness,
            rng.randint(-82, -55),
            battery_start,
            rng.uniform(0.5, 3.0) / LESSON_S,
            [],
            [],
        )
        band.hr, band.energy_kj = self._trajectory(band)
        return band

    def _intensity(self, t: int, bursts: list[float]) -> float:
        """Share of heart-rate reserve the lesson asks for at second ``t``."""
        if t < 300:
            return 0.05
        if t < 720:
            return 0.15 + 0.3 * (t - 300) / 420
        if t < 1500:
            return 0.72 if ((t - 720) // 60) % 2 == 0 else 0.35
        if t < 2220:
            return bursts[(t - 1500) // 20]
        return 0.08

    def _trajectory(self, band: SimBand) -> tuple[list[float], list[float]]:
        rng = self._rng
        bursts = [rng.uniform(0.4, 0.72) for _ in range(720 // 20 + 1)]
        tau_up, tau_down = 12.0 / band.fitness, 40.0 / band.fitness  # fitter children recover faster
        hr, noise, energy = band.hr_rest, 0.0, 0.0
        out: list[float] = []
        kj: list[float] = []
        for t in range(LESSON_S):
            target = band.hr_rest + self._intensity(t, bursts) / band.fitness * (band.hr_max - band.hr_rest)
            hr += (target - hr) / (tau_up if target > hr else tau_down)
            noise = 0.9 * noise + rng.gauss(0, 0.8)
            value = min(hr + noise, ORDINARY_CAP * band.hr_max)
            energy += max(0.0, value - band.hr_rest) * 0.005
            out.append(value)
            kj.append(energy)
        return out, kj

    def _plant(self) -> None:
        rng = self._rng
        polar_ids = [b.band_id for b in self.bands if b.kind == "polar"]
        standard_ids = [b.band_id for b in self.bands if b.kind == "standard"]
        used: set[str] = set()

        def pick(pool: list[str]) -> str | None:
            free = [b for b in pool if b not in used]
            if not free:
                return None
            choice = rng.choice(free)
            used.add(choice)
            return choice

        cases: list[tuple[CaseKind, list[str], float, float, str]] = [
            ("battery_out", standard_ids or polar_ids, 2400, LESSON_S, "battery runs down; band stops at 40:00"),
            ("contact_loss", polar_ids, 1560, 1600, "strap slips: no skin contact for 40 s"),
            ("out_of_range", polar_ids, 1800, 1920, "student leaves the gym: out of radio range for 2 min"),
            ("critical_hr", polar_ids + standard_ids, 1220, 1240, "≥ 95 % HRmax for 20 s (critical alert)"),
            ("high_hr", polar_ids + standard_ids, 1440, 1480, "≥ 90 % HRmax for 40 s (high alert)"),
        ]
        for kind, pool, start, end, text in cases:
            band_id = pick(pool)
            if band_id is None:
                continue
            self.planted[kind] = PlantedCase(kind, band_id, start, end, text)
            band = next(b for b in self.bands if b.band_id == band_id)
            if kind == "battery_out":
                band.battery_start = 30.0
                band.battery_per_s = 30.0 / start
            elif kind == "critical_hr":
                self._overlay(band, start, end, 0.965)
            elif kind == "high_hr":
                self._overlay(band, start, end, 0.92)

    def _overlay(self, band: SimBand, start: float, end: float, share: float) -> None:
        """Lift ``band`` to ``share`` of HRmax over [start, end), ramping 15 s either side below 90 %."""
        rng = self._rng
        plateau = share * band.hr_max
        ramp_top = 0.89 * band.hr_max
        s, e = int(start), int(end)
        for t in range(s - 15, e + 15):
            base = band.hr[t]
            if t < s:
                value = base + (ramp_top - base) * (t - (s - 15)) / 15
            elif t < e:
                value = plateau + rng.uniform(-0.008, 0.008) * band.hr_max
            else:
                value = ramp_top + (base - ramp_top) * (t - e) / 15
            band.hr[t] = max(base, value) if t < s or t >= e else value


class SimulatedBleakScanner(BaseBleakScanner):
    """Adverts from the simulated class, delivered the way BlueZ delivers them (a callback per advert)."""

    simulator: ClassVar[HeartRateSimulator]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None
        self._counter = 0
        self._generation = 0

    async def start(self) -> None:
        self.seen_devices = {}
        self._generation = self.simulator.stall_generation
        if self._task is None:
            self._task = asyncio.create_task(self._air(), name="hr-sim-scanner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _air(self) -> None:
        sim = self.simulator
        emitters: list[Callable[[], None]] = [lambda b=b: self._advertise(b) for b in sim.bands]  # type: ignore[misc]
        emitters += [lambda f=f: self._foreign(*f) for f in FOREIGN_DEVICES]  # type: ignore[misc]
        gap = 1.0 / sim.rate_hz / len(emitters)
        while True:
            self._counter += 1
            for emit in emitters:
                if self._generation == sim.stall_generation:
                    emit()
                await asyncio.sleep(gap)

    def _advertise(self, band: SimBand) -> None:
        st = self.simulator.state(band)
        if not st.on_air:
            return
        manufacturer: dict[int, bytes] = {}
        service_data: dict[str, bytes] = {}
        uuids = [SERVICE_UUID]
        if band.kind == "polar":
            manufacturer[polar.COMPANY_ID] = polar.encode(st.bpm, st.contact, st.battery < 15, self._counter)
        elif band.kind == "standard":
            service_data[SERVICE_UUID] = encode_heart_rate_measurement(st.bpm, st.contact, rr_ms=st.rr_ms)
            service_data[BATTERY_SERVICE_UUID] = bytes((st.battery,))
            uuids.append(BATTERY_SERVICE_UUID)
        self._deliver(band.band_id, band.name, manufacturer, service_data, uuids, st.rssi)

    def _foreign(self, address: str, name: str | None, manufacturer: dict[int, bytes], rssi: int) -> None:
        self._deliver(address, name, manufacturer, {}, [], rssi)

    def _deliver(
        self,
        address: str,
        name: str | None,
        manufacturer: dict[int, bytes],
        service_data: dict[str, bytes],
        uuids: list[str],
        rssi: int,
    ) -> None:
        if not self.is_allowed_uuid(uuids):
            return
        adv = AdvertisementData(name, manufacturer, service_data, uuids, None, rssi, ())
        device = self.create_or_update_device(address, address, name, None, adv)
        self.call_detection_callbacks(device, adv)


def _gatt_services() -> BleakGATTServiceCollection:
    """The GATT table a simple HR band exposes: Heart Rate (0x2A37 notify) and Battery (0x2A19 read)."""
    services = BleakGATTServiceCollection()
    hr = BleakGATTService(None, 0x0010, SERVICE_UUID)
    battery = BleakGATTService(None, 0x0020, BATTERY_SERVICE_UUID)
    services.add_service(hr)
    services.add_service(battery)
    services.add_characteristic(BleakGATTCharacteristic(None, 0x0011, MEASUREMENT_UUID, ["notify"], lambda: 20, hr))
    services.add_characteristic(
        BleakGATTCharacteristic(None, 0x0021, BATTERY_LEVEL_UUID, ["read"], lambda: 20, battery)
    )
    return services


class SimulatedBleakClient(BaseBleakClient):
    """A GATT connection to one simulated GATT-only band: 0x2A37 notifications at ``rate_hz``.

    When the band goes off the air (out of range, flat battery) the link drops and bleak's
    disconnected callback fires, as with a real band walking out of the gym.
    """

    simulator: ClassVar[HeartRateSimulator]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._connected = False
        self._task: asyncio.Task[None] | None = None
        self._name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return 23

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0.05)  # a connection takes a moment, even in simulation
        st = self.simulator.gatt_state(self.address)
        if st is None or not st.on_air:
            raise BleakError(f"{self.address}: no answer to the connection request")
        self.services = _gatt_services()
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        st = self._require_state()
        if characteristic.uuid != BATTERY_LEVEL_UUID:
            raise BleakError(f"characteristic {characteristic.uuid} is not readable on this band")
        return bytearray((st.battery,))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        raise BleakError("this band exposes no readable descriptors")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        raise BleakError(f"characteristic {characteristic.uuid} is not writable on this band")

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        raise BleakError("this band exposes no writable descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        self._require_state()
        if characteristic.uuid != MEASUREMENT_UUID:
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        if self._task is None:
            self._task = asyncio.create_task(self._notify(callback), name=f"hr-sim-gatt-{self.address}")

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    def _require_state(self) -> BandState:
        st = self.simulator.gatt_state(self.address)
        if not self._connected or st is None:
            raise BleakError("Not connected")
        return st

    async def _notify(self, callback: NotifyCallback) -> None:
        while True:
            await asyncio.sleep(1.0 / self.simulator.rate_hz)
            st = self.simulator.gatt_state(self.address)
            if st is None or not st.on_air:
                self._connected = False
                self._task = None
                if self._disconnected_callback is not None:
                    self._disconnected_callback()
                return
            data = encode_heart_rate_measurement(st.bpm, st.contact, st.energy_kj, st.rr_ms)
            callback(bytearray(data))
