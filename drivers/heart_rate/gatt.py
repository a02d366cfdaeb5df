"""The Bluetooth SIG Heart Rate Measurement characteristic (0x2A37, service 0x180D), both ways.

The same bytes arrive three ways in a PE lesson: as GATT notifications from connected bands, as
0x180D service data in some bands' advertisements, and from the simulator. One strict parser
serves all three, so a malformed packet is rejected the same way whichever path it took.

Layout (little-endian)::

    flags  u8     bit0 HR is uint16 (else uint8)
                  bit1 sensor contact detected, bit2 sensor contact supported
                  bit3 Energy Expended present (uint16, kJ)
                  bit4 RR intervals present (uint16 each, 1/1024 s, oldest first, rest of packet)
                  bits5-7 reserved: ignored
    hr     u8 | u16
    energy u16    (if bit3)
    rr     u16 *  (if bit4)

Decision on an odd trailing byte in the RR field: the packet is rejected with ValueError. A half
interval means the packet was cut or mis-built; guessing would hand HRV code a corrupt beat.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

FLAG_UINT16 = 0x01
FLAG_CONTACT_DETECTED = 0x02
FLAG_CONTACT_SUPPORTED = 0x04
FLAG_ENERGY = 0x08
FLAG_RR = 0x10

RR_UNITS_PER_S = 1024


@dataclass(frozen=True)
class HeartRateMeasurement:
    """One decoded measurement; ``contact`` is None when the band cannot sense skin contact."""

    bpm: int
    contact: bool | None
    energy_kj: int | None = None
    rr_ms: list[float] = field(default_factory=list)


def parse_heart_rate_measurement(data: bytes | bytearray) -> HeartRateMeasurement:
    """Decode 0x2A37 bytes; ValueError (with what was wrong) for empty or truncated data."""
    if not data:
        raise ValueError("heart rate measurement is empty: expected at least a flags byte and a heart rate")
    flags = data[0]
    pos = 1
    if flags & FLAG_UINT16:
        if len(data) < pos + 2:
            raise ValueError(
                f"heart rate measurement truncated: flags say uint16 bpm but only {len(data) - pos} byte follows"
                if len(data) - pos == 1
                else "heart rate measurement truncated: flags say uint16 bpm but no byte follows"
            )
        (bpm,) = struct.unpack_from("<H", data, pos)
        pos += 2
    else:
        if len(data) < pos + 1:
            raise ValueError("heart rate measurement truncated: flags say uint8 bpm but no byte follows")
        bpm = data[pos]
        pos += 1

    contact: bool | None = bool(flags & FLAG_CONTACT_DETECTED) if flags & FLAG_CONTACT_SUPPORTED else None

    energy: int | None = None
    if flags & FLAG_ENERGY:
        if len(data) < pos + 2:
            raise ValueError(
                f"heart rate measurement truncated: flags say energy expended (2 bytes) follows "
                f"but only {len(data) - pos} byte(s) remain"
            )
        (energy,) = struct.unpack_from("<H", data, pos)
        pos += 2

    rr: list[float] = []
    if flags & FLAG_RR:
        rest = len(data) - pos
        if rest % 2:
            raise ValueError(
                f"heart rate measurement malformed: RR-interval field has {rest} bytes, not a whole number of uint16"
            )
        rr = [v * 1000.0 / RR_UNITS_PER_S for (v,) in struct.iter_unpack("<H", data[pos:])]
    return HeartRateMeasurement(bpm=bpm, contact=contact, energy_kj=energy, rr_ms=rr)


def encode_heart_rate_measurement(
    bpm: int,
    contact: bool | None = None,
    energy_kj: int | None = None,
    rr_ms: Iterable[float] = (),
    *,
    force_uint16: bool = False,
) -> bytes:
    """Build 0x2A37 bytes as a band would (used by the simulator and tests).

    ``rr_ms`` is rounded to the wire's 1/1024 s resolution, so a round trip returns the
    quantised value, not necessarily the float that went in.
    """
    if not 0 <= bpm <= 0xFFFF:
        raise ValueError(f"bpm {bpm} does not fit the characteristic (0-65535)")
    flags = 0
    body = bytearray()
    if force_uint16 or bpm > 0xFF:
        flags |= FLAG_UINT16
        body += struct.pack("<H", bpm)
    else:
        body.append(bpm)
    if contact is not None:
        flags |= FLAG_CONTACT_SUPPORTED | (FLAG_CONTACT_DETECTED if contact else 0)
    if energy_kj is not None:
        flags |= FLAG_ENERGY
        body += struct.pack("<H", min(max(energy_kj, 0), 0xFFFF))
    units = [min(max(round(ms * RR_UNITS_PER_S / 1000.0), 0), 0xFFFF) for ms in rr_ms]
    if units:
        flags |= FLAG_RR
        body += struct.pack(f"<{len(units)}H", *units)
    return bytes((flags,)) + bytes(body)
