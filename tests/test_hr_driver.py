"""The real HeartRateDriver on the simulator's bleak backends, through a real Bus and ComponentContext.

The simulator plugs in below bleak (a BaseBleakScanner and a BaseBleakClient), so these tests run
the driver's real scanner, vendor parsers, bleak-retry-connector GATT links and restart logic.
Planted cases are reached with ``simulator.seek`` at time_scale 60 (one lesson minute per second).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from appliance.bus import Bus
from appliance.component import ComponentContext
from appliance.config.schema import HeartRateBleConfig, HeartRateSimulatorConfig
from appliance.events import HeartRateAdapterStatus, HeartRateSample
from drivers.heart_rate import HeartRateDriver, HeartRateSimulator
from drivers.heart_rate.simulator import LESSON_S


class Harness:
    """Runs one driver and records samples (with the real time they arrived) and adapter statuses."""

    def __init__(self, driver: HeartRateDriver) -> None:
        self.driver = driver
        self.bus = Bus()
        self.states: list[tuple[str, str | None]] = []
        self.ctx = ComponentContext(
            "heart_rate", self.bus, None, None, lambda s, r: self.states.append((s, r)), ready_on_heartbeat=False
        )
        self.samples: list[tuple[float, HeartRateSample]] = []
        self.statuses: list[HeartRateAdapterStatus] = []
        self._sub = self.bus.subscribe(HeartRateSample, HeartRateAdapterStatus, maxsize=100_000, name="test")

    @property
    def sim(self) -> HeartRateSimulator:
        assert self.driver.simulator is not None
        return self.driver.simulator

    async def start(self) -> None:
        self._collector = asyncio.create_task(self._collect())
        self.task = asyncio.create_task(self.driver.run(self.ctx))

    async def stop(self) -> None:
        for task in (self.task, self._collector):
            task.cancel()
        await asyncio.gather(self.task, self._collector, return_exceptions=True)
        self._sub.close()

    async def _collect(self) -> None:
        async for event in self._sub:
            if isinstance(event, HeartRateSample):
                self.samples.append((time.monotonic(), event))
            elif isinstance(event, HeartRateAdapterStatus):
                self.statuses.append(event)

    def of(self, band_id: str, since: float = 0.0) -> list[tuple[float, HeartRateSample]]:
        return [(t, s) for t, s in self.samples if s.band_id == band_id and t >= since]


async def wait_until(predicate: Callable[[], Any], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


async def running(config: HeartRateSimulatorConfig | HeartRateBleConfig) -> AsyncIterator[Harness]:
    harness = Harness(HeartRateDriver(config))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def class20() -> AsyncIterator[Harness]:
    async for h in running(HeartRateSimulatorConfig(backend="simulator", time_scale=20, silent_restart_s=5)):
        yield h


@pytest.fixture
async def class60() -> AsyncIterator[Harness]:
    async for h in running(HeartRateSimulatorConfig(backend="simulator", time_scale=60)):
        yield h


async def test_whole_class_heard_within_seconds(class20: Harness) -> None:
    h = class20
    await wait_until(lambda: len({s.band_id for _, s in h.samples}) >= 45, 5, "samples from all 45 bands")
    assert ("ok", None) in h.states
    gatt = set(h.sim.gatt_addresses)
    assert len(gatt) == 2
    assert {s.source for _, s in h.samples if s.band_id in gatt} == {"ble_gatt"}
    assert {s.source for _, s in h.samples if s.band_id not in gatt} == {"ble_broadcast"}
    # Samples carry the lesson clock, which runs 20× faster than the box's.
    latest = max(s.time for _, s in h.samples)
    assert abs(latest - h.sim.now()) < 5 * 20
    await wait_until(lambda: h.statuses and h.statuses[-1].bands_seen >= 45, 3, "an adapter status with the class")
    status = h.statuses[-1]
    assert status.state == "scanning" and status.scanner_restarts == 0
    assert set(status.bands[0]) >= {"band_id", "rssi", "battery", "last_seen_s", "source"}
    result = await h.driver.self_test()
    assert result.ok and "45 band(s) heard" in result.detail


async def test_no_contact_band_reports_contact_false(class60: Harness) -> None:
    h = class60
    case = h.sim.planted["contact_loss"]
    h.sim.seek(case.start_s - 10)
    await wait_until(
        lambda: any(s.contact is False for _, s in h.of(case.band_id)), 4, "a contact=False sample from the band"
    )
    no_contact = [s for _, s in h.of(case.band_id) if s.contact is False]
    assert all(s.bpm == 0 for s in no_contact)
    await wait_until(lambda: h.of(case.band_id)[-1][1].contact is True, 4, "contact to come back")


async def test_battery_band_stops_before_the_end(class60: Harness) -> None:
    h = class60
    case = h.sim.planted["battery_out"]
    h.sim.seek(case.start_s - 90)  # 1.5 s of battery left at 60×
    await wait_until(lambda: h.of(case.band_id), 1.5, "the battery band before it dies")
    assert any(s.battery is not None and s.battery < 5 for _, s in h.of(case.band_id))
    await asyncio.sleep(2.0)  # past start_s: the battery is flat
    stopped_at = time.monotonic()
    await asyncio.sleep(1.5)
    assert not h.of(case.band_id, since=stopped_at)
    assert case.start_s < LESSON_S


async def test_out_of_range_band_goes_silent_then_returns(class60: Harness) -> None:
    h = class60
    case = h.sim.planted["out_of_range"]
    h.sim.seek(case.start_s - 10)
    seek_at = time.monotonic()
    window_real_s = (case.end_s - case.start_s) / 60
    await wait_until(lambda: h.of(case.band_id, since=seek_at + 0.5 + window_real_s), window_real_s + 3, "return")
    times = [t for t, _ in h.of(case.band_id, since=seek_at)]
    longest_gap = max(b - a for a, b in itertools.pairwise(times))
    assert longest_gap > window_real_s * 0.8


async def test_silent_scanner_is_restarted_and_counted(class20: Harness) -> None:
    h = class20
    await wait_until(lambda: ("ok", None) in h.states, 3, "the driver to be ok")
    h.sim.stall_scanner()
    stalled_at = time.monotonic()
    scanner = h.driver.scanner
    assert scanner is not None
    await wait_until(lambda: scanner.restarts == 1, 8, "the scanner restart")
    assert time.monotonic() - stalled_at >= 4.5
    restarted_at = time.monotonic()
    await wait_until(
        lambda: any(s.source == "ble_broadcast" for _, s in h.samples if _ >= restarted_at), 3, "adverts again"
    )
    await wait_until(lambda: h.statuses[-1].scanner_restarts == 1, 3, "the restart in the adapter status")


@pytest.fixture
async def no_bluez() -> AsyncIterator[Harness]:
    async for h in running(HeartRateBleConfig(backend="ble", gatt_bands=["AA:BB:CC:DD:EE:FF"])):
        yield h


async def test_real_backend_without_bluez_is_degraded_not_crashed(no_bluez: Harness) -> None:
    h = no_bluez
    await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 3, "degraded")
    reason = next(r for s, r in h.states if s == "degraded")
    assert reason is not None and reason.startswith("bluetooth adapter hci0 unavailable: ")
    assert "retrying in 1 s" in reason
    assert not h.task.done()
    result = await h.driver.self_test()
    assert not result.ok and "unavailable" in result.detail


def test_planted_heart_rate_episodes_are_in_the_physiology() -> None:
    sim = HeartRateSimulator(seed=7)
    critical, high = sim.planted["critical_hr"], sim.planted["high_hr"]
    for band in sim.bands:
        over95 = sum(hr >= 0.95 * band.hr_max for hr in band.hr)
        over90 = sum(hr >= 0.90 * band.hr_max for hr in band.hr)
        if band.band_id == critical.band_id:
            assert 18 <= over95 <= 22
        elif band.band_id == high.band_id:
            assert over95 == 0 and 38 <= over90 <= 42
        else:
            assert over90 == 0, band.band_id
        assert 9 <= band.age <= 15 and band.hr_max == pytest.approx(208 - 0.7 * band.age)
    # Deterministic with the seed.
    assert HeartRateSimulator(seed=7).planted == sim.planted
    assert len(sim.planted) == 5



@pytest.fixture
async def ant_class() -> AsyncIterator[Harness]:
    config = HeartRateSimulatorConfig(backend="simulator", bands=5, gatt_bands=0, ant_straps=3, rate_hz=4)
    async for h in running(config):
        yield h


async def test_ant_straps_are_heard_beside_ble_bands(ant_class: Harness) -> None:
    """ANT+ straps through the simulated stick reach the bus as the same samples, next to the BLE class."""
    h = ant_class
    await wait_until(lambda: len({s.band_id for _, s in h.samples if s.source == "ant"}) == 3, 10, "3 ANT straps")
    await wait_until(lambda: any(st.ant_state == "scanning" for st in h.statuses), 5, "ANT scanning in status")
    assert any(s.source == "ble_broadcast" for _, s in h.samples)
    ant = [s for _, s in h.samples if s.source == "ant"]
    assert all(40 <= s.bpm <= 220 and s.contact is None for s in ant)
    result = await h.driver.self_test()
    assert result.data["ant"] == 3 and result.data["ant_state"] == "scanning"


@pytest.fixture
async def no_ant_stick() -> AsyncIterator[Harness]:
    async for h in running(HeartRateBleConfig(backend="ble", ant_stick="auto")):
        yield h


async def test_missing_ant_stick_is_reported_and_ble_goes_on(no_ant_stick: Harness) -> None:
    h = no_ant_stick
    await wait_until(lambda: any(st.ant_state == "unavailable" for st in h.statuses), 5, "ANT unavailable")
    status = next(st for st in h.statuses if st.ant_state == "unavailable")
    assert status.ant_detail and "ANT" in status.ant_detail
    assert not h.task.done()
    assert h.driver.ant_state == "unavailable"
