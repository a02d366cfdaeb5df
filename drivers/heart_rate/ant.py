"""ANT+ heart-rate straps through an ANT USB stick (openant), published as the same HeartRateSample.

Why continuous scan mode: a stick has 8 channels and a normal slave channel tracks one strap, but
a class wears 30-50. In scan mode (0x5B) channel 0 listens 100 % of the time and hears every
transmitter matching its channel id mask: device number 0 and transmission type 0 (wildcards),
device type 0x78 (heart rate), RF 57, the ANT+ network key. Each broadcast then carries the strap's
channel id in extended data (flag 0x80), so one channel serves the whole class. We ask for RSSI as
well (LIB_CONFIG 0xC0) and fall back to ENABLE_EXT_RX_MESGS (channel id only) on sticks that
refuse it. A stick without scan mode is reported as unusable rather than half-working.

openant's ``Node`` is blocking and threaded, so a session runs in its own thread and hands
readings to the event loop with ``call_soon_threadsafe``; samples, the band table and the
malformed-data log are only touched on the loop. openant offers no way to hand ``Ant`` a driver
(``Ant.__init__`` calls ``find_driver()``), so ``_Ant``/``_Node`` repeat its two constructors with the
driver injected: real sticks and :class:`~drivers.heart_rate.ant_simulator.SimulatedAntStick` take
the same path. ``_GuardedDriver`` sits between openant and the driver because openant itself
would spin forever logging on a pulled stick and let one corrupt byte kill its reader thread.

One sample per strap per new heart beat (plus one a second while no beat arrives); ``rr_ms`` holds
the intervals measured since the last sample; ``contact`` is None (ANT+ HRM has no contact bit);
a computed heart rate of 0 (strap off the chest) produces no sample.
"""

from __future__ import annotations

import array
import asyncio
import collections
import errno
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import usb.core
from openant.base.ant import Ant
from openant.base.driver import Driver, DriverNotFound, USB2Driver, USB3Driver, find_driver
from openant.base.message import Message
from openant.devices import ANTPLUS_NETWORK_KEY
from openant.easy.channel import Channel
from openant.easy.node import Node

from appliance.events import HeartRateSample
from drivers.heart_rate.ant_pages import (
    ANTPLUS_RF_CHANNEL,
    EXT_CHANNEL_ID,
    EXT_RSSI,
    HRM_CHANNEL_PERIOD,
    HRM_DEVICE_TYPE,
    AntHrmPage,
    AntMessageSplitter,
    NotHeartRatePage,
    beats_between,
    encode_ant_message,
    parse_ant_broadcast,
    parse_ant_hrm_page,
    rr_intervals_ms,
)
from drivers.heart_rate.scanner import BandTable
from drivers.ratelimit import RateLimitedLog

AntStick = Literal["auto", "antusb2", "antusb-m"]

RESET_WAIT_S = 1.0  # what openant waits after a reset; a stick needs ~0.5 s
STOP_TIMEOUT_S = 1.8  # cancellation must leave within ~2 s
KEEPALIVE_S = 1.0  # a sample at least this often per strap even without a new beat
PREV_STALE_S = 5.0  # an older page cannot anchor an RR interval: counters may have wrapped
PENDING_RR_MAX = 32
ADV2_SCAN_MODE = 0x04  # capabilities byte 4, bit 2
# Shortest data openant indexes into without checking, per message id: shorter would kill its threads.
MIN_DATA = {0x40: 3, 0x4E: 9, 0x4F: 9, 0x50: 9, 0x51: 5, 0x52: 2, 0x54: 6, 0x6F: 1, 0xAE: 1}
EMPTY_READ_PAUSE_S = 0.01


class AntStickUnavailable(Exception):
    """No usable ANT stick: none plugged in, no permission, no libusb, or it refused the scan setup."""


class AntStickLost(AntStickUnavailable):
    """The stick failed after it had worked (pulled out, USB error)."""


def find_stick(stick: AntStick = "auto") -> Driver:
    """openant's driver for the chosen stick (not yet opened); AntStickUnavailable when there is none.

    ``auto`` is openant's own choice (ANTUSB-m, then ANTUSB2, then the old serial stick). openant
    opens the first stick with a given USB id, so two identical sticks cannot be told apart.
    """
    try:
        if stick == "auto":
            return find_driver()
        cls = {"antusb2": USB2Driver, "antusb-m": USB3Driver}[stick]
        if not cls.find():
            raise DriverNotFound(f"no {stick} ({cls.ID_VENDOR:04x}:{cls.ID_PRODUCT:04x})")
        return cls()
    except Exception as exc:
        raise AntStickUnavailable(describe_stick_error(exc)) from exc


