"""The wire protocol between a classroom box and the county receiver, shared by both ends.

Correctness never rests on the broker: every connect starts with a hello and the receiver answers
with what it has *committed*; a batch is acknowledged only after the receiver's commit. Ordering is by
(epoch, seq), never by timestamps, because a classroom clock may jump.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

ENVELOPE_VERSION = 1
TOPIC_ROOT = "edu/v1/d"
UP_NAMES = ("hello", "batch", "status", "heartbeat")
DOWN_NAMES = ("ack", "cmd")

# Device-side batch limits: small enough for managed IoT hubs that cap messages at 16 KB.
BATCH_MAX_RECORDS = 200
BATCH_MAX_BYTES = 14 * 1024
BATCH_MAX_AGE_S = 60.0

# Receiver-side limits: anything larger is quarantined, never inflated blindly (zip bombs).
MAX_WIRE_BYTES = 1024 * 1024
MAX_INFLATED_BYTES = 8 * 1024 * 1024
MAX_RECORDS_PER_BATCH = 5000


class ProtocolError(ValueError):
    """A message that cannot be accepted; ``str(exc)`` is the reason stored in quarantine."""


# -- topics -----------------------------------------------------------------------------------------
def topic(device_id: str, direction: Literal["up", "down"], name: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{direction}/{name}"


def parse_topic(value: str) -> tuple[str, str, str] | None:
    """(device_id, direction, name) of a protocol topic, or None for anything else."""
    parts = value.split("/")
    if len(parts) != 6 or "/".join(parts[:3]) != TOPIC_ROOT or parts[4] not in ("up", "down"):
        return None
    return parts[3], parts[4], parts[5]


# -- seq ranges -----------------------------------------------------------------------------------------
def to_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """[1,2,3,7,8] -> [[1,3],[7,8]]: acks stay small however many records they cover."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def iter_ranges(ranges: Iterable[Iterable[int]]) -> Iterator[int]:
    for pair in ranges:
        a, b = list(pair)
        yield from range(int(a), int(b) + 1)


# -- batches --------------------------------------------------------------------------------------------
@dataclass
class Envelope:
    device: str
    epoch: str
    first_seq: int
    last_seq: int
    records: list[dict[str, Any]]
    v: int = ENVELOPE_VERSION


def record_dict(seq: int, kind: str, v: int, ts: float, boot: str, mono: float, payload: Any) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "v": v, "ts": ts, "boot": boot, "mono": mono, "payload": payload}


def encode_batch(device: str, epoch: str, records: list[dict[str, Any]]) -> bytes:
    seqs = [r["seq"] for r in records]
    body = {
        "v": ENVELOPE_VERSION,
        "device": device,
        "epoch": epoch,
        "first_seq": min(seqs),
        "last_seq": max(seqs),
        "records": records,
    }
    # allow_nan=False: NaN/Infinity are not JSON and a county database may not store them.
    return zlib.compress(json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(), 6)


def inflate(data: bytes) -> bytes:
    if len(data) > MAX_WIRE_BYTES:
        raise ProtocolError(f"oversize: {len(data)} bytes on the wire, limit {MAX_WIRE_BYTES}")
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise ProtocolError(f"not zlib-compressed JSON: {exc}") from None
    if d.unconsumed_tail:
        raise ProtocolError(f"oversize: inflates beyond {MAX_INFLATED_BYTES} bytes")
    if not d.eof:
        raise ProtocolError("truncated: compressed stream ends early")
    return out


def decode_batch(data: bytes, topic_device: str) -> tuple[Envelope, list[tuple[int, str]]]:
    """Validate a batch. Raises ProtocolError for the whole envelope; returns per-record rejections.

    The envelope must be well-formed and come from the device its topic names; records inside it
    that are malformed are returned as (seq, reason) so the device can park them, not resend for ever.
    """
    raw = inflate(data)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"bad JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError("bad envelope: not a JSON object")
    if body.get("v") != ENVELOPE_VERSION:
        raise ProtocolError(f"unsupported envelope version {body.get('v')!r} (this receiver speaks {ENVELOPE_VERSION})")
    device, epoch = body.get("device"), body.get("epoch")
    if device != topic_device:
        raise ProtocolError(f"device mismatch: payload says {device!r}, topic says {topic_device!r}")
    if not isinstance(epoch, str) or not epoch or len(epoch) > 64:
        raise ProtocolError("bad envelope: epoch must be a non-empty string")
    first, last, records = body.get("first_seq"), body.get("last_seq"), body.get("records")
    if not (_is_int(first) and _is_int(last) and 1 <= first <= last):
        raise ProtocolError("bad envelope: first_seq/last_seq must be integers with 1 <= first <= last")
    if not isinstance(records, list) or not records:
        raise ProtocolError("bad envelope: records must be a non-empty list")
    if len(records) > MAX_RECORDS_PER_BATCH:
        raise ProtocolError(f"oversize: {len(records)} records, limit {MAX_RECORDS_PER_BATCH}")
    good: list[dict[str, Any]] = []
    rejected: list[tuple[int, str]] = []
    seen: set[int] = set()
    for rec in records:
        seq = rec.get("seq") if isinstance(rec, dict) else None
        if not _is_int(seq) or not first <= seq <= last:
            raise ProtocolError(f"bad envelope: record seq {seq!r} outside {first}..{last}")
        if seq in seen:
            raise ProtocolError(f"bad envelope: seq {seq} appears twice")
        seen.add(seq)
        reason = _record_problem(rec)
        if reason:
            rejected.append((seq, reason))
        else:
            good.append(rec)
    return Envelope(device, epoch, first, last, good), rejected


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _record_problem(rec: dict[str, Any]) -> str | None:
    kind, v = rec.get("kind"), rec.get("v")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        return "kind must be a non-empty string of at most 64 characters"
    if not _is_int(v) or v < 1:
        return "v (payload schema version) must be a positive integer"
    if not isinstance(rec.get("ts"), int | float) or not isinstance(rec.get("mono"), int | float):
        return "ts and mono must be numbers"
    if not isinstance(rec.get("boot"), str):
        return "boot must be a string"
    if not isinstance(rec.get("payload"), dict):
        return "payload must be a JSON object"
    return None


# -- small control messages (plain JSON) -------------------------------------------------------------------
def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps({"v": ENVELOPE_VERSION, **message}, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"bad JSON: {exc}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("not a JSON object")
    return msg


@dataclass
class Ack:
    """The receiver's answer to a hello or a batch: what it has committed, and what it refuses."""

    epoch: str
    committed: list[list[int]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"seq": N, "reason": STR}
    reply_to: Literal["hello", "batch"] = "batch"

    def to_bytes(self) -> bytes:
        return dumps(
            {"type": "ack", "reply_to": self.reply_to, "epoch": self.epoch, "committed": self.committed,
             "rejected": self.rejected}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Ack:
        msg = loads(data)
        if msg.get("type") != "ack" or not isinstance(msg.get("epoch"), str):
            raise ProtocolError("not an ack")
        return cls(msg["epoch"], list(msg.get("committed") or []), list(msg.get("rejected") or []),
                   msg.get("reply_to", "batch"))
