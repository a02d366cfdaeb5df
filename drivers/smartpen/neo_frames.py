"""Neo smartpen protocol v2, the typed frames: one frozen dataclass per frame type, each encoding itself.

Pen events and the offline chunks carry no RESULT byte; responses (and the host's chunk acknowledgement)
do, in their ``result`` field. Payloads longer than a type needs are accepted and the extra bytes ignored,
because later protocol versions append fields; shorter ones raise FrameError. Commands with no type here
decode to :class:`Unknown`. Use them through :mod:`drivers.smartpen.neo`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

from drivers.smartpen.neo_wire import (
    ALL,
    CMD_DOT,
    CMD_DOT_LEGACY,
    CMD_LOW_BATTERY,
    CMD_OFFLINE_CHUNK,
    CMD_OFFLINE_CHUNK_ACK,
    CMD_OFFLINE_DATA_REQUEST,
    CMD_OFFLINE_DATA_RESPONSE,
    CMD_OFFLINE_DELETE_REQUEST,
    CMD_OFFLINE_DELETE_RESPONSE,
    CMD_OFFLINE_NOTE_LIST_REQUEST,
    CMD_OFFLINE_NOTE_LIST_RESPONSE,
    CMD_OFFLINE_PAGE_LIST_REQUEST,
    CMD_OFFLINE_PAGE_LIST_RESPONSE,
    CMD_ONLINE_DATA_REQUEST,
    CMD_ONLINE_DATA_RESPONSE,
    CMD_PAPER_INFO,
    CMD_PAPER_INFO_LEGACY,
    CMD_PASSWORD_REQUEST,
    CMD_PASSWORD_RESPONSE,
    CMD_PEN_DOWN,
    CMD_PEN_UP,
    CMD_SETTING_INFO_REQUEST,
    CMD_SETTING_INFO_RESPONSE,
    CMD_SHUTDOWN,
    CMD_VERSION_REQUEST,
    CMD_VERSION_RESPONSE,
    PASSWORD_NEEDED,
    Frame,
    FrameError,
    Response,
    _fixed,
    _need,
    _text,
    pack_section_owner,
    split_coord,
    unpack_section_owner,
)


# Pen events (no RESULT byte) ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LowBattery(Frame):
    CMD: ClassVar[int] = CMD_LOW_BATTERY
    battery: int

    def payload(self) -> bytes:
        return struct.pack("<B", self.battery)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> LowBattery:
        _need(data, 1, "low battery")
        return cls(data[0])


@dataclass(frozen=True)
class Shutdown(Frame):
    CMD: ClassVar[int] = CMD_SHUTDOWN
    reason: int

    def payload(self) -> bytes:
        return struct.pack("<B", self.reason)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> Shutdown:
        _need(data, 1, "shutdown")
        return cls(data[0])


@dataclass(frozen=True)
class PenDown(Frame):
    """The tip touched paper. ``timestamp_ms`` is the pen's clock (unix ms)."""

    CMD: ClassVar[int] = CMD_PEN_DOWN
    counter: int
    timestamp_ms: int
    tip: int = 0  # 0 pen, 1 eraser
    colour: int = 0xFF000000  # ARGB

    def payload(self) -> bytes:
        return struct.pack("<BQBI", self.counter, self.timestamp_ms, self.tip, self.colour)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PenDown:
        _need(data, 14, "pen down")
        return cls(*struct.unpack_from("<BQBI", data))


@dataclass(frozen=True)
class PenUp(Frame):
    """The tip left the paper; the counts are the pen's own statistics for the stroke."""

    CMD: ClassVar[int] = CMD_PEN_UP
    counter: int
    timestamp_ms: int
    dot_count: int = 0
    total_images: int = 0
    processed_images: int = 0
    success_images: int = 0
    sent_images: int = 0

    def payload(self) -> bytes:
        return struct.pack(
            "<BQHHHHH",
            self.counter,
            self.timestamp_ms,
            self.dot_count,
            self.total_images,
            self.processed_images,
            self.success_images,
            self.sent_images,
        )

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PenUp:
        _need(data, 9, "pen up")
        counter, ts = struct.unpack_from("<BQ", data)
        extra = data[9:19]
        counts = struct.unpack_from(f"<{len(extra) // 2}H", extra) if len(extra) >= 2 else ()
        return cls(counter, ts, *counts)


