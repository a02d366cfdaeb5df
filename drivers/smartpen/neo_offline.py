"""Stored (offline) strokes as a Neo pen packs them into :class:`~drivers.smartpen.neo.OfflineChunk` data.

A pen that writes without a connection keeps its strokes per note. During a transfer each chunk carries
whole strokes, zlib-compressed, in this record format (little-endian)::

    stroke: page u32 | down_ms u64 | up_ms u64 | tip u8 | colour u32 | dot_count u16 | dot × dot_count
    dot:    dt u8 | force u16 | x u16 | y u16 | fx u8 | fy u8 | tilt_x u8 | tilt_y u8 | twist u16
            | reserved u16 | checksum u8

The checksum is the low byte of the sum of the dot's first 15 bytes (our reading of the public SDKs, which
read the byte but do not all check it); a dot that fails it is dropped and counted, never trusted.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from drivers.smartpen.neo import (
    CHUNK_END,
    CHUNK_MIDDLE,
    CHUNK_START,
    FrameError,
    OfflineChunk,
    split_coord,
)

_STROKE = struct.Struct("<IQQBIH")
_DOT = struct.Struct("<BHHHBBBBHH")  # without the checksum byte
DOT_SIZE = _DOT.size + 1
# Uncompressed bytes per chunk before the pen starts a new one (a chunk always holds at least one stroke).
CHUNK_BYTES = 1024


@dataclass(frozen=True)
class OfflineDot:
    dt: int  # ms since the previous dot (the first: since pen down)
    force: int
    x: float  # pattern units, hundredths applied
    y: float
    tilt_x: int = 0
    tilt_y: int = 0
    twist: int = 0


@dataclass(frozen=True)
class OfflineStroke:
    page: int
    down_ms: int
    up_ms: int
    dots: tuple[OfflineDot, ...]
    tip: int = 0
    colour: int = 0xFF000000


def encode_strokes(strokes: Sequence[OfflineStroke]) -> bytes:
    out = bytearray()
    for s in strokes:
        out += _STROKE.pack(s.page, s.down_ms, s.up_ms, s.tip, s.colour, len(s.dots))
        for d in s.dots:
            xi, xf = split_coord(d.x)
            yi, yf = split_coord(d.y)
            body = _DOT.pack(d.dt, d.force, xi, yi, xf, yf, d.tilt_x, d.tilt_y, d.twist, 0)
            out += body + bytes((sum(body) & 0xFF,))
    return bytes(out)


def decode_strokes(data: bytes, count: int) -> tuple[list[OfflineStroke], int]:
    """``count`` strokes from uncompressed record bytes, and how many dots failed their checksum.

    FrameError when the bytes end before ``count`` strokes do (a corrupted or truncated chunk).
    """
    strokes: list[OfflineStroke] = []
    bad = 0
    pos = 0
    for i in range(count):
        if len(data) - pos < _STROKE.size:
            raise FrameError(f"offline data ends inside stroke {i + 1} of {count}")
        page, down, up, tip, colour, n = _STROKE.unpack_from(data, pos)
        pos += _STROKE.size
        if len(data) - pos < n * DOT_SIZE:
            raise FrameError(f"offline stroke {i + 1} announces {n} dots but the data ends early")
        dots: list[OfflineDot] = []
        for _ in range(n):
            body = data[pos : pos + _DOT.size]
            checksum = data[pos + _DOT.size]
            pos += DOT_SIZE
            if sum(body) & 0xFF != checksum:
                bad += 1
                continue
            dt, force, xi, yi, xf, yf, tx, ty, twist, _reserved = _DOT.unpack(body)
            if xf > 99 or yf > 99:
                bad += 1
                continue
            dots.append(OfflineDot(dt, force, xi + xf / 100, yi + yf / 100, tx, ty, twist))
        strokes.append(OfflineStroke(page, down, up, tuple(dots), tip, colour))
    return strokes, bad


def chunk_note(
    section: int, owner: int, note: int, strokes: Sequence[OfflineStroke], compress: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> list[OfflineChunk]:
    """A stored note as the pen sends it: whole strokes per chunk, numbered from 0, last one CHUNK_END."""
    groups = list(_groups(strokes, chunk_bytes))
    chunks: list[OfflineChunk] = []
    for i, group in enumerate(groups):
        raw = encode_strokes(group)
        data = zlib.compress(raw) if compress else raw
        position = CHUNK_END if i == len(groups) - 1 else (CHUNK_START if i == 0 else CHUNK_MIDDLE)
        chunks.append(
            OfflineChunk(i, compress, len(raw), len(data), position, section, owner, note, len(group), data)
        )
    return chunks


def _groups(strokes: Sequence[OfflineStroke], limit: int) -> Iterator[list[OfflineStroke]]:
    group: list[OfflineStroke] = []
    size = 0
    for s in strokes:
        n = _STROKE.size + DOT_SIZE * len(s.dots)
        if group and size + n > limit:
            yield group
            group, size = [], 0
        group.append(s)
        size += n
    if group:
        yield group


def chunk_strokes(chunk: OfflineChunk) -> tuple[list[OfflineStroke], int]:
    """The strokes one chunk carries (decompressed and size-checked) and its bad-checksum dot count."""
    data = chunk.data
    if chunk.compressed:
        try:
            data = zlib.decompress(data)
        except zlib.error as exc:
            raise FrameError(f"chunk {chunk.packet_id} does not decompress: {exc}") from None
    if len(data) != chunk.size_before:
        raise FrameError(f"chunk {chunk.packet_id} is {len(data)} bytes, announced {chunk.size_before}")
    return decode_strokes(data, chunk.stroke_count)
