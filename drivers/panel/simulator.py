"""A Samsung MDC panel on a pseudo-terminal, for the demo and for tests.

The simulator is deliberately on the far side of a real tty: the driver opens ``simulator.path``
with pyserial exactly as it opens ``/dev/ttyUSB0``, so a passing test exercises the real port
handling (termios, torn reads, timeouts) and not a mock of it.

Modelled panel behaviour (what a driver must cope with on real hardware):

* it answers only its own display id; broadcast (0xFE) is obeyed silently;
* a frame with a bad checksum is ignored (no reply at all);
* out-of-range values and unknown commands get a NAK with an error code;
* while powered off it still answers status and power, but refuses picture/sound changes (NAK);
* someone at the panel can change things with the remote (:meth:`press_remote`);
* the cable can be pulled (:meth:`unplug`) and line noise injected (:meth:`inject_garbage`).

The NAK error codes below are this simulator's convention; the MDC specification only says a NAK
carries "an error code", and the driver reports whatever code the panel sends.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from drivers.panel import mdc

log = logging.getLogger(__name__)

ERR_BAD_VALUE = 0x01
ERR_NOT_WHILE_OFF = 0x02
ERR_UNSUPPORTED = 0x03


@dataclass(frozen=True)
class PanelState:
    """A snapshot of what the simulated panel is showing."""

    power: bool = True
    volume: int = 30
    muted: bool = False
    input_code: int = 0x21
    aspect: int = 0x10

    @property
    def input_source(self) -> str:
        src = mdc.input_for_code(self.input_code)
        return src.id if src else f"0x{self.input_code:02x}"

    def to_status(self) -> mdc.Status:
        return mdc.Status(
            power=mdc.POWER_ON if self.power else mdc.POWER_OFF,
            volume=self.volume,
            muted=self.muted,
            input_code=self.input_code,
            aspect=self.aspect,
            n_time_nf=0,
            f_time_nf=0,
        )


class PanelSimulator:
    """Answers MDC commands on the master side of a pty; ``path`` is the slave for the driver."""

    def __init__(
        self,
        display_id: int = 0,
        *,
        latency_s: float = 0.01,
        initial: PanelState | None = None,
    ) -> None:
        self.display_id = display_id
        self.latency_s = latency_s
        self._state = initial or PanelState()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._plugged = True
        self._decoder = mdc.CommandDecoder()
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.path = ""
        self.commands: list[mdc.Command] = []
        self.replies_sent = 0

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> PanelSimulator:
        if self._thread is not None:
            return self
        master, slave = os.openpty()
        # Raw on both ends: no echo, no CR/LF translation, no ^C handling of 0x03 bytes.
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        # We keep the slave open ourselves so the master never sees EIO while the driver reconnects.
        self.path = os.ttyname(slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"panel-sim-{self.path}", daemon=True)
        self._thread.start()
        log.info("simulated MDC panel (display id %d) on %s", self.display_id, self.path)
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"x")
        thread.join(timeout=2)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = self._wake_r = self._wake_w = None

    def __enter__(self) -> PanelSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- what a test (or a person at the panel) can do ------------------------------------------
    @property
    def state(self) -> PanelState:
        with self._lock:
            return self._state

    @property
    def plugged(self) -> bool:
        return self._plugged

    def unplug(self) -> None:
        """Stop answering, as if the RS-232 cable were pulled; commands sent meanwhile are lost."""
        self._plugged = False

    def replug(self) -> None:
        self._plugged = True

    def inject_garbage(self, data: bytes) -> None:
        """Put line noise on the wire towards the driver."""
        self._write(data)

    def press_remote(
        self,
        *,
        power: bool | None = None,
        volume: int | None = None,
        muted: bool | None = None,
        input_source: str | None = None,
    ) -> None:
        """Change the panel the way a person with the IR remote would: no MDC traffic at all."""
        changes: dict[str, object] = {}
        if power is not None:
            changes["power"] = power
        if volume is not None:
            changes["volume"] = max(0, min(100, volume))
        if muted is not None:
            changes["muted"] = muted
        if input_source is not None:
            src = mdc.input_by_id(input_source)
            if src is None:
                raise ValueError(f"unknown input {input_source!r}")
            changes["input_code"] = src.code
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]

    # -- the panel's side of the line ---------------------------------------------------------------
    def _serve(self) -> None:
        assert self._master is not None and self._wake_r is not None
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._master, self._wake_r], [], [])
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                time.sleep(0.01)
                continue
            if not self._plugged:
                self._decoder.reset()
                self._decoder.pop_errors()
                continue
            for command in self._decoder.feed(data):
                self._handle(command)
            self._decoder.pop_errors()

    def _handle(self, command: mdc.Command) -> None:
        self.commands.append(command)
        if command.display_id not in (self.display_id, mdc.BROADCAST_ID):
            return
        ack, values = self._execute(command)
        if command.display_id == mdc.BROADCAST_ID:
            return
        if self.latency_s:
            time.sleep(self.latency_s)
        if not self._plugged or self._stopping.is_set():
            return
        self._write(mdc.encode_reply(self.display_id, command.cmd, values, ack=ack))
        self.replies_sent += 1

    def _execute(self, command: mdc.Command) -> tuple[bool, bytes]:
        """Apply one command; returns (ack, values) for the reply."""
        with self._lock:
            handler = {
                mdc.CMD_STATUS: self._status,
                mdc.CMD_POWER: self._power,
                mdc.CMD_VOLUME: self._volume,
                mdc.CMD_MUTE: self._mute,
                mdc.CMD_INPUT: self._input,
            }.get(command.cmd)
            if handler is None:
                return False, bytes((ERR_UNSUPPORTED,))
            return handler(command.data)

    def _status(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            return False, bytes((ERR_UNSUPPORTED,))
        return True, self._state.to_status().to_values()

    def _power(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            if len(data) != 1 or data[0] not in (mdc.POWER_OFF, mdc.POWER_ON, mdc.POWER_REBOOT):
                return False, bytes((ERR_BAD_VALUE,))
            on = data[0] != mdc.POWER_OFF
            self._state = replace(self._state, power=on)
        return True, bytes((int(self._state.power),))

    def _volume(self, data: bytes) -> tuple[bool, bytes]:
        return self._set_int(data, "volume", lambda v: 0 <= v <= 100)

    def _mute(self, data: bytes) -> tuple[bool, bytes]:
        return self._set_int(data, "muted", lambda v: v in (0, 1))

    def _input(self, data: bytes) -> tuple[bool, bytes]:
        return self._set_int(data, "input_code", lambda v: mdc.input_for_code(v) is not None)

    def _set_int(self, data: bytes, field: str, valid: Callable[[int], bool]) -> tuple[bool, bytes]:
        """Shared get/set logic of the one-byte settings that need the panel switched on."""
        if data:
            if len(data) != 1 or not valid(data[0]):
                return False, bytes((ERR_BAD_VALUE,))
            if not self._state.power:
                return False, bytes((ERR_NOT_WHILE_OFF,))
            value: object = bool(data[0]) if field == "muted" else data[0]
            self._state = replace(self._state, **{field: value})  # type: ignore[arg-type]
        return True, bytes((int(getattr(self._state, field)),))

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self._master is None:
                return
            try:
                os.write(self._master, data)
            except OSError as exc:
                log.debug("simulated panel could not write: %s", exc)