@dataclass(frozen=True)
class PaperInfo(Frame):
    """Which printed page the pen is on. ``counter`` None is the legacy 0x64 form without an event counter."""

    CMD: ClassVar[int] = CMD_PAPER_INFO
    counter: int | None
    section: int
    owner: int
    note: int
    page: int

    def command(self) -> int:
        return CMD_PAPER_INFO if self.counter is not None else CMD_PAPER_INFO_LEGACY

    def payload(self) -> bytes:
        body = struct.pack("<III", pack_section_owner(self.section, self.owner), self.note, self.page)
        return body if self.counter is None else struct.pack("<B", self.counter) + body

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PaperInfo:
        counter: int | None = None
        if cmd == CMD_PAPER_INFO:
            _need(data, 13, "paper info")
            counter, data = data[0], data[1:]
        _need(data, 12, "paper info")
        so, note, page = struct.unpack_from("<III", data)
        section, owner = unpack_section_owner(so)
        return cls(counter, section, owner, note, page)


@dataclass(frozen=True)
class Dot(Frame):
    """One sampled position. ``x``/``y`` are pattern units with the hundredths applied; ``dt`` is ms since
    the previous dot (or the pen-down). ``counter`` None is the legacy 0x65 form."""

    CMD: ClassVar[int] = CMD_DOT
    counter: int | None
    dt: int
    force: int
    x: float
    y: float
    tilt_x: int = 0
    tilt_y: int = 0
    twist: int = 0

    def command(self) -> int:
        return CMD_DOT if self.counter is not None else CMD_DOT_LEGACY

    def payload(self) -> bytes:
        xi, xf = split_coord(self.x)
        yi, yf = split_coord(self.y)
        body = struct.pack("<BHHHBBBBH", self.dt, self.force, xi, yi, xf, yf, self.tilt_x, self.tilt_y, self.twist)
        return body if self.counter is None else struct.pack("<B", self.counter) + body

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> Dot:
        counter: int | None = None
        if cmd == CMD_DOT:
            _need(data, 14, "dot")
            counter, data = data[0], data[1:]
        _need(data, 13, "dot")
        dt, force, xi, yi, xf, yf, tx, ty, twist = struct.unpack_from("<BHHHBBBBH", data)
        if xf > 99 or yf > 99:
            raise FrameError(f"dot hundredths out of range ({xf}, {yf})")
        return cls(counter, dt, force, xi + xf / 100, yi + yf / 100, tx, ty, twist)


_CHUNK = struct.Struct("<HBHHBIIH")


@dataclass(frozen=True)
class OfflineChunk(Frame):
    """One piece of a stored note the pen pushes during an offline transfer (acknowledged one by one)."""

    CMD: ClassVar[int] = CMD_OFFLINE_CHUNK
    packet_id: int
    compressed: bool
    size_before: int  # uncompressed bytes
    size_after: int  # bytes in ``data``
    position: int  # CHUNK_START, CHUNK_MIDDLE or CHUNK_END
    section: int
    owner: int
    note: int
    stroke_count: int
    data: bytes

    def payload(self) -> bytes:
        head = _CHUNK.pack(
            self.packet_id,
            int(self.compressed),
            self.size_before,
            self.size_after,
            self.position,
            pack_section_owner(self.section, self.owner),
            self.note,
            self.stroke_count,
        )
        return head + self.data

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineChunk:
        _need(data, _CHUNK.size, "offline chunk")
        pid, comp, before, after, pos, so, note, strokes = _CHUNK.unpack_from(data)
        section, owner = unpack_section_owner(so)
        return cls(pid, comp == 1, before, after, pos, section, owner, note, strokes, bytes(data[_CHUNK.size :]))


