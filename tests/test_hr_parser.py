"""The 0x2A37 Heart Rate Measurement parser against the specification, plus fuzzing and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.heart_rate import HeartRateMeasurement, encode_heart_rate_measurement, parse_heart_rate_measurement


def test_uint8_bpm_without_contact_support() -> None:
    m = parse_heart_rate_measurement(bytes([0x00, 72]))
    assert m == HeartRateMeasurement(bpm=72, contact=None, energy_kj=None, rr_ms=[])


def test_uint16_bpm() -> None:
    assert parse_heart_rate_measurement(bytes([0x01, 0x2C, 0x01])).bpm == 300


@pytest.mark.parametrize(
    ("flags", "contact"),
    [(0x00, None), (0x02, None), (0x04, False), (0x06, True)],
    ids=["not-supported", "detected-bit-without-support", "supported-not-detected", "supported-detected"],
)
def test_contact_states(flags: int, contact: bool | None) -> None:
    assert parse_heart_rate_measurement(bytes([flags, 100])).contact is contact


def test_energy_expended() -> None:
    m = parse_heart_rate_measurement(bytes([0x08, 120, 0x34, 0x12]))
    assert (m.bpm, m.energy_kj) == (120, 0x1234)


def test_several_rr_intervals_oldest_first_in_ms() -> None:
    m = parse_heart_rate_measurement(bytes([0x10, 60, 0x00, 0x04, 0x00, 0x02, 0x00, 0x01]))
    assert m.rr_ms == [1000.0, 500.0, 250.0]


def test_everything_together_uint16_with_energy_and_rr() -> None:
    m = parse_heart_rate_measurement(bytes([0x1F, 0x8C, 0x00, 0x10, 0x00, 0xB4, 0x01]))
    assert m == HeartRateMeasurement(bpm=140, contact=True, energy_kj=16, rr_ms=[436 * 1000 / 1024])


def test_reserved_bits_ignored() -> None:
    assert parse_heart_rate_measurement(bytes([0xE6, 90])) == parse_heart_rate_measurement(bytes([0x06, 90]))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (bytes([0x00]), "uint8 bpm but no byte follows"),
        (bytes([0x01, 0x50]), "flags say uint16 bpm but only 1 byte follows"),
        (bytes([0x01]), "uint16 bpm but no byte follows"),
        (bytes([0x08, 80, 0x01]), "energy expended"),
        (bytes([0x10, 80, 0x00, 0x04, 0x00]), "not a whole number of uint16"),
    ],
)
def test_truncated_data_is_rejected_clearly(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_heart_rate_measurement(data)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_parse_or_raise_value_error(data: bytes) -> None:
    try:
        m = parse_heart_rate_measurement(data)
    except ValueError:
        return
    assert 0 <= m.bpm <= 0xFFFF
    assert m.contact in (None, True, False)
    assert all(0 <= rr < 64000 for rr in m.rr_ms)


@given(
    bpm=st.integers(0, 0xFFFF),
    contact=st.sampled_from([None, True, False]),
    energy=st.none() | st.integers(0, 0xFFFF),
    rr_units=st.lists(st.integers(0, 0xFFFF), max_size=8),
    force_uint16=st.booleans(),
)
def test_round_trip(
    bpm: int, contact: bool | None, energy: int | None, rr_units: list[int], force_uint16: bool
) -> None:
    rr_ms = [u * 1000 / 1024 for u in rr_units]
    data = encode_heart_rate_measurement(bpm, contact, energy, rr_ms, force_uint16=force_uint16)
    assert parse_heart_rate_measurement(data) == HeartRateMeasurement(bpm, contact, energy, rr_ms)
