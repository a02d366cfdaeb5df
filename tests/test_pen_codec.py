"""The Neo v2 codec, the offline record format and the gateway envelope: round trips, escaping, and fuzzing.

The decoder must never raise on input, must resynchronise on the next STX after anything, and must drop a
frame whose declared length disagrees with its payload (with a reason). Hypothesis drives all three.
"""

from __future__ import annotations

import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.smartpen import gateway, neo
from drivers.smartpen.gateway import Envelope, EnvelopeDecoder, encode_envelope
from drivers.smartpen.neo import decode_frames, encode_frame
from drivers.smartpen.neo_offline import (
    DOT_SIZE,
    OfflineDot,
    OfflineStroke,
    chunk_note,
    chunk_strokes,
    decode_strokes,
    encode_strokes,
)

EXAMPLES: list[neo.Frame] = [
    neo.LowBattery(12),
    neo.Shutdown(3),
    neo.PenDown(7, 1_795_000_000_123, 0, 0xFF101010),
    neo.PenUp(8, 1_795_000_000_456, 31, 40, 39, 38, 37),
    neo.PaperInfo(9, 3, 27, 603, 1),
    neo.PaperInfo(None, 3, 27, 603, 1),
    neo.Dot(10, 12, 512, 43.86, 80.31, 10, 20, 300),
    neo.Dot(None, 13, 400, 0.0, 65535.99),
    neo.OfflineChunk(2, True, 100, 5, neo.CHUNK_MIDDLE, 3, 27, 603, 4, b"\x78\x9c\xc0\xc1\x7d"),
    neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "sub", 0x0201, "9C:7B:D2:01:00:01", 1),
    neo.VersionInfo(1),
    neo.PasswordResponse(0, neo.PASSWORD_NEEDED, 3, 10),
    neo.SettingInfo(0, True, 10, 3, 1_795_000_000_000, 20, 1023, 40, True, False, True, False, 77, True, 2),
    neo.OnlineDataResponse(0),
    neo.NoteListResponse(0, ((3, 27, 603), (3, 27, 604), (255, 0xFFFFFF, 0xFFFFFFFF))),
    neo.PageListResponse(0, 3, 27, 603, (1, 2, 5)),
    neo.OfflineDataResponse(0, 12, 4000, True),
    neo.OfflineDataResponse(1),
    neo.OfflineDeleteResponse(0),
    neo.VersionRequest("0.1.0", "2.18"),
    neo.PasswordRequest("1234"),
    neo.SettingInfoRequest(),
    neo.OnlineDataRequest(),
    neo.OnlineDataRequest(((3, 27, 603),)),
    neo.NoteListRequest(),
    neo.NoteListRequest(3, 27),
    neo.PageListRequest(3, 27, 603),
    neo.OfflineDataRequest(3, 27, 603, (1, 2), delete_after=False, compress=True),
    neo.OfflineChunkAck(0, 5, True),
    neo.OfflineChunkAck(1, 6, False),
    neo.OfflineDeleteRequest(3, 27, (603, 604)),
    neo.Unknown(0x6F, None, b"\x01\x02"),
    neo.Unknown(0xC1, 0, b"profile"),
]


def decode_all(data: bytes) -> tuple[list[neo.Frame], bytes, list[str]]:
    errors: list[str] = []
    frames, rest = decode_frames(data, errors)
    return frames, rest, errors


@pytest.mark.parametrize("frame", EXAMPLES, ids=lambda f: type(f).__name__)
def test_every_frame_type_round_trips(frame: neo.Frame) -> None:
    wire = frame.encode()
    assert wire[0] == neo.STX and wire[-1] == neo.ETX
    assert neo.STX not in wire[1:-1] and neo.ETX not in wire[1:-1]
    frames, rest, errors = decode_all(wire)
    assert frames == [frame] and rest == b"" and errors == []


def test_every_known_command_has_an_example() -> None:
    known = set(neo.PARSERS)
    covered = {f.command() for f in EXAMPLES}
    assert known <= covered, f"commands without a round-trip example: {sorted(hex(c) for c in known - covered)}"


def test_dot_position_applies_the_hundredths() -> None:
    raw = bytes([0x6C, 14, 0, 5, 12, 0x00, 0x02, 43, 0, 80, 0, 86, 31, 0, 0, 0, 0])
    [dot], _, _ = decode_all(b"\xc0" + neo.escape(raw) + b"\xc1")
    assert isinstance(dot, neo.Dot)
    assert dot.counter == 5 and dot.dt == 12 and dot.force == 512
    assert dot.x == pytest.approx(43.86) and dot.y == pytest.approx(80.31)