# Responses (RESULT byte) ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionInfo(Response):
    CMD: ClassVar[int] = CMD_VERSION_RESPONSE
    device_name: str = ""
    firmware: str = ""
    protocol: str = ""
    sub_name: str = ""
    device_type: int = 0
    mac: str = "00:00:00:00:00:00"
    pressure_sensor: int = 0

    def payload(self) -> bytes:
        mac = bytes.fromhex(self.mac.replace(":", ""))
        if len(mac) != 6:
            raise ValueError(f"MAC {self.mac!r} is not six bytes")
        return (
            _fixed(self.device_name, 16)
            + _fixed(self.firmware, 16)
            + _fixed(self.protocol, 8)
            + _fixed(self.sub_name, 16)
            + struct.pack("<H", self.device_type)
            + mac
            + struct.pack("<B", self.pressure_sensor)
        )

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> VersionInfo:
        if result:
            return cls(result or 0)
        _need(data, 65, "version info")
        mac = ":".join(f"{b:02X}" for b in data[58:64])
        return cls(
            result or 0,
            _text(data[0:16]),
            _text(data[16:32]),
            _text(data[32:40]),
            _text(data[40:56]),
            struct.unpack_from("<H", data, 56)[0],
            mac,
            data[64],
        )


@dataclass(frozen=True)
class PasswordResponse(Response):
    """``status``: PASSWORD_NEEDED (wrong), PASSWORD_OK, PASSWORD_RESET (erased) or PASSWORD_ERROR."""

    CMD: ClassVar[int] = CMD_PASSWORD_RESPONSE
    status: int = PASSWORD_NEEDED
    retries: int = 0  # wrong passwords so far
    max_retries: int = 10  # at this many the pen erases itself

    @property
    def tries_left(self) -> int:
        return max(0, self.max_retries - self.retries)

    def payload(self) -> bytes:
        return struct.pack("<BBB", self.status, self.retries, self.max_retries)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PasswordResponse:
        _need(data, 3, "password response")
        return cls(result or 0, *struct.unpack_from("<BBB", data))


_SETTING = struct.Struct("<BBBQHHBBBBBBBB")


@dataclass(frozen=True)
class SettingInfo(Response):
    """The pen's settings and state; where battery and the password lock come from."""

    CMD: ClassVar[int] = CMD_SETTING_INFO_RESPONSE
    locked: bool = False
    max_retries: int = 10
    retries: int = 0
    timestamp_ms: int = 0
    auto_power_off_min: int = 20
    max_force: int = 1023
    used_storage: int = 0  # percent
    cap_power_off: bool = True
    auto_power_on: bool = True
    beep: bool = True
    hover: bool = False
    battery: int = 100  # percent
    offline_enabled: bool = True
    sensitivity: int = 0

    @property
    def tries_left(self) -> int:
        return max(0, self.max_retries - self.retries)

    def payload(self) -> bytes:
        return _SETTING.pack(
            int(self.locked),
            self.max_retries,
            self.retries,
            self.timestamp_ms,
            self.auto_power_off_min,
            self.max_force,
            self.used_storage,
            int(self.cap_power_off),
            int(self.auto_power_on),
            int(self.beep),
            int(self.hover),
            self.battery,
            int(self.offline_enabled),
            self.sensitivity,
        )

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> SettingInfo:
        _need(data, _SETTING.size, "setting info")
        v = _SETTING.unpack_from(data)
        return cls(
            result or 0, v[0] == 1, v[1], v[2], v[3], v[4], v[5], v[6],
            v[7] == 1, v[8] == 1, v[9] == 1, v[10] == 1, v[11], v[12] == 1, v[13],
        )  # fmt: skip


