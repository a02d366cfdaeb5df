"""The heart-rate driver: one shared BLE scanner, a few GATT links and optionally an ANT+ stick, as bus events.

Above it, Smart PE sees only :class:`~appliance.events.HeartRateSample` (one per reading) and
:class:`~appliance.events.HeartRateAdapterStatus` (every ~2 s); whether BlueZ or the simulator
is underneath is invisible, because the simulator plugs in as bleak backends.

Rules, as for every driver on an unattended box:

* no adapter (no BlueZ, dongle pulled) is never fatal: degraded with the reason, retry with backoff;
* a silent scanner is restarted (and counted), a lost GATT band reconnects on its own;
* malformed adverts or notifications cost one rate-limited log line each, never the driver;
* "ok" means the radio works: the scanner runs and has heard at least one advert;
* an ANT+ stick runs beside the scanner with its own backoff: a missing stick is reported on the
  status (and in the log, once per change), while the BLE bands go on being read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any, Literal

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from openant.base.driver import Driver

from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import HeartRateBleConfig, HeartRateSimulatorConfig
from appliance.events import HeartRateAdapterStatus
from drivers.backoff import Backoff
from drivers.heart_rate.ant import AntReceiver, AntStick, AntStickUnavailable
from drivers.heart_rate.ant_simulator import SimulatedAntStick
from drivers.heart_rate.gatt_client import GattBand
from drivers.heart_rate.scanner import BandScanner, BandTable
from drivers.heart_rate.simulator import HeartRateSimulator
from drivers.ratelimit import RateLimitedLog

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
STATUS_EVERY_S = 2.0
TICK_S = 0.5
SELF_TEST_WINDOW_S = 10.0
SIM_ADAPTER = "hci0"
AntState = Literal["off", "starting", "scanning", "unavailable"]


class HeartRateDriver(Component):
    """Reads the class's heart-rate bands and keeps the radio's health on the bus."""

    name = "heart_rate"
    kind = "driver"
    heartbeat_timeout_s = 20.0
    ready_on_heartbeat = False

    def __init__(self, config: HeartRateBleConfig | HeartRateSimulatorConfig) -> None:
        self.config = config
        # Created once so a simulated class keeps its lesson clock across driver restarts.
        self.simulator: HeartRateSimulator | None = None
        if isinstance(config, HeartRateSimulatorConfig):
            self.simulator = HeartRateSimulator(
                bands=config.bands,
                rate_hz=config.rate_hz,
                time_scale=config.time_scale,
                seed=config.seed,
                gatt_bands=config.gatt_bands,
            )
        self.table = BandTable()
        self.scanner: BandScanner | None = None
        self.gatt_bands: list[GattBand] = []
        self.ant: AntReceiver | None = None
        self.ant_state: AntState = "off"
        self.ant_detail: str | None = None
        self._problem = "driver not started"

    @property
    def adapter(self) -> str:
        return self.config.adapter if isinstance(self.config, HeartRateBleConfig) else SIM_ADAPTER

    def clock(self) -> float:
        """The time samples carry: the simulator's lesson clock, or the wall clock."""
        return self.simulator.now() if self.simulator is not None else time.time()

    def _backends(self) -> tuple[type[BaseBleakScanner] | None, type[BaseBleakClient] | None, tuple[str, ...]]:
        if self.simulator is not None:
            sim = self.simulator
            return sim.scanner_backend(), sim.client_backend(), sim.gatt_addresses
        assert isinstance(self.config, HeartRateBleConfig)
        return None, None, tuple(self.config.gatt_bands)

    # -- life cycle -------------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        ant_task = self._start_ant(ctx)
        try:
            await self._run_ble(ctx)
        finally:
            if ant_task is not None:
                ant_task.cancel()
                await asyncio.gather(ant_task, return_exceptions=True)

    def _start_ant(self, ctx: ComponentContext) -> asyncio.Task[None] | None:
        """The ANT+ receiver as a task of its own, when configured (a real stick or a simulated one)."""
        config = self.config
        factory: Callable[[], Driver] | None = None
        stick: AntStick = "auto"
        if isinstance(config, HeartRateSimulatorConfig):
            if not config.ant_straps:
                return None
            straps, seed = config.ant_straps, config.seed
            scale = self.simulator.time_scale if self.simulator is not None else 1.0

            def factory() -> Driver:
                return SimulatedAntStick(straps, time_scale=scale, seed=seed)
        elif config.ant_stick == "off":
            return None
        else:
            stick = config.ant_stick
        self.ant = AntReceiver(
            ctx.bus.publish, self.clock, self.table, ctx.log, RateLimitedLog(ctx.log), factory, stick=stick
        )
        self.ant_state = "starting"
        return asyncio.create_task(self._run_ant(ctx, self.ant), name="hr-ant")

    async def _run_ant(self, ctx: ComponentContext, receiver: AntReceiver) -> None:
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            started = time.monotonic()
            try:
                self.ant_state, self.ant_detail = "starting", None
                await receiver.run()
            except asyncio.CancelledError:
                raise
            except AntStickUnavailable as exc:
                problem = str(exc)
            except Exception as exc:  # openant raising something of its own must not end the BLE side
                problem = f"{type(exc).__name__}: {exc}"
            else:
                problem = "the ANT receiver stopped"
            if time.monotonic() - started > BACKOFF_MAX_S:
                backoff.reset()  # it worked for a while: this is a new failure, start short again
            delay = backoff.next()
            if problem != self.ant_detail:
                ctx.log.warning("ANT+ stick unavailable: %s; retrying in %.0f s", problem, delay)
            self.ant_state, self.ant_detail = "unavailable", problem
            await asyncio.sleep(delay)

    async def _run_ble(self, ctx: ComponentContext) -> None:
        scanner_backend, client_backend, gatt_addresses = self._backends()
        malformed = RateLimitedLog(ctx.log)
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            scanner = BandScanner(
                self.adapter,
                ctx.bus.publish,
                self.clock,
                self.table,
                ctx.log,
                self.config.silent_restart_s,
                backend=scanner_backend,
                gatt_addresses=gatt_addresses,
            )
            try:
                await scanner.start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # BleakError, or OSError/EOFError from D-Bus when BlueZ is absent
                delay = backoff.next()
                self._unavailable(ctx, f"{_describe(exc)}; retrying in {delay:.0f} s")
                await _idle(ctx, delay)
                continue
            ctx.log.info("heart-rate scanner running on %s", self.adapter)
            self.scanner = scanner
            self.gatt_bands = [
                GattBand(a, scanner, self.table, ctx.bus.publish, self.clock, ctx.log, malformed, client_backend)
                for a in gatt_addresses
            ]
            tasks = [asyncio.create_task(b.run(), name=f"hr-gatt-{b.address}") for b in self.gatt_bands]
            try:
                await self._serve(ctx, scanner)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the adapter vanished during a restart
                self._unavailable(ctx, f"{_describe(exc)}; retrying in {backoff.nominal_s:.0f} s")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await scanner.stop()
                self.scanner = None
            await _idle(ctx, backoff.next())

    async def _serve(self, ctx: ComponentContext, scanner: BandScanner) -> None:
        """Heartbeat, publish status, watch for silence; returns only by raising."""
        loop = asyncio.get_running_loop()
        next_status = loop.time()
        while True:
            if scanner.first_advert_heard and ctx.state != "ok":
                ctx.log.info("heart-rate scanner on %s hears adverts", self.adapter)
                self._problem = ""
                ctx.ok()
            ctx.heartbeat()
            if await scanner.check_silence():
                self._publish_status(ctx, "restarting", "no adverts heard; scanner restarted")
            if loop.time() >= next_status:
                self._publish_status(ctx, "scanning")
                next_status = loop.time() + STATUS_EVERY_S
            await asyncio.sleep(TICK_S)

    def _unavailable(self, ctx: ComponentContext, reason: str) -> None:
        problem = f"bluetooth adapter {self.adapter} unavailable: {reason}"
        if problem != self._problem or ctx.state != "degraded":
            ctx.log.warning("%s", problem)
            ctx.degraded(problem)
        self._problem = problem
        self._publish_status(ctx, "unavailable", problem)

    def _publish_status(self, ctx: ComponentContext, state: Any, detail: str | None = None) -> None:
        scanner = self.scanner
        now = self.clock()
        ctx.bus.publish(
            HeartRateAdapterStatus(
                adapter=self.adapter,
                state=state,
                bands_seen=len(self.table.bands),
                last_advert_age_s=None if scanner is None else _round(scanner.last_advert_age_s()),
                scanner_restarts=0 if scanner is None else scanner.restarts,
                detail=detail,
                bands=tuple(b.as_status(now) for b in sorted(self.table.bands.values(), key=lambda b: b.band_id)),
                ant_state="scanning" if self.ant is not None and self.ant.running else self.ant_state,
                ant_detail=self.ant_detail,
            )
        )

    # -- self test --------------------------------------------------------------------------------------
    async def self_test(self) -> SelfTestResult:
        """How many bands were heard in the last 10 s, per transport."""
        scanner = self.scanner
        data: dict[str, Any] = {"adapter": self.adapter, "backend": self.config.backend}
        if scanner is None or not scanner.running:
            return SelfTestResult(False, f"scanner not running: {self._problem}", data)
        recent = self.table.heard_within(SELF_TEST_WINDOW_S)
        broadcast = sum(1 for b in recent if b.source == "ble_broadcast")
        gatt = sum(1 for b in recent if b.source == "ble_gatt")
        ant = sum(1 for b in recent if b.source == "ant")
        data.update(bands_heard=len(recent), broadcast=broadcast, gatt=gatt, ant=ant, scanner_restarts=scanner.restarts)
        if self.ant is not None:
            data.update(ant_state="scanning" if self.ant.running else self.ant_state, ant_detail=self.ant_detail)
        if not recent:
            return SelfTestResult(
                False, f"no band heard in the last {SELF_TEST_WINDOW_S:.0f} s on {self.adapter}", data
            )
        return SelfTestResult(
            True,
            f"{len(recent)} band(s) heard in the last {SELF_TEST_WINDOW_S:.0f} s on {self.adapter} "
            f"({broadcast} broadcast, {gatt} GATT{f', {ant} ANT+' if self.ant is not None else ''})",
            data,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return "BlueZ is not running (no D-Bus system bus socket)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def _idle(ctx: ComponentContext, seconds: float) -> None:
    """Wait out a backoff delay while still proving liveness (degraded() keeps the heartbeat fresh)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        ctx.heartbeat()
        with contextlib.suppress(TimeoutError):
            await asyncio.sleep(min(remaining, TICK_S))
