"""ANT+ heart-rate straps: the page decoder, the simulated stick's serial bytes, and AntReceiver end to end.

The simulated stick replaces openant's USB driver, so the end-to-end tests run openant's real
Ant/Node threads, framing and response waits. Frames are checked here with an XOR written
independently of drivers.heart_rate.ant_pages, and expected RR intervals come from the simulated
straps' own beat log, not from the decoder under test.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import threading
import time
from collections.abc import Callable, Iterator
from functools import reduce
from typing import Any

import openant.base.ant
import pytest
import usb.core
from hypothesis import given
from hypothesis import strategies as st
from openant.base.ant import Ant
from openant.base.driver import DriverNotFound
from openant.devices import ANTPLUS_NETWORK_KEY
from openant.devices.heart_rate import HeartRate
from openant.easy.node import Node

from appliance.events import HeartRateSample
from drivers.heart_rate.ant import (
    AntReceiver,
    AntStickLost,
    AntStickUnavailable,
    _Ant,
    _Node,
    find_stick,
)
from drivers.heart_rate.ant_pages import (
    AntChannelId,
    AntHrmPage,
    AntMessageSplitter,
    NotHeartRatePage,
    encode_ant_broadcast,
    encode_ant_hrm_page,
    encode_ant_message,
    mean_beat_interval_ms,
    parse_ant_broadcast,
    parse_ant_hrm_page,
    rr_intervals_ms,
)
from drivers.heart_rate.ant_simulator import SimulatedAntStick
from drivers.heart_rate.scanner import BandTable
from drivers.ratelimit import RateLimitedLog

LOG = logging.getLogger("test.hr_ant")


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def frame(msg_id: int, data: bytes | list[int]) -> bytes:
    body = bytes([0xA4, len(data), msg_id, *data])
    return body + bytes([xor(body)])


def page(page_byte: int, specific: bytes, beat_time: int, count: int, bpm: int) -> bytes:
    return bytes([page_byte]) + specific + struct.pack("<HBB", beat_time, count, bpm)


# -- page decoder ----------------------------------------------------------------------------------------
def test_page_0_gives_beat_time_count_and_rate() -> None:
    p = parse_ant_hrm_page(page(0x80, b"\xff\xff\xff", 0x1234, 77, 143))
    assert (p.page, p.toggle, p.beat_time_1024, p.beat_count, p.bpm) == (0, True, 0x1234, 77, 143)
    assert p.previous_beat_time_1024 is None and p.battery_pct is None and p.battery_low is None


def test_page_4_gives_previous_beat_time() -> None:
    p = parse_ant_hrm_page(page(0x04, b"\xaa" + (0x0FA0).to_bytes(2, "little"), 0x1200, 5, 61))
    assert (p.page, p.toggle, p.previous_beat_time_1024, p.beat_time_1024, p.bpm) == (4, False, 0x0FA0, 0x1200, 61)


@pytest.mark.parametrize(
    ("specific", "pct", "volts", "status", "low"),
    [
        (bytes([73, 0x80, 0x23]), 73, 3.5, 2, False),  # good
        (bytes([8, 0x00, 0x42]), 8, 2.0, 4, True),  # low
        (bytes([0xFF, 0xFF, 0x7F]), None, None, None, None),  # nothing valid
    ],
)
def test_page_7_gives_battery(
    specific: bytes, pct: int | None, volts: float | None, status: int | None, low: bool | None
) -> None:
    p = parse_ant_hrm_page(page(0x87, specific, 1, 2, 100))
    assert (p.page, p.battery_pct, p.battery_voltage, p.battery_status, p.battery_low) == (7, pct, volts, status, low)
    assert p.bpm == 100


def test_background_pages_1_2_3() -> None:
    assert parse_ant_hrm_page(page(0x01, (3600).to_bytes(3, "little"), 0, 0, 90)).operating_time_s == 7200
    p2 = parse_ant_hrm_page(page(0x02, bytes([1]) + (0xBEEF).to_bytes(2, "little"), 0, 0, 90))
    assert (p2.manufacturer_id, p2.serial_number) == (1, 0xBEEF)
    p3 = parse_ant_hrm_page(page(0x83, bytes([4, 12, 9]), 0, 0, 90))
    assert (p3.hardware_version, p3.software_version, p3.model_number, p3.toggle) == (4, 12, 9, True)


@pytest.mark.parametrize("length", [0, 1, 7, 9, 13])
def test_wrong_length_is_a_clear_value_error(length: int) -> None:
    with pytest.raises(ValueError, match=f"must be 8 bytes, got {length}"):
        parse_ant_hrm_page(bytes(length))


def test_common_pages_are_not_read_as_heart_rate() -> None:
    # Page 0x50 (manufacturer info): bytes 4-7 are manufacturer id and model number, not HR data.
    with pytest.raises(NotHeartRatePage, match="0x50"):
        parse_ant_hrm_page(bytes([0x50, 0xFF, 0xFF, 1, 1, 0, 0x2A, 0x00]))
    assert issubclass(NotHeartRatePage, ValueError)


def hrm(beat_time: int, count: int, page_no: int = 0, previous: int | None = None) -> AntHrmPage:
    return AntHrmPage(page_no, False, beat_time, count, 100, previous_beat_time_1024=previous)


def test_rr_from_consecutive_pages() -> None:
    assert rr_intervals_ms(hrm(1000, 10), hrm(1000 + 768, 11)) == (750.0,)
    assert rr_intervals_ms(hrm(1000, 10), hrm(1000, 10)) == ()  # same beat repeated
    assert rr_intervals_ms(None, hrm(1000, 10)) == ()


def test_rr_across_both_rollovers() -> None:
    # beat time 0xFF00 → 0x0100 is 512 ticks = 500 ms; count 255 → 0 is one beat
    assert rr_intervals_ms(hrm(0xFF00, 255), hrm(0x0100, 0)) == (500.0,)


def test_missed_beats_give_only_measured_intervals() -> None:
    prev = hrm(0, 10)
    # three beats in 1800 ms: the mean is 600 ms, but only page 4's last interval was measured
    assert mean_beat_interval_ms(prev, hrm(1843, 13)) == pytest.approx(1843 * 1000 / 1024 / 3)
    assert rr_intervals_ms(prev, hrm(1843, 13, page_no=4, previous=1843 - 640)) == (625.0,)
    assert rr_intervals_ms(prev, hrm(1843, 13)) == ()


def test_implausible_intervals_are_dropped() -> None:
    assert rr_intervals_ms(hrm(0, 1), hrm(100, 2)) == ()  # 98 ms: 600 bpm
    assert rr_intervals_ms(hrm(0, 1), hrm(5000, 2)) == ()  # 4.9 s
    assert rr_intervals_ms(hrm(0, 1), hrm(600 * 40, 41)) == ()  # 40 beats missed: the u8 count may have wrapped


@given(st.binary(max_size=20))
def test_any_bytes_decode_or_raise_value_error(data: bytes) -> None:
    try:
        p = parse_ant_hrm_page(data)
    except ValueError:
        return
    assert len(data) == 8 and 0 <= p.page <= 7
    assert 0 <= p.beat_time_1024 <= 0xFFFF and 0 <= p.beat_count <= 0xFF and 0 <= p.bpm <= 0xFF
    assert p.battery_pct is None or 0 <= p.battery_pct <= 0xFE
    if p.battery_pct is None or p.battery_pct <= 100:  # a strap never sends more than 100 %
        # what decodes re-encodes to bytes that decode the same (reserved bits aside)
        assert parse_ant_hrm_page(encode_ant_hrm_page(p)) == p


@given(st.binary(max_size=24))
def test_any_broadcast_data_splits_or_raises_value_error(data: bytes) -> None:
    try:
        b = parse_ant_broadcast(data)
    except ValueError:
        return
    assert len(b.payload) == 8
    assert b.rssi_dbm is None or -128 <= b.rssi_dbm <= 127


@given(
    messages=st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=20)), max_size=6),
    garbage=st.binary(max_size=6).filter(lambda g: 0xA4 not in g),
    cut=st.integers(1, 30),
)
def test_splitter_survives_garbage_and_arbitrary_chunks(
    messages: list[tuple[int, bytes]], garbage: bytes, cut: int
) -> None:
    stream = garbage + b"".join(frame(i, d) for i, d in messages)
    splitter = AntMessageSplitter()
    got = []
    for at in range(0, len(stream), cut):
        got += splitter.feed(stream[at : at + cut])
    assert [(m.msg_id, m.data) for m in got] == messages
    assert (splitter.errors > 0) == bool(garbage)  # garbage is counted (once per chunk it arrived in)


def test_extended_data_round_trip_with_20_bit_device_number() -> None:
    cid = AntChannelId.for_device(0x5ABCD, 0x78)
    assert (cid.device_number, cid.transmission_type, cid.extended_number) == (0xABCD, 0x51, 0x5ABCD)
    payload = page(0x04, b"\xff\x00\x01", 0x0200, 3, 120)
    b = parse_ant_broadcast(encode_ant_broadcast(payload, cid, rssi_dbm=-71, rx_timestamp=0x1234))
    assert (b.payload, b.channel_id, b.rssi_dbm, b.rx_timestamp) == (payload, cid, -71, 0x1234)
    with pytest.raises(ValueError, match="flag byte 0x80 should be 13 bytes"):
        parse_ant_broadcast(payload + b"\x80\x01\x02")


def test_message_encoding_matches_an_independent_xor() -> None:
    assert encode_ant_message(0x4D, [0, 0x54]) == frame(0x4D, [0, 0x54])
    assert encode_ant_message(0x4A, [0]) == bytes.fromhex("a4014a00ef")  # reset, as in the ANT documentation


# -- the simulated stick's bytes ------------------------------------------------------------------------
def read_frames(
    stick: SimulatedAntStick, until: Callable[[list[tuple[int, bytes]]], bool], within_s: float = 3.0
) -> list[tuple[int, bytes]]:
    """Read raw bytes, checking every frame's sync, length and checksum independently."""
    buf = bytearray()
    frames: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        buf += bytes(stick.read())
        while len(buf) >= 4 and len(buf) >= buf[1] + 4:
            assert buf[0] == 0xA4, f"frame does not start with the sync byte: {bytes(buf[:8]).hex()}"
            whole = bytes(buf[: buf[1] + 4])
            del buf[: buf[1] + 4]
            assert xor(whole[:-1]) == whole[-1], f"bad checksum in {whole.hex()}"
            frames.append((whole[2], whole[3:-1]))
        if until(frames):
            return frames
    pytest.fail(f"the stick did not say what was expected within {within_s} s; it said {frames[-5:]}")