def describe_stick_error(exc: BaseException) -> str:
    """What a technician should read for the ways opening a stick fails."""
    if isinstance(exc, AntStickUnavailable):
        return str(exc)
    if isinstance(exc, DriverNotFound):
        detail = f" ({exc})" if str(exc) else ""
        return f"no ANT USB stick found{detail}: looked for USB id 0fcf:1008 (ANTUSB2), 0fcf:1009 (ANTUSB-m), 0fcf:1004"
    if isinstance(exc, usb.core.NoBackendError):
        return "pyusb found no USB backend: libusb-1.0 is not installed"
    if isinstance(exc, usb.core.USBError) and exc.errno == errno.EACCES:
        return f"ANT stick found but not accessible ({exc}): it needs a udev rule for USB vendor 0fcf"
    if isinstance(exc, usb.core.USBError) and exc.errno == errno.EBUSY:
        return f"ANT stick is in use by another program ({exc})"
    if isinstance(exc, ValueError) and str(exc) == "Device not found":
        return "the ANT USB stick went away before it could be opened"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# -- openant with the driver handed in -------------------------------------------------------------------
class _Ant(Ant):
    """openant's ``Ant`` on a given driver; the same state as ``Ant.__init__`` (openant 1.3.x).

    The threads are daemons (openant's are not): a wedged stick must not keep the process alive.
    """

    def __init__(self, driver: Driver, reset_wait_s: float) -> None:
        self._driver = driver
        self._message_queue_cond = threading.Condition()
        self._message_queue: collections.deque[Any] = collections.deque()
        self._events: queue.Queue[Any] = queue.Queue()
        self._buffer = array.array("B", [])
        self._burst_data = array.array("B", [])
        self._last_data = array.array("B", [])
        self._running = True
        self._RESET_WAIT = reset_wait_s
        self._driver.open()
        self._worker_thread = threading.Thread(target=self._worker, name="openant.base", daemon=True)
        self._worker_thread.start()
        try:
            self.reset_system()
        except BaseException:
            self.stop()
            raise


class _Node(Node):
    """openant's ``Node`` on a given ``Ant``; the same state as ``Node.__init__`` (openant 1.3.x)."""

    def __init__(self, ant: Ant) -> None:
        self._responses_cond = threading.Condition()
        self._responses: collections.deque[Any] = collections.deque()
        self._event_cond = threading.Condition()
        self._events: collections.deque[Any] = collections.deque()
        self._datas: queue.Queue[Any] = queue.Queue()
        self.serial = None
        self.ant_version = None
        self.max_networks = 8
        self.max_channels = 8
        self.channels: list[Channel] = []
        self.standard_options: set[Any] = set()
        self.advanced_options: set[Any] = set()
        self.advanced_options_two: set[Any] = set()
        self.advanced_options_three: set[Any] = set()
        self.max_sensorcore_channels = 0
        self.ant = ant
        self._running = True
        self._worker_thread = threading.Thread(target=self._worker, name="openant.easy", daemon=True)
        self._worker_thread.start()


