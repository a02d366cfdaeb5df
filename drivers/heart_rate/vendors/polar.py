"""Polar heart-rate broadcast in manufacturer-specific data (company id 0x006B).

Layout as read by the Polar BLE SDK (``BlePolarHrAdvertisement`` and the manufacturer-data walk
in ``BleAdvertisementContent.processAdvManufacturerData``, polarofficial/polar-ble-sdk), on the
payload after the 2-byte company id, i.e. ``AdvertisementData.manufacturer_data[0x006B]``:

The payload is a sequence of frames. A frame whose first byte has bit 6 (0x40) set is
"GPB data" (header byte, length byte, that many bytes) and is skipped. Otherwise it is an HR frame
(the SDK steps 5 bytes to the next frame)::

    byte0  bit0 battery status (1 = low), bit1 sensor contact, bits2-4 advert frame counter,
           bit5 broadcast bit, bit6 sensor data type (0 = HR), bit7 status flag
    byte1  kHz code (5 kHz legacy transmitter code)
    byte2  fast-average HR (bpm)
    byte3  slow-average HR (bpm), absent in the old 3-byte H6/H7 frame

The SDK displays the slow average (the fast one in a 3-byte frame); so do we. A band that has
lost skin contact keeps broadcasting with bit1 clear and (typically) HR 0.
"""

from __future__ import annotations

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.heart_rate.vendors import VendorReading

COMPANY_ID = 0x006B
GPB_FRAME = 0x40
HR_FRAME_STEP = 5


def parse(device: BLEDevice, adv: AdvertisementData) -> VendorReading | None:
    """The HR reading in a Polar advert, None if this is not one; ValueError for a cut HR frame."""
    data = adv.manufacturer_data.get(COMPANY_ID)
    if data is None:
        return None
    frame = _last_hr_frame(data)
    if frame is None:
        return None  # Polar device advertising something else (a watch's GPB data, a paired H10)
    flags = frame[0]
    bpm = frame[3] if len(frame) >= 4 else frame[2]
    return VendorReading(
        vendor="polar",
        bpm=bpm,
        contact=bool(flags & 0x02),
        battery_low=bool(flags & 0x01),
    )


def _last_hr_frame(data: bytes) -> bytes | None:
    frame: bytes | None = None
    offset = 0
    while offset < len(data):
        if data[offset] & GPB_FRAME:
            offset += 1
            if offset >= len(data):
                break
            offset += data[offset] + 1
            continue
        if offset + 3 > len(data):
            raise ValueError(
                f"Polar HR broadcast truncated: HR frame at byte {offset} needs 3-4 bytes, "
                f"only {len(data) - offset} remain ({data.hex(' ')})"
            )
        frame = bytes(data[offset : offset + 4])
        offset += HR_FRAME_STEP
    return frame


def encode(bpm: int, contact: bool, battery_low: bool = False, counter: int = 0, khz_code: int = 0) -> bytes:
    """A 4-byte HR frame as a Polar strap broadcasts it (for the simulator and tests)."""
    if not 0 <= bpm <= 0xFF:
        raise ValueError(f"Polar broadcasts bpm as one byte, not {bpm}")
    flags = (0x01 if battery_low else 0) | (0x02 if contact else 0) | ((counter & 0x07) << 2) | 0x20
    return bytes((flags, khz_code & 0xFF, bpm, bpm))