def command(stick: SimulatedAntStick, msg_id: int, data: list[int]) -> bytes:
    """Send one command, return the code of its channel response (0x40 channel, msg id, code)."""
    stick.write(frame(msg_id, data))
    frames = read_frames(stick, lambda fs: any(i == 0x40 and d[1] == msg_id for i, d in fs))
    return next(d for i, d in frames if i == 0x40 and d[1] == msg_id)


@pytest.fixture
def stick() -> Iterator[SimulatedAntStick]:
    s = SimulatedAntStick(2, time_scale=8, main_pages_between_background=4, background_pages=(7,), seed=3)
    s.open()
    yield s
    s.close()


def test_stick_answers_reset_capabilities_and_bad_frames(stick: SimulatedAntStick) -> None:
    stick.write(frame(0x4A, [0]))
    assert (0x6F, b"\x20") in read_frames(stick, lambda fs: any(i == 0x6F for i, _ in fs))
    stick.write(frame(0x4D, [0, 0x54]))
    caps = next(d for i, d in read_frames(stick, lambda fs: any(i == 0x54 for i, _ in fs)) if i == 0x54)
    assert caps[0] == 8 and caps[4] & 0x04  # 8 channels, continuous scan mode
    good = frame(0x4D, [0, 0x61])
    stick.write(good[:-1] + bytes([good[-1] ^ 0xFF]))
    assert (0xAE, b"\x02") in read_frames(stick, lambda fs: any(i == 0xAE for i, _ in fs))


