"""The envelope a USB/serial pen gateway wraps around each pen's bytes: pure codec, no I/O.

A classroom gateway (a USB dongle or a box on the teacher's desk) holds BLE links to many pens and relays
them over one serial line, so every piece of a pen's byte stream must say which pen it belongs to.

THIS ENVELOPE IS THIS PROJECT'S ASSUMPTION. Gateway vendors each define their own (some wrap Neo frames,
some re-encode dots in their own layout) and none is public in a form we could follow. A real gateway
needs an adapter here that maps its format onto the same four messages; the pen protocol inside
(:mod:`drivers.smartpen.neo`) is unchanged. The envelope::

    0xAA 0x55 | type u8 | pen MAC 6 bytes | length u16 LE | payload | CRC-16/CCITT u16 LE

The CRC (initial 0xFFFF, as ``binascii.crc_hqx``) covers type, MAC, length and payload. The magic, the
CRC and a length cap let the decoder find the next envelope after line noise; an envelope whose CRC fails
is skipped one byte at a time, so a real envelope behind a false start is still found.

Messages:

* ``HELLO`` (host → gateway, MAC all zero): a host opened the port; the gateway answers ``GATEWAY_INFO``
  and then ``PEN_CONNECTED`` for every pen it holds, so a restarted host learns who is there.
* ``GATEWAY_INFO`` (gateway → host): payload is the gateway's ASCII name and firmware.
* ``PEN_CONNECTED`` / ``PEN_DISCONNECTED`` (gateway → host): a pen's link came up / went down.
* ``DATA`` (both ways): a piece of one pen's Neo byte stream, split anywhere (a frame may span several).
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

MAGIC = b"\xaa\x55"
HELLO = 0x01
GATEWAY_INFO = 0x02
PEN_CONNECTED = 0x03
PEN_DISCONNECTED = 0x04
DATA = 0x05
TYPES = {HELLO: "hello", GATEWAY_INFO: "gateway_info", PEN_CONNECTED: "connected", PEN_DISCONNECTED: "disconnected",
         DATA: "data"}  # fmt: skip
MAX_PAYLOAD = 1024
_HEAD = struct.Struct("<2sB6sH")
HEADER_SIZE = _HEAD.size
NO_PEN = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Envelope:
    type: int
    pen_id: str  # "9C:7B:D2:01:00:01"
    payload: bytes = b""


def mac_bytes(pen_id: str) -> bytes:
    raw = bytes.fromhex(pen_id.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"pen id {pen_id!r} is not a six-byte MAC address")
    return raw


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02X}" for b in raw)


def encode_envelope(env: Envelope) -> bytes:
    if env.type not in TYPES:
        raise ValueError(f"unknown envelope type 0x{env.type:02X}")
    if len(env.payload) > MAX_PAYLOAD:
        raise ValueError(f"envelope payload of {len(env.payload)} bytes; split it (at most {MAX_PAYLOAD})")
    head = _HEAD.pack(MAGIC, env.type, mac_bytes(env.pen_id), len(env.payload))
    crc = binascii.crc_hqx(head[2:] + env.payload, 0xFFFF)
    return head + env.payload + struct.pack("<H", crc)


def encode_data(pen_id: str, data: bytes) -> bytes:
    """A pen's bytes as one or more DATA envelopes."""
    return b"".join(
        encode_envelope(Envelope(DATA, pen_id, data[i : i + MAX_PAYLOAD])) for i in range(0, len(data), MAX_PAYLOAD)
    )


class EnvelopeDecoder:
    """Envelopes from a serial byte stream that arrives in arbitrary pieces, skipping noise."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._errors: list[str] = []
        self.envelopes = 0

    def feed(self, data: bytes) -> list[Envelope]:
        self._buf += data
        out: list[Envelope] = []
        buf = self._buf
        pos = 0
        while True:
            start = buf.find(MAGIC, pos)
            if start < 0:
                # Keep a trailing 0xAA: it may be the first half of the next magic.
                keep = 1 if pos < len(buf) and buf[-1] == MAGIC[0] else 0
                skipped = len(buf) - pos - keep
                if skipped > 0:
                    self._errors.append(f"noise: {skipped} byte(s) between envelopes")
                pos = len(buf) - keep
                break
            if start > pos:
                self._errors.append(f"noise: {start - pos} byte(s) between envelopes")
            if len(buf) - start < HEADER_SIZE:
                pos = start
                break
            _magic, kind, mac, length = _HEAD.unpack_from(buf, start)
            if kind not in TYPES or length > MAX_PAYLOAD:
                self._errors.append(f"bad header: type 0x{kind:02X}, length {length}")
                pos = start + 1
                continue
            end = start + HEADER_SIZE + length + 2
            if len(buf) < end:
                pos = start
                break
            body = bytes(buf[start + 2 : end - 2])
            (crc,) = struct.unpack_from("<H", buf, end - 2)
            if binascii.crc_hqx(body, 0xFFFF) != crc:
                self._errors.append("bad CRC: envelope skipped")
                pos = start + 1
                continue
            out.append(Envelope(kind, mac_text(mac), bytes(buf[start + HEADER_SIZE : end - 2])))
            pos = end
        del self._buf[:pos]
        self.envelopes += len(out)
        return out

    def reset(self) -> None:
        self._buf.clear()

    def pop_errors(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors
