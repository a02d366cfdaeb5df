"""The interactive panel's RS-232 driver: Samsung MDC over pyserial, published as typed bus events.

This is the worked example of the driver framework. Everything above it sees only
:class:`~appliance.events.PanelStatus`, :class:`~appliance.events.PanelCommandResult` and
:class:`~appliance.events.DeviceAlert`, and asks for changes with :class:`~appliance.events.PanelCommand`;
whether a real panel or the pty simulator is on the other end of the port is invisible to it.

Rules this driver lives by, because a classroom box runs unattended for a whole term:

* a missing or broken port is never fatal: retry with backoff, stay ``degraded`` with a reason;
* blocking serial I/O never runs on the event loop: a reader thread feeds an asyncio queue and
  writes go through ``ctx.run_blocking``;
* line noise is logged once per burst and decoding resynchronises on the next frame;
* a panel that stops answering is reported (status, degraded, alert) and recovery is automatic.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import serial

from appliance.bus import Subscription
from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import PanelSerialConfig, PanelSimulatorConfig
from appliance.events import DeviceAlert, PanelCommand, PanelCommandResult, PanelStatus
from drivers.backoff import Backoff
from drivers.panel import mdc
from drivers.panel.simulator import PanelSimulator

RunBlocking = Callable[..., Awaitable[Any]]

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 30.0
# Polls in a row without an answer before the panel is declared gone: one lost reply is line noise.
MISSES_BEFORE_DISCONNECTED = 3
# How often the run loop proves it is alive, well inside heartbeat_timeout_s.
HEARTBEAT_EVERY_S = 2.0
# How long one blocking read in the reader thread waits, i.e. how fast it notices it should stop.
READ_SLICE_S = 0.1
WRITE_TIMEOUT_S = 1.0


class PanelLinkError(Exception):
    """The serial port itself failed (USB adapter pulled, pty gone): reopen it."""


class _SerialLink:
    """One open serial port: a reader thread that owns reads, and request/response on top.

    A dedicated thread (rather than one executor call per read) because replies can arrive late,
    torn or unasked-for; the thread hands every byte to the loop and the decoder sorts it out.
    """

    def __init__(
        self,
        port: serial.Serial,
        label: str,
        display_id: int,
        reply_timeout_s: float,
        run_blocking: RunBlocking,
        loop: asyncio.AbstractEventLoop,
        logger: logging.Logger,
    ) -> None:
        self._serial = port
        self._log = logger
        self.label = label
        self.display_id = display_id
        self.reply_timeout_s = reply_timeout_s
        self._run_blocking = run_blocking
        self._loop = loop
        self._queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        self._decoder = mdc.FrameDecoder()
        self._lock = asyncio.Lock()
        self._closing = threading.Event()
        self.broken: BaseException | None = None
        self._thread = threading.Thread(target=self._read_loop, name=f"panel-reader-{label}", daemon=True)
        self._thread.start()

    @staticmethod
    def open_port(path: str, baudrate: int) -> serial.Serial:
        """Blocking: open and configure the port (8N1, no flow control, as MDC specifies)."""
        port = serial.Serial(
            port=path,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=READ_SLICE_S,
            write_timeout=WRITE_TIMEOUT_S,
            exclusive=True,
        )
        port.reset_input_buffer()
        return port

    # -- reader thread ------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        try:
            while not self._closing.is_set():
                data = self._serial.read(self._serial.in_waiting or 1)
                if data:
                    self._post(data)
        except Exception as exc:  # pyserial raises SerialException, OSError or TypeError on a dying fd
            if not self._closing.is_set():
                self._post(exc)
        finally:
            try:
                self._serial.close()
            except Exception as exc:
                self._log.debug("closing %s: %s", self.label, exc)

    def _post(self, item: bytes | BaseException) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the daemon is exiting
            self._closing.set()

    def close(self) -> None:
        """Non-blocking: the reader thread closes the port itself within one read slice."""
        self._closing.set()
        try:
            self._serial.cancel_read()
        except Exception as exc:
            self._log.debug("cancel_read on %s: %s", self.label, exc)

    # -- request / response ---------------------------------------------------------------------------
    async def request(self, cmd: int, data: bytes = b"") -> mdc.Reply | None:
        """Send one command and wait for its reply; None when the panel stays silent."""
        async with self._lock:
            if self.broken is not None:
                raise PanelLinkError(str(self.broken))
            try:
                self._discard_stale()
                await self._write(mdc.encode_command(cmd, self.display_id, data))
                return await self._await_reply(cmd)
            finally:
                # One line per exchange, however many reads the noise arrived in.
                self._log_noise()

    async def _write(self, frame: bytes) -> None:
        try:
            await self._run_blocking(self._serial.write, frame)
        except Exception as exc:
            self.broken = exc
            raise PanelLinkError(f"write failed: {exc}") from exc

    async def _await_reply(self, cmd: int) -> mdc.Reply | None:
        deadline = self._loop.time() + self.reply_timeout_s
        while (remaining := deadline - self._loop.time()) > 0:
            try:
                async with asyncio.timeout(remaining):  # not wait_for: 3.11's can swallow a cancel
                    item = await self._queue.get()
            except TimeoutError:
                break
            for reply in self._decode(item):
                if reply.display_id == self.display_id and reply.rcmd == cmd:
                    return reply
                self._log.debug("ignoring reply not meant for this request: %s", reply)
        # Whatever half-frame is left will never be completed; do not let it swallow the next reply.
        self._decoder.reset()
        return None

    def _discard_stale(self) -> None:
        """Drop late replies to earlier, timed-out requests so they cannot answer this one."""
        while not self._queue.empty():
            for reply in self._decode(self._queue.get_nowait()):
                self._log.debug("discarding late reply: %s", reply)

    def _decode(self, item: bytes | BaseException) -> list[mdc.Reply]:
        if self.broken is not None:
            raise PanelLinkError(str(self.broken))
        if isinstance(item, BaseException):
            self.broken = item
            raise PanelLinkError(str(item)) from item
        return self._decoder.feed(item)

    def _log_noise(self) -> None:
        errors = self._decoder.pop_errors()
        if errors:
            self._log.warning("ignored line noise from the panel on %s: %s", self.label, mdc.summarize_errors(errors))


class PanelDriver(Component):
    """Keeps the classroom panel's state on the bus and executes panel commands."""

    name = "panel"
    kind = "driver"
    heartbeat_timeout_s = 20.0
    # "ok" means the panel answered, not merely that the driver is running.
    ready_on_heartbeat = False

    def __init__(self, config: PanelSerialConfig | PanelSimulatorConfig) -> None:
        self.config = config
        # Created once so a simulated panel keeps its state across driver restarts, like a real one.
        self.simulator: PanelSimulator | None = (
            PanelSimulator(display_id=config.display_id) if config.backend == "simulator" else None
        )
        self._link: _SerialLink | None = None
        self._problem = "driver not started"
        self._reachable: bool | None = None
        self._alert_active = False
        self._missed = 0

    @property
    def port(self) -> str:
        """The device path in use; for the simulator, its pty (so log lines look like real ones)."""
        if isinstance(self.config, PanelSerialConfig):
            return self.config.port
        return self.simulator.path if self.simulator and self.simulator.path else "(simulator pty)"

    @property
    def _baudrate(self) -> int:
        return self.config.baudrate if isinstance(self.config, PanelSerialConfig) else 9600

    # -- life cycle ---------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        # A restarted driver starts "starting" again: it must re-earn "ok" from a real answer.
        self._reachable = None
        self._missed = 0
        sub: Subscription[PanelCommand] = ctx.bus.subscribe(PanelCommand, name="panel-driver")
        try:
            if self.simulator is not None:
                self.simulator.start()
            await self._connect_loop(ctx, sub)
        finally:
            sub.close()
            if self._link is not None:
                self._link.close()
                self._link = None
            if self.simulator is not None:
                self.simulator.stop()

    async def _connect_loop(self, ctx: ComponentContext, sub: Subscription[PanelCommand]) -> None:
        backoff = Backoff(BACKOFF_INITIAL_S, BACKOFF_MAX_S)
        while True:
            link = await self._open(ctx, backoff.nominal_s)
            if link is None:
                await self._idle(ctx, sub, backoff.next())
                continue
            backoff.reset()
            self._link = link
            try:
                await self._serve(ctx, link, sub)
            except PanelLinkError as exc:
                ctx.log.warning("lost the serial port %s: %s", self.port, exc)
                self._set_unreachable(ctx, f"serial port {self.port} failed: {exc}", then="reopening it")
            finally:
                self._link = None
                link.close()

    async def _open(self, ctx: ComponentContext, retry_in: float) -> _SerialLink | None:
        try:
            port = await _open_cancel_safe(ctx, self.port, self._baudrate)
        except (serial.SerialException, OSError, ValueError) as exc:
            reason = f"cannot open {self.port}: {_open_failure_reason(exc)}"
            self._set_unreachable(ctx, reason, then=f"retrying in {retry_in:.0f} s")
            return None
        ctx.log.info("opened %s at %d baud (MDC display id %d)", self.port, self._baudrate, self.config.display_id)
        return _SerialLink(
            port,
            self.port,
            self.config.display_id,
            self.config.reply_timeout_s,
            ctx.run_blocking,
            asyncio.get_running_loop(),
            ctx.log,
        )

    async def _idle(self, ctx: ComponentContext, sub: Subscription[PanelCommand], seconds: float) -> None:
        """Wait out a backoff delay, still heartbeating and still answering commands (with a no)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            ctx.heartbeat()
            command = await _next_command(sub, min(remaining, HEARTBEAT_EVERY_S))
            if command is not None:
                self._reply(ctx, command, f"panel not connected: {self._problem}")

    async def _serve(self, ctx: ComponentContext, link: _SerialLink, sub: Subscription[PanelCommand]) -> None:
        """Poll on a timer and execute commands as they come, until the port fails."""
        loop = asyncio.get_running_loop()
        self._missed = 0
        next_poll = loop.time()
        while True:
            ctx.heartbeat()
            now = loop.time()
            if now >= next_poll:
                await self._poll(ctx, link)
                next_poll = loop.time() + self.config.poll_interval_s
                continue
            command = await _next_command(sub, min(next_poll - now, HEARTBEAT_EVERY_S))
            if command is not None:
                await self._execute(ctx, link, command)

    # -- polling -------------------------------------------------------------------------------------
    async def _poll(self, ctx: ComponentContext, link: _SerialLink) -> None:
        reply = await link.request(mdc.CMD_STATUS)
        if reply is None:
            self._missed += 1
            if self._missed >= MISSES_BEFORE_DISCONNECTED:
                self._set_unreachable(
                    ctx,
                    f"panel not answering on {self.port} (display id {self.config.display_id}); "
                    "check the RS-232 cable and that the panel is set to RS232C MDC",
                )
            return
        self._missed = 0
        self._set_reachable(ctx)
        status = _parse_status(reply)
        if status is None:
            ctx.log.warning("panel answered the status query with %s", _describe_failure(reply))
            return
        ctx.bus.publish(
            PanelStatus(
                connected=True,
                power=status.power_label,
                input_source=status.input_source,
                volume=status.volume,
                muted=status.muted,
            )
        )

    def _set_unreachable(self, ctx: ComponentContext, reason: str, then: str = "") -> None:
        """Report the panel out of reach: status and alert once, the degraded reason when it changes.

        Repeating an unchanged reason would re-publish the component state (and the supervisor would
        log it) on every poll for as long as the cable stays out.
        """
        problem = f"{reason}; {then}" if then else reason
        if problem != self._problem or ctx.state != "degraded":
            ctx.degraded(problem)
        self._problem = problem
        if self._reachable is False:
            return
        self._reachable = False
        ctx.bus.publish(PanelStatus(connected=False, power="unknown", input_source=None, volume=None, muted=None))
        ctx.bus.publish(
            DeviceAlert(
                source="panel",
                severity="warning",
                message=f"The classroom panel cannot be controlled: {reason}.",
            )
        )
        self._alert_active = True

    def _set_reachable(self, ctx: ComponentContext) -> None:
        if self._reachable is True:
            return
        if self._reachable is False:
            ctx.log.info("panel is answering again on %s", self.port)
        self._reachable = True
        self._problem = ""
        ctx.ok()
        if self._alert_active:
            ctx.bus.publish(
                DeviceAlert(
                    source="panel", severity="info", message="The classroom panel is answering again.", active=False
                )
            )
            self._alert_active = False

    # -- commands -------------------------------------------------------------------------------------
    async def _execute(self, ctx: ComponentContext, link: _SerialLink, command: PanelCommand) -> None:
        try:
            cmd, data = encode_action(command.action, command.value)
        except ValueError as exc:
            self._reply(ctx, command, str(exc))
            return
        try:
            reply = await link.request(cmd, data)
        except PanelLinkError as exc:
            self._reply(ctx, command, f"serial port {self.port} failed: {exc}")
            raise
        # Re-read the panel before answering, so whoever waits on the result sees the new state at once.
        await self._poll(ctx, link)
        if reply is None:
            self._reply(ctx, command, f"no answer from panel within {link.reply_timeout_s:.1f} s")
        elif not reply.ack:
            self._reply(ctx, command, f"panel refused: {_describe_failure(reply)}")
        else:
            self._reply(ctx, command, None)

    def _reply(self, ctx: ComponentContext, command: PanelCommand, error: str | None) -> None:
        if error is not None:
            ctx.log.warning("panel %s %r failed: %s", command.action, command.value, error)
        ctx.bus.publish(PanelCommandResult(request_id=command.request_id, ok=error is None, error=error))

    # -- self test ----------------------------------------------------------------------------------------
    async def self_test(self) -> SelfTestResult:
        """Ask the panel for its status over the wire, through the running driver's own port."""
        data: dict[str, Any] = {"port": self.port, "display_id": self.config.display_id}
        link = self._link
        if link is None:
            return SelfTestResult(False, f"panel not connected: {self._problem}", data)
        try:
            reply = await link.request(mdc.CMD_STATUS)
        except PanelLinkError as exc:
            return SelfTestResult(False, f"serial port {self.port} failed: {exc}", data)
        if reply is None:
            return SelfTestResult(
                False, f"no answer from panel on {self.port} within {link.reply_timeout_s:.1f} s", data
            )
        status = _parse_status(reply)
        if status is None:
            return SelfTestResult(False, f"panel answered the status query with {_describe_failure(reply)}", data)
        source = mdc.input_for_code(status.input_code)
        label = source.label if source else f"input {status.input_source}"
        data.update(
            power=status.power_label, input_source=status.input_source, volume=status.volume, muted=status.muted
        )
        detail = f"panel answered: power {status.power_label}, {label}, volume {status.volume}"
        return SelfTestResult(True, detail + (", muted" if status.muted else ""), data)