def test_stick_scans_and_sends_real_hrm_pages(stick: SimulatedAntStick) -> None:
    stick.write(frame(0x4A, [0]))
    read_frames(stick, lambda fs: any(i == 0x6F for i, _ in fs))
    for msg_id, setting in [
        (0x46, [0, *ANTPLUS_NETWORK_KEY]),
        (0x42, [0, 0x00, 0]),
        (0x51, [0, 0, 0, 0x78, 0]),
        (0x45, [0, 57]),
        (0x43, [0, *(8070).to_bytes(2, "little")]),
        (0x6E, [0, 0xC0]),
        (0x5B, [0, 1]),
    ]:
        assert command(stick, msg_id, setting) == bytes([setting[0], msg_id, 0]), f"0x{msg_id:02X} not accepted"
    frames = read_frames(stick, lambda fs: sum(i == 0x4E for i, _ in fs) >= 80)
    per_strap: dict[int, list[AntHrmPage]] = {}
    for msg_id, data in frames:
        if msg_id != 0x4E:
            continue
        assert data[0] == 0 and len(data) == 1 + 8 + 1 + 4 + 3 and data[9] == 0xC0
        number, dtype, ttype = struct.unpack_from("<HBB", data, 10)
        assert dtype == 0x78
        assert data[14] == 0x20 and -128 <= struct.unpack_from("<b", data, 15)[0] < -40  # RSSI in dBm
        per_strap.setdefault(number | (ttype & 0xF0) << 12, []).append(parse_ant_hrm_page(data[1:9]))
    assert sorted(f"ANT:{n}" for n in per_strap) == sorted(stick.band_ids)
    for pages in per_strap.values():
        # toggle and page (4 main, then 4 × page 7) change together, every 4 messages
        runs: list[tuple[bool, int, int]] = []
        for p in pages:
            if runs and runs[-1][:2] == (p.toggle, p.page):
                runs[-1] = (p.toggle, p.page, runs[-1][2] + 1)
            else:
                runs.append((p.toggle, p.page, 1))
        assert all(n == 4 for _, _, n in runs[1:-1]), runs
        assert {p.page for p in pages} == {4, 7}
        assert all(p.battery_pct is not None for p in pages if p.page == 7)
        for a, b in itertools.pairwise(pages):
            assert (b.beat_count - a.beat_count) & 0xFF <= 2


