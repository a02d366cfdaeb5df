"""The real SmartPenDriver on the simulated class, through a real Bus and ComponentContext.

The simulator sits below the transports: a pty the driver opens with pyserial (the gateway path) and bleak
backend classes (the BLE path). What each pen wrote and what reached the wire is in the simulator's
ledger, so the strokes that arrive are checked exactly: count, every point, the page, the box in mm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.bus import Bus
from appliance.component import ComponentContext
from appliance.config.schema import SmartPenBleConfig, SmartPenSerialConfig, SmartPenSimulatorConfig
from appliance.events import PenPasswordAttempt, PenStatus, PenStroke
from drivers.smartpen import PenSimulator, SmartPenDriver
from drivers.smartpen.sim_ble import uses_128_bit_service
from drivers.smartpen.sim_ledger import (
    detectable_losses,
    expected_offline,
    expected_online,
    merged_boundaries,
    unplaceable,
)
from drivers.smartpen.sim_pen import NCODE_UNIT_MM, SimPen

PAGE = [3, 27, 603, 1]
ANSWERS = [  # (box, kind, text) from the demo sheet math-g4-u3-hw1
    ([104.0, 190.4, 60.0, 11.0], "text", "1000"),
    ([130.0, 25.5, 14.0, 8.0], "fill", ""),
    ([108.0, 153.5, 18.0, 8.0], "tick", ""),
    ([104.0, 203.2, 60.0, 11.0], "text", "80"),
    ([138.0, 166.3, 18.0, 8.0], "cross", ""),
    ([104.0, 254.4, 60.0, 11.0], "text", "宽"),
]


def class_plan(pens: int, offline: tuple[int, ...] = (), writings: int = 4, delay: float = 40.0) -> dict[str, Any]:
    return {
        "pens": [
            {
                "pen_id": f"9C:7B:D2:01:{i // 256:02X}:{i % 256:02X}",
                "start_delay_s": delay + i % 5,
                "offline": i in offline,
                "battery": 60 + i % 40,
                "writings": [
                    {"page": PAGE, "box_mm": box, "kind": kind, "text": text, "pause_before_s": 4.0 + (i + k) % 3}
                    for k, (box, kind, text) in enumerate(ANSWERS[(i + j) % len(ANSWERS)] for j in range(writings))
                ],
            }
            for i in range(pens)
        ]
    }


class Harness:
    """Runs one driver and records strokes and statuses with the time they arrived."""

    def __init__(self, driver: SmartPenDriver) -> None:
        self.driver = driver
        self.bus = Bus()
        self.states: list[tuple[str, str | None]] = []
        self.ctx = ComponentContext(
            "smartpen", self.bus, None, None, lambda s, r: self.states.append((s, r)), ready_on_heartbeat=False
        )
        self.strokes: list[tuple[float, PenStroke]] = []
        self.statuses: list[tuple[float, PenStatus]] = []
        self._sub = self.bus.subscribe(PenStroke, PenStatus, maxsize=1_000_000, name="test")

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
            if isinstance(event, PenStroke):
                self.strokes.append((time.monotonic(), event))
            elif isinstance(event, PenStatus):
                self.statuses.append((time.monotonic(), event))

    @property
    def sim(self) -> PenSimulator:
        assert self.driver.simulator is not None
        return self.driver.simulator

    def of(self, pen_id: str) -> list[PenStroke]:
        return [s for _t, s in self.strokes if s.pen_id == pen_id]

    def last_status(self, pen_id: str) -> PenStatus | None:
        found = [s for _t, s in self.statuses if s.pen_id == pen_id]
        return found[-1] if found else None


async def wait_until(predicate: Callable[[], Any], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(driver: SmartPenDriver) -> AsyncIterator[Harness]:
    harness = Harness(driver)
    driver.status_every_s = 0.5
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


def simulated(plan: dict[str, Any], transport: str, time_scale: float = 40.0, loss: float = 0.03,
              seed: int = 7) -> SmartPenDriver:  # fmt: skip
    config = SmartPenSimulatorConfig(backend="simulator", transport=transport, time_scale=time_scale, loss_rate=loss)
    sim = PenSimulator(plan, time_scale=time_scale, seed=seed, loss_rate=loss, transport=config.transport)
    return SmartPenDriver(config, simulator=sim)


def expected_total(sim: PenSimulator) -> int:
    return sum(len(expected_online(p)) + len(expected_offline(p)) for p in sim.pens)


def check_pen(h: Harness, pen: SimPen) -> None:
    """Every stroke the ledger says must arrive did, with exactly its delivered points, inside its box."""
    assert not merged_boundaries(pen) and not unplaceable(pen), f"seed gives {pen.pen_id} an invisible boundary"
    got = h.of(pen.pen_id)
    online = [s for s in got if not s.offline]
    offline = [s for s in got if s.offline]
    want_online, want_offline = expected_online(pen), expected_offline(pen)
    assert len(online) == len(want_online), f"{pen.pen_id}: {len(online)} real-time strokes, expected {len(want_online)}"
    assert len(offline) == len(want_offline), f"{pen.pen_id}: {len(offline)} uploaded strokes, expected {len(want_offline)}"
    pairs = [*zip(online, [w.delivered_points for w in want_online], want_online, strict=True),
             *zip(offline, [w.points for w in want_offline], want_offline, strict=True)]  # fmt: skip
    for stroke, points, sent in pairs:
        assert len(stroke.points) == len(points)
        for (x, y, _f, _t), (wx, wy) in zip(stroke.points, points, strict=True):
            assert (x, y) == (pytest.approx(wx, abs=1e-9), pytest.approx(wy, abs=1e-9))
            bx, by, bw, bh = sent.box_mm
            x_mm, y_mm = x * NCODE_UNIT_MM, y * NCODE_UNIT_MM
            assert bx - 0.05 <= x_mm <= bx + bw + 0.05 and by - 0.05 <= y_mm <= by + bh + 0.05, "ink outside its box"
        assert (stroke.section, stroke.owner, stroke.note, stroke.page) == sent.page
        assert stroke.ended_at >= stroke.started_at


async def class_done(h: Harness, total: int, within_s: float) -> None:
    await wait_until(lambda: len(h.strokes) >= total and total > 0, within_s, f"{total} strokes")
    await asyncio.sleep(0.3)  # nothing more may arrive


@pytest.fixture
async def serial_class() -> AsyncIterator[Harness]:
    async with running(simulated(class_plan(6, offline=(3,)), "serial")) as h:
        yield h


async def test_a_class_writes_through_the_serial_gateway(serial_class: Harness) -> None:
    h = serial_class
    sim = h.sim
    await wait_until(lambda: ("ok", None) in h.states, 5, "the gateway to answer")
    assert sim.gateway_path and h.driver.port == sim.gateway_path
    assert [s for s, _ in h.states] == ["ok"], "no degraded flash while the gateway comes up"
    await wait_until(lambda: sim.elapsed() > sim.class_end_s + 5, 20, "the class to finish")
    await class_done(h, expected_total(sim), 10)
    assert len(h.strokes) == expected_total(sim)
    for pen in sim.pens:
        check_pen(h, pen)
    lossy = [p for p in sim.pens if detectable_losses(p)[0]]
    assert lossy, "the class must lose some events"
    for pen in sim.pens:
        lost, gaps = detectable_losses(pen)
        await wait_until(lambda p=pen, lo=lost, ga=gaps: (s := h.last_status(p.pen_id)) is not None
                         and (s.lost_events, s.counter_gaps) == (lo, ga), 3, f"{pen.pen_id}'s gaps in its status")  # fmt: skip
        status = h.last_status(pen.pen_id)
        assert status is not None and status.transport == "serial" and status.connected
        assert status.battery is not None and status.strokes == len(h.of(pen.pen_id))
    assert sum(p.torn for p in sim.pens) >= 0
    result = await h.driver.self_test()
    assert result.ok and "6 pen(s) connected" in result.detail, result


async def test_the_offline_pen_uploads_after_class_through_the_gateway(serial_class: Harness) -> None:
    h = serial_class
    sim = h.sim
    pen = sim.pens[3]
    await wait_until(lambda: sim.in_range(pen), 15, "class to end")
    await wait_until(lambda: len(h.of(pen.pen_id)) == len(pen.ledger) > 0, 10, "the offline pen's upload")
    connected_at = min(t for t, s in h.statuses if s.pen_id == pen.pen_id and s.connected)
    times = [t for t, s in h.strokes if s.pen_id == pen.pen_id]
    assert min(times) >= connected_at, "strokes arrive after the pen reconnects"
    assert all(s.offline for s in h.of(pen.pen_id))
    assert all(s.mode == "offline" for s in pen.ledger)
    check_pen(h, pen)
    log = pen.transfer_log
    chunks = [i for kind, i in log if kind == "chunk"]
    assert chunks and log == [e for i in chunks for e in (("chunk", i), ("ack", i))] + [("delete", 603)]
    assert pen.stored == {}
    await wait_until(lambda: (s := h.last_status(pen.pen_id)) is not None and s.offline_notes_pending == 0, 3,
                     "no notes pending")  # fmt: skip


@pytest.fixture
async def ble_class() -> AsyncIterator[Harness]:
    async with running(simulated(class_plan(4, offline=(2,)), "ble")) as h:
        yield h


async def test_a_class_writes_over_ble_through_bleaks_client_backend(ble_class: Harness) -> None:
    h = ble_class
    sim = h.sim
    await wait_until(lambda: ("ok", None) in h.states, 10, "the adapter to scan")
    assert [s for s, _ in h.states] == ["ok"]
    offline_pen = sim.pens[2]
    await wait_until(lambda: sim.elapsed() > sim.class_end_s + 5, 20, "the class to finish")
    await class_done(h, expected_total(sim), 15)
    assert len(h.strokes) == expected_total(sim)
    for pen in sim.pens:
        check_pen(h, pen)
        assert (s := h.last_status(pen.pen_id)) is not None and s.transport == "ble"
    assert any(detectable_losses(p)[0] for p in sim.pens)
    assert all(s.offline for s in h.of(offline_pen.pen_id)) and h.of(offline_pen.pen_id)
    connected_at = min(t for t, s in h.statuses if s.pen_id == offline_pen.pen_id and s.connected)
    assert min(t for t, s in h.strokes if s.pen_id == offline_pen.pen_id) >= connected_at
    assert [link.connects for link in h.driver.ble_links] == [1, 1, 1, 1]
    assert {uses_128_bit_service(p.pen_id) for p in sim.pens} == {True, False}, "both GATT layouts were found"


async def test_a_class_of_45_on_both_transports() -> None:
    plan = class_plan(45, offline=(7,), writings=2, delay=5.0)
    async with running(simulated(plan, "both", time_scale=60.0, loss=0.01, seed=11)) as h:
        sim = h.sim
        assert len(sim.ble_addresses) == 6
        await wait_until(lambda: sim.elapsed() > sim.class_end_s + 5, 20, "the class to finish")
        await class_done(h, expected_total(sim), 15)
        assert len(h.strokes) == expected_total(sim)
        for pen in sim.pens:
            check_pen(h, pen)
        transports = {s.pen_id: s.transport for _t, s in h.statuses}
        assert {transports[a] for a in sim.ble_addresses} == {"ble"}
        assert sum(1 for v in transports.values() if v == "serial") == 39


async def test_a_missing_gateway_is_degraded_not_fatal() -> None:
    async with running(SmartPenDriver(SmartPenSerialConfig(backend="serial", port="/dev/ttyPENGW9"))) as h:
        await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 3, "degraded")
        reason = next(r for s, r in h.states if s == "degraded")
        assert reason is not None and "cannot open pen gateway /dev/ttyPENGW9" in reason
        assert "no such device" in reason and "retrying in 1 s" in reason
        await asyncio.sleep(1.5)
        assert not h.task.done()
        result = await h.driver.self_test()
        assert not result.ok and "/dev/ttyPENGW9" in result.detail


async def test_ble_without_bluez_is_degraded_not_fatal() -> None:
    async with running(SmartPenDriver(SmartPenBleConfig(backend="ble", pens=["9C:7B:D2:01:00:01"]))) as h:
        await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 5, "degraded")
        reason = next(r for s, r in h.states if s == "degraded")
        assert reason is not None and reason.startswith("bluetooth adapter hci0 unavailable: ")
        assert not h.task.done()


async def test_an_unreadable_plan_is_degraded_and_picked_up_once_written(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    config = SmartPenSimulatorConfig(backend="simulator", script=path, transport="serial", time_scale=60, loss_rate=0)
    async with running(SmartPenDriver(config)) as h:
        await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 3, "degraded")
        reason = next(r for s, r in h.states if s == "degraded")
        assert reason is not None and "cannot read the pen plan" in reason
        path.write_text(json.dumps(class_plan(1, writings=1, delay=1.0)), encoding="utf-8")
        await wait_until(lambda: h.states[-1] == ("ok", None), 5, "ok once the plan exists")
        await wait_until(lambda: len(h.strokes) >= 1, 10, "the pen to write")


async def test_a_locked_pen_gets_one_attempt_per_request() -> None:
    plan = class_plan(1, writings=2, delay=3.0)
    plan["pens"][0]["password"] = "2468"
    async with running(simulated(plan, "serial", time_scale=20.0, loss=0.0)) as h:
        pen = h.sim.pens[0]
        pen_id = pen.pen_id
        await wait_until(lambda: "locked" in (((s := h.last_status(pen_id)) and s.detail) or ""), 5, "locked")
        await asyncio.sleep(1.0)
        assert pen.password_attempts == []
        assert "one password attempt sent" in h.driver.submit_password(pen_id, "1111")
        await wait_until(lambda: "9 of 10 tries left" in (((s := h.last_status(pen_id)) and s.detail) or ""), 3, "tries")
        await asyncio.sleep(1.0)
        assert pen.password_attempts == ["1111"], "never retried"
        h.bus.publish(PenPasswordAttempt(pen_id=pen_id, password="2468", by="teacher"))  # as the kiosk sends it
        await wait_until(lambda: (s := h.last_status(pen_id)) is not None and not (s.detail or "").startswith("locked"),
                         3, "unlocked")  # fmt: skip
        assert pen.password_attempts == ["1111", "2468"]
        await wait_until(lambda: len(h.of(pen_id)) >= 1, 10, "strokes after unlocking")


async def test_a_port_that_does_not_answer_as_a_gateway_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import tty

    from drivers.smartpen import driver as driver_module

    monkeypatch.setattr(driver_module, "GATEWAY_ANSWER_S", 0.5)
    master, slave = os.openpty()
    tty.setraw(master)
    try:
        async with running(SmartPenDriver(SmartPenSerialConfig(backend="serial", port=os.ttyname(slave)))) as h:
            await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 3, "degraded")
            reason = next(r for s, r in h.states if s == "degraded")
            assert reason is not None and "does not answer as a pen gateway" in reason
            assert os.read(master, 100).startswith(b"\xaa\x55\x01"), "the driver said HELLO"
    finally:
        os.close(master)
        os.close(slave)


async def test_an_unplugged_gateway_is_reopened_and_the_pens_come_back() -> None:
    plan = class_plan(3, writings=6, delay=2.0)
    async with running(simulated(plan, "serial", time_scale=10.0, loss=0.0)) as h:
        sim = h.sim
        assert sim.gateway is not None
        await wait_until(lambda: len(h.strokes) >= 3, 10, "the class writing")
        sim.gateway.unplug()  # the USB gateway is pulled
        await wait_until(lambda: any(s == "degraded" for s, _ in h.states), 3, "degraded")
        reason = [r for s, r in h.states if s == "degraded"][-1] or ""
        assert "pen gateway" in reason
        await wait_until(lambda: all(not (st := h.last_status(p.pen_id)) or not st.connected for p in sim.pens), 3,
                         "pens reported disconnected")  # fmt: skip
        written_while_unplugged = len(sim.ledger())
        sim.gateway.start(asyncio.get_running_loop())  # plugged back in (a new tty path, as after re-enumeration)
        await wait_until(lambda: h.states[-1] == ("ok", None), 10, "ok again")
        await wait_until(lambda: all((st := h.last_status(p.pen_id)) and st.connected for p in sim.pens), 5,
                         "pens connected again")  # fmt: skip
        await wait_until(lambda: sim.elapsed() > max(p.end_s for p in sim.pens) + 2, 30, "the class to finish")
        await class_done(h, expected_total(sim), 10)
        assert len(sim.ledger()) >= written_while_unplugged
        assert any(s.mode == "offline" for s in sim.ledger()), "strokes written while unplugged were stored"
        assert any(s.offline for _t, s in h.strokes), "and uploaded once the gateway was back"
        for pen in sim.pens:
            check_pen(h, pen)
