"""Samsung MDC (Multiple Display Control) framing: a pure codec, no I/O.

Kept free of serial ports and threads so that the driver and the simulator share one definition of
the bytes on the wire, and so that every framing rule can be tested with plain byte strings.

Wire format (Samsung "Multiple Display Control Protocol", RS-232C: 9600 8N1 by default)::

    command: 0xAA  CMD   ID  LEN  DATA[LEN]                 CHECKSUM
    reply:   0xAA  0xFF  ID  LEN  'A'|'N'  R-CMD  VALUES... CHECKSUM   (LEN = 2 + len(VALUES))

``CHECKSUM`` is the sum of every byte after the 0xAA header, modulo 256. A command with an empty
DATA is a query ("get"); with DATA it is a "set" and the ACK echoes the new value. A NAK carries one
error code. Id 0xFE is broadcast: every display obeys and none answers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

HEADER = 0xAA
REPLY_CMD = 0xFF
ACK = 0x41  # 'A'
NAK = 0x4E  # 'N'
BROADCAST_ID = 0xFE

CMD_STATUS = 0x00
CMD_POWER = 0x11
CMD_VOLUME = 0x12
CMD_MUTE = 0x13
CMD_INPUT = 0x14

POWER_OFF = 0x00
POWER_ON = 0x01
POWER_REBOOT = 0x02


def checksum(body: bytes) -> int:
    """MDC checksum of everything after the header (the header itself is never summed)."""
    return sum(body) & 0xFF


def _frame(first: int, display_id: int, payload: bytes) -> bytes:
    if not 0 <= display_id <= 0xFF:
        raise ValueError(f"display id {display_id} does not fit in one byte")
    if len(payload) > 0xFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit an MDC frame")
    body = bytes((first, display_id, len(payload))) + payload
    return bytes((HEADER,)) + body + bytes((checksum(body),))


def encode_command(cmd: int, display_id: int, data: bytes = b"") -> bytes:
    """A command frame; empty ``data`` asks the panel for the current value."""
    if not 0 <= cmd < REPLY_CMD:
        raise ValueError(f"command 0x{cmd:02x} is not a valid MDC command byte")
    return _frame(cmd, display_id, bytes(data))


def encode_reply(display_id: int, rcmd: int, values: bytes = b"", *, ack: bool = True) -> bytes:
    """A reply frame as the panel sends it (the simulator's half of the conversation)."""
    return _frame(REPLY_CMD, display_id, bytes((ACK if ack else NAK, rcmd)) + bytes(values))


# -- decoded frames ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A command as the panel sees it."""

    cmd: int
    display_id: int
    data: bytes

    @property
    def is_query(self) -> bool:
        return not self.data


@dataclass(frozen=True)
class Reply:
    """A panel's ACK or NAK to one command."""

    display_id: int
    ack: bool
    rcmd: int
    values: bytes

    @property
    def error_code(self) -> int | None:
        """The NAK's error code (None for an ACK, or a NAK too short to carry one)."""
        if self.ack or not self.values:
            return None
        return self.values[0]


@dataclass(frozen=True)
class Status:
    """The 0x00 status reply: the panel's whole user-visible state in one round trip.

    Values in order: power, volume, mute, input source, aspect, N-time NF, F-time NF. Some firmwares
    send fewer trailing fields, so only the first four are required.
    """

    power: int
    volume: int
    muted: bool
    input_code: int
    aspect: int | None = None
    n_time_nf: int | None = None
    f_time_nf: int | None = None

    @classmethod
    def from_reply(cls, reply: Reply) -> Status:
        if not reply.ack or reply.rcmd != CMD_STATUS:
            raise ValueError(f"not an ACK to the status command: {reply}")
        v = reply.values
        if len(v) < 4:
            raise ValueError(f"status reply too short ({len(v)} values): {v.hex(' ')}")
        extra = [v[i] if len(v) > i else None for i in (4, 5, 6)]
        return cls(v[0], v[1], v[2] != 0, v[3], extra[0], extra[1], extra[2])

    def to_values(self) -> bytes:
        """The seven status bytes, as the simulator sends them."""
        extra = (self.aspect or 0, self.n_time_nf or 0, self.f_time_nf or 0)
        return bytes((self.power, self.volume, int(self.muted), self.input_code, *extra))

    @property
    def power_label(self) -> Literal["on", "off", "unknown"]:
        return {POWER_ON: "on", POWER_OFF: "off"}.get(self.power, "unknown")  # type: ignore[return-value]

    @property
    def input_source(self) -> str:
        """Our input id ("hdmi1"), or the raw code ("0x40") for a source we have no name for."""
        src = input_for_code(self.input_code)
        return src.id if src else f"0x{self.input_code:02x}"


# -- input sources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputSource:
    """One physical input: the id the API uses, the label a teacher sees, the MDC code(s)."""

    id: str
    label: str
    code: int
    # Codes the panel may report for the same connector, e.g. HDMI1_PC (0x22) when a laptop is on HDMI 1.
    aliases: tuple[int, ...] = ()


INPUT_SOURCES: tuple[InputSource, ...] = (
    InputSource("hdmi1", "HDMI 1", 0x21, (0x22,)),
    InputSource("hdmi2", "HDMI 2", 0x23, (0x24,)),
    InputSource("hdmi3", "HDMI 3", 0x31, (0x32,)),
    InputSource("hdmi4", "HDMI 4", 0x33, (0x34,)),
    InputSource("dp", "DisplayPort", 0x25),
    InputSource("pc", "PC", 0x14),
    InputSource("dvi", "DVI", 0x18, (0x1F,)),
    InputSource("av", "AV", 0x0C),
)

_BY_ID = {s.id: s for s in INPUT_SOURCES}
_BY_CODE = {code: s for s in INPUT_SOURCES for code in (s.code, *s.aliases)}


def input_by_id(source_id: str) -> InputSource | None:
    return _BY_ID.get(source_id)


def input_for_code(code: int) -> InputSource | None:
    return _BY_CODE.get(code)


# -- streaming decoder -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeError:
    """Bytes the decoder threw away, kept so the driver can say what the line noise looked like."""

    kind: Literal["garbage", "bad_checksum", "malformed"]
    dropped: bytes

    def __str__(self) -> str:
        preview = self.dropped[:16].hex(" ") + (" ..." if len(self.dropped) > 16 else "")
        return f"{self.kind} ({len(self.dropped)} bytes: {preview})"


def summarize_errors(errors: Iterable[DecodeError]) -> str:
    """One log-friendly sentence for a burst of decode errors (a noisy cable produces many)."""
    errs = list(errors)
    total = sum(len(e.dropped) for e in errs)
    kinds: dict[str, int] = {}
    for e in errs:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    counts = ", ".join(f"{n}x {k}" for k, n in kinds.items())
    sample = b"".join(e.dropped for e in errs)[:16].hex(" ")
    return f"dropped {total} bytes ({counts}); first bytes: {sample}"


F = TypeVar("F")


class _FrameDecoder(ABC, Generic[F]):
    """Finds frames in a byte stream that may be torn across reads or polluted by noise.

    A serial line gives no message boundaries: a read can end mid-frame, and a loose cable or a
    panel booting up can emit junk. So bytes are buffered until a whole frame is there, and anything
    that cannot be a frame is dropped up to the next 0xAA, where decoding resynchronises.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._errors: list[DecodeError] = []
        self.frames_decoded = 0
        self.bytes_dropped = 0

    def feed(self, data: bytes) -> list[F]:
        self._buf.extend(data)
        out: list[F] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return out
            out.append(frame)

    def pop_errors(self) -> list[DecodeError]:
        """Errors since the last call, so the caller logs each burst once."""
        errors, self._errors = self._errors, []
        return errors

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a half-received frame (after a timeout its rest is never coming)."""
        if self._buf:
            self._drop(len(self._buf), "garbage")

    def _next_frame(self) -> F | None:
        while self._buf:
            start = self._buf.find(HEADER)
            if start != 0:
                self._drop(len(self._buf) if start < 0 else start, "garbage")
                if start < 0:
                    return None
            if len(self._buf) < 4:
                return None
            size = 4 + self._buf[3] + 1
            if not self._plausible(self._buf[1], self._buf[3]):
                self._drop(1, "malformed")
                continue
            if len(self._buf) < size:
                return None
            raw = bytes(self._buf[:size])
            if checksum(raw[1:-1]) != raw[-1]:
                # Drop only the header: the real frame may start inside what looked like this one.
                self._drop(1, "bad_checksum")
                continue
            frame = self._build(raw[1], raw[2], raw[4:-1])
            if frame is None:
                self._drop(size, "malformed")
                continue
            del self._buf[:size]
            self.frames_decoded += 1
            return frame
        return None

    def _drop(self, n: int, kind: Literal["garbage", "bad_checksum", "malformed"]) -> None:
        dropped = bytes(self._buf[:n])
        del self._buf[:n]
        self.bytes_dropped += n
        last = self._errors[-1] if self._errors else None
        if kind == "garbage" and last is not None and last.kind == "garbage":
            self._errors[-1] = DecodeError("garbage", last.dropped + dropped)
        else:
            self._errors.append(DecodeError(kind, dropped))

    @abstractmethod
    def _plausible(self, first: int, length: int) -> bool:
        """Whether a header could start a frame of this direction (replies vs commands)."""

    @abstractmethod
    def _build(self, first: int, display_id: int, payload: bytes) -> F | None:
        """The decoded frame, or None when a frame with a good checksum still makes no sense."""


class FrameDecoder(_FrameDecoder[Reply]):
    """Decodes what a panel sends: replies only."""

    def _plausible(self, first: int, length: int) -> bool:
        # A reply always carries at least ACK/NAK and the r-cmd.
        return first == REPLY_CMD and length >= 2

    def _build(self, first: int, display_id: int, payload: bytes) -> Reply | None:
        if payload[0] not in (ACK, NAK):
            return None
        return Reply(display_id, payload[0] == ACK, payload[1], payload[2:])


class CommandDecoder(_FrameDecoder[Command]):
    """Decodes what a controller sends: commands only (the simulator's side of the line)."""

    def _plausible(self, first: int, length: int) -> bool:
        return first != REPLY_CMD

    def _build(self, first: int, display_id: int, payload: bytes) -> Command:
        return Command(first, display_id, payload)


__all__ = [
    "ACK",
    "BROADCAST_ID",
    "CMD_INPUT",
    "CMD_MUTE",
    "CMD_POWER",
    "CMD_STATUS",
    "CMD_VOLUME",
    "HEADER",
    "INPUT_SOURCES",
    "NAK",
    "REPLY_CMD",
    "Command",
    "CommandDecoder",
    "DecodeError",
    "FrameDecoder",
    "InputSource",
    "Reply",
    "Status",
    "checksum",
    "encode_command",
    "encode_reply",
    "input_by_id",
    "input_for_code",
    "summarize_errors",
]