# -- helpers -------------------------------------------------------------------------------------------


def encode_action(action: str, value: str | int | bool) -> tuple[int, bytes]:
    """Turn a :class:`PanelCommand` into MDC command + data; ValueError says what was wrong."""
    if action == "power":
        return mdc.CMD_POWER, bytes((mdc.POWER_ON if _as_switch(value, "power") else mdc.POWER_OFF,))
    if action == "mute":
        return mdc.CMD_MUTE, bytes((int(_as_switch(value, "mute")),))
    if action == "volume":
        # Range checking is the panel's job (it NAKs); we only refuse what cannot fit in a byte.
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise ValueError(f"volume must be a whole number 0-100, not {value!r}")
        return mdc.CMD_VOLUME, bytes((value,))
    if action == "input":
        source = mdc.input_by_id(value) if isinstance(value, str) else None
        if source is None:
            known = ", ".join(s.id for s in mdc.INPUT_SOURCES)
            raise ValueError(f"unknown input {value!r} (known: {known})")
        return mdc.CMD_INPUT, bytes((source.code,))
    raise ValueError(f"unknown panel action {action!r}")


def _as_switch(value: str | int | bool, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    raise ValueError(f"{what} must be on or off, not {value!r}")


def _parse_status(reply: mdc.Reply) -> mdc.Status | None:
    try:
        return mdc.Status.from_reply(reply)
    except ValueError:
        return None


def _describe_failure(reply: mdc.Reply) -> str:
    if reply.ack:
        return f"an unreadable status ({reply.values.hex(' ')})"
    code = reply.error_code
    return "NAK without an error code" if code is None else f"NAK error 0x{code:02x}"


def _open_failure_reason(exc: BaseException) -> str:
    """pyserial's messages repeat the path twice; keep just the OS's reason, plus a hint if we have one."""
    code = getattr(exc, "errno", None)
    if not isinstance(code, int):
        return str(exc) or type(exc).__name__
    if code == errno.EACCES:
        return "permission denied (is the daemon's user in the 'dialout' group?)"
    if code in (errno.EAGAIN, errno.EWOULDBLOCK):
        return "port is in use by another program"
    return os.strerror(code)


async def _open_cancel_safe(ctx: ComponentContext, path: str, baudrate: int) -> serial.Serial:
    """Open in the executor; if we are cancelled meanwhile, close the port once it is open.

    Otherwise a shutdown during the open would leak the fd and its exclusive lock, and the next
    start would find the port "in use by another program".
    """
    future = asyncio.ensure_future(ctx.run_blocking(_SerialLink.open_port, path, baudrate))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_close_if_opened)
        raise


def _close_if_opened(future: asyncio.Future[serial.Serial]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


async def _next_command(sub: Subscription[PanelCommand], wait_s: float) -> PanelCommand | None:
    """The next command, or None after ``wait_s`` so the caller can poll and heartbeat."""
    try:
        async with asyncio.timeout(wait_s):  # not wait_for: 3.11's can swallow a cancel
            return await sub.get()
    except TimeoutError:
        return None
