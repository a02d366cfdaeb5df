"""A simulated USB pen gateway on a pseudo-terminal, relaying simulated pens in the envelope of gateway.py.

As with the panel simulator, the driver opens :attr:`GatewaySim.path` with the same pyserial code it uses
for ``/dev/ttyUSB0``, so a passing test exercises termios, torn reads and the envelope decoder for real.
The gateway answers HELLO with GATEWAY_INFO and announces every pen in range; pens that come into range
later are announced then, pens that leave are reported gone.

Threads: one reads the master side (the host's envelopes) and hands them to the event loop; one writes,
so a host that stops reading blocks a thread, not the simulated class. If the host stops reading for
long, the write queue is capped and the overflow dropped and counted, as a real gateway's buffer would.
:meth:`GatewaySim.unplug` keeps the ledger honest: the pens stop streaming first, and what was already
sent is given a moment to reach the host before the tty goes away.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import select
import struct
import termios
import threading
import time
import tty

from drivers.smartpen import gateway
from drivers.smartpen.gateway import Envelope, EnvelopeDecoder
from drivers.smartpen.sim_pen import SimPen

log = logging.getLogger(__name__)

MAX_QUEUED_WRITES = 20_000
INFO = b"SIM-PEN-GW 1.0 (simulated gateway)"


class _Slot:
    """A pen's connection through the gateway: its bytes go out as DATA envelopes."""

    def __init__(self, gw: GatewaySim, pen_id: str) -> None:
        self._gw = gw
        self._pen_id = pen_id

    def send(self, data: bytes) -> None:
        self._gw.write(gateway.encode_data(self._pen_id, data))


class GatewaySim:
    def __init__(self, pens: list[SimPen]) -> None:
        self.pens = {p.pen_id: p for p in pens}
        self.path = ""
        self.host_listening = False
        self.hellos = 0
        self.dropped_writes = 0
        self.noise_injected = 0
        self._linked: dict[str, _Slot] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._writes: queue.Queue[bytes | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._decoder = EnvelopeDecoder()

    # -- life cycle -----------------------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._threads:
            return
        self._loop = loop
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)  # a stalled host must not wedge the writer thread at stop()
        self._master, self._slave = master, slave
        # We keep the slave open ourselves so the master never sees EIO while the driver reconnects.
        self.path = os.ttyname(slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._writes = queue.Queue()
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"pen-gw-sim-read-{self.path}", daemon=True),
            threading.Thread(target=self._write_loop, name=f"pen-gw-sim-write-{self.path}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("simulated pen gateway on %s (%d pens)", self.path, len(self.pens))

    def unplug(self, drain_s: float = 1.0) -> None:
        """Pull the gateway out while the host is reading: what was already sent still reaches the host."""
        self.stop(drain_s)

    def stop(self, drain_s: float = 0.0) -> None:
        """Close the tty. With ``drain_s`` the pens stop streaming first and bytes already sent are given that
        long to reach the host, so the simulator's ledger of delivered events stays true."""
        if not self._threads:
            return
        for pen_id in list(self._linked):
            self.pens[pen_id].detach()
        self._linked.clear()
        self.host_listening = False
        self._writes.put(None)
        if drain_s > 0:
            self._threads[1].join(timeout=drain_s)
            deadline = time.monotonic() + drain_s
            while self._slave is not None and _queued(self._slave) and time.monotonic() < deadline:
                time.sleep(0.01)
        self._stopping.set()
        if self._wake_w is not None:
            os.write(self._wake_w, b"x")
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads = []
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = self._wake_r = self._wake_w = None

    # -- the class clock ------------------------------------------------------------------------------------
    def tick(self, in_range: dict[str, bool]) -> None:
        """Announce pens that came into range, report those that left."""
        if not self.host_listening:
            return
        for pen_id, pen in self.pens.items():
            here = in_range.get(pen_id, False)
            if here and pen_id not in self._linked:
                self._link(pen)
            elif not here and pen_id in self._linked:
                del self._linked[pen_id]
                pen.detach()
                self.write(gateway.encode_envelope(Envelope(gateway.PEN_DISCONNECTED, pen_id)))

    def inject_noise(self, data: bytes) -> None:
        """Line noise between envelopes (a flaky USB cable)."""
        self.noise_injected += len(data)
        self.write(data)

    def _link(self, pen: SimPen) -> None:
        slot = _Slot(self, pen.pen_id)
        self._linked[pen.pen_id] = slot
        pen.attach(slot)
        self.write(gateway.encode_envelope(Envelope(gateway.PEN_CONNECTED, pen.pen_id)))

    # -- host side ------------------------------------------------------------------------------------------
    def _on_envelope(self, env: Envelope) -> None:
        if env.type == gateway.HELLO:
            self.hellos += 1
            self.host_listening = True
            self.write(gateway.encode_envelope(Envelope(gateway.GATEWAY_INFO, gateway.NO_PEN, INFO)))
            # A (re)started host knows nobody: announce every linked pen again.
            for pen_id in list(self._linked):
                self.pens[pen_id].attach(self._linked[pen_id])
                self.write(gateway.encode_envelope(Envelope(gateway.PEN_CONNECTED, pen_id)))
        elif env.type == gateway.DATA:
            pen = self.pens.get(env.pen_id)
            if pen is not None and env.pen_id in self._linked:
                pen.on_host_bytes(env.payload)

    def write(self, data: bytes) -> None:
        if self._writes.qsize() >= MAX_QUEUED_WRITES:
            self.dropped_writes += 1
            return
        self._writes.put(data)

    def _read_loop(self) -> None:
        assert self._master is not None and self._wake_r is not None
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._master, self._wake_r], [], [])
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                self._stopping.wait(0.01)
                continue
            envelopes = self._decoder.feed(data)
            self._decoder.pop_errors()
            loop = self._loop
            if envelopes and loop is not None:
                try:
                    loop.call_soon_threadsafe(self._deliver, envelopes)
                except RuntimeError:  # the loop is closed
                    return

    def _deliver(self, envelopes: list[Envelope]) -> None:
        for env in envelopes:
            self._on_envelope(env)

    def _write_loop(self) -> None:
        last = False
        while not last and not self._stopping.is_set():
            data = self._writes.get()
            if data is None:
                return
            while not self._writes.empty():  # coalesce what queued up meanwhile
                more = self._writes.get_nowait()
                if more is None:
                    last = True
                    break
                data += more
            fd = self._master
            if fd is None:
                return
            view = memoryview(data)
            while view and not self._stopping.is_set():
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    select.select([], [fd], [], 0.1)
                    continue
                except OSError as exc:
                    log.debug("simulated gateway could not write: %s", exc)
                    break
                view = view[written:]


def _queued(fd: int) -> int:
    """Bytes in the tty's input queue that the host has not read yet."""
    try:
        raw = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])