def test_stick_refuses_scan_mode_with_a_channel_open_and_hears_nothing_without_the_key(
    stick: SimulatedAntStick,
) -> None:
    for msg_id, data in [
        (0x42, [1, 0x00, 0]),
        (0x51, [1, 0, 0, 0x78, 0]),
        (0x45, [1, 57]),
        (0x43, [1, *(8070).to_bytes(2, "little")]),
        (0x4B, [1]),
    ]:
        assert command(stick, msg_id, data)[2] == 0
    assert command(stick, 0x42, [0, 0x00, 0])[2] == 0
    assert command(stick, 0x5B, [0, 1]) == bytes([0, 0x5B, 25])  # CLOSE_ALL_CHANNELS
    # channel 1 is open on network 0, which still holds the public key: no ANT+ strap is heard
    quiet_until = time.monotonic() + 0.6
    frames = read_frames(stick, lambda _fs: time.monotonic() > quiet_until)
    assert not any(i == 0x4E for i, _ in frames)
    assert command(stick, 0x46, [0, *ANTPLUS_NETWORK_KEY])[2] == 0
    frames = read_frames(stick, lambda fs: any(i == 0x4E for i, _ in fs))
    assert all(d[0] == 1 for i, d in frames if i == 0x4E)  # now channel 1 tracks a strap


# -- AntReceiver end to end ----------------------------------------------------------------------------
BPM = {0: 92, 1: 118, 2: 141}


class Run:
    """One AntReceiver task over a given driver factory, collecting samples on the loop."""

    def __init__(self, factory: Callable[[], Any], table: BandTable | None = None) -> None:
        self.samples: list[HeartRateSample] = []
        self.table = table or BandTable()
        self.malformed = RateLimitedLog(LOG)
        self.receiver = AntReceiver(
            self.samples.append, time.time, self.table, LOG, self.malformed, factory, reset_wait_s=0.05
        )
        self.threads_before = set(threading.enumerate())
        self.task = asyncio.create_task(self.receiver.run())

    def of(self, band_id: str) -> list[HeartRateSample]:
        return [s for s in self.samples if s.band_id == band_id]

    async def until(self, predicate: Callable[[], object], within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not predicate():
            if self.task.done():
                await self.task  # raises what ended it
                pytest.fail(f"the receiver stopped before {what}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {within_s} s waiting for {what}")
            await asyncio.sleep(0.05)

    async def cancel(self) -> float:
        started = time.monotonic()
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task
        return time.monotonic() - started

    def leftover_threads(self) -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t not in self.threads_before and t.is_alive() and t.name in ("openant.base", "openant.easy", "hr-ant")
        ]


