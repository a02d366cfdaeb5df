"""ANT+ heart-rate straps on the wire: serial framing, extended broadcast data and HRM data pages, both ways.

Pure functions only (no openant, no threads), so the receiver, the simulated stick and the tests
share one strict definition of the bytes.

Serial framing (host ↔ USB stick)::

    0xA4  length  message-id  data[length]  checksum (XOR of every byte before it)

Broadcast data (message 0x4E) is ``channel, payload[8]`` and, with extended messages on, a flag
byte followed by the fields it announces, in this order: 0x80 channel id (device number u16 LE,
device type, transmission type), 0x40 RSSI (measurement type 0x20, dBm i8, threshold i8),
0x20 rx timestamp (u16 LE, 1/32768 s).

ANT+ heart-rate data pages (device type 0x78, period 8070/32768 s, RF channel 57); every page
0-7 ends with the same four bytes::

    byte 0   bit 7 page-change toggle (flips every 4 messages), bits 0-6 page number
    4-5      heart beat event time, u16 LE, 1/1024 s (rolls over every 64 s)
    6        heart beat count, u8 (rolls over every 256 beats)
    7        computed heart rate, bpm (0 = the strap has no valid heart rate)

Page-specific bytes 1-3: page 1 cumulative operating time (u24, 2 s units); page 2 manufacturer
id, serial number (u16); page 3 hardware version, software version, model number; page 4 previous
heart beat event time (bytes 2-3); page 6 features supported, features enabled; page 7 battery
level % (byte 1), fractional voltage /256 (byte 2), coarse voltage (byte 3 bits 0-3) and battery
status (byte 3 bits 4-6). Page numbers above 7 (the common pages 0x40-0x7F) are not heart-rate
pages: their bytes 4-7 mean something else, so :class:`NotHeartRatePage` rejects them rather than
reading a model number as a heart rate.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

ANT_SYNC = 0xA4
# Longest data field a stick sends or accepts here; a length byte above it means we lost sync.
ANT_MAX_DATA = 64
# The stick's serial error codes (message 0xAE), also what AntMessageSplitter reports.
SERIAL_ERROR_NO_SYNC = 0x00
SERIAL_ERROR_CHECKSUM = 0x02
SERIAL_ERROR_TOO_LARGE = 0x03

HRM_DEVICE_TYPE = 0x78
HRM_CHANNEL_PERIOD = 8070  # 1/32768 s: 4.06 messages a second
ANTPLUS_RF_CHANNEL = 57  # 2457 MHz
PAYLOAD_LEN = 8
BEAT_TIME_UNITS_PER_S = 1024

EXT_CHANNEL_ID = 0x80
EXT_RSSI = 0x40
EXT_TIMESTAMP = 0x20
RSSI_MEASUREMENT_DBM = 0x20

# Beyond these an interval is a lost page or a rollover we cannot undo, not a heart beat.
RR_MIN_MS = 250.0  # 240 bpm
RR_MAX_MS = 3000.0  # 20 bpm
# More missed beats than this between two pages and the u8 count may have wrapped unseen.
MAX_BEAT_GAP = 16

BATTERY_STATUS_LOW = frozenset({4, 5})  # low, critical
BATTERY_STATUS_FINE = frozenset({1, 2, 3})  # new, good, ok


class NotHeartRatePage(ValueError):
    """An 8-byte payload whose page number is not a heart-rate data page (0-7)."""


# -- serial framing --------------------------------------------------------------------------------------
class AntMessage(NamedTuple):
    msg_id: int
    data: bytes


def ant_checksum(data: bytes | bytearray) -> int:
    checksum = 0
    for byte in data:
        checksum ^= byte
    return checksum


def encode_ant_message(msg_id: int, data: bytes | bytearray | Sequence[int]) -> bytes:
    """One framed serial message; ValueError if the id or data cannot be framed."""
    body = bytes(data)
    if not 0 <= msg_id <= 0xFF:
        raise ValueError(f"ANT message id {msg_id} is not a byte")
    if len(body) > ANT_MAX_DATA:
        raise ValueError(f"ANT message data is {len(body)} bytes; at most {ANT_MAX_DATA} fit")
    head = bytes((ANT_SYNC, len(body), msg_id)) + body
    return head + bytes((ant_checksum(head),))


class AntMessageSplitter:
    """Cuts a byte stream into ANT messages, resynchronising on the next 0xA4 after garbage.

    A serial stick can drop or corrupt a byte; without resynchronisation one bad byte would make
    every later message unreadable. ``errors`` counts what was thrown away, ``last_error`` says why,
    and ``on_error`` (if set) hears each one with the stick's serial error code.
    """

    def __init__(self, on_error: Callable[[int, str], None] | None = None) -> None:
        self._buf = bytearray()
        self.errors = 0
        self.last_error: str | None = None
        self.on_error = on_error

    def feed(self, data: bytes | bytearray | Sequence[int]) -> list[AntMessage]:
        self._buf += bytes(data)
        out: list[AntMessage] = []
        while self._buf:
            if self._buf[0] != ANT_SYNC:
                skip = self._buf.find(ANT_SYNC)
                skip = len(self._buf) if skip < 0 else skip
                self._error(SERIAL_ERROR_NO_SYNC, f"{skip} byte(s) before the 0xA4 sync byte")
                del self._buf[:skip]
                continue
            if len(self._buf) < 2:
                break
            length = self._buf[1]
            if length > ANT_MAX_DATA:
                self._error(SERIAL_ERROR_TOO_LARGE, f"length byte {length} is over {ANT_MAX_DATA}")
                del self._buf[:1]
                continue
            if len(self._buf) < length + 4:
                break
            frame = bytes(self._buf[: length + 4])
            if ant_checksum(frame[:-1]) != frame[-1]:
                self._error(SERIAL_ERROR_CHECKSUM, f"checksum mismatch in message 0x{frame[2]:02X}")
                del self._buf[:1]
                continue
            del self._buf[: length + 4]
            out.append(AntMessage(frame[2], frame[3:-1]))
        return out

    def _error(self, code: int, reason: str) -> None:
        self.errors += 1
        self.last_error = reason
        if self.on_error is not None:
            self.on_error(code, reason)


# -- extended broadcast data --------------------------------------------------------------------------
@dataclass(frozen=True)
class AntChannelId:
    """A transmitter's channel id as the wire carries it."""

    device_number: int  # u16 on the wire
    device_type: int  # bit 7 is the pairing bit
    transmission_type: int  # bits 4-7 extend the device number to 20 bits

    @property
    def extended_number(self) -> int:
        """The 20-bit device number (ANT+ uses the transmission type's upper nibble as bits 16-19)."""
        return self.device_number | ((self.transmission_type & 0xF0) << 12)

    @property
    def profile(self) -> int:
        return self.device_type & 0x7F

    @classmethod
    def for_device(cls, extended_number: int, device_type: int, transmission_low: int = 0x01) -> AntChannelId:
        if not 0 < extended_number < 1 << 20:
            raise ValueError(f"ANT device number {extended_number} is not 1..{(1 << 20) - 1}")
        return cls(extended_number & 0xFFFF, device_type, ((extended_number >> 16) << 4) | (transmission_low & 0x0F))