class _GuardedDriver(Driver):
    """Between openant and the real driver: turns stick failures into one fault, passes only sound frames.

    openant's reader loops forever on a non-timeout USBError (a pulled stick) and dies on a bad
    checksum or a frame shorter than it indexes; here the first failure is reported through
    ``on_fault`` and reads go quiet, and frames are re-checked so garbage costs a log line only.
    """

    def __init__(
        self, inner: Driver, on_fault: Callable[[BaseException], None], on_garbage: Callable[[str], None]
    ) -> None:
        self._inner = inner
        self._on_fault = on_fault
        self._on_garbage = on_garbage
        self._splitter = AntMessageSplitter(lambda _code, reason: on_garbage(reason))
        self._closed = False
        self.fault: BaseException | None = None

    def open(self) -> None:
        self._inner.open()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._inner.close()
        except Exception as exc:  # a vanished stick cannot be closed cleanly; that is fine
            logging.getLogger(__name__).debug("closing the ANT stick: %s", exc)

    def read(self) -> array.array[int]:
        if self.fault is not None or self._closed:
            time.sleep(0.05)
            return array.array("B")
        started = time.monotonic()
        try:
            data = self._inner.read()
        except usb.core.USBTimeoutError:
            return array.array("B")
        except Exception as exc:
            self._fail(exc)
            return array.array("B")
        if not data:
            # openant's serial driver reads with timeout 0: without a pause its reader spins a core.
            if time.monotonic() - started < EMPTY_READ_PAUSE_S:
                time.sleep(EMPTY_READ_PAUSE_S)
            return array.array("B")
        out = bytearray()
        for msg in self._splitter.feed(data):
            if len(msg.data) < MIN_DATA.get(msg.msg_id, 0):
                self._on_garbage(f"message 0x{msg.msg_id:02X} with only {len(msg.data)} data byte(s)")
                continue
            out += encode_ant_message(msg.msg_id, msg.data)
        return array.array("B", out)

    def write(self, data: Any) -> None:
        try:
            self._inner.write(data)
        except Exception as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: BaseException) -> None:
        if self.fault is None:
            self.fault = exc
            self._on_fault(exc)


# -- the receiver ----------------------------------------------------------------------------------------
@dataclass
class _Reading:
    band_id: str
    bpm: int
    rr_ms: tuple[float, ...]
    battery: int | None
    battery_low: bool | None
    rssi: int | None


@dataclass
class _StrapState:
    page: AntHrmPage | None = None
    page_mono: float = 0.0
    published_mono: float = -1e9
    battery: int | None = None
    battery_low: bool | None = None
    pending_rr: list[float] = field(default_factory=list)


class AntReceiver:
    """Runs one ANT stick in continuous scan mode and turns every heart-rate strap it hears into samples."""

    def __init__(
        self,
        on_sample: Callable[[HeartRateSample], None],
        clock: Callable[[], float],
        table: BandTable,
        logger: logging.Logger,
        malformed: RateLimitedLog,
        driver_factory: Callable[[], Driver] | None = None,
        *,
        stick: AntStick = "auto",
        reset_wait_s: float = RESET_WAIT_S,
    ) -> None:
        self.stick = stick
        self.reset_wait_s = reset_wait_s
        self.running = False
        self.pages_heard = 0
        self.ignored_pages = 0
        self.rssi_reported = False
        self.last_page_mono: float | None = None
        self.stick_serial: int | None = None
        self._on_sample = on_sample
        self._clock = clock
        self._table = table
        self._log = logger
        self._malformed = malformed
        self._factory: Callable[[], Driver] = driver_factory or (lambda: find_stick(stick))
        self._generation = 0

    @property
    def first_page_heard(self) -> bool:
        return self.last_page_mono is not None

    def last_page_age_s(self) -> float | None:
        return None if self.last_page_mono is None else time.monotonic() - self.last_page_mono

    async def run(self) -> None:
        """Open the stick and publish samples until cancelled; raises AntStickUnavailable (or AntStickLost).

        Whatever way it ends, openant's threads are stopped and the driver closed before it returns
        (given up on after STOP_TIMEOUT_S: the threads are daemons).
        """
        loop = asyncio.get_running_loop()
        self._generation += 1
        session = _Session(self, loop, self._generation)
        thread = threading.Thread(target=session.serve, name="hr-ant", daemon=True)
        thread.start()
        try:
            await session.done
            raise AntStickLost("the ANT node stopped on its own")
        finally:
            self.running = False
            self._generation += 1  # readings still queued on the loop from this session are dropped
            await session.shutdown(thread)

    # -- on the event loop ------------------------------------------------------------------------------
    def _publish(self, generation: int, reading: _Reading) -> None:
        if generation != self._generation:
            return
        sample = HeartRateSample(
            band_id=reading.band_id,
            time=self._clock(),
            bpm=reading.bpm,
            contact=None,
            rr_ms=reading.rr_ms,
            battery=reading.battery,
            rssi=reading.rssi,
            source="ant",
        )
        self._table.note(sample, reading.battery_low)
        self._on_sample(sample)

    def _report_malformed(self, generation: int, key: str, message: str) -> None:
        if generation == self._generation:
            self._malformed.warning(key, message)

    def _ready(self, generation: int, detail: str) -> None:
        if generation == self._generation:
            self.running = True
            self._log.info("%s", detail)


