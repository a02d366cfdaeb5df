"""Neo smartpen protocol v2: frames in and out as typed values. A pure codec: no I/O, no clocks, no state.

This module is the codec's public face: :func:`decode_frames` and :class:`FrameDecoder` (bytes in, typed
frames out) are here, and it re-exports the wire layer (:mod:`drivers.smartpen.neo_wire`: STX/ETX framing,
DLE escaping, :func:`encode_frame`, command numbers) and the frame types (:mod:`drivers.smartpen.neo_frames`:
one frozen dataclass per frame, each with ``.encode()``), so callers write ``neo.PenDown``, ``neo.encode_frame``.

Decoding never raises on input. A raw 0xC0 always starts a frame (escaping guarantees it), so after noise, a
torn BLE notification or a corrupt frame the decoder simply waits for the next STX. Frames that cannot be
used (bad escape, a declared length that disagrees with the payload, a payload too short for its type) are
skipped and their reasons collected, for one rate-limited log line in the driver. Commands without a type
decode to :class:`Unknown`: newer firmware adds commands, which is not an error.

Offline notes travel as zlib-compressed blobs of stroke records inside :class:`OfflineChunk` frames; the
record format is in :mod:`drivers.smartpen.neo_offline`.
"""

from __future__ import annotations

import struct
from collections import Counter

from drivers.smartpen.neo_frames import (
    PARSERS,
    Dot,
    LowBattery,
    NoteId,
    NoteListRequest,
    NoteListResponse,
    OfflineChunk,
    OfflineChunkAck,
    OfflineDataRequest,
    OfflineDataResponse,
    OfflineDeleteRequest,
    OfflineDeleteResponse,
    OnlineDataRequest,
    OnlineDataResponse,
    PageListRequest,
    PageListResponse,
    PaperInfo,
    PasswordRequest,
    PasswordResponse,
    PenDown,
    PenUp,
    SettingInfo,
    SettingInfoRequest,
    Shutdown,
    Unknown,
    VersionInfo,
    VersionRequest,
)
from drivers.smartpen.neo_wire import (
    _ETX_B,
    _STX_B,
    ALL,
    CHUNK_END,
    CHUNK_MIDDLE,
    CHUNK_START,
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
    CMD_PASSWORD_CHANGE_REQUEST,
    CMD_PASSWORD_CHANGE_RESPONSE,
    CMD_PASSWORD_REQUEST,
    CMD_PASSWORD_RESPONSE,
    CMD_PEN_DOWN,
    CMD_PEN_UP,
    CMD_SETTING_CHANGE_REQUEST,
    CMD_SETTING_CHANGE_RESPONSE,
    CMD_SETTING_INFO_REQUEST,
    CMD_SETTING_INFO_RESPONSE,
    CMD_SHUTDOWN,
    CMD_VERSION_REQUEST,
    CMD_VERSION_RESPONSE,
    DLE,
    ESCAPE_XOR,
    ETX,
    MAX_DATA,
    MAX_WIRE_FRAME,
    PASSWORD_ERROR,
    PASSWORD_NEEDED,
    PASSWORD_OK,
    PASSWORD_RESET,
    STX,
    Frame,
    FrameError,
    Response,
    encode_frame,
    escape,
    has_result,
    pack_section_owner,
    split_coord,
    unescape,
    unpack_section_owner,
)

# Everything the codec offers is reachable as drivers.smartpen.neo.<name>.
__all__ = [
    "ALL",
    "CHUNK_END",
    "CHUNK_MIDDLE",
    "CHUNK_START",
    "CMD_DOT",
    "CMD_DOT_LEGACY",
    "CMD_LOW_BATTERY",
    "CMD_OFFLINE_CHUNK",
    "CMD_OFFLINE_CHUNK_ACK",
    "CMD_OFFLINE_DATA_REQUEST",
    "CMD_OFFLINE_DATA_RESPONSE",
    "CMD_OFFLINE_DELETE_REQUEST",
    "CMD_OFFLINE_DELETE_RESPONSE",
    "CMD_OFFLINE_NOTE_LIST_REQUEST",
    "CMD_OFFLINE_NOTE_LIST_RESPONSE",
    "CMD_OFFLINE_PAGE_LIST_REQUEST",
    "CMD_OFFLINE_PAGE_LIST_RESPONSE",
    "CMD_ONLINE_DATA_REQUEST",
    "CMD_ONLINE_DATA_RESPONSE",
    "CMD_PAPER_INFO",
    "CMD_PAPER_INFO_LEGACY",
    "CMD_PASSWORD_CHANGE_REQUEST",
    "CMD_PASSWORD_CHANGE_RESPONSE",
    "CMD_PASSWORD_REQUEST",
    "CMD_PASSWORD_RESPONSE",
    "CMD_PEN_DOWN",
    "CMD_PEN_UP",
    "CMD_SETTING_CHANGE_REQUEST",
    "CMD_SETTING_CHANGE_RESPONSE",
    "CMD_SETTING_INFO_REQUEST",
    "CMD_SETTING_INFO_RESPONSE",
    "CMD_SHUTDOWN",
    "CMD_VERSION_REQUEST",
    "CMD_VERSION_RESPONSE",
    "DLE",
    "ESCAPE_XOR",
    "ETX",
    "MAX_DATA",
    "MAX_WIRE_FRAME",
    "PARSERS",
    "PASSWORD_ERROR",
    "PASSWORD_NEEDED",
    "PASSWORD_OK",
    "PASSWORD_RESET",
    "STX",
    "Dot",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "LowBattery",
    "NoteId",
    "NoteListRequest",
    "NoteListResponse",
    "OfflineChunk",
    "OfflineChunkAck",
    "OfflineDataRequest",
    "OfflineDataResponse",
    "OfflineDeleteRequest",
    "OfflineDeleteResponse",
    "OnlineDataRequest",
    "OnlineDataResponse",
    "PageListRequest",
    "PageListResponse",
    "PaperInfo",
    "PasswordRequest",
    "PasswordResponse",
    "PenDown",
    "PenUp",
    "Response",
    "SettingInfo",
    "SettingInfoRequest",
    "Shutdown",
    "Unknown",
    "VersionInfo",
    "VersionRequest",
    "decode_body",
    "decode_frames",
    "encode_frame",
    "escape",
    "has_result",
    "pack_section_owner",
    "split_coord",
    "summarize_errors",
    "unescape",
    "unpack_section_owner",
]