def test_section_and_owner_share_one_u32() -> None:
    frame = neo.PaperInfo(1, 3, 27, 603, 1)
    body = neo.unescape(frame.encode()[1:-1])
    assert body[4:8] == bytes([27, 0, 0, 3])  # owner in the low three bytes, section in the high byte


def test_escaping_of_stx_etx_and_dle_in_payloads() -> None:
    payload = bytes([0xC0, 0x01, 0xC1, 0x7D, 0x7D, 0xC0])
    wire = encode_frame(0x6F, payload)
    assert wire == bytes([0xC0, 0x6F, 0x06, 0x00, 0x7D, 0xE0, 0x01, 0x7D, 0xE1, 0x7D, 0x5D, 0x7D, 0x5D, 0x7D, 0xE0, 0xC1])
    assert decode_all(wire)[0] == [neo.Unknown(0x6F, None, payload)]
    # A length field and a command that need escaping too (0xC1 is a real command: pen profile response).
    long_payload = bytes(range(256)) * 3  # 768 = 0x0300; includes every special byte
    assert decode_all(encode_frame(0xC1, long_payload, 0x7D))[0] == [neo.Unknown(0xC1, 0x7D, long_payload)]


def test_result_byte_only_for_responses() -> None:
    assert encode_frame(0x81, b"") == bytes([0xC0, 0x81, 0x00, 0x00, 0x00, 0xC1])
    assert encode_frame(0x69, b"") == bytes([0xC0, 0x69, 0x00, 0x00, 0xC1])
    with pytest.raises(ValueError):
        encode_frame(0x69, b"", result=0)
    with pytest.raises(ValueError):
        encode_frame(0x69, bytes(0x10000))


def test_length_mismatch_is_dropped_with_a_reason_and_the_next_frame_survives() -> None:
    good = neo.PenDown(1, 5, 0, 0).encode()
    lying = bytes([0xC0, 0x6A, 0x20, 0x00]) + bytes(5) + bytes([0xC1])  # declares 32, carries 5
    frames, rest, errors = decode_all(lying + good)
    assert frames == [neo.PenDown(1, 5, 0, 0)] and rest == b""
    assert len(errors) == 1 and errors[0].startswith("length mismatch") and "declares 32" in errors[0]


def test_short_payload_for_a_known_command_is_dropped() -> None:
    frames, _, errors = decode_all(encode_frame(neo.CMD_DOT, b"\x01\x02\x03") + neo.SettingInfoRequest().encode())
    assert frames == [neo.SettingInfoRequest()]
    assert errors and errors[0].startswith("bad payload for command 0x6C")


def test_unknown_commands_are_events_not_errors() -> None:
    frames, _, errors = decode_all(encode_frame(0x6D, b"\x05\x06") + encode_frame(0xF4, b"log", 0))
    assert frames == [neo.Unknown(0x6D, None, b"\x05\x06"), neo.Unknown(0xF4, 0, b"log")] and errors == []


def test_incomplete_trailing_frame_stays_in_the_remainder() -> None:
    a, b = neo.PenDown(1, 5).encode(), neo.PenUp(2, 9).encode()
    frames, rest, _ = decode_all(a + b[:7])
    assert frames == [neo.PenDown(1, 5)] and rest == b[:7]
    frames, rest, _ = decode_all(rest + b[7:])
    assert frames == [neo.PenUp(2, 9)] and rest == b""


def test_torn_frame_resyncs_on_the_next_stx() -> None:
    a, b = neo.PenDown(1, 5).encode(), neo.PenUp(2, 9).encode()
    frames, rest, errors = decode_all(a[:6] + b)
    assert frames == [neo.PenUp(2, 9)] and rest == b""
    assert errors == ["torn frame: a new frame started before this one ended"]


@pytest.mark.parametrize(
    "bad", [b"\x7d\x41", b"\x7d\x7d\x5d", b"\x7d"], ids=["escapes-a-plain-byte", "double-dle", "dle-at-end"]
)
def test_bad_escapes_drop_only_their_frame(bad: bytes) -> None:
    good = neo.PaperInfo(1, 3, 27, 603, 1).encode()
    broken = bytes([0xC0, 0x6F, 0x02, 0x00]) + bad + bytes([0xC1])
    frames, _, errors = decode_all(good + broken + good)
    assert frames == [neo.PaperInfo(1, 3, 27, 603, 1)] * 2
    assert len(errors) == 1 and errors[0].startswith("bad escape")