@dataclass(frozen=True)
class AntBroadcast:
    """Broadcast data after the channel byte: the 8-byte payload and what the extension told."""

    payload: bytes
    channel_id: AntChannelId | None = None
    rssi_dbm: int | None = None
    rx_timestamp: int | None = None  # 1/32768 s, rolls over every 2 s


def parse_ant_broadcast(data: bytes | bytearray | Sequence[int]) -> AntBroadcast:
    """Split broadcast data (as openant hands it on: without the channel byte); ValueError if inconsistent."""
    raw = bytes(data)
    if len(raw) < PAYLOAD_LEN:
        raise ValueError(f"ANT broadcast data is {len(raw)} bytes; the payload alone is {PAYLOAD_LEN}")
    if len(raw) == PAYLOAD_LEN:
        return AntBroadcast(raw)
    flags = raw[PAYLOAD_LEN]
    expected = PAYLOAD_LEN + 1
    expected += 4 if flags & EXT_CHANNEL_ID else 0
    expected += 3 if flags & EXT_RSSI else 0
    expected += 2 if flags & EXT_TIMESTAMP else 0
    if len(raw) != expected:
        raise ValueError(f"ANT extended data with flag byte 0x{flags:02X} should be {expected} bytes, not {len(raw)}")
    pos = PAYLOAD_LEN + 1
    channel_id = rssi = stamp = None
    if flags & EXT_CHANNEL_ID:
        number, dtype, ttype = struct.unpack_from("<HBB", raw, pos)
        channel_id = AntChannelId(number, dtype, ttype)
        pos += 4
    if flags & EXT_RSSI:
        kind, value, _threshold = struct.unpack_from("<Bbb", raw, pos)
        rssi = value if kind == RSSI_MEASUREMENT_DBM else None
        pos += 3
    if flags & EXT_TIMESTAMP:
        (stamp,) = struct.unpack_from("<H", raw, pos)
    return AntBroadcast(raw[:PAYLOAD_LEN], channel_id, rssi, stamp)