def three_straps(**kwargs: Any) -> SimulatedAntStick:
    kwargs.setdefault("lib_config", True)
    return SimulatedAntStick(
        3,
        bpm_at=lambda i, _t: BPM[i],
        battery_at=lambda i, _t: 80 - 20 * i,
        time_scale=4,
        main_pages_between_background=4,
        background_pages=(7, 2),
        legacy_straps={2},
        seed=11,
        **kwargs,
    )


def measured_intervals(stick: SimulatedAntStick, index: int) -> set[float]:
    """The RR intervals the strap really produced, at the wire's 1/1024 s resolution."""
    beats = list(stick.straps[index].beats)
    return {
        ((round(b * 1024) - round(a * 1024)) & 0xFFFF) * 1000 / 1024 for (_, a), (_, b) in itertools.pairwise(beats)
    }


async def test_three_straps_become_samples_and_cancel_promptly() -> None:
    stick = three_straps()
    run = Run(lambda: stick)
    ids = stick.band_ids
    await run.until(
        lambda: (
            all(sum(len(s.rr_ms) for s in run.of(b)) >= 12 for b in ids)
            and all(any(s.battery is not None for s in run.of(b)) for b in ids[:2])
        ),
        within_s=8,
        what="RR intervals and battery from all three straps",
    )
    assert {s.band_id for s in run.samples} == set(ids) and all(b.startswith("ANT:") for b in ids)
    for index, band in enumerate(ids):
        samples = run.of(band)
        assert {s.bpm for s in samples} == {BPM[index]}
        assert all(s.source == "ant" and s.contact is None and s.rssi is not None for s in samples)
        rr = [v for s in samples for v in s.rr_ms]
        assert set(rr) <= measured_intervals(stick, index), "an RR interval the strap never produced"
        assert sum(rr) / len(rr) == pytest.approx(60000 / BPM[index], rel=0.05)
    # battery only comes with page 7, which the legacy strap (index 2, page 0 only) never sends
    assert run.of(ids[0])[-1].battery == 80 and run.of(ids[1])[-1].battery == 60
    assert all(s.battery is None for s in run.of(ids[2]))
    assert run.table.bands[ids[1]].battery == 60 and run.table.bands[ids[1]].source == "ant"
    assert run.receiver.running and run.receiver.rssi_reported and run.malformed.total == 0

    assert await run.cancel() < 2.0
    assert stick.closed
    assert run.leftover_threads() == []


async def test_no_stick_is_a_clear_exception() -> None:
    def no_stick() -> Any:
        raise DriverNotFound

    run = Run(no_stick)
    with pytest.raises(AntStickUnavailable, match="no ANT USB stick found"):
        await asyncio.wait_for(run.task, 2)

    def no_libusb() -> Any:
        raise usb.core.NoBackendError("No backend available")

    with pytest.raises(AntStickUnavailable, match="libusb"):
        await asyncio.wait_for(Run(no_libusb).task, 2)


def test_find_stick_without_hardware_raises_stick_unavailable() -> None:
    # No ANTUSB2 on a test machine (and maybe no libusb): either way the driver gets one exception type.
    with pytest.raises(AntStickUnavailable):
        find_stick("antusb2")


async def test_pulled_stick_raises_stick_lost() -> None:
    stick = three_straps()
    run = Run(lambda: stick)
    await run.until(lambda: len(run.samples) >= 5, within_s=5, what="first samples")
    stick.unplug()
    started = time.monotonic()
    with pytest.raises(AntStickLost, match="No such device"):
        await asyncio.wait_for(run.task, 3)
    assert time.monotonic() - started < 2.5
    assert stick.closed and run.leftover_threads() == []


async def test_stick_without_scan_mode_is_refused_clearly() -> None:
    run = Run(lambda: three_straps(scan_mode=False))
    with pytest.raises(AntStickUnavailable, match="continuous scan mode"):
        await asyncio.wait_for(run.task, 3)


