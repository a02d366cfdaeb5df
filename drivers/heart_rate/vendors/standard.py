"""Bands that put a standard Heart Rate Measurement (0x2A37 bytes) in 0x180D service data.

Some generic armbands broadcast exactly the GATT characteristic's bytes as service data, often
with the Battery Service's level (one byte, percent) as 0x180F service data next to it.
"""

from __future__ import annotations

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.heart_rate.gatt import BATTERY_SERVICE_UUID, SERVICE_UUID, parse_heart_rate_measurement
from drivers.heart_rate.vendors import VendorReading


def parse(device: BLEDevice, adv: AdvertisementData) -> VendorReading | None:
    """The reading in 0x180D service data, None if absent; ValueError if the bytes are malformed."""
    data = adv.service_data.get(SERVICE_UUID)
    if data is None:
        return None
    m = parse_heart_rate_measurement(data)
    level = adv.service_data.get(BATTERY_SERVICE_UUID)
    battery = level[0] if level and level[0] <= 100 else None
    return VendorReading(
        vendor="standard",
        bpm=m.bpm,
        contact=m.contact,
        battery=battery,
        battery_low=None if battery is None else battery < 15,
        energy_kj=m.energy_kj,
        rr_ms=tuple(m.rr_ms),
    )
