"""The real PanelDriver against the MDC simulator on a real pty, through a real Bus.

Nothing is mocked: bytes go through pyserial, the kernel's pty, the simulator's decoder and back,
so these tests catch framing, timing and reconnect bugs that a fake serial object would hide.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest
import serial

from appliance.bus import Bus
from appliance.component import ComponentContext
from appliance.config.schema import PanelSerialConfig, PanelSimulatorConfig
from appliance.events import (
    ComponentStateChanged,
    DeviceAlert,
    Event,
    PanelCommand,
    PanelCommandResult,
    PanelStatus,
)
from appliance.supervisor import RestartPolicy, Supervisor
from drivers.panel import PanelDriver, PanelSimulator, mdc

E = TypeVar("E", bound=Event)

POLL_S = 0.2
REPLY_S = 0.3


def sim_config(**kw: Any) -> PanelSimulatorConfig:
    return PanelSimulatorConfig(backend="simulator", poll_interval_s=POLL_S, reply_timeout_s=REPLY_S, **kw)


def serial_config(port: str, **kw: Any) -> PanelSerialConfig:
    return PanelSerialConfig(backend="serial", port=port, poll_interval_s=POLL_S, reply_timeout_s=REPLY_S, **kw)


class Harness:
    """Runs one driver on a ComponentContext and records everything it publishes."""

    def __init__(self, driver: PanelDriver) -> None:
        self.driver = driver
        self.bus = Bus()
        self.states: list[tuple[str, str | None]] = []
        self.ctx = ComponentContext("panel", self.bus, None, None, lambda s, r: self.states.append((s, r)))
        self.seen: list[Event] = []
        self._sub = self.bus.subscribe(PanelStatus, PanelCommandResult, DeviceAlert, name="test")
        self._n = 0

    async def start(self) -> None:
        self._collector = asyncio.create_task(self._collect())
        self.task = asyncio.create_task(self.driver.run(self.ctx))

    async def stop(self) -> None:
        for task in (self.task, self._collector):
            task.cancel()
        for task in (self.task, self._collector):
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._sub.close()

    async def _collect(self) -> None:
        async for event in self._sub:
            self.seen.append(event)

    def mark(self) -> int:
        """Index into ``seen``: pass it to :meth:`wait` to ignore what happened before now."""
        return len(self.seen)

    async def wait(
        self, kind: type[E], pred: Callable[[E], bool] = lambda e: True, since: int = 0, within: float = 5.0
    ) -> E:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.seen[since:]:
                if isinstance(event, kind) and pred(event):
                    return event
            assert not self.task.done(), f"driver stopped: {self.task}"
            await asyncio.sleep(0.01)
        raise AssertionError(f"no matching {kind.__name__} within {within} s; saw {self.seen[since:]}")

    async def wait_state(self, state: str, contains: str = "", within: float = 5.0) -> str | None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.ctx.state == state and any(s == state and contains in (r or "") for s, r in self.states):
                return next(r for s, r in reversed(self.states) if s == state)
            await asyncio.sleep(0.01)
        raise AssertionError(f"never {state!r} with {contains!r}; states: {self.states}")

    async def command(self, action: str, value: str | int | bool) -> PanelCommandResult:
        self._n += 1
        request_id = f"req-{self._n}"
        since = self.mark()
        self.bus.publish(PanelCommand(request_id=request_id, action=action, value=value))  # type: ignore[arg-type]
        return await self.wait(PanelCommandResult, lambda r: r.request_id == request_id, since)

    async def status(self, pred: Callable[[PanelStatus], bool], since: int | None = None) -> PanelStatus:
        return await self.wait(PanelStatus, pred, self.mark() if since is None else since)


@pytest.fixture
async def sim_driver() -> AsyncIterator[Harness]:
    h = Harness(PanelDriver(sim_config()))
    await h.start()
    await h.wait(PanelStatus, lambda s: s.connected)
    try:
        yield h
    finally:
        await h.stop()


def simulator_of(h: Harness) -> PanelSimulator:
    assert h.driver.simulator is not None
    return h.driver.simulator


# -- start-up and polling -------------------------------------------------------------------------


async def test_status_published_on_start(sim_driver: Harness) -> None:
    first = next(e for e in sim_driver.seen if isinstance(e, PanelStatus))
    assert (first.connected, first.power, first.input_source, first.volume, first.muted) == (
        True, "on", "hdmi1", 30, False,
    )  # fmt: skip
    assert sim_driver.ctx.state == "ok"
    assert simulator_of(sim_driver).path.startswith("/dev/pts/")
    assert sim_driver.driver.port == simulator_of(sim_driver).path


async def test_polls_repeatedly(sim_driver: Harness) -> None:
    since = sim_driver.mark()
    await asyncio.sleep(POLL_S * 4)
    polls = [e for e in sim_driver.seen[since:] if isinstance(e, PanelStatus)]
    assert 2 <= len(polls) <= 6


async def test_remote_change_seen_on_next_poll(sim_driver: Harness) -> None:
    simulator_of(sim_driver).press_remote(volume=55, input_source="hdmi3", muted=True)
    status = await sim_driver.status(lambda s: s.volume == 55, since=sim_driver.mark())
    assert (status.input_source, status.muted) == ("hdmi3", True)
    simulator_of(sim_driver).press_remote(power=False)
    assert (await sim_driver.status(lambda s: s.power == "off")).connected


# -- commands -----------------------------------------------------------------------------------------


async def test_commands_change_the_panel(sim_driver: Harness) -> None:
    sim = simulator_of(sim_driver)

    result = await sim_driver.command("power", False)
    assert (result.ok, result.error) == (True, None)
    assert sim.state.power is False
    await sim_driver.status(lambda s: s.power == "off", since=0)

    assert (await sim_driver.command("power", "on")).ok
    assert sim.state.power is True

    assert (await sim_driver.command("input", "hdmi2")).ok
    assert sim.state.input_source == "hdmi2"

    assert (await sim_driver.command("volume", 42)).ok
    assert sim.state.volume == 42

    assert (await sim_driver.command("mute", True)).ok
    assert sim.state.muted is True

    # The driver re-reads the panel after a command, so the new state is on the bus without waiting.
    status = sim_driver.bus.last(PanelStatus)
    assert status is not None
    assert (status.power, status.input_source, status.volume, status.muted) == ("on", "hdmi2", 42, True)


async def test_out_of_range_volume_is_refused_by_the_panel(sim_driver: Harness) -> None:
    sim = simulator_of(sim_driver)
    result = await sim_driver.command("volume", 150)
    assert not result.ok
    assert result.error == "panel refused: NAK error 0x01"
    assert any(c.cmd == mdc.CMD_VOLUME and c.data == b"\x96" for c in sim.commands), "must reach the wire"
    assert sim.state.volume == 30
    assert sim_driver.ctx.state == "ok"  # a refusal is an answer, not a fault


async def test_panel_refuses_volume_while_off(sim_driver: Harness) -> None:
    assert (await sim_driver.command("power", False)).ok
    result = await sim_driver.command("volume", 20)
    assert (result.ok, result.error) == (False, "panel refused: NAK error 0x02")


async def test_invalid_values_are_refused_before_the_wire(sim_driver: Harness) -> None:
    sim = simulator_of(sim_driver)
    before = len(sim.commands)
    cases: list[tuple[str, str | int | bool, str]] = [
        ("input", "vga", "unknown input 'vga'"),
        ("power", "maybe", "power must be on or off"),
        ("volume", 300, "volume must be a whole number"),
        ("volume", True, "volume must be a whole number"),
    ]
    for action, value, message in cases:
        result = await sim_driver.command(action, value)
        assert not result.ok and result.error is not None and message in result.error
    assert all(c.cmd == mdc.CMD_STATUS for c in sim.commands[before:])


# -- faults -------------------------------------------------------------------------------------------


async def test_unplug_then_replug(sim_driver: Harness) -> None:
    sim = simulator_of(sim_driver)
    since = sim_driver.mark()
    sim.unplug()

    down = await sim_driver.status(lambda s: not s.connected, since=since)
    assert (down.power, down.input_source, down.volume, down.muted) == ("unknown", None, None, None)
    reason = await sim_driver.wait_state("degraded", f"panel not answering on {sim.path}")
    assert reason is not None
    alert = await sim_driver.wait(DeviceAlert, since=since)
    assert (alert.source, alert.severity, alert.active) == ("panel", "warning", True)
    assert not sim_driver.task.done()

    result = await sim_driver.command("volume", 10)
    assert (result.ok, result.error) == (False, f"no answer from panel within {REPLY_S:.1f} s")
    await asyncio.sleep(POLL_S * 3)
    assert len([s for s in sim_driver.states if s[0] == "degraded"]) == 1, "degraded once, not per poll"

    since = sim_driver.mark()
    sim.replug()
    up = await sim_driver.status(lambda s: s.connected, since=since)
    assert up.power == "on"
    cleared = await sim_driver.wait(DeviceAlert, lambda a: not a.active, since=since)
    assert cleared.source == "panel"
    assert sim_driver.ctx.state == "ok"
    assert (await sim_driver.command("volume", 10)).ok


async def test_one_lost_reply_is_not_a_disconnect(sim_driver: Harness) -> None:
    sim = simulator_of(sim_driver)
    since = sim_driver.mark()
    sim.unplug()
    await asyncio.sleep(REPLY_S + POLL_S / 2)  # one poll goes unanswered, maybe two
    sim.replug()
    await asyncio.sleep(POLL_S * 3)
    assert not any(isinstance(e, PanelStatus) and not e.connected for e in sim_driver.seen[since:])
    assert sim_driver.ctx.state == "ok"


async def test_garbage_on_the_line(sim_driver: Harness, caplog: pytest.LogCaptureFixture) -> None:
    sim = simulator_of(sim_driver)
    caplog.set_level(logging.WARNING, logger="component.panel")
    # Includes a fake reply header whose length swallows the next real reply: the decoder must
    # discard it on the bad checksum and find its way back.
    sim.inject_garbage(b"\x00\x13noise\xaa\xff\x00\x09\x41\x00\xff\xaa")
    sim.press_remote(volume=61)
    await sim_driver.status(lambda s: s.volume == 61)
    assert (await sim_driver.command("mute", True)).ok
    assert sim.state.muted
    noise = [r for r in caplog.records if "line noise" in r.getMessage()]
    assert noise, "the noise must be logged"
    assert len(noise) <= 2, "one line per burst, not one per read or per byte"
    assert sim_driver.ctx.state == "ok"


async def test_self_test(sim_driver: Harness) -> None:
    result = await sim_driver.driver.self_test()
    assert result.ok
    assert result.detail == "panel answered: power on, HDMI 1, volume 30"
    assert result.data["input_source"] == "hdmi1"
    simulator_of(sim_driver).unplug()
    result = await sim_driver.driver.self_test()
    assert not result.ok
    assert result.detail.startswith("no answer from panel on /dev/pts/")


async def test_self_test_when_not_running() -> None:
    result = await PanelDriver(serial_config("/dev/ttyUSB9")).self_test()
    assert not result.ok and "not connected" in result.detail


async def test_run_cleans_up_the_simulator() -> None:
    h = Harness(PanelDriver(sim_config()))
    await h.start()
    await h.wait(PanelStatus, lambda s: s.connected)
    path = simulator_of(h).path
    await h.stop()
    assert simulator_of(h)._thread is None
    await asyncio.sleep(0.3)  # the reader thread closes its port within one read slice
    # (Not checked via the /dev/pts path: another process may already have been given that number.)
    leftovers = [t.name for t in threading.enumerate() if t.name.endswith(path)]
    assert leftovers == [], "simulator and reader threads must be gone"


# -- the serial backend -----------------------------------------------------------------------------------


async def test_serial_backend_on_a_standalone_simulator() -> None:
    with PanelSimulator(display_id=5) as sim:
        h = Harness(PanelDriver(serial_config(sim.path, display_id=5, baudrate=19200)))
        await h.start()
        try:
            status = await h.wait(PanelStatus, lambda s: s.connected)
            assert (status.power, status.input_source, status.volume) == ("on", "hdmi1", 30)
            assert (await h.command("input", "dp")).ok
            assert sim.state.input_source == "dp"
            assert h.driver.simulator is None
            assert all(c.display_id == 5 for c in sim.commands)
        finally:
            await h.stop()


async def test_cancelling_at_any_moment_releases_the_port() -> None:
    # The driver opens the port exclusively (flock): a leaked fd would lock out its own restart.
    with PanelSimulator() as sim:
        for delay in (0.0, 0.001, 0.005, 0.02, 0.1):
            h = Harness(PanelDriver(serial_config(sim.path)))
            await h.start()
            await asyncio.sleep(delay)
            await h.stop()
        # Reader threads close their ports within a read slice; allow for a loaded CI machine.
        for _ in range(30):
            try:
                port = await asyncio.to_thread(serial.Serial, sim.path, 9600, exclusive=True)
            except serial.SerialException:
                await asyncio.sleep(0.1)
                continue
            port.close()
            break
        else:
            raise AssertionError("the port stayed locked 3 s after the driver stopped")


async def test_wrong_display_id_gets_no_answer() -> None:
    with PanelSimulator(display_id=1) as sim:
        h = Harness(PanelDriver(serial_config(sim.path, display_id=0)))
        await h.start()
        try:
            await h.wait(PanelStatus, lambda s: not s.connected)
            await h.wait_state("degraded", "panel not answering")
            assert sim.replies_sent == 0 and sim.commands
        finally:
            await h.stop()


async def test_missing_port_degrades_and_retries() -> None:
    port = "/dev/ttyUSB-classroom-test-missing"
    h = Harness(PanelDriver(serial_config(port)))
    await h.start()
    try:
        reason = await h.wait_state("degraded", "cannot open")
        assert reason == f"cannot open {port}: No such file or directory; retrying in 1 s"
        status = await h.wait(PanelStatus)
        assert (status.connected, status.power) == (False, "unknown")
        alert = await h.wait(DeviceAlert)
        assert alert.active and port in alert.message
        result = await h.command("power", True)
        assert not result.ok and result.error == f"panel not connected: {reason}"
        # Backoff doubles: the second attempt comes after ~1 s and announces 2 s.
        await h.wait_state("degraded", "retrying in 2 s", within=3)
        assert not h.task.done()
        assert sum(isinstance(e, DeviceAlert) for e in h.seen) == 1, "alert once, not per retry"
    finally:
        await h.stop()


async def test_port_vanishing_mid_run_is_survived() -> None:
    sim = PanelSimulator().start()
    h = Harness(PanelDriver(serial_config(sim.path)))
    await h.start()
    try:
        await h.wait(PanelStatus, lambda s: s.connected)
        since = h.mark()
        sim.stop()  # the pty disappears, like a USB adapter pulled out
        await h.wait(PanelStatus, lambda s: not s.connected, since=since)
        await h.wait_state("degraded", "cannot open", within=5)
        assert not h.task.done()
    finally:
        await h.stop()
        sim.stop()


# -- under the real supervisor -------------------------------------------------------------------------------


async def test_runs_under_the_supervisor() -> None:
    bus = Bus()
    states = bus.subscribe(ComponentStateChanged, name="test")
    sup = Supervisor(bus, RestartPolicy(tick_s=0.1))
    driver = PanelDriver(sim_config())
    sup.add(driver)
    await sup.start()
    try:
        async with asyncio.timeout(5):
            while (await states.get()).state != "ok":
                pass
        assert sup.status()["panel"] == {"state": "ok", "kind": "driver", "restarts": 0, "last_error": None}
        assert (await sup.self_test("panel"))["ok"]
        assert bus.last(PanelStatus) is not None
    finally:
        await sup.stop()
        states.close()
    assert driver.simulator is not None and driver.simulator._thread is None


def test_simulator_obeys_broadcast_silently() -> None:
    with PanelSimulator(display_id=3, latency_s=0) as sim:
        port = serial.Serial(sim.path, 9600, timeout=0.2)
        try:
            port.write(mdc.encode_command(mdc.CMD_POWER, mdc.BROADCAST_ID, b"\x00"))
            assert port.read(16) == b""
            assert sim.state.power is False
            port.write(mdc.encode_command(mdc.CMD_POWER, 3))
            (reply,) = mdc.FrameDecoder().feed(port.read(16))
            assert (reply.ack, reply.display_id, reply.values) == (True, 3, b"\x00")
        finally:
            port.close()
