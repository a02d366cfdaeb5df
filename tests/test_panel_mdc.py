"""The MDC codec against byte vectors from Samsung's protocol document and real panel captures."""

from __future__ import annotations

import pytest

from drivers.panel import mdc

# From the MDC protocol document: "Power On & ID=FE" -> checksum 11+FE+01+01 = 0x111 -> 0x11.
SPEC_POWER_ON_BROADCAST = bytes.fromhex("aa 11 fe 01 01 11")
# Captured from a real panel (serial-number query to display 1), as logged by samsung-mdc users.
CAPTURED_SERIAL_QUERY = bytes.fromhex("aa 0b 01 00 0c")
# Captured from a real QM55B-T: the reply to an 0x83 query (ACK, three values).
CAPTURED_REPLY = bytes.fromhex("aa ff 00 05 41 83 00 06 86 54")
# Status of a panel that is on, volume 30, not muted, on HDMI 1 (0x21), aspect 0x10.
STATUS_REPLY = bytes.fromhex("aa ff 00 09 41 00 01 1e 00 21 10 00 00 99")
# NAK to "set volume", error code 0x01: checksum FF+03+4E+12+01 = 0x163 -> 0x63.
NAK_REPLY = bytes.fromhex("aa ff 00 03 4e 12 01 63")


def test_checksum_excludes_header_and_wraps() -> None:
    assert mdc.checksum(bytes.fromhex("11 fe 01 01")) == 0x11
    assert mdc.checksum(b"") == 0


def test_encode_matches_the_protocol_document() -> None:
    assert mdc.encode_command(mdc.CMD_POWER, mdc.BROADCAST_ID, b"\x01") == SPEC_POWER_ON_BROADCAST
    assert mdc.encode_command(0x0B, 1) == CAPTURED_SERIAL_QUERY


def test_query_has_empty_data() -> None:
    assert mdc.encode_command(mdc.CMD_STATUS, 0) == bytes.fromhex("aa 00 00 00 00")


@pytest.mark.parametrize(
    ("cmd", "display_id", "data"), [(0x100, 0, b""), (0xFF, 0, b""), (0x11, 256, b""), (0x11, 0, bytes(256))]
)
def test_encode_rejects_what_does_not_fit(cmd: int, display_id: int, data: bytes) -> None:
    with pytest.raises(ValueError):
        mdc.encode_command(cmd, display_id, data)


def test_decode_captured_reply() -> None:
    (reply,) = mdc.FrameDecoder().feed(CAPTURED_REPLY)
    assert reply == mdc.Reply(display_id=0, ack=True, rcmd=0x83, values=bytes.fromhex("00 06 86"))


def test_decode_status_reply() -> None:
    (reply,) = mdc.FrameDecoder().feed(STATUS_REPLY)
    status = mdc.Status.from_reply(reply)
    assert status == mdc.Status(power=1, volume=30, muted=False, input_code=0x21, aspect=0x10, n_time_nf=0, f_time_nf=0)
    assert status.power_label == "on"
    assert status.input_source == "hdmi1"


def test_status_tolerates_short_replies_and_unknown_inputs() -> None:
    status = mdc.Status.from_reply(mdc.Reply(0, True, mdc.CMD_STATUS, bytes((0, 5, 1, 0x40))))
    assert (status.power_label, status.muted, status.aspect, status.input_source) == ("off", True, None, "0x40")
    with pytest.raises(ValueError):
        mdc.Status.from_reply(mdc.Reply(0, True, mdc.CMD_STATUS, bytes((1, 2))))
    with pytest.raises(ValueError):
        mdc.Status.from_reply(mdc.Reply(0, False, mdc.CMD_STATUS, b"\x01"))


def test_nak_carries_error_code() -> None:
    (reply,) = mdc.FrameDecoder().feed(NAK_REPLY)
    assert not reply.ack
    assert reply.rcmd == mdc.CMD_VOLUME
    assert reply.error_code == 0x01
    assert mdc.encode_reply(0, mdc.CMD_VOLUME, b"\x01", ack=False) == NAK_REPLY


def test_reply_roundtrip() -> None:
    status = mdc.Status(power=0, volume=77, muted=True, input_code=0x25, aspect=0, n_time_nf=0, f_time_nf=0)
    frame = mdc.encode_reply(7, mdc.CMD_STATUS, status.to_values())
    assert frame == bytes.fromhex("aa ff 07 09 41 00 00 4d 01 25 00 00 00") + bytes((mdc.checksum(frame[1:-1]),))
    (reply,) = mdc.FrameDecoder().feed(frame)
    assert reply.display_id == 7
    assert mdc.Status.from_reply(reply) == status


def test_command_roundtrip() -> None:
    frames = mdc.encode_command(mdc.CMD_INPUT, 3, b"\x23") + mdc.encode_command(mdc.CMD_STATUS, 3)
    commands = mdc.CommandDecoder().feed(frames)
    assert commands == [mdc.Command(mdc.CMD_INPUT, 3, b"\x23"), mdc.Command(mdc.CMD_STATUS, 3, b"")]
    assert commands[1].is_query and not commands[0].is_query


