"""The dot-matrix pen driver: a USB/serial gateway and/or BLE pens, as PenStroke and PenStatus on the bus.

Above it, the homework feature sees only :class:`~appliance.events.PenStroke` (one per stroke, pattern
units) and :class:`~appliance.events.PenStatus` (per pen every few seconds, and on connect/disconnect).
Whether a gateway, BlueZ or the simulator is underneath is invisible: the simulator plugs in below
pyserial (a pty) and below bleak (backend classes).

Rules, as for every driver on an unattended box:

* no gateway, no adapter is never fatal: ``degraded`` with the reason, retried with backoff (1 s → 30 s);
* "ok" means the transports work (the gateway answered, the adapter scans), not that pens are writing:
  pens in schoolbags are normal;
* malformed input costs one rate-limited log line, never the driver;
* pens that want a password get one only through :meth:`SmartPenDriver.submit_password`, one attempt per
  call (see :mod:`drivers.smartpen.session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import serial
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import SmartPenBleConfig, SmartPenSerialConfig, SmartPenSimulatorConfig
from appliance.events import PenPasswordAttempt
from drivers.backoff import Backoff
from drivers.smartpen.ble_link import AdapterProblem, BlePenLink
from drivers.smartpen.pens import PenRegistry
from drivers.smartpen.plan import PlanError
from drivers.smartpen.serial_link import (
    GATEWAY_ANSWER_S,
    GatewayLink,
    GatewayLinkError,
    open_cancel_safe,
    open_failure_reason,
)
from drivers.smartpen.simulator import PenSimulator
from drivers.smartpen.vendors import DEFAULT_PROTOCOL, get_protocol

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
STATUS_EVERY_S = 3.0
TICK_S = 0.25
SIM_ADAPTER = "hci0"
SIM_BAUDRATE = 115200
STARTING = "starting"  # a transport's problem before it has either worked or failed

SmartPenDriverConfig = SmartPenSerialConfig | SmartPenBleConfig | SmartPenSimulatorConfig


@dataclass
class TransportHealth:
    """One transport's state, for the component state and the self-test."""

    name: str
    ok: bool = False
    problem: str | None = STARTING