def encode_ant_broadcast(
    payload: bytes,
    channel_id: AntChannelId | None = None,
    rssi_dbm: int | None = None,
    rx_timestamp: int | None = None,
    threshold_dbm: int = -96,
) -> bytes:
    """Broadcast data after the channel byte, with the extension a stick adds for the given fields."""
    if len(payload) != PAYLOAD_LEN:
        raise ValueError(f"ANT payload must be {PAYLOAD_LEN} bytes, not {len(payload)}")
    flags = 0
    ext = bytearray()
    if channel_id is not None:
        flags |= EXT_CHANNEL_ID
        ext += struct.pack("<HBB", channel_id.device_number, channel_id.device_type, channel_id.transmission_type)
    if rssi_dbm is not None:
        flags |= EXT_RSSI
        ext += struct.pack("<Bbb", RSSI_MEASUREMENT_DBM, max(-128, min(127, rssi_dbm)), threshold_dbm)
    if rx_timestamp is not None:
        flags |= EXT_TIMESTAMP
        ext += struct.pack("<H", rx_timestamp & 0xFFFF)
    return bytes(payload) + (bytes((flags,)) + bytes(ext) if flags else b"")


# -- heart-rate data pages ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AntHrmPage:
    """One decoded ANT+ heart-rate page; page-specific fields are None on the other pages."""

    page: int
    toggle: bool
    beat_time_1024: int
    beat_count: int
    bpm: int  # 0: no valid heart rate (strap off the chest)
    operating_time_s: int | None = None  # page 1
    manufacturer_id: int | None = None  # page 2
    serial_number: int | None = None  # page 2: upper 16 bits of the serial number
    hardware_version: int | None = None  # page 3
    software_version: int | None = None  # page 3
    model_number: int | None = None  # page 3
    previous_beat_time_1024: int | None = None  # page 4
    features_supported: int | None = None  # page 6
    features_enabled: int | None = None  # page 6
    battery_pct: int | None = None  # page 7; None when the strap reports 0xFF (not used)
    battery_voltage: float | None = None  # page 7; None when the coarse voltage is 0xF (invalid)
    battery_status: int | None = None  # page 7: 1 new, 2 good, 3 ok, 4 low, 5 critical; None otherwise

    @property
    def battery_low(self) -> bool | None:
        if self.battery_status in BATTERY_STATUS_LOW:
            return True
        if self.battery_status in BATTERY_STATUS_FINE:
            return False
        return None


def parse_ant_hrm_page(payload: bytes | bytearray | Sequence[int]) -> AntHrmPage:
    """Decode one 8-byte HRM payload; ValueError for a wrong length, NotHeartRatePage for pages above 7."""
    data = bytes(payload)
    if len(data) != PAYLOAD_LEN:
        raise ValueError(f"ANT+ heart-rate page must be {PAYLOAD_LEN} bytes, got {len(data)}")
    page = data[0] & 0x7F
    if page > 7:
        raise NotHeartRatePage(f"page 0x{page:02X} is not an ANT+ heart-rate data page (0-7)")
    (beat_time,) = struct.unpack_from("<H", data, 4)
    base = AntHrmPage(page, bool(data[0] & 0x80), beat_time, data[6], data[7])
    if page == 1:
        return replace(base, operating_time_s=int.from_bytes(data[1:4], "little") * 2)
    if page == 2:
        return replace(base, manufacturer_id=data[1], serial_number=int.from_bytes(data[2:4], "little"))
    if page == 3:
        return replace(base, hardware_version=data[1], software_version=data[2], model_number=data[3])
    if page == 4:
        return replace(base, previous_beat_time_1024=int.from_bytes(data[2:4], "little"))
    if page == 6:
        return replace(base, features_supported=data[2], features_enabled=data[3])
    if page == 7:
        coarse = data[3] & 0x0F
        status = (data[3] >> 4) & 0x07
        return replace(
            base,
            battery_pct=None if data[1] == 0xFF else data[1],
            battery_voltage=None if coarse == 0x0F else coarse + data[2] / 256,
            battery_status=status if status in BATTERY_STATUS_LOW | BATTERY_STATUS_FINE else None,
        )
    return base


