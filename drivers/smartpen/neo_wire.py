"""Neo smartpen protocol v2, the wire layer: frame markers, escaping, command numbers, the Frame base.

The wire format, as the public Neo smartpen SDKs speak it::

    STX 0xC0 | CMD | [RESULT] | LEN u16 LE | DATA | ETX 0xC1

Every byte between STX and ETX that is 0xC0, 0xC1 or 0x7D is sent as DLE 0x7D followed by the byte XOR 0x20,
so a raw 0xC0 always starts a frame and a raw 0xC1 always ends one. That is what lets the decoder resynchronise
after line noise or a torn BLE notification: it simply waits for the next raw STX.

Only commands 0x80 and up carry the RESULT byte: pen events (0x6X), the offline data chunks the pen pushes
(0x24) and every request the host sends (0x0X-0x3X) do not; responses (0x8X-0xAX) and the host's chunk
acknowledgement (0xA4) do. Multi-byte integers are little-endian. The section and owner of an Ncode page
share one u32: owner in the low three bytes, section in the high byte.

Use it through :mod:`drivers.smartpen.neo`, which re-exports everything here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

STX, ETX, DLE = 0xC0, 0xC1, 0x7D
ESCAPE_XOR = 0x20
_STX_B, _ETX_B, _DLE_B = bytes((STX,)), bytes((ETX,)), bytes((DLE,))
_ESCAPED = {STX ^ ESCAPE_XOR: STX, ETX ^ ESCAPE_XOR: ETX, DLE ^ ESCAPE_XOR: DLE}
MAX_DATA = 0xFFFF
# The longest a frame can be on the wire: every data byte escaped, plus header and markers.
MAX_WIRE_FRAME = 2 * (MAX_DATA + 4) + 2

# -- command numbers (from the public Neo smartpen v2 SDKs) ---------------------------------------------------
CMD_VERSION_REQUEST = 0x01
CMD_PASSWORD_REQUEST = 0x02
CMD_PASSWORD_CHANGE_REQUEST = 0x03
CMD_SETTING_INFO_REQUEST = 0x04
CMD_SETTING_CHANGE_REQUEST = 0x05
CMD_ONLINE_DATA_REQUEST = 0x11
CMD_OFFLINE_NOTE_LIST_REQUEST = 0x21
CMD_OFFLINE_PAGE_LIST_REQUEST = 0x22
CMD_OFFLINE_DATA_REQUEST = 0x23
CMD_OFFLINE_CHUNK = 0x24  # pen → host, no RESULT byte
CMD_OFFLINE_DELETE_REQUEST = 0x25
CMD_LOW_BATTERY = 0x61
CMD_SHUTDOWN = 0x62
CMD_PAPER_INFO_LEGACY = 0x64
CMD_DOT_LEGACY = 0x65
CMD_PEN_DOWN = 0x69
CMD_PEN_UP = 0x6A
CMD_PAPER_INFO = 0x6B
CMD_DOT = 0x6C
CMD_VERSION_RESPONSE = 0x81
CMD_PASSWORD_RESPONSE = 0x82
CMD_PASSWORD_CHANGE_RESPONSE = 0x83
CMD_SETTING_INFO_RESPONSE = 0x84
CMD_SETTING_CHANGE_RESPONSE = 0x85
CMD_ONLINE_DATA_RESPONSE = 0x91
CMD_OFFLINE_NOTE_LIST_RESPONSE = 0xA1
CMD_OFFLINE_PAGE_LIST_RESPONSE = 0xA2
CMD_OFFLINE_DATA_RESPONSE = 0xA3
CMD_OFFLINE_CHUNK_ACK = 0xA4  # host → pen, with RESULT
CMD_OFFLINE_DELETE_RESPONSE = 0xA5

ALL = 0xFFFFFFFF  # "every section/owner" in list requests

# PasswordResponse.status values
PASSWORD_NEEDED = 0  # wrong password (or none given yet): the pen is still locked
PASSWORD_OK = 1
PASSWORD_RESET = 2  # too many wrong passwords: the pen erased itself
PASSWORD_ERROR = 3

# OfflineChunk.position values
CHUNK_START, CHUNK_MIDDLE, CHUNK_END = 0, 1, 2


class FrameError(ValueError):
    """A frame's payload does not fit its command (too short, impossible values)."""