@dataclass(frozen=True)
class OnlineDataResponse(Response):
    CMD: ClassVar[int] = CMD_ONLINE_DATA_RESPONSE

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OnlineDataResponse:
        return cls(result or 0)


NoteId: TypeAlias = tuple[int, int, int]  # section, owner, note


@dataclass(frozen=True)
class NoteListResponse(Response):
    CMD: ClassVar[int] = CMD_OFFLINE_NOTE_LIST_RESPONSE
    notes: tuple[NoteId, ...] = ()

    def payload(self) -> bytes:
        out = struct.pack("<H", len(self.notes))
        for section, owner, note in self.notes:
            out += struct.pack("<II", pack_section_owner(section, owner), note)
        return out

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> NoteListResponse:
        _need(data, 2, "note list")
        (count,) = struct.unpack_from("<H", data)
        _need(data, 2 + 8 * count, f"note list of {count}")
        notes = []
        for i in range(count):
            so, note = struct.unpack_from("<II", data, 2 + 8 * i)
            notes.append((*unpack_section_owner(so), note))
        return cls(result or 0, tuple(notes))


@dataclass(frozen=True)
class PageListResponse(Response):
    CMD: ClassVar[int] = CMD_OFFLINE_PAGE_LIST_RESPONSE
    section: int = 0
    owner: int = 0
    note: int = 0
    pages: tuple[int, ...] = ()

    def payload(self) -> bytes:
        head = struct.pack("<IIH", pack_section_owner(self.section, self.owner), self.note, len(self.pages))
        return head + b"".join(struct.pack("<I", p) for p in self.pages)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PageListResponse:
        _need(data, 10, "page list")
        so, note, count = struct.unpack_from("<IIH", data)
        _need(data, 10 + 4 * count, f"page list of {count}")
        pages = struct.unpack_from(f"<{count}I", data, 10)
        return cls(result or 0, *unpack_section_owner(so), note, tuple(pages))


@dataclass(frozen=True)
class OfflineDataResponse(Response):
    """The pen's answer to a transfer request: how much is coming (chunks follow)."""

    CMD: ClassVar[int] = CMD_OFFLINE_DATA_RESPONSE
    strokes: int = 0
    size: int = 0  # uncompressed bytes in all
    compressed: bool = True

    def payload(self) -> bytes:
        return struct.pack("<IIB", self.strokes, self.size, int(self.compressed))

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineDataResponse:
        if result and len(data) < 9:
            return cls(result)
        _need(data, 9, "offline data response")
        strokes, size, comp = struct.unpack_from("<IIB", data)
        return cls(result or 0, strokes, size, comp == 1)


@dataclass(frozen=True)
class OfflineDeleteResponse(Response):
    CMD: ClassVar[int] = CMD_OFFLINE_DELETE_RESPONSE

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineDeleteResponse:
        return cls(result or 0)


# Requests (host → pen) ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VersionRequest(Frame):
    """The first thing a host sends after connecting; the pen answers with :class:`VersionInfo`."""

    CMD: ClassVar[int] = CMD_VERSION_REQUEST
    app_version: str = "0.1.0"
    protocol_version: str = "2.18"
    app_type: int = 0x1201

    def payload(self) -> bytes:
        return bytes(16) + struct.pack(">H", self.app_type) + _fixed(self.app_version, 16) + _fixed(
            self.protocol_version, 8
        )

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> VersionRequest:
        _need(data, 42, "version request")
        return cls(_text(data[18:34]), _text(data[34:42]), struct.unpack_from(">H", data, 16)[0])


@dataclass(frozen=True)
class PasswordRequest(Frame):
    CMD: ClassVar[int] = CMD_PASSWORD_REQUEST
    password: str = field(default="", repr=False)  # never in logs

    def payload(self) -> bytes:
        return _fixed(self.password, 16)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PasswordRequest:
        _need(data, 16, "password request")
        return cls(_text(data[:16]))