def test_torn_frame_fed_one_byte_at_a_time() -> None:
    decoder = mdc.FrameDecoder()
    stream = STATUS_REPLY + NAK_REPLY
    out: list[mdc.Reply] = []
    for i, byte in enumerate(stream):
        got = decoder.feed(bytes((byte,)))
        out.extend(got)
        if i == len(STATUS_REPLY) - 2:
            assert out == [] and decoder.pending == len(STATUS_REPLY) - 1
    assert [r.rcmd for r in out] == [mdc.CMD_STATUS, mdc.CMD_VOLUME]
    assert decoder.pop_errors() == []
    assert decoder.pending == 0


def test_garbage_prefix_then_valid_frame() -> None:
    decoder = mdc.FrameDecoder()
    replies = decoder.feed(b"\x00\x13hello\xfe" + STATUS_REPLY)
    assert [r.rcmd for r in replies] == [mdc.CMD_STATUS]
    errors = decoder.pop_errors()
    assert errors == [mdc.DecodeError("garbage", b"\x00\x13hello\xfe")]
    assert "dropped 8 bytes" in mdc.summarize_errors(errors)
    assert decoder.pop_errors() == []  # reported once


def test_stray_header_byte_in_garbage_does_not_hide_next_frame() -> None:
    # 0xAA followed by something that is not 0xFF cannot start a reply: resync immediately.
    decoder = mdc.FrameDecoder()
    assert decoder.feed(b"\xaa\x01\x02" + NAK_REPLY) == [mdc.Reply(0, False, mdc.CMD_VOLUME, b"\x01")]
    assert decoder.bytes_dropped == 3


def test_bad_checksum_is_dropped_and_decoding_resumes() -> None:
    corrupt = STATUS_REPLY[:-1] + bytes(((STATUS_REPLY[-1] + 1) & 0xFF,))
    decoder = mdc.FrameDecoder()
    replies = decoder.feed(corrupt + NAK_REPLY)
    assert replies == [mdc.Reply(0, False, mdc.CMD_VOLUME, b"\x01")]
    kinds = [e.kind for e in decoder.pop_errors()]
    assert kinds[0] == "bad_checksum"
    assert decoder.bytes_dropped == len(corrupt)


def test_fake_header_overlapping_a_real_frame() -> None:
    # Noise that looks like a reply header claims the first bytes of the real reply as its own;
    # only the fake header may be thrown away, or the real reply is lost with it.
    decoder = mdc.FrameDecoder()
    assert decoder.feed(b"\xaa\xff\x00\x03" + NAK_REPLY) == [mdc.Reply(0, False, mdc.CMD_VOLUME, b"\x01")]
    assert [e.kind for e in decoder.pop_errors()] == ["bad_checksum", "garbage"]
    assert decoder.bytes_dropped == 4


def test_reply_with_unknown_ack_byte_is_malformed() -> None:
    body = bytes.fromhex("ff 00 02 58 11")  # 'X' instead of 'A'/'N'
    frame = b"\xaa" + body + bytes((mdc.checksum(body),))
    decoder = mdc.FrameDecoder()
    assert decoder.feed(frame + NAK_REPLY) == [mdc.Reply(0, False, mdc.CMD_VOLUME, b"\x01")]
    assert [e.kind for e in decoder.pop_errors()] == ["malformed"]


def test_reset_drops_a_half_frame() -> None:
    decoder = mdc.FrameDecoder()
    assert decoder.feed(STATUS_REPLY[:6]) == []
    decoder.reset()
    assert decoder.pending == 0
    assert decoder.feed(NAK_REPLY)[0].error_code == 1
    assert [e.kind for e in decoder.pop_errors()] == ["garbage"]


def test_command_decoder_ignores_replies_on_the_line() -> None:
    decoder = mdc.CommandDecoder()
    assert decoder.feed(NAK_REPLY + SPEC_POWER_ON_BROADCAST) == [mdc.Command(mdc.CMD_POWER, 0xFE, b"\x01")]


def test_input_mapping() -> None:
    ids = [s.id for s in mdc.INPUT_SOURCES]
    assert ids == ["hdmi1", "hdmi2", "hdmi3", "hdmi4", "dp", "pc", "dvi", "av"]
    assert mdc.input_by_id("hdmi2") == mdc.InputSource("hdmi2", "HDMI 2", 0x23, (0x24,))
    assert {s.id: s.code for s in mdc.INPUT_SOURCES} == {
        "hdmi1": 0x21, "hdmi2": 0x23, "hdmi3": 0x31, "hdmi4": 0x33, "dp": 0x25, "pc": 0x14, "dvi": 0x18, "av": 0x0C,
    }  # fmt: skip
    # HDMI1_PC is the same connector as HDMI 1, so the teacher sees "HDMI 1".
    assert mdc.input_for_code(0x22) is mdc.input_by_id("hdmi1")
    assert mdc.input_for_code(0x40) is None
    assert mdc.input_by_id("vga") is None