def has_result(cmd: int) -> bool:
    """Whether frames of this command carry the RESULT byte after CMD."""
    return cmd >= 0x80


# -- escaping ---------------------------------------------------------------------------------------------------
def escape(body: bytes) -> bytes:
    """DLE-escape STX, ETX and DLE (DLE first, so the escapes it inserts are not escaped again)."""
    if STX not in body and ETX not in body and DLE not in body:
        return body
    return (
        body.replace(_DLE_B, bytes((DLE, DLE ^ ESCAPE_XOR)))
        .replace(_STX_B, bytes((DLE, STX ^ ESCAPE_XOR)))
        .replace(_ETX_B, bytes((DLE, ETX ^ ESCAPE_XOR)))
    )


def unescape(body: bytes) -> bytes:
    """Undo :func:`escape`; FrameError for a DLE that is last or escapes a byte that never needs escaping."""
    if DLE not in body:
        return body
    parts = body.split(_DLE_B)
    out = bytearray(parts[0])
    for part in parts[1:]:
        if not part:
            raise FrameError("bad escape: DLE at the end of the frame or twice in a row")
        original = _ESCAPED.get(part[0])
        if original is None:
            raise FrameError(f"bad escape: DLE before 0x{part[0]:02X}")
        out.append(original)
        out += part[1:]
    return bytes(out)


def encode_frame(cmd: int, payload: bytes, result: int | None = None) -> bytes:
    """One frame on the wire. ``result`` defaults to 0 (success) for commands that carry one."""
    if not 0 <= cmd <= 0xFF:
        raise ValueError(f"command 0x{cmd:X} does not fit a byte")
    if len(payload) > MAX_DATA:
        raise ValueError(f"payload of {len(payload)} bytes does not fit the u16 length")
    if has_result(cmd):
        code = 0 if result is None else result
        if not 0 <= code <= 0xFF:
            raise ValueError(f"result {code} does not fit a byte")
        header = struct.pack("<BBH", cmd, code, len(payload))
    else:
        if result is not None:
            raise ValueError(f"command 0x{cmd:02X} carries no RESULT byte (only 0x80 and up do)")
        header = struct.pack("<BH", cmd, len(payload))
    return _STX_B + escape(header + payload) + _ETX_B


# -- shared field helpers ---------------------------------------------------------------------------------------
def pack_section_owner(section: int, owner: int) -> int:
    if not 0 <= section <= 0xFF or not 0 <= owner <= 0xFFFFFF:
        raise ValueError(f"section {section} / owner {owner} out of range (section u8, owner u24)")
    return (section << 24) | owner


def unpack_section_owner(value: int) -> tuple[int, int]:
    return value >> 24, value & 0xFFFFFF


def _need(data: bytes, n: int, what: str) -> None:
    if len(data) < n:
        raise FrameError(f"{what} needs {n} bytes, got {len(data)}")


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace")


def _fixed(text: str, size: int) -> bytes:
    raw = text.encode("utf-8")[:size]
    return raw + bytes(size - len(raw))


def split_coord(value: float) -> tuple[int, int]:
    """A pattern coordinate as the pen sends it: whole units (u16) and hundredths (u8)."""
    if not 0 <= value < 0x10000:
        raise ValueError(f"coordinate {value} is outside the Ncode page (0..65535 units)")
    hundredths = round(value * 100)
    whole, frac = divmod(hundredths, 100)
    if whole > 0xFFFF:
        whole, frac = 0xFFFF, 99
    return whole, frac


# -- frame types ----------------------------------------------------------------------------------------------
class Frame:
    """Base of the typed frames: each knows its command, its payload and how to encode itself."""

    CMD: ClassVar[int]

    def command(self) -> int:
        return self.CMD

    def payload(self) -> bytes:
        return b""

    def result_code(self) -> int | None:
        return None

    def encode(self) -> bytes:
        return encode_frame(self.command(), self.payload(), self.result_code())


@dataclass(frozen=True)
class Response(Frame):
    """A pen's answer to a request; ``result`` 0 means success."""

    result: int = 0

    def result_code(self) -> int | None:
        return self.result