@dataclass(frozen=True)
class SettingInfoRequest(Frame):
    CMD: ClassVar[int] = CMD_SETTING_INFO_REQUEST

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> SettingInfoRequest:
        return cls()


@dataclass(frozen=True)
class OnlineDataRequest(Frame):
    """Ask the pen to stream what it writes in real time; no notes = every note."""

    CMD: ClassVar[int] = CMD_ONLINE_DATA_REQUEST
    notes: tuple[NoteId, ...] = ()

    def payload(self) -> bytes:
        if not self.notes:
            return b"\xff\xff"
        out = struct.pack("<H", len(self.notes))
        for section, owner, note in self.notes:
            out += struct.pack("<II", pack_section_owner(section, owner), note)
        return out

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OnlineDataRequest:
        _need(data, 2, "online data request")
        (count,) = struct.unpack_from("<H", data)
        if count == 0xFFFF:
            return cls()
        _need(data, 2 + 8 * count, f"online data request for {count} notes")
        notes = []
        for i in range(count):
            so, note = struct.unpack_from("<II", data, 2 + 8 * i)
            notes.append((*unpack_section_owner(so), note))
        return cls(tuple(notes))


@dataclass(frozen=True)
class NoteListRequest(Frame):
    """Ask which notes the pen holds offline; section/owner None = all of them."""

    CMD: ClassVar[int] = CMD_OFFLINE_NOTE_LIST_REQUEST
    section: int | None = None
    owner: int | None = None

    def payload(self) -> bytes:
        if self.section is None or self.owner is None:
            return struct.pack("<I", ALL)
        return struct.pack("<I", pack_section_owner(self.section, self.owner))

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> NoteListRequest:
        _need(data, 4, "note list request")
        (so,) = struct.unpack_from("<I", data)
        if so == ALL:
            return cls()
        return cls(*unpack_section_owner(so))


@dataclass(frozen=True)
class PageListRequest(Frame):
    CMD: ClassVar[int] = CMD_OFFLINE_PAGE_LIST_REQUEST
    section: int
    owner: int
    note: int

    def payload(self) -> bytes:
        return struct.pack("<II", pack_section_owner(self.section, self.owner), self.note)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> PageListRequest:
        _need(data, 8, "page list request")
        so, note = struct.unpack_from("<II", data)
        return cls(*unpack_section_owner(so), note)


@dataclass(frozen=True)
class OfflineDataRequest(Frame):
    """Ask for one stored note (all pages when ``pages`` is empty). ``delete_after`` False keeps the data on the
    pen after the transfer, so the host can delete it only once every chunk has arrived."""

    CMD: ClassVar[int] = CMD_OFFLINE_DATA_REQUEST
    section: int
    owner: int
    note: int
    pages: tuple[int, ...] = ()
    delete_after: bool = False
    compress: bool = True

    def payload(self) -> bytes:
        head = struct.pack(
            "<BBIII",
            1 if self.delete_after else 2,
            int(self.compress),
            pack_section_owner(self.section, self.owner),
            self.note,
            len(self.pages),
        )
        return head + b"".join(struct.pack("<I", p) for p in self.pages)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineDataRequest:
        _need(data, 14, "offline data request")
        flag, comp, so, note, count = struct.unpack_from("<BBIII", data)
        if count > 0xFFFF:
            raise FrameError(f"offline data request for {count} pages")
        _need(data, 14 + 4 * count, f"offline data request for {count} pages")
        pages = struct.unpack_from(f"<{count}I", data, 14)
        return cls(*unpack_section_owner(so), note, tuple(pages), flag == 1, comp == 1)


