"""A simulated ANT USB stick with N heart-rate straps in range, speaking real ANT serial bytes.

It replaces openant's USB driver (``openant.base.driver.USBDriver``: ``open/read/write/close``),
the lowest layer a test can reach: openant's own ``Ant`` worker thread frames and parses every
byte, its ``Node``/``Channel`` wait for the responses, exactly as with an ANTUSB2 or ANTUSB-m.

What the stick does, as a real one does:

* answers reset with the start-up message (0x6F), REQUEST_MESSAGE (0x4D) for capabilities,
  serial number, version, channel id and channel status;
* answers every configuration/control command with a channel response (0x40 ``channel, msg id,
  code``): RESPONSE_NO_ERROR, or the error a stick gives (CHANNEL_IN_WRONG_STATE, CLOSE_ALL_CHANNELS
  for scan mode with a channel open, INVALID_MESSAGE for what it does not support);
* a host frame with a bad sync byte or checksum gets a serial error message (0xAE);
* on an open channel, only straps that match the channel id mask, on a network holding the ANT+
  key and on RF channel 57 are heard: continuous scan mode (0x5B on channel 0) hears all of them,
  a normal slave channel tracks the first matching strap it finds;
* broadcast data (0x4E) carries real ANT+ HRM pages: the main page (4, or 0 for a legacy strap)
  64 times, then a background page (1, 2, 3, 7 in turn) 4 times; the toggle bit flips every 4
  messages; extended data (channel id, RSSI, timestamp) per ENABLE_EXT_RX_MESGS / LIB_CONFIG.

Each strap transmits every 8070/32768 s (4.06 Hz) of its own clock; ``time_scale`` speeds every
strap clock up (beats, beat times, messages) so a test hears a minute in a few seconds. Heart
beats follow ``bpm_at(strap_index, strap_seconds)``, so the BLE simulator's physiology can feed it.
"""

from __future__ import annotations

import array
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import usb.core
from openant.base.driver import Driver, DriverException
from openant.base.message import Message
from openant.devices import ANTPLUS_NETWORK_KEY

from drivers.heart_rate.ant_pages import (
    ANTPLUS_RF_CHANNEL,
    EXT_CHANNEL_ID,
    EXT_RSSI,
    EXT_TIMESTAMP,
    HRM_CHANNEL_PERIOD,
    HRM_DEVICE_TYPE,
    AntChannelId,
    AntHrmPage,
    AntMessageSplitter,
    encode_ant_broadcast,
    encode_ant_hrm_page,
    encode_ant_message,
)

BpmCurve = Callable[[int, float], float]
BatteryCurve = Callable[[int, float], float]

MESSAGE_PERIOD_S = HRM_CHANNEL_PERIOD / 32768
MAIN_PAGES_BETWEEN_BACKGROUND = 64
BACKGROUND_PAGES = (1, 2, 3, 7)
MAX_CHANNELS = 8
MAX_NETWORKS = 8
# A real USB full-speed bulk endpoint hands over at most 64 bytes a transfer; frames may straddle.
USB_PACKET = 64
# Messages a strap sent while nobody read are lost on the air beyond this many.
MAX_BACKLOG = 8
BEATS_KEPT = 512

ID = Message.ID
CODE = Message.Code
CH_ASSIGNED, CH_SEARCHING, CH_TRACKING = 1, 2, 3
# Configuration commands a stick accepts that this simulation does not need to model.
ACCEPTED_ONLY = frozenset({0x44, 0x47, 0x49, 0x60, 0x63, 0x68, 0x71, 0x75})


def plausible_bpm(index: int, t: float) -> float:
    """A PE-ish curve: a per-strap resting rate rising to ~80 bpm above it and back every 4 minutes."""
    rest = 78 + (index * 7) % 20
    effort = 0.5 - 0.5 * math.cos(2 * math.pi * (t + 17 * index) / 240)
    return rest + 80 * effort


def draining_battery(index: int, t: float) -> float:
    """A coin cell that starts somewhere in 60-95 % and loses 1 % every 10 minutes."""
    return 95 - (index * 11) % 36 - t / 600


@dataclass
class SimStrap:
    """One strap: its channel id, its clock and heart beats, and how many messages it has sent."""

    index: int
    channel_id: AntChannelId
    rssi_dbm: int
    clock_offset_s: float  # strap seconds when the stick was created
    main_page: int
    beat_count: int
    last_beat_s: float
    prev_beat_s: float
    next_beat_s: float
    next_tx_mono: float
    rng: random.Random
    messages: int = 0
    on_air: bool = True
    beats: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=BEATS_KEPT))

    @property
    def band_id(self) -> str:
        return f"ANT:{self.channel_id.extended_number}"