class _Session:
    """One life of the stick: driver → Ant → Node → scan channel, served in its own thread."""

    def __init__(self, owner: AntReceiver, loop: asyncio.AbstractEventLoop, generation: int) -> None:
        self._owner = owner
        self._loop = loop
        self._generation = generation
        self.done: asyncio.Future[None] = loop.create_future()
        self._lock = threading.Lock()
        self._stopping = False
        self._configured = False  # past setup: serving, so the serve thread ends when the node stops
        self._ant: Ant | None = None
        self._node: Node | None = None
        self._guard: _GuardedDriver | None = None
        self._straps: dict[str, _StrapState] = {}

    # -- thread side ------------------------------------------------------------------------------------
    def serve(self) -> None:
        try:
            self._serve()
        except BaseException as exc:
            self._post(self._settle, exc)
        else:
            self._post(self._settle, None)

    def _serve(self) -> None:
        try:
            driver = self._owner._factory()
        except Exception as exc:
            raise AntStickUnavailable(describe_stick_error(exc)) from exc
        guard = self._guard = _GuardedDriver(driver, self._on_fault, self._on_garbage)
        try:
            ant = _Ant(guard, self._owner.reset_wait_s)
        except Exception as exc:
            guard.close()
            raise AntStickUnavailable(f"cannot open the ANT stick: {describe_stick_error(exc)}") from exc
        with self._lock:
            if self._stopping:
                ant.stop()
                return
            self._ant = ant
        node = _Node(ant)
        with self._lock:
            self._node = node
            if self._stopping:
                node.stop()
                return
        try:
            rssi = self._configure(node)
        except Exception as exc:
            if self._stopping:
                return
            if isinstance(exc, AntStickUnavailable):
                raise
            if guard.fault is not None:
                raise AntStickLost(f"the ANT stick failed during setup: {describe_stick_error(guard.fault)}") from exc
            raise AntStickUnavailable(f"the ANT stick refused the heart-rate scan setup: {exc}") from exc
        self._configured = True
        self._owner.rssi_reported = rssi
        self._owner.stick_serial = node.serial
        version = (node.ant_version or "version unknown").rstrip("\x00")  # the stick's string is NUL-terminated
        self._post(
            self._owner._ready,
            self._generation,
            f"ANT stick ready (serial {node.serial}, {version}): "
            f"scanning for ANT+ heart-rate straps{' with RSSI' if rssi else ''}",
        )
        node.start()  # openant's dispatch loop: returns once node.stop() is called

    def _configure(self, node: Node) -> bool:
        """Network key, capabilities, channel 0 as a wildcard HRM slave, extended data, scan mode."""
        node.set_network_key(0x00, list(ANTPLUS_NETWORK_KEY))
        _, _, caps = node.request_message(Message.ID.RESPONSE_CAPABILITIES)
        if len(caps) > 4 and not caps[4] & ADV2_SCAN_MODE:
            raise AntStickUnavailable("this ANT stick does not support continuous scan mode")
        channel = node.new_channel(Channel.Type.BIDIRECTIONAL_RECEIVE, 0x00)
        if channel.id != 0:  # openant's open_rx_scan_mode always names channel 0
            raise AntStickUnavailable(f"scan mode needs channel 0, openant gave channel {channel.id}")
        channel.on_broadcast_data = self._on_broadcast
        channel.on_burst_data = channel.on_acknowledge = lambda _data: None
        channel.set_id(0, HRM_DEVICE_TYPE, 0)
        channel.set_period(HRM_CHANNEL_PERIOD)
        channel.set_rf_freq(ANTPLUS_RF_CHANNEL)
        rssi = True
        try:
            node.ant.write_message(Message(Message.ID.LIB_CONFIG, [0x00, EXT_CHANNEL_ID | EXT_RSSI]))
            node.wait_for_response(Message.ID.LIB_CONFIG)
        except Exception as exc:  # openant raises a bare Exception for an error code
            self._owner._log.info("ANT stick refused LIB_CONFIG (%s); channel ids only, no RSSI", exc)
            channel.enable_extended_messages(1)
            rssi = False
        channel.open_rx_scan_mode()
        return rssi

    def _on_broadcast(self, data: Sequence[int]) -> None:
        """openant's dispatch thread; nothing may escape, or openant's loop dies with it."""
        try:
            self._handle(data)
        except Exception as exc:
            self._malformed("ANT", f"ignored an ANT broadcast that could not be handled: {type(exc).__name__}: {exc}")

    def _handle(self, data: Sequence[int]) -> None:
        owner = self._owner
        now = time.monotonic()
        owner.last_page_mono = now
        owner.pages_heard += 1
        try:
            broadcast = parse_ant_broadcast(data)
        except ValueError as exc:
            self._malformed("ANT", f"ignored malformed ANT broadcast data: {exc}")
            return
        cid = broadcast.channel_id
        if cid is None:
            self._malformed("ANT", "ignored an ANT broadcast without a channel id (extended messages are off)")
            return
        if cid.profile != HRM_DEVICE_TYPE:
            owner.ignored_pages += 1
            return
        band_id = f"ANT:{cid.extended_number}"
        try:
            page = parse_ant_hrm_page(broadcast.payload)
        except NotHeartRatePage:
            owner.ignored_pages += 1  # a common page (manufacturer, battery...) a strap may answer with
            return
        except ValueError as exc:
            self._malformed(band_id, f"ignored a malformed ANT+ heart-rate page from {band_id}: {exc}")
            return
        st = self._straps.setdefault(band_id, _StrapState())
        prev = st.page if st.page is not None and now - st.page_mono <= PREV_STALE_S else None
        new_beat = prev is None or beats_between(prev, page) > 0
        st.pending_rr.extend(rr_intervals_ms(prev, page))
        del st.pending_rr[:-PENDING_RR_MAX]
        st.page, st.page_mono = page, now
        battery_changed = page.battery_pct is not None and page.battery_pct != st.battery
        if page.battery_pct is not None:
            st.battery = page.battery_pct
        if page.battery_low is not None:
            st.battery_low = page.battery_low
        if page.bpm == 0 or not (new_beat or battery_changed or now - st.published_mono >= KEEPALIVE_S):
            return
        reading = _Reading(band_id, page.bpm, tuple(st.pending_rr), st.battery, st.battery_low, broadcast.rssi_dbm)
        st.pending_rr.clear()
        st.published_mono = now
        self._post(self._owner._publish, self._generation, reading)

    def _malformed(self, key: str, message: str) -> None:
        self._post(self._owner._report_malformed, self._generation, key, message)

    def _on_garbage(self, reason: str) -> None:
        self._malformed("ANT", f"ignored garbled bytes from the ANT stick: {reason}")

    def _on_fault(self, exc: BaseException) -> None:
        self._post(self._settle, AntStickLost(f"the ANT stick stopped working: {describe_stick_error(exc)}"))

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            pass

    # -- loop side --------------------------------------------------------------------------------------
    def _settle(self, exc: BaseException | None) -> None:
        if self.done.done():
            return
        if exc is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(exc)

    async def shutdown(self, thread: threading.Thread) -> None:
        """Stop openant's threads and close the driver, off the loop, waiting at most STOP_TIMEOUT_S."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        stopped: asyncio.Future[None] = self._loop.create_future()

        def stop() -> None:
            with self._lock:
                self._stopping = True
                node, ant = self._node, self._ant
            try:
                if node is not None:
                    node.stop()
                elif ant is not None:
                    ant.stop()
                if node is None or self._configured:
                    # Serving: node.start() returns within ~1 s. Still opening: the serve thread closes
                    # what it built. (Mid-setup it waits in openant for an answer that will not come,
                    # for up to 10 s; the driver is closed already, so it is not waited for.)
                    thread.join(max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                self._owner._log.debug("stopping the ANT node: %s", exc)
            finally:
                if self._guard is not None and not thread.is_alive():
                    self._guard.close()
                self._post(_resolve, stopped)

        threading.Thread(target=stop, name="hr-ant-stop", daemon=True).start()
        try:
            await asyncio.wait_for(asyncio.shield(stopped), max(0.1, deadline - time.monotonic() + 0.1))
        except TimeoutError:
            self._owner._log.warning(
                "the ANT node did not stop within %.1f s; leaving its threads behind", STOP_TIMEOUT_S
            )
        if not self.done.done():
            self.done.cancel()
        elif not self.done.cancelled():
            self.done.exception()  # retrieved: run() already raised it, or it no longer matters


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