def encode_ant_hrm_page(page: AntHrmPage) -> bytes:
    """The 8 bytes a strap sends for ``page`` (the simulator's side); ValueError if a field does not fit."""
    if not 0 <= page.page <= 7:
        raise ValueError(f"page {page.page} is not an ANT+ heart-rate data page (0-7)")
    _check(page.beat_time_1024, 0xFFFF, "beat_time_1024")
    _check(page.beat_count, 0xFF, "beat_count")
    _check(page.bpm, 0xFF, "bpm")
    specific = b"\xff\xff\xff"
    if page.page == 1:
        specific = _check((page.operating_time_s or 0) // 2, 0xFFFFFF, "operating_time_s").to_bytes(3, "little")
    elif page.page == 2:
        specific = bytes((_check(page.manufacturer_id or 0, 0xFF, "manufacturer_id"),)) + _check(
            page.serial_number or 0, 0xFFFF, "serial_number"
        ).to_bytes(2, "little")
    elif page.page == 3:
        specific = bytes(
            _check(v or 0, 0xFF, name)
            for v, name in (
                (page.hardware_version, "hardware_version"),
                (page.software_version, "software_version"),
                (page.model_number, "model_number"),
            )
        )
    elif page.page == 4:
        previous = _check(page.previous_beat_time_1024 or 0, 0xFFFF, "previous_beat_time_1024")
        specific = b"\xff" + previous.to_bytes(2, "little")
    elif page.page == 6:
        specific = bytes(
            (
                0xFF,
                _check(page.features_supported or 0, 0xFF, "features_supported"),
                _check(page.features_enabled or 0, 0xFF, "features_enabled"),
            )
        )
    elif page.page == 7:
        pct = 0xFF if page.battery_pct is None else _check(page.battery_pct, 100, "battery_pct")
        if page.battery_voltage is None:
            coarse, fraction = 0x0F, 0xFF
        else:
            coarse = int(page.battery_voltage)
            fraction = min(0xFF, round((page.battery_voltage - coarse) * 256))
            _check(coarse, 0x0E, "battery_voltage")
        status = 0x07 if page.battery_status is None else _check(page.battery_status, 0x07, "battery_status")
        specific = bytes((pct, fraction, coarse | status << 4))
    head = bytes((page.page | (0x80 if page.toggle else 0),)) + specific
    return head + struct.pack("<HBB", page.beat_time_1024, page.beat_count, page.bpm)


def _check(value: int, high: int, name: str) -> int:
    if not 0 <= value <= high:
        raise ValueError(f"{name}={value} does not fit the page (0-{high})")
    return value


# -- RR intervals ---------------------------------------------------------------------------------------
def beats_between(prev: AntHrmPage, cur: AntHrmPage) -> int:
    """New heart beats from one page to the next (u8 count, rollover handled)."""
    return (cur.beat_count - prev.beat_count) & 0xFF


def mean_beat_interval_ms(prev: AntHrmPage, cur: AntHrmPage) -> float | None:
    """Beat-time difference / beat-count difference, both modulo their rollover; None if no new beat."""
    beats = beats_between(prev, cur)
    if beats == 0:
        return None
    ticks = (cur.beat_time_1024 - prev.beat_time_1024) & 0xFFFF
    return ticks * 1000.0 / BEAT_TIME_UNITS_PER_S / beats


def rr_intervals_ms(prev: AntHrmPage | None, cur: AntHrmPage) -> tuple[float, ...]:
    """RR intervals (ms, oldest first) newly measured by ``cur``, given the page heard before it.

    Only measured intervals are returned, never averages: one new beat gives its exact interval;
    several (pages were missed) give page 4's exact last interval if ``cur`` is page 4, otherwise
    nothing. Averaging over missed beats would hand HRV code beats that were never measured.
    Intervals outside RR_MIN_MS..RR_MAX_MS, or gaps over MAX_BEAT_GAP beats (the u8 count or the
    64 s u16 time may have wrapped unseen), yield nothing.
    """
    if prev is None:
        return ()
    beats = beats_between(prev, cur)
    if beats == 0 or beats > MAX_BEAT_GAP:
        return ()
    mean = mean_beat_interval_ms(prev, cur)
    if mean is None or not RR_MIN_MS <= mean <= RR_MAX_MS:
        return ()
    if beats == 1:
        return (mean,)
    if cur.previous_beat_time_1024 is not None:
        last = ((cur.beat_time_1024 - cur.previous_beat_time_1024) & 0xFFFF) * 1000.0 / BEAT_TIME_UNITS_PER_S
        if RR_MIN_MS <= last <= RR_MAX_MS:
            return (last,)
    return ()