@dataclass
class SimChannel:
    number: int
    channel_type: int = 0
    network: int = 0
    state: int = 0  # 0 unassigned, 1 assigned, 2 searching, 3 tracking
    mask: AntChannelId = field(default_factory=lambda: AntChannelId(0, 0, 0))
    period: int = 8192
    rf: int = 66
    tracking: SimStrap | None = None


class SimulatedAntStick(Driver):
    """An openant driver (``open/read/write/close``) backed by simulated straps instead of USB."""

    def __init__(
        self,
        straps: int = 3,
        *,
        bpm_at: BpmCurve = plausible_bpm,
        battery_at: BatteryCurve = draining_battery,
        time_scale: float = 1.0,
        seed: int = 7,
        device_numbers: Sequence[int] | None = None,
        legacy_straps: Collection[int] = (),
        main_pages_between_background: int = MAIN_PAGES_BETWEEN_BACKGROUND,
        background_pages: Sequence[int] = BACKGROUND_PAGES,
        beat_jitter: float = 0.02,
        scan_mode: bool = True,
        lib_config: bool = True,
        serial_number: int = 0x5EED0001,
        read_timeout_s: float = 0.05,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.bpm_at = bpm_at
        self.battery_at = battery_at
        self.main_between = main_pages_between_background
        self.background_pages = tuple(background_pages)
        self.beat_jitter = beat_jitter
        self.supports_scan_mode = scan_mode
        self.supports_lib_config = lib_config
        self.serial_number = serial_number
        self.read_timeout_s = read_timeout_s
        rng = random.Random(seed)
        numbers = list(device_numbers) if device_numbers is not None else _device_numbers(rng, straps)
        self._epoch = time.monotonic()
        self.straps = [self._make_strap(i, n, rng, i in legacy_straps) for i, n in enumerate(numbers[:straps])]
        self._cond = threading.Condition()
        self._out = bytearray()
        self._splitter = AntMessageSplitter(self._on_serial_error)
        self._reset_state()
        self.host_messages: list[tuple[int, bytes]] = []  # every message the host wrote, for tests
        self.serial_errors = 0
        self.opened = False
        self.closed = False
        self._unplugged = False

    # -- what tests look at -----------------------------------------------------------------------------
    @property
    def band_ids(self) -> list[str]:
        return [s.band_id for s in self.straps]

    @property
    def scanning(self) -> bool:
        return self._scan

    def strap_seconds(self, strap: SimStrap, mono: float | None = None) -> float:
        """A strap's own clock: seconds since it was switched on, ``time_scale`` × real time."""
        now = time.monotonic() if mono is None else mono
        return strap.clock_offset_s + (now - self._epoch) * self.time_scale

    def inject(self, raw: bytes) -> None:
        """Queue raw bytes as if the stick had sent them (garbled frames, odd pages) for tests."""
        with self._cond:
            self._out += raw
            self._cond.notify_all()

    def unplug(self) -> None:
        """Pull the stick: every later read or write fails as pyusb does for a vanished device."""
        with self._cond:
            self._unplugged = True
            self._cond.notify_all()

    # -- openant's Driver interface ------------------------------------------------------------------
    @classmethod
    def find(cls) -> bool:
        return True

    def open(self) -> None:
        self.opened = True

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def read(self) -> array.array[int]:
        """Up to one USB packet of what the stick has to say, waiting at most ``read_timeout_s``."""
        deadline = time.monotonic() + self.read_timeout_s
        with self._cond:
            while True:
                self._check_usable()
                now = time.monotonic()
                self._transmit_due(now)
                if self._out:
                    chunk = bytes(self._out[:USB_PACKET])
                    del self._out[:USB_PACKET]
                    return array.array("B", chunk)
                if now >= deadline:
                    return array.array("B")
                self._cond.wait(min(deadline, self._next_tx()) - now)

    def write(self, data: bytes | bytearray | Sequence[int]) -> None:
        with self._cond:
            self._check_usable()
            for msg_id, payload in self._splitter.feed(bytes(data)):
                self.host_messages.append((msg_id, payload))
                self._handle(msg_id, payload)
            self._cond.notify_all()

    def _check_usable(self) -> None:
        if self._unplugged:
            raise usb.core.USBError("No such device (it may have been disconnected)", 19, 19)
        if self.closed:
            raise DriverException("the simulated ANT stick is closed")

    # -- host → stick ---------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.channels = [SimChannel(n) for n in range(MAX_CHANNELS)]
        self.network_keys: list[list[int]] = [[0] * 8 for _ in range(MAX_NETWORKS)]
        self.ext_flags = 0
        self._scan = False

    def _respond(self, msg_id: int, data: bytes | Sequence[int]) -> None:
        self._out += encode_ant_message(msg_id, data)

    def _channel_response(self, channel: int, msg_id: int, code: int = CODE.RESPONSE_NO_ERROR) -> None:
        self._respond(ID.RESPONSE_CHANNEL, (channel, msg_id, code))

    def _on_serial_error(self, code: int, _reason: str) -> None:
        self.serial_errors += 1
        self._respond(ID.SERIAL_ERROR_MESSAGE, (code,))

    def _handle(self, msg_id: int, data: bytes) -> None:
        if msg_id == ID.RESET_SYSTEM:
            self._reset_state()
            self._out.clear()
            self._respond(ID.STARTUP_MESSAGE, (0x20,))  # bit 5: reset by command
            return
        if msg_id == ID.REQUEST_MESSAGE and len(data) >= 2:
            self._request(data[0], data[1])
            return
        if msg_id == ID.SET_NETWORK_KEY and len(data) == 9:
            if data[0] >= MAX_NETWORKS:
                self._channel_response(data[0], msg_id, CODE.INVALID_NETWORK_NUMBER)
            else:
                self.network_keys[data[0]] = list(data[1:])
                self._channel_response(data[0], msg_id)
            return
        if msg_id == ID.ENABLE_EXT_RX_MESGS and len(data) >= 2:
            self.ext_flags = EXT_CHANNEL_ID if data[1] else 0
            self._channel_response(0, msg_id)
            return
        if msg_id == ID.LIB_CONFIG and len(data) >= 2:
            if not self.supports_lib_config:
                self._channel_response(0, msg_id, CODE.INVALID_MESSAGE)
            else:
                self.ext_flags = data[1] & (EXT_CHANNEL_ID | EXT_RSSI | EXT_TIMESTAMP)
                self._channel_response(0, msg_id)
            return
        if msg_id == ID.OPEN_RX_SCAN_MODE and data:
            self._open_scan()
            return
        if not data or data[0] >= MAX_CHANNELS:
            self._channel_response(data[0] if data else 0, msg_id, CODE.INVALID_MESSAGE)
            return
        self._channel_command(self.channels[data[0]], msg_id, data)

    def _channel_command(self, ch: SimChannel, msg_id: int, data: bytes) -> None:
        code = self._apply(ch, msg_id, data)
        self._channel_response(ch.number, msg_id, code)
        if msg_id == ID.CLOSE_CHANNEL and code == CODE.RESPONSE_NO_ERROR:
            self._respond(ID.RESPONSE_CHANNEL, (ch.number, 0x01, CODE.EVENT_CHANNEL_CLOSED))

    def _apply(self, ch: SimChannel, msg_id: int, data: bytes) -> int:
        """Carry out one channel command; the response code a stick gives for it."""
        wrong: int = CODE.CHANNEL_IN_WRONG_STATE
        if msg_id == ID.ASSIGN_CHANNEL and len(data) >= 3:
            if ch.state != 0:
                return wrong
            ch.channel_type, ch.network, ch.state = data[1], data[2], CH_ASSIGNED
        elif msg_id == ID.UNASSIGN_CHANNEL:
            if ch.state not in (0, CH_ASSIGNED):
                return wrong
            self.channels[ch.number] = SimChannel(ch.number)
        elif ch.state == 0:
            return wrong
        elif msg_id == ID.SET_CHANNEL_ID and len(data) == 5:
            ch.mask = AntChannelId(data[1] | data[2] << 8, data[3], data[4])
        elif msg_id == ID.SET_CHANNEL_PERIOD and len(data) == 3:
            ch.period = data[1] | data[2] << 8
        elif msg_id == ID.SET_CHANNEL_RF_FREQ and len(data) == 2:
            ch.rf = data[1]
        elif msg_id == ID.OPEN_CHANNEL:
            if ch.state != CH_ASSIGNED or self._scan:
                return wrong
            ch.state = CH_SEARCHING
        elif msg_id == ID.CLOSE_CHANNEL:
            if ch.state == CH_ASSIGNED:
                return wrong
            ch.state, ch.tracking = CH_ASSIGNED, None
            self._scan = self._scan and ch.number != 0
        elif msg_id not in ACCEPTED_ONLY:
            return int(CODE.INVALID_MESSAGE)
        return int(CODE.RESPONSE_NO_ERROR)

    def _open_scan(self) -> None:
        ch = self.channels[0]
        if not self.supports_scan_mode:
            self._channel_response(0, ID.OPEN_RX_SCAN_MODE, CODE.INVALID_MESSAGE)
        elif any(c.state >= CH_SEARCHING for c in self.channels):
            self._channel_response(0, ID.OPEN_RX_SCAN_MODE, CODE.CLOSE_ALL_CHANNELS)
        elif ch.state != CH_ASSIGNED or ch.channel_type & 0x10:  # scan mode needs channel 0 as a slave
            self._channel_response(0, ID.OPEN_RX_SCAN_MODE, CODE.CHANNEL_IN_WRONG_STATE)
        else:
            self._scan = True
            ch.state = CH_SEARCHING
            self._channel_response(0, ID.OPEN_RX_SCAN_MODE)

    def _request(self, channel: int, wanted: int) -> None:
        if wanted == ID.RESPONSE_CAPABILITIES:
            adv2 = 0x33 | (0x04 if self.supports_scan_mode else 0)  # LED, ext messages, (scan), proximity, ext assign
            self._respond(wanted, (MAX_CHANNELS, MAX_NETWORKS, 0x00, 0x3A, adv2, 0x00, 0x00, 0x00))
        elif wanted == ID.RESPONSE_SERIAL_NUMBER:
            self._respond(wanted, self.serial_number.to_bytes(4, "little"))
        elif wanted == ID.RESPONSE_ANT_VERSION:
            self._respond(wanted, b"SIMANT1.00\x00")
        elif wanted in (ID.RESPONSE_CHANNEL_ID, ID.RESPONSE_CHANNEL_STATUS) and channel < MAX_CHANNELS:
            ch = self.channels[channel]
            if wanted == ID.RESPONSE_CHANNEL_STATUS:
                state = CH_TRACKING if ch.tracking is not None else ch.state
                self._respond(wanted, (channel, state | (ch.network & 0x03) << 2 | (ch.channel_type & 0xF0)))
            else:
                cid = ch.tracking.channel_id if ch.tracking is not None else ch.mask
                self._respond(
                    wanted,
                    (channel, cid.device_number & 0xFF, cid.device_number >> 8, cid.device_type, cid.transmission_type),
                )
        else:
            self._channel_response(channel, ID.REQUEST_MESSAGE, CODE.INVALID_MESSAGE)

    # -- straps → stick ---------------------------------------------------------------------------------
    def _make_strap(self, index: int, number: int, rng: random.Random, legacy: bool) -> SimStrap:
        strap_rng = random.Random(rng.random())
        offset = rng.uniform(0.0, 64.0)  # straps were switched on a while ago: rollovers come soon
        interval = 60.0 / _clamp_bpm(self.bpm_at(index, offset))
        strap = SimStrap(
            index=index,
            channel_id=AntChannelId.for_device(number, HRM_DEVICE_TYPE),
            rssi_dbm=-52 - 5 * index,
            clock_offset_s=offset,
            main_page=0 if legacy else 4,
            beat_count=rng.randrange(256),
            last_beat_s=offset - interval / 2,
            prev_beat_s=offset - interval * 1.5,
            next_beat_s=offset + interval / 2,
            next_tx_mono=self._epoch + rng.uniform(0.0, MESSAGE_PERIOD_S / self.time_scale),
            rng=strap_rng,
        )
        strap.beats.append((strap.beat_count, strap.last_beat_s))  # the beat its first page reports
        return strap

    def _next_tx(self) -> float:
        return min((s.next_tx_mono for s in self.straps), default=time.monotonic() + 1.0)

    def _transmit_due(self, now: float) -> None:
        period = MESSAGE_PERIOD_S / self.time_scale
        due: list[tuple[float, SimStrap]] = []
        for strap in self.straps:
            late = int((now - strap.next_tx_mono) / period)
            if late > MAX_BACKLOG:  # nobody listened for a while: those messages went into the air
                strap.messages += late - MAX_BACKLOG
                strap.next_tx_mono += (late - MAX_BACKLOG) * period
            while strap.next_tx_mono <= now:
                due.append((strap.next_tx_mono, strap))
                strap.next_tx_mono += period
        for at, strap in sorted(due, key=lambda d: d[0]):
            payload = self._page(strap, self.strap_seconds(strap, at))
            strap.messages += 1
            if strap.on_air:
                self._deliver(strap, payload, at)

    def _page(self, strap: SimStrap, t: float) -> bytes:
        while strap.next_beat_s <= t:
            strap.prev_beat_s, strap.last_beat_s = strap.last_beat_s, strap.next_beat_s
            strap.beat_count = (strap.beat_count + 1) & 0xFF
            strap.beats.append((strap.beat_count, strap.last_beat_s))
            interval = 60.0 / _clamp_bpm(self.bpm_at(strap.index, strap.last_beat_s))
            strap.next_beat_s += interval * (1 + strap.rng.gauss(0, self.beat_jitter))
        m = strap.messages
        cycle = self.main_between + 4
        page = strap.main_page
        if strap.main_page != 0 and self.background_pages and m % cycle >= self.main_between:
            page = self.background_pages[(m // cycle) % len(self.background_pages)]
        battery = max(0.0, min(100.0, self.battery_at(strap.index, t)))
        hrm = AntHrmPage(
            page=page,
            toggle=bool((m // 4) % 2),
            beat_time_1024=_ticks(strap.last_beat_s),
            beat_count=strap.beat_count,
            bpm=round(_clamp_bpm(self.bpm_at(strap.index, strap.last_beat_s))),
            operating_time_s=int(t) // 2 * 2,
            manufacturer_id=0xFF,  # "development"
            serial_number=strap.channel_id.device_number,
            hardware_version=1,
            software_version=10,
            model_number=1,
            previous_beat_time_1024=_ticks(strap.prev_beat_s),
            features_supported=0,
            features_enabled=0,
            battery_pct=round(battery),
            battery_voltage=2.6 + battery / 250,
            battery_status=2 if battery >= 50 else 3 if battery >= 20 else 4 if battery >= 10 else 5,
        )
        return encode_ant_hrm_page(hrm)

    def _hears(self, ch: SimChannel, strap: SimStrap) -> bool:
        if ch.rf != ANTPLUS_RF_CHANNEL or self.network_keys[ch.network] != list(ANTPLUS_NETWORK_KEY):
            return False
        mask, cid = ch.mask, strap.channel_id
        return (
            (mask.device_number in (0, cid.device_number))
            and (mask.profile in (0, cid.profile))
            and (mask.transmission_type in (0, cid.transmission_type))
        )

    def _deliver(self, strap: SimStrap, payload: bytes, at: float) -> None:
        listeners: list[SimChannel] = []
        if self._scan:
            listeners = [self.channels[0]]
        else:
            for ch in self.channels:
                if ch.state < CH_SEARCHING or ch.period % HRM_CHANNEL_PERIOD:
                    continue
                if ch.tracking is None and all(c.tracking is not strap for c in self.channels):
                    ch.tracking = strap if self._hears(ch, strap) else None
                every = ch.period // HRM_CHANNEL_PERIOD
                if ch.tracking is strap and strap.messages % every == 0:
                    listeners.append(ch)
        for ch in listeners:
            if not self._hears(ch, strap):
                continue
            data = encode_ant_broadcast(
                payload,
                strap.channel_id if self.ext_flags & EXT_CHANNEL_ID else None,
                strap.rssi_dbm + round(strap.rng.gauss(0, 2)) if self.ext_flags & EXT_RSSI else None,
                int(at * 32768) & 0xFFFF if self.ext_flags & EXT_TIMESTAMP else None,
            )
            self._respond(ID.BROADCAST_DATA, bytes((ch.number,)) + data)


def _device_numbers(rng: random.Random, count: int) -> list[int]:
    """Distinct 20-bit device numbers, as straps from a box of mixed brands would have."""
    numbers: list[int] = []
    while len(numbers) < count:
        n = rng.randrange(1, 1 << 20)
        if n not in numbers:
            numbers.append(n)
    return numbers


def _clamp_bpm(bpm: float) -> float:
    return min(240.0, max(30.0, bpm))


def _ticks(seconds: float) -> int:
    return round(seconds * 1024) & 0xFFFF
