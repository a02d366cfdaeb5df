"""Vendor advertisement plug-ins: Polar 0x006B manufacturer data, standard 0x180D service data, strangers."""

from __future__ import annotations

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers.heart_rate import encode_heart_rate_measurement
from drivers.heart_rate.gatt import BATTERY_SERVICE_UUID, SERVICE_UUID
from drivers.heart_rate.vendors import VendorReading, parse_advertisement, polar

DEVICE = BLEDevice("A0:9E:1A:10:00:01", "band", None)


def adv(
    manufacturer: dict[int, bytes] | None = None, service_data: dict[str, bytes] | None = None
) -> AdvertisementData:
    return AdvertisementData("band", manufacturer or {}, service_data or {}, [], None, -60, ())


def test_polar_four_byte_frame_uses_slow_average() -> None:
    # flags: contact (0x02), counter 3 (0x0C), broadcast bit (0x20); kHz code; fast 150; slow 148
    reading = parse_advertisement(DEVICE, adv({0x006B: bytes([0x2E, 0x00, 150, 148])}))
    assert reading == VendorReading(vendor="polar", bpm=148, contact=True, battery_low=False)


def test_polar_old_three_byte_frame_and_low_battery_without_contact() -> None:
    reading = parse_advertisement(DEVICE, adv({0x006B: bytes([0x01, 0x00, 0])}))
    assert reading is not None
    assert (reading.bpm, reading.contact, reading.battery_low) == (0, False, True)


def test_polar_gpb_frames_are_skipped() -> None:
    # a GPB frame (bit 6 set, length 2) before the HR frame
    data = bytes([0x40, 0x02, 0xAA, 0xBB, 0x22, 0x00, 99, 97])
    reading = parse_advertisement(DEVICE, adv({0x006B: data}))
    assert reading is not None and reading.bpm == 97


def test_polar_without_hr_frame_is_not_a_reading() -> None:
    assert parse_advertisement(DEVICE, adv({0x006B: bytes([0x40, 0x01, 0x00])})) is None


def test_polar_truncated_hr_frame_raises() -> None:
    with pytest.raises(ValueError, match="Polar HR broadcast truncated"):
        parse_advertisement(DEVICE, adv({0x006B: bytes([0x22, 0x00])}))


def test_polar_encoder_round_trips() -> None:
    reading = parse_advertisement(DEVICE, adv({0x006B: polar.encode(131, True, battery_low=False, counter=5)}))
    assert reading is not None and (reading.bpm, reading.contact) == (131, True)


def test_standard_service_data_with_battery() -> None:
    data = encode_heart_rate_measurement(142, True, rr_ms=[422.0])
    reading = parse_advertisement(DEVICE, adv(service_data={SERVICE_UUID: data, BATTERY_SERVICE_UUID: bytes([64])}))
    assert reading is not None
    assert (reading.vendor, reading.bpm, reading.contact, reading.battery, reading.battery_low) == (
        "standard",
        142,
        True,
        64,
        False,
    )
    assert reading.rr_ms == pytest.approx((422.0,), abs=1)


def test_standard_malformed_service_data_raises() -> None:
    with pytest.raises(ValueError, match="truncated"):
        parse_advertisement(DEVICE, adv(service_data={SERVICE_UUID: bytes([0x01, 0x50])}))


@pytest.mark.parametrize(
    "foreign",
    [
        adv(),
        adv({0x004C: bytes.fromhex("1005031c0a6b2e")}),  # an iPhone
        adv({0x0006: bytes.fromhex("0109202202")}),  # a Windows laptop
        adv(service_data={"0000fe9f-0000-1000-8000-00805f9b34fb": b"\x00"}),  # Google Fast Pair
    ],
)
def test_foreign_adverts_are_ignored(foreign: AdvertisementData) -> None:
    assert parse_advertisement(DEVICE, foreign) is None