# -- decoding -------------------------------------------------------------------------------------------------
def decode_body(body: bytes) -> Frame:
    """One frame from the escaped bytes between STX and ETX; FrameError says why it cannot be used."""
    raw = unescape(body)
    if not raw:
        raise FrameError("empty frame")
    cmd = raw[0]
    header = 4 if has_result(cmd) else 3
    if len(raw) < header:
        raise FrameError(f"short header: {len(raw)} bytes for command 0x{cmd:02X}")
    result = raw[1] if header == 4 else None
    (declared,) = struct.unpack_from("<H", raw, header - 2)
    data = raw[header:]
    if len(data) != declared:
        raise FrameError(f"length mismatch: command 0x{cmd:02X} declares {declared} bytes, carries {len(data)}")
    parser = PARSERS.get(cmd)
    if parser is None:
        return Unknown(cmd, result, bytes(data))
    try:
        return parser(cmd, result, bytes(data))
    except struct.error as exc:
        raise FrameError(f"bad payload for command 0x{cmd:02X}: {exc}") from None
    except FrameError as exc:
        raise FrameError(f"bad payload for command 0x{cmd:02X}: {exc}") from None


def decode_frames(buf: bytes, errors: list[str] | None = None) -> tuple[list[Frame], bytes]:
    """Every complete frame in ``buf`` and the unconsumed remainder (an incomplete trailing frame, from its STX).

    Never raises on input. Bytes outside frames, frames torn by a new STX, bad escapes, length mismatches and
    short payloads are skipped; when ``errors`` is given, one reason per skipped piece is appended to it.
    """
    frames: list[Frame] = []
    i, n = 0, len(buf)
    while i < n:
        start = buf.find(_STX_B, i)
        if start < 0:
            _note(errors, f"noise: {n - i} byte(s) outside any frame")
            return frames, b""
        if start > i:
            _note(errors, f"noise: {start - i} byte(s) outside any frame")
        next_stx = buf.find(_STX_B, start + 1)
        end = buf.find(_ETX_B, start + 1)
        if end < 0 or (0 <= next_stx < end):
            if next_stx < 0:
                pending = buf[start:]
                if len(pending) > MAX_WIRE_FRAME:
                    _note(errors, f"too long: {len(pending)} bytes without an end of frame")
                    return frames, b""
                return frames, bytes(pending)
            _note(errors, "torn frame: a new frame started before this one ended")
            i = next_stx
            continue
        i = end + 1
        try:
            frames.append(decode_body(buf[start + 1 : end]))
        except FrameError as exc:
            _note(errors, str(exc))
    return frames, b""


def _note(errors: list[str] | None, reason: str) -> None:
    if errors is not None:
        errors.append(reason)


class FrameDecoder:
    """:func:`decode_frames` over a byte stream that arrives in arbitrary pieces (BLE notifications, reads)."""

    def __init__(self) -> None:
        self._pending = b""
        self._errors: list[str] = []
        self.frames = 0
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame]:
        before = len(self._errors)
        frames, self._pending = decode_frames(self._pending + bytes(data), self._errors)
        self.frames += len(frames)
        self.dropped += len(self._errors) - before
        return frames

    def reset(self) -> None:
        """Forget a half-received frame (the link dropped; its end will never come)."""
        self._pending = b""

    def pop_errors(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors


def summarize_errors(errors: list[str]) -> str:
    """One short line for many reasons: counts per kind, with the first example of each."""
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}
    for reason in errors:
        kind = reason.split(":", 1)[0]
        kinds[kind] += 1
        example.setdefault(kind, reason)
    return "; ".join(f"{count}× {example[kind]}" if count > 1 else example[kind] for kind, count in kinds.items())