def test_summaries_group_reasons() -> None:
    line = neo.summarize_errors(["torn frame: x", "torn frame: x", "length mismatch: y"])
    assert line == "2× torn frame: x; length mismatch: y"


# -- fuzzing ---------------------------------------------------------------------------------------------------
coords = st.builds(lambda i, f: i + f / 100, st.integers(0, 0xFFFF), st.integers(0, 99))
u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
frames_strategy = st.one_of(
    st.builds(neo.PenDown, u8, st.integers(0, 2**64 - 1), u8, u32),
    st.builds(neo.PenUp, u8, st.integers(0, 2**64 - 1), u16, u16, u16, u16, u16),
    st.builds(neo.PaperInfo, st.one_of(st.none(), u8), u8, st.integers(0, 0xFFFFFF), u32, u32),
    st.builds(neo.Dot, st.one_of(st.none(), u8), u8, u16, coords, coords, u8, u8, u16),
    st.builds(neo.OfflineChunkAck, u8, u16, st.booleans()),
    st.builds(neo.Unknown, st.integers(0x40, 0x5F), st.none(), st.binary(max_size=40)),
    st.builds(neo.Unknown, st.integers(0xE0, 0xFF), u8, st.binary(max_size=40)),
)


def _is_subsequence(needles: list[neo.Frame], haystack: list[neo.Frame]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_decoder_survives_arbitrary_bytes(data: bytes) -> None:
    errors: list[str] = []
    frames, rest = decode_frames(data, errors)
    assert data.endswith(rest)
    assert rest == b"" or (rest[0] == neo.STX and neo.ETX not in rest and neo.STX not in rest[1:])
    decoder = neo.FrameDecoder()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    streamed = [f for piece in pieces for f in decoder.feed(piece)]
    assert streamed == frames


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames_strategy, min_size=1, max_size=12), st.lists(st.binary(max_size=30), min_size=13, max_size=13))
def test_valid_frames_after_garbage_are_all_decoded(frames: list[neo.Frame], garbage: list[bytes]) -> None:
    stream = b"".join(g + f.encode() for f, g in zip(frames, garbage, strict=False)) + garbage[-1]
    decoded, _rest = decode_frames(stream)
    assert _is_subsequence(frames, decoded)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames_strategy, min_size=1, max_size=12), st.data())
def test_random_cuts_change_nothing(frames: list[neo.Frame], data: st.DataObject) -> None:
    stream = b"".join(f.encode() for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = neo.FrameDecoder()
    out: list[neo.Frame] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out.extend(decoder.feed(stream[a:b]))
    assert out == frames and decoder.pop_errors() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(frames_strategy, min_size=3, max_size=10), st.data())
def test_corrupting_one_frame_loses_at_most_that_frame(frames: list[neo.Frame], data: st.DataObject) -> None:
    victim = data.draw(st.integers(0, len(frames) - 1))
    wires = [f.encode() for f in frames]
    wire = bytearray(wires[victim])
    how = data.draw(st.sampled_from(["bad-escape", "truncate", "flip-length", "drop-etx"]))
    if how == "bad-escape":
        pos = data.draw(st.integers(1, len(wire) - 1))
        wire[pos:pos] = bytes([neo.DLE, data.draw(st.sampled_from([0x00, 0x41, 0x7D, 0xFF]))])
    elif how == "truncate":
        wire = wire[: data.draw(st.integers(1, len(wire) - 1))]
    elif how == "flip-length":
        wire[1:-1] = neo.escape(_bump_length(neo.unescape(bytes(wire[1:-1]))))
    else:
        wire = wire[:-1]
    wires[victim] = bytes(wire)
    errors: list[str] = []
    decoded, _ = decode_frames(b"".join(wires), errors)
    others = frames[:victim] + frames[victim + 1 :]
    assert _is_subsequence(others, decoded)
    if how in ("bad-escape", "flip-length") and frames[victim] not in decoded:
        assert errors


def _bump_length(body: bytes) -> bytes:
    header = 4 if neo.has_result(body[0]) else 3
    declared = int.from_bytes(body[header - 2 : header], "little")
    return body[: header - 2] + ((declared + 1) & 0xFFFF).to_bytes(2, "little") + body[header:]