@dataclass(frozen=True)
class OfflineChunkAck(Response):
    """The host's acknowledgement of one :class:`OfflineChunk`; ``proceed`` False stops the transfer."""

    CMD: ClassVar[int] = CMD_OFFLINE_CHUNK_ACK
    packet_id: int = 0
    proceed: bool = True

    def payload(self) -> bytes:
        return struct.pack("<HB", self.packet_id, int(self.proceed))

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineChunkAck:
        _need(data, 3, "chunk ack")
        pid, proceed = struct.unpack_from("<HB", data)
        return cls(result or 0, pid, proceed == 1)


@dataclass(frozen=True)
class OfflineDeleteRequest(Frame):
    CMD: ClassVar[int] = CMD_OFFLINE_DELETE_REQUEST
    section: int
    owner: int
    notes: tuple[int, ...]

    def payload(self) -> bytes:
        if len(self.notes) > 0xFF:
            raise ValueError("at most 255 notes per delete request")
        head = struct.pack("<IB", pack_section_owner(self.section, self.owner), len(self.notes))
        return head + b"".join(struct.pack("<I", n) for n in self.notes)

    @classmethod
    def parse(cls, cmd: int, result: int | None, data: bytes) -> OfflineDeleteRequest:
        _need(data, 5, "offline delete request")
        so, count = struct.unpack_from("<IB", data)
        _need(data, 5 + 4 * count, f"offline delete request for {count} notes")
        notes = struct.unpack_from(f"<{count}I", data, 5)
        return cls(*unpack_section_owner(so), tuple(notes))


@dataclass(frozen=True)
class Unknown(Frame):
    """A command this codec has no type for: passed on, not an error (newer firmware adds commands)."""

    CMD: ClassVar[int] = -1
    cmd: int
    result: int | None
    data: bytes

    def command(self) -> int:
        return self.cmd

    def payload(self) -> bytes:
        return self.data

    def result_code(self) -> int | None:
        return self.result


Parser = Callable[[int, "int | None", bytes], Frame]

PARSERS: dict[int, Parser] = {
    CMD_LOW_BATTERY: LowBattery.parse,
    CMD_SHUTDOWN: Shutdown.parse,
    CMD_PEN_DOWN: PenDown.parse,
    CMD_PEN_UP: PenUp.parse,
    CMD_PAPER_INFO: PaperInfo.parse,
    CMD_PAPER_INFO_LEGACY: PaperInfo.parse,
    CMD_DOT: Dot.parse,
    CMD_DOT_LEGACY: Dot.parse,
    CMD_OFFLINE_CHUNK: OfflineChunk.parse,
    CMD_VERSION_RESPONSE: VersionInfo.parse,
    CMD_PASSWORD_RESPONSE: PasswordResponse.parse,
    CMD_SETTING_INFO_RESPONSE: SettingInfo.parse,
    CMD_ONLINE_DATA_RESPONSE: OnlineDataResponse.parse,
    CMD_OFFLINE_NOTE_LIST_RESPONSE: NoteListResponse.parse,
    CMD_OFFLINE_PAGE_LIST_RESPONSE: PageListResponse.parse,
    CMD_OFFLINE_DATA_RESPONSE: OfflineDataResponse.parse,
    CMD_OFFLINE_DELETE_RESPONSE: OfflineDeleteResponse.parse,
    CMD_VERSION_REQUEST: VersionRequest.parse,
    CMD_PASSWORD_REQUEST: PasswordRequest.parse,
    CMD_SETTING_INFO_REQUEST: SettingInfoRequest.parse,
    CMD_ONLINE_DATA_REQUEST: OnlineDataRequest.parse,
    CMD_OFFLINE_NOTE_LIST_REQUEST: NoteListRequest.parse,
    CMD_OFFLINE_PAGE_LIST_REQUEST: PageListRequest.parse,
    CMD_OFFLINE_DATA_REQUEST: OfflineDataRequest.parse,
    CMD_OFFLINE_CHUNK_ACK: OfflineChunkAck.parse,
    CMD_OFFLINE_DELETE_REQUEST: OfflineDeleteRequest.parse,
}