class SmartPenDriver(Component):
    """Keeps the class's pens connected and their strokes on the bus."""

    name = "smartpen"
    kind = "driver"
    heartbeat_timeout_s = 20.0
    ready_on_heartbeat = False

    def __init__(
        self,
        config: SmartPenDriverConfig,
        *,
        simulator: PenSimulator | None = None,
        protocol: str = DEFAULT_PROTOCOL,
    ) -> None:
        self.config = config
        # Created once (here or on the first run) so a simulated class keeps its clock across restarts.
        self.simulator = simulator
        self.protocol = get_protocol(protocol)
        self.registry: PenRegistry | None = None
        self.gateway: GatewayLink | None = None
        self.ble_links: list[BlePenLink] = []
        self.health: dict[str, TransportHealth] = {}
        self.status_every_s = STATUS_EVERY_S
        self._state_reason: str | None = None

    # -- what the config asks for -----------------------------------------------------------------------
    def _uses_serial(self) -> bool:
        if self.simulator is not None:
            return self.simulator.gateway is not None
        return isinstance(self.config, SmartPenSerialConfig)

    def _uses_ble(self) -> bool:
        if self.simulator is not None:
            return self.simulator.transport != "serial"
        return isinstance(self.config, SmartPenBleConfig)

    @property
    def port(self) -> str:
        if isinstance(self.config, SmartPenSerialConfig):
            return self.config.port
        return self.simulator.gateway_path if self.simulator and self.simulator.gateway_path else "(simulator pty)"

    @property
    def adapter(self) -> str:
        return self.config.adapter if isinstance(self.config, SmartPenBleConfig) else SIM_ADAPTER

    def _ble_setup(self) -> tuple[tuple[str, ...], type[BaseBleakClient] | None, type[BaseBleakScanner] | None]:
        if isinstance(self.config, SmartPenBleConfig):
            return tuple(a.upper() for a in self.config.pens), None, None
        sim = self.simulator
        assert sim is not None
        return sim.ble_addresses, sim.client_backend(), sim.scanner_backend()

    # -- life cycle -------------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        self.registry = PenRegistry(self.protocol, ctx.bus.publish, ctx.log)
        self.health = {}
        self._state_reason = None
        if isinstance(self.config, SmartPenSimulatorConfig):
            await self._ensure_simulator(ctx, self.config)
        tasks: list[asyncio.Task[None]] = []
        try:
            if self.simulator is not None:
                self.simulator.start()
            if self._uses_serial():
                self.health["serial"] = TransportHealth("serial gateway")
                tasks.append(asyncio.create_task(self._run_gateway(ctx, self.health["serial"]), name="pen-gateway"))
            if self._uses_ble():
                self.health["ble"] = TransportHealth(f"bluetooth {self.adapter}")
                tasks.append(asyncio.create_task(self._run_ble(ctx, self.health["ble"]), name="pen-ble"))
            await self._serve(ctx, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.simulator is not None:
                await self.simulator.stop()
            self.registry.publish_statuses()

    async def _ensure_simulator(self, ctx: ComponentContext, config: SmartPenSimulatorConfig) -> None:
        """Load the plan; an unreadable one is a degraded driver that looks again (the demo may write it late)."""
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while self.simulator is None:
            try:
                self.simulator = PenSimulator(
                    config.script,
                    time_scale=config.time_scale,
                    seed=config.seed,
                    loss_rate=config.loss_rate,
                    transport=config.transport,
                    repeat_every_s=config.repeat_every_s,
                )
            except PlanError as exc:
                delay = backoff.next()
                self._set_state(ctx, f"simulated pens unavailable: {exc}; retrying in {delay:.0f} s")
                await _idle(ctx, delay)

    async def _serve(self, ctx: ComponentContext, tasks: list[asyncio.Task[None]]) -> None:
        """Heartbeat, tick the sessions, publish statuses, keep the component state honest."""
        registry = self.registry
        assert registry is not None
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.status_every_s
        with ctx.bus.subscribe(PenPasswordAttempt, maxsize=16, name="smartpen.password") as passwords:
            while True:
                ctx.heartbeat()
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise RuntimeError(f"{task.get_name()} stopped") from task.exception()
                while not passwords.queue.empty():  # a person typed it: exactly one try each
                    attempt = passwords.queue.get_nowait()
                    assert isinstance(attempt, PenPasswordAttempt)
                    outcome = self.submit_password(attempt.pen_id, attempt.password)
                    ctx.log.info("pen %s: password attempt by %s: %s", attempt.pen_id, attempt.by, outcome)
                    next_status = loop.time()  # the outcome shows in the pens' status at once
                registry.tick()
                if loop.time() >= next_status:
                    registry.publish_statuses()
                    next_status = loop.time() + self.status_every_s
                self._set_state(ctx, self._problem())
                await asyncio.sleep(TICK_S)

    def _problem(self) -> str | None:
        """Why the driver is not ok: the failing transports' reasons; STARTING while one is still coming up."""
        if not self.health:
            return "no pen transport configured"
        problems = [h.problem for h in self.health.values() if not h.ok and h.problem and h.problem != STARTING]
        if problems:
            return "; ".join(problems)
        return STARTING if any(not h.ok for h in self.health.values()) else None

    def _set_state(self, ctx: ComponentContext, problem: str | None) -> None:
        if problem == self._state_reason and ctx.state != "starting":
            return
        if problem is None:
            if self._state_reason is not None or ctx.state != "ok":
                ctx.log.info("pen transports up: %s", ", ".join(h.name for h in self.health.values()))
            ctx.ok()
        elif problem != STARTING:
            ctx.log.warning("%s", problem)
            ctx.degraded(problem)
        self._state_reason = problem

    # -- the serial gateway -----------------------------------------------------------------------------
    async def _run_gateway(self, ctx: ComponentContext, health: TransportHealth) -> None:
        assert self.registry is not None
        registry = self.registry
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        baudrate = self.config.baudrate if isinstance(self.config, SmartPenSerialConfig) else SIM_BAUDRATE
        while True:
            path = self.port
            health.name = f"serial gateway {path}"
            try:
                port = await open_cancel_safe(ctx.run_blocking, path, baudrate)
            except (serial.SerialException, OSError, ValueError) as exc:
                delay = backoff.next()
                health.ok = False
                reason = open_failure_reason(exc)
                health.problem = f"cannot open pen gateway {path}: {reason}; retrying in {delay:.0f} s"
                await asyncio.sleep(delay)
                continue
            ctx.log.info("opened pen gateway %s at %d baud", path, baudrate)
            health.ok, health.problem = False, STARTING  # until it answers HELLO (or the watchdog says it won't)

            def answered(info: str, h: TransportHealth = health) -> None:
                h.ok, h.problem = True, None
                ctx.log.info("pen gateway answered: %s", info)

            link = GatewayLink(port, path, registry, ctx.run_blocking, ctx.log, answered)
            self.gateway = link
            watchdog = asyncio.create_task(self._gateway_silence(link, health, path))
            started = time.monotonic()
            try:
                await link.serve()
            except GatewayLinkError as exc:
                health.ok = False
                health.problem = f"pen gateway {path} failed: {exc}; reopening"
            finally:
                watchdog.cancel()
                link.close("the pen gateway's port closed")
                self.gateway = None
            if time.monotonic() - started > BACKOFF_MAX_S:
                backoff.reset()
            await asyncio.sleep(backoff.next())

    @staticmethod
    async def _gateway_silence(link: GatewayLink, health: TransportHealth, path: str) -> None:
        await asyncio.sleep(GATEWAY_ANSWER_S)
        if not link.answered:
            health.ok = False
            health.problem = (
                f"the device on {path} does not answer as a pen gateway (no reply to HELLO in "
                f"{GATEWAY_ANSWER_S:.0f} s); check the gateway and its envelope (drivers/smartpen/gateway.py)"
            )

    # -- BLE pens ---------------------------------------------------------------------------------------
    async def _run_ble(self, ctx: ComponentContext, health: TransportHealth) -> None:
        assert self.registry is not None
        addresses, client_backend, scanner_backend = self._ble_setup()
        shared = AdapterProblem()
        if not addresses:
            health.ok, health.problem = True, None
            ctx.log.info("no BLE pens configured on %s", self.adapter)
            await asyncio.Event().wait()
        self.ble_links = [
            BlePenLink(a, self.adapter, self.registry, shared, ctx.log, client_backend, scanner_backend)
            for a in addresses
        ]
        tasks = [asyncio.create_task(link.run(), name=f"pen-ble-{link.address}") for link in self.ble_links]
        try:
            while True:
                health.ok = shared.problem is None
                if shared.problem is not None and shared.scans:
                    health.problem = f"{shared.problem}; retrying"
                elif shared.problem is None:
                    health.problem = None
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise RuntimeError(f"BLE link {task.get_name()} crashed") from task.exception()
                await asyncio.sleep(TICK_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ble_links = []

    # -- people -----------------------------------------------------------------------------------------
    def submit_password(self, pen_id: str, password: str) -> str:
        """One password attempt for a locked pen, because a person asked (never retried by the box)."""
        if self.registry is None:
            return "the pen driver is not running"
        return self.registry.submit_password(pen_id, password)

    # -- self test --------------------------------------------------------------------------------------
    async def self_test(self) -> SelfTestResult:
        """Are the transports up, how many pens are connected, how many strokes in the last minute."""
        registry = self.registry
        data: dict[str, Any] = {
            "backend": self.config.backend,
            "transports": {k: {"name": h.name, "ok": h.ok, "problem": h.problem} for k, h in self.health.items()},
        }
        if registry is None:
            return SelfTestResult(False, "pen driver not running", data)
        connected = registry.connected()
        recent = len(registry.stroke_times)
        data.update(pens_connected=len(connected), pens_known=len(registry.sessions), strokes_last_minute=recent)
        down = [h.problem for h in self.health.values() if not h.ok and h.problem]
        if down:
            return SelfTestResult(False, "; ".join(down), data)
        names = ", ".join(h.name for h in self.health.values())
        return SelfTestResult(
            True, f"{names}: {len(connected)} pen(s) connected, {recent} stroke(s) in the last minute", data
        )


async def _idle(ctx: ComponentContext, seconds: float) -> None:
    """Wait out a delay while still proving liveness."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        ctx.heartbeat()
        with contextlib.suppress(TimeoutError):
            await asyncio.sleep(min(remaining, TICK_S))