async def test_stick_without_lib_config_falls_back_to_channel_ids() -> None:
    stick = three_straps(lib_config=False)
    run = Run(lambda: stick)
    await run.until(lambda: len({s.band_id for s in run.samples}) == 3, within_s=5, what="all three straps")
    assert not run.receiver.rssi_reported and all(s.rssi is None for s in run.samples)
    await run.cancel()


async def test_malformed_data_costs_a_log_line_not_the_receiver(caplog: pytest.LogCaptureFixture) -> None:
    stick = three_straps()
    run = Run(lambda: stick)
    await run.until(lambda: len(run.samples) >= 3, within_s=5, what="first samples")
    cid = stick.straps[0].channel_id
    hr_page = page(0x04, b"\xff\x00\x00", 0, 0, 77)
    caplog.set_level(logging.WARNING, logger=LOG.name)
    for raw in [
        frame(0x4E, [0, *hr_page])[:-1] + b"\x00",  # bad checksum
        b"\x13\x37",  # noise between frames
        frame(0x4E, [0, *hr_page, 0x80, 1, 2]),  # extended flag promises a channel id that is not there
        frame(0x4E, [0, *hr_page]),  # no channel id at all
        frame(0x40, [0]),  # a channel response too short for openant to index
        frame(0x4E, [0, *encode_ant_broadcast(bytes([0x50, 0xFF, 0xFF, 1, 1, 0, 0x2A, 0]), cid)]),  # common page
        frame(0x4E, [0, *encode_ant_broadcast(hr_page, AntChannelId(9, 0x79, 1))]),  # a bike sensor
    ]:
        stick.inject(raw)
    count = len(run.samples)
    await run.until(lambda: len(run.samples) >= count + 10, within_s=5, what="samples after the garbage")
    assert run.malformed.total >= 5
    assert run.receiver.ignored_pages >= 2
    assert all(s.bpm != 77 for s in run.samples), "a common or foreign page was read as heart rate"
    lines = [r for r in caplog.records if r.name == LOG.name and r.levelno == logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]  # rate-limited: one line per key a minute
    await run.cancel()


async def test_cancel_during_setup_still_closes_the_stick_promptly() -> None:
    class Mute(SimulatedAntStick):
        def write(self, data: Any) -> None:  # takes commands, never answers
            pass

    stick = Mute(1)
    run = Run(lambda: stick)
    await asyncio.sleep(0.3)
    assert await run.cancel() < 2.0
    assert stick.closed


# -- openant against the simulator ---------------------------------------------------------------------
def test_injected_ant_and_node_match_openants_own_constructors(monkeypatch: pytest.MonkeyPatch) -> None:
    """_Ant/_Node repeat openant's constructors; an openant upgrade that adds state must fail here."""
    monkeypatch.setattr(openant.base.ant, "find_driver", lambda: SimulatedAntStick(1))
    monkeypatch.setattr(Ant, "_RESET_WAIT", 0.01)
    real = Node()
    try:
        ours = _Node(_Ant(SimulatedAntStick(1), 0.01))
        try:
            assert set(vars(ours)) == set(vars(real))
            assert set(vars(ours.ant)) - {"_RESET_WAIT"} == set(vars(real.ant))
        finally:
            ours.stop()
    finally:
        real.stop()


def test_openants_own_heart_rate_profile_decodes_the_simulator() -> None:
    """A second, independent decoder: openant's HeartRate device on a normal (non-scan) channel."""
    stick = SimulatedAntStick(2, bpm_at=lambda i, _t: 100 + 30 * i, time_scale=4, seed=5)
    node = _Node(_Ant(stick, 0.01))
    seen: list[tuple[int, int, int]] = []
    try:
        node.set_network_key(0, ANTPLUS_NETWORK_KEY)
        device = HeartRate(node)  # device id 0: attaches to the first strap it hears
        device.on_device_data = lambda _page, _name, data: seen.append(
            (device.device_id, data.heart_rate, data.beat_count)
        )
        threading.Thread(target=node.start, daemon=True).start()
        deadline = time.monotonic() + 5
        while len(seen) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        node.stop()
    assert len(seen) >= 12
    device_id = seen[-1][0]
    strap = next(s for s in stick.straps if s.channel_id.device_number == device_id)
    assert {bpm for _, bpm, _ in seen[-8:]} == {100 + 30 * strap.index}
    assert {count for _, _, count in seen} <= {c for c, _ in strap.beats}