@given(st.binary(max_size=200))
def test_escape_is_undone_by_unescape(data: bytes) -> None:
    escaped = neo.escape(data)
    assert neo.STX not in escaped and neo.ETX not in escaped
    assert neo.unescape(escaped) == data


# -- offline records -------------------------------------------------------------------------------------------
def _strokes(n: int, rng: random.Random) -> list[OfflineStroke]:
    out = []
    for i in range(n):
        dots = tuple(
            OfflineDot(rng.randint(0, 255), rng.randint(0, 1023), rng.randint(0, 999) + rng.randint(0, 99) / 100,
                       rng.randint(0, 999) + rng.randint(0, 99) / 100, 1, 2, 3)
            for _ in range(rng.randint(1, 40))
        )  # fmt: skip
        out.append(OfflineStroke(1 + i % 2, 1_000_000 + i, 1_000_500 + i, dots, 0, 0xFF000000))
    return out


def test_offline_strokes_round_trip_through_chunks() -> None:
    strokes = _strokes(30, random.Random(1))
    chunks = chunk_note(3, 27, 603, strokes, chunk_bytes=600)
    assert len(chunks) > 3
    assert [c.packet_id for c in chunks] == list(range(len(chunks)))
    assert chunks[0].position == neo.CHUNK_START and chunks[-1].position == neo.CHUNK_END
    assert all(c.position == neo.CHUNK_MIDDLE for c in chunks[1:-1])
    back: list[OfflineStroke] = []
    for chunk in chunks:
        [again], _, _ = decode_all(chunk.encode())
        assert again == chunk
        got, bad = chunk_strokes(chunk)
        assert bad == 0
        back.extend(got)
    assert back == strokes


def test_offline_dot_with_a_bad_checksum_is_dropped_and_counted() -> None:
    strokes = _strokes(1, random.Random(2))
    raw = bytearray(encode_strokes(strokes))
    raw[27 + DOT_SIZE - 1] ^= 0xFF  # the first dot's checksum
    got, bad = decode_strokes(bytes(raw), 1)
    assert bad == 1 and got[0].dots == strokes[0].dots[1:]


def test_truncated_or_corrupt_chunk_is_an_error() -> None:
    chunk = chunk_note(3, 27, 603, _strokes(3, random.Random(3)))[0]
    with pytest.raises(neo.FrameError, match="does not decompress"):
        chunk_strokes(neo.OfflineChunk(**{**chunk.__dict__, "data": b"\x00" + chunk.data[1:]}))
    short = zlib.compress(zlib.decompress(chunk.data)[:-10])
    with pytest.raises(neo.FrameError):
        chunk_strokes(neo.OfflineChunk(**{**chunk.__dict__, "data": short}))


# -- gateway envelope ------------------------------------------------------------------------------------------
def test_envelopes_round_trip_and_resync_after_noise() -> None:
    envs = [
        Envelope(gateway.PEN_CONNECTED, "9C:7B:D2:01:00:01"),
        Envelope(gateway.DATA, "9C:7B:D2:01:00:01", neo.PenDown(0, 1).encode()),
        Envelope(gateway.DATA, "9C:7B:D2:01:00:02", b"\xaa\x55\xaa"),  # magic inside a payload
        Envelope(gateway.PEN_DISCONNECTED, "9C:7B:D2:01:00:02"),
    ]
    corrupt = bytearray(encode_envelope(Envelope(gateway.DATA, "9C:7B:D2:01:00:03", b"lost")))
    corrupt[-3] ^= 0x01
    stream = b"\x00\xaa\x55\xff" + encode_envelope(envs[0]) + b"noise\xaa" + encode_envelope(envs[1])
    stream += bytes(corrupt) + encode_envelope(envs[2]) + encode_envelope(envs[3])
    decoder = EnvelopeDecoder()
    out = [e for i in range(0, len(stream), 5) for e in decoder.feed(stream[i : i + 5])]
    assert out == envs
    errors = decoder.pop_errors()
    assert any(e.startswith("bad CRC") for e in errors) and any(e.startswith("noise") for e in errors)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_envelope_decoder_survives_arbitrary_bytes(data: bytes) -> None:
    decoder = EnvelopeDecoder()
    decoder.feed(data)
    good = Envelope(gateway.DATA, "01:02:03:04:05:06", b"ok")
    # A false magic in the noise may announce up to MAX_PAYLOAD bytes: enough real envelopes get past it.
    assert good in decoder.feed(encode_envelope(good) * 80)
