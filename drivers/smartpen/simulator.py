"""A simulated class of dot-matrix pens writing real answers, in real Neo v2 bytes, through real transports.

``PenSimulator(plans, time_scale, seed, loss_rate, transport)`` takes the JSON plan the demo writes
(:mod:`drivers.smartpen.plan`), turns each child's writings into timed strokes (:mod:`.handwriting`) and,
as the class clock runs, has each pen (:mod:`.sim_pen`) stream them:

* serial pens through a simulated USB gateway on a pseudo-terminal (:mod:`.sim_gateway`): the driver
  opens :attr:`PenSimulator.gateway_path` with pyserial exactly as it would ``/dev/ttyUSB0``;
* BLE pens through bleak's own backend types (:mod:`.sim_ble`): the driver passes
  :meth:`PenSimulator.scanner_backend` and :meth:`PenSimulator.client_backend` as ``backend=``.

``transport="both"`` puts every eighth pen (the 1st, 9th, 17th...) on BLE, as a box holds a handful of BLE
links beside one gateway for the class; "serial" or "ble" puts all pens on one path.

The clock: every time in the plan is the child's real seconds and runs ``time_scale`` times faster than the
box's clock; pens stamp strokes with that class clock (so a 20× demo reads like a real lesson).
``repeat_every_s`` (class seconds too) reruns the plan; it is stretched to the class length if shorter.
An ``offline`` pen is out of range while the class writes and comes into range ``AFTER_CLASS_S`` after
the last pen's last stroke, then uploads what it stored. Losses (``loss_rate``) and torn frames
(``torn_rate``, by default a tenth of the loss rate) apply to real-time events only.

The clock starts at the first :meth:`start`, and keeps running across a driver restart (``stop`` then
``start``): pens that wrote meanwhile stored their strokes, as pens without a host do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Literal

from drivers.smartpen.plan import PenPlan, PlanSource, load_plan
from drivers.smartpen.sim_ble import SimulatedPenClient, SimulatedPenScanner
from drivers.smartpen.sim_gateway import GatewaySim
from drivers.smartpen.sim_pen import SentStroke, SimPen, SimTransport

if TYPE_CHECKING:
    from bleak.backends.client import BaseBleakClient
    from bleak.backends.scanner import BaseBleakScanner

log = logging.getLogger(__name__)

TICK_S = 0.02
AFTER_CLASS_S = 30.0
BLE_EVERY = 8
Transport = Literal["serial", "ble", "both"]


class PenSimulator:
    """A class of simulated pens; see the module docstring."""

    def __init__(
        self,
        plans: PlanSource = None,
        time_scale: float = 1.0,
        seed: int = 7,
        loss_rate: float = 0.0,
        transport: Transport = "both",
        *,
        repeat_every_s: float | None = None,
        torn_rate: float | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.plans: list[PenPlan] = load_plan(plans)
        self.time_scale = time_scale
        self.seed = seed
        self.loss_rate = loss_rate
        self.torn_rate = loss_rate / 10 if torn_rate is None else torn_rate
        self.transport = transport
        self.pens: list[SimPen] = [
            SimPen(plan, self._transport_of(i), seed, loss_rate, self.torn_rate, self.unix_at)
            for i, plan in enumerate(self.plans)
        ]
        self._by_id = {p.pen_id: p for p in self.pens}
        self.class_end_s = max((p.end_s for p in self.pens), default=0.0) + AFTER_CLASS_S
        self.cycle_s: float | None = None
        if repeat_every_s is not None:
            self.cycle_s = max(repeat_every_s, self.class_end_s + 1.0)
            if self.cycle_s > repeat_every_s:
                log.warning(
                    "repeat_every_s %.0f s is shorter than the class (%.0f s); repeating every %.0f s",
                    repeat_every_s, self.class_end_s, self.cycle_s,
                )  # fmt: skip
        serial_pens = [p for p in self.pens if p.transport == "serial"]
        self.gateway: GatewaySim | None = GatewaySim(serial_pens) if transport != "ble" else None
        self._ble_clients: dict[str, SimulatedPenClient] = {}
        self._task: asyncio.Task[None] | None = None
        self._start_unix = time.time()
        self._mono0: float | None = None

    def _transport_of(self, index: int) -> SimTransport:
        if self.transport == "both":
            return "ble" if index % BLE_EVERY == 0 else "serial"
        return self.transport

    # -- clock ------------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        """Class seconds since the simulated class started (0 before :meth:`start`)."""
        if self._mono0 is None:
            return 0.0
        return (time.monotonic() - self._mono0) * self.time_scale

    def unix_at(self, class_s: float) -> float:
        """The wall-clock time pens stamp on something written at class second ``class_s``."""
        return self._start_unix + class_s

    def real_seconds(self, class_s: float) -> float:
        """How long ``class_s`` of class time takes on the box's clock."""
        return class_s / self.time_scale

    # -- who's who --------------------------------------------------------------------------------------
    def pen(self, pen_id: str) -> SimPen:
        return self._by_id[pen_id.upper()]

    @property
    def gateway_path(self) -> str:
        """The pty the driver opens as the gateway's serial port ("" before start or without serial pens)."""
        return self.gateway.path if self.gateway is not None else ""

    @property
    def ble_addresses(self) -> tuple[str, ...]:
        return tuple(p.pen_id for p in self.pens if p.transport == "ble")

    def in_range(self, pen: SimPen, now_s: float | None = None) -> bool:
        if not pen.plan.offline:
            return True
        now = self.elapsed() if now_s is None else now_s
        if self.cycle_s is not None:
            now %= self.cycle_s
        return now >= self.class_end_s

    def ledger(self, pen_id: str | None = None) -> list[SentStroke]:
        pens = self.pens if pen_id is None else [self.pen(pen_id)]
        return [s for p in pens for s in p.ledger]

    # -- bleak backends ---------------------------------------------------------------------------------
    def scanner_backend(self) -> type[BaseBleakScanner]:
        sim = self

        class BoundScanner(SimulatedPenScanner):
            simulator = sim

        return BoundScanner

    def client_backend(self) -> type[BaseBleakClient]:
        sim = self

        class BoundClient(SimulatedPenClient):
            simulator = sim

        return BoundClient

    def advertising_pens(self) -> list[str]:
        """BLE pens in range and not connected (a connected Neo pen stops advertising)."""
        return [
            p.pen_id for p in self.pens
            if p.transport == "ble" and p.pen_id not in self._ble_clients and self.in_range(p)
        ]  # fmt: skip

    def ble_connect(self, address: str, client: SimulatedPenClient) -> bool:
        pen = self._by_id.get(address.upper())
        if pen is None or pen.transport != "ble" or not self.in_range(pen) or address.upper() in self._ble_clients:
            return False
        self._ble_clients[pen.pen_id] = client
        pen.attach(client)
        return True

    def ble_disconnect(self, address: str, client: SimulatedPenClient) -> None:
        pen = self._by_id.get(address.upper())
        if pen is not None and self._ble_clients.get(pen.pen_id) is client:
            del self._ble_clients[pen.pen_id]
            pen.detach()

    def ble_write(self, address: str, data: bytes) -> None:
        pen = self._by_id.get(address.upper())
        if pen is not None and pen.pen_id in self._ble_clients:
            pen.on_host_bytes(data)

    # -- running ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the class (or resume it after :meth:`stop`); call from inside the event loop."""
        loop = asyncio.get_running_loop()
        if self._mono0 is None:
            self._mono0 = time.monotonic()
            self._start_unix = time.time()
        if self.gateway is not None:
            self.gateway.start(loop)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="pen-simulator")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for address, client in list(self._ble_clients.items()):
            client.lost()
            self._by_id[address].detach()
        self._ble_clients.clear()
        if self.gateway is not None:
            self.gateway.stop()

    async def _run(self) -> None:
        while True:
            self.step()
            await asyncio.sleep(TICK_S)

    def step(self) -> None:
        """One tick of the class: links up and down with range, then every pen writes what is due."""
        now = self.elapsed()
        in_range = {p.pen_id: self.in_range(p, now) for p in self.pens}
        if self.gateway is not None:
            self.gateway.tick(in_range)
        for pen_id, client in list(self._ble_clients.items()):
            if not in_range[pen_id]:
                del self._ble_clients[pen_id]
                self._by_id[pen_id].detach()
                client.lost()
        for pen in self.pens:
            try:
                pen.advance(now, self.cycle_s)
            except Exception:  # one pen's bug must not stop the class
                log.exception("simulated pen %s failed", pen.pen_id)
