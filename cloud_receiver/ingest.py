"""What the receiver does with one MQTT message, without MQTT: validate, store, and say what to publish.

Kept free of networking so every rule (quarantine, duplicate handling, which acks go out) is unit-tested
against a real database in milliseconds. The service calls ``handle`` in arrival order and publishes the
replies only after it returns, i.e. after the commit.
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from cloud_receiver.storage import BatchOutcome, RecordRow, Rejection, Store
from sync.protocol import (
    ENVELOPE_VERSION,
    UP_NAMES,
    Ack,
    ProtocolError,
    decode_batch,
    inflate,
    loads,
    parse_topic,
    to_ranges,
    topic,
)

log = logging.getLogger("classroom_cloud.ingest")

SAMPLE_BYTES = 1024
MAX_DEVICE_ID = 128
MAX_SEQ = 2**63 - 1  # BIGINT
MAX_V = 2**31 - 1  # INTEGER
MAX_ABS_TS = 1e11  # year ~5100: anything beyond is a broken clock or a hostile value


@dataclass(frozen=True)
class Reply:
    topic: str
    payload: bytes
    qos: int = 1


@dataclass
class Outcome:
    """What happened to one message. ``committed`` is True for a batch whose transaction committed."""

    name: str  # hello | batch | status | heartbeat | quarantined | ignored
    replies: list[Reply] = field(default_factory=list)
    committed: bool = False
    records: int = 0  # good records in a committed batch (all stored now)
    inserted: int = 0  # of which new


class Ingestor:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- dispatch ------------------------------------------------------------------------------------
    def handle(self, msg_topic: str, payload: bytes) -> Outcome:
        """Process one message; never raises for bad input. Database outages (OperationalError) propagate
        so the caller retries the same message later instead of acknowledging it."""
        parsed = parse_topic(msg_topic)
        if parsed is None or parsed[1] != "up" or parsed[2] not in UP_NAMES:
            return self._quarantine(msg_topic, None, "unknown topic: not edu/v1/d/DEVICE/up/{hello|batch|status|"
                                    "heartbeat}", payload)
        device, _, name = parsed
        if not device or len(device) > MAX_DEVICE_ID:
            return self._quarantine(msg_topic, None, f"bad device id in topic (1..{MAX_DEVICE_ID} characters)",
                                    payload)
        try:
            if name == "batch":
                return self._batch(msg_topic, device, payload)
            if name == "hello":
                return self._hello(msg_topic, device, payload)
            if name == "heartbeat":
                return self._heartbeat(msg_topic, device, payload)
            return self._status(msg_topic, device, payload)
        except ProtocolError as exc:
            return self._quarantine(msg_topic, device, str(exc), payload)
        except OperationalError:
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            return self._quarantine(msg_topic, device, f"database refused it: {_first_line(exc)}", payload)
        except SQLAlchemyError as exc:
            return self._quarantine(msg_topic, device, f"database refused it: {_first_line(exc)}", payload)

    # the four message kinds, as the brief names them: each returns what to publish on down/ack, if anything
    def handle_batch(self, msg_topic: str, payload: bytes) -> bytes | None:
        return _ack_of(self.handle(msg_topic, payload))

    def handle_hello(self, msg_topic: str, payload: bytes) -> bytes | None:
        return _ack_of(self.handle(msg_topic, payload))

    def handle_heartbeat(self, msg_topic: str, payload: bytes) -> None:
        self.handle(msg_topic, payload)

    def handle_status(self, msg_topic: str, payload: bytes) -> None:
        self.handle(msg_topic, payload)

    # -- batches ---------------------------------------------------------------------------------------
    def _batch(self, msg_topic: str, device: str, payload: bytes) -> Outcome:
        env, rejected_pairs = decode_batch(payload, device)
        if env.last_seq > MAX_SEQ:
            raise ProtocolError(f"bad envelope: last_seq {env.last_seq} beyond {MAX_SEQ}")
        if "\x00" in env.epoch:
            raise ProtocolError("bad envelope: epoch contains a NUL character")
        now = self.clock()
        rows: list[RecordRow] = []
        reasons = dict(rejected_pairs)
        for rec in env.records:
            problem, row = _receiver_checks(rec)
            if row is None:
                reasons[rec["seq"]] = problem
            else:
                rows.append(row)
        rows.sort()
        rejections = _rejections(payload, reasons) if reasons else []
        result: BatchOutcome = self.store.store_batch(msg_topic, device, env.epoch, rows, rejections, now)
        for r in rejections:
            log.warning("rejected record %s/%s seq %d: %s", device, env.epoch, r.seq, r.reason)
        ack = Ack(env.epoch, committed=to_ranges(r[0] for r in rows),
                  rejected=[{"seq": s, "reason": reasons[s]} for s in sorted(reasons)], reply_to="batch")
        reply = Reply(topic(device, "down", "ack"), ack.to_bytes())
        return Outcome("batch", [reply], committed=True, records=len(rows), inserted=result.inserted)

    # -- control messages ---------------------------------------------------------------------------------
    def _hello(self, msg_topic: str, device: str, payload: bytes) -> Outcome:
        msg = _control(payload, "hello")
        if msg.get("device") != device:
            raise ProtocolError(f"device mismatch: payload says {msg.get('device')!r}, topic says {device!r}")
        epoch, first, last = msg.get("epoch"), msg.get("first_pending"), msg.get("last_seq")
        if not isinstance(epoch, str) or not epoch or len(epoch) > 64 or "\x00" in epoch:
            raise ProtocolError("bad hello: epoch must be a non-empty string of at most 64 characters")
        if not _is_int(last) or not 0 <= last <= MAX_SEQ:
            raise ProtocolError("bad hello: last_seq must be an integer >= 0")
        if first is not None and (not _is_int(first) or first < 1):
            raise ProtocolError("bad hello: first_pending must be null or an integer >= 1")
        committed = self.store.committed_seqs(device, epoch, first, last) if first is not None else []
        self.store.update_device(device, {"epoch": epoch, "last_seq": last, "last_hello_at": self.clock()})
        ack = Ack(epoch, committed=to_ranges(committed), reply_to="hello")
        return Outcome("hello", [Reply(topic(device, "down", "ack"), ack.to_bytes())])

    def _heartbeat(self, msg_topic: str, device: str, payload: bytes) -> Outcome:
        """Lenient on fields (a wrong one is stored as unknown): heartbeats are for dashboards, not data."""
        msg = _control(payload, "heartbeat")
        values: dict[str, Any] = {"last_heartbeat_at": self.clock()}
        for key, kind in (("pending", int), ("oldest_pending_age_s", float), ("disk_free_bytes", int),
                          ("last_seq", int)):
            value = msg.get(key)
            ok = _is_int(value) if kind is int else _is_number(value)
            values[key] = value if ok and _is_number(value) and abs(value) <= MAX_SEQ else None
        epoch = msg.get("epoch")
        if isinstance(epoch, str) and 0 < len(epoch) <= 64 and "\x00" not in epoch:
            values["epoch"] = epoch
        self.store.update_device(device, values)
        return Outcome("heartbeat")

    def _status(self, msg_topic: str, device: str, payload: bytes) -> Outcome:
        if not payload:
            return Outcome("ignored")  # a retained status being cleared
        msg = _control(payload, "status")
        if not isinstance(msg.get("online"), bool):
            raise ProtocolError("bad status: online must be true or false")
        self.store.update_device(device, {"online": msg["online"], "status_at": self.clock()})
        return Outcome("status")

    # -- quarantine ---------------------------------------------------------------------------------------
    def _quarantine(self, msg_topic: str, device: str | None, reason: str, payload: bytes) -> Outcome:
        reason = _clean(reason, 500)
        self.store.quarantine_message(msg_topic, device, reason, len(payload), sample_of(payload), self.clock())
        log.warning("quarantined %s (%d bytes), not answered: %s", msg_topic, len(payload), reason)
        return Outcome("quarantined")


# -- helpers -------------------------------------------------------------------------------------------------
def _ack_of(outcome: Outcome) -> bytes | None:
    return outcome.replies[0].payload if outcome.replies else None


def _control(payload: bytes, expected: str) -> dict[str, Any]:
    if len(payload) > 64 * 1024:
        raise ProtocolError(f"oversize: {len(payload)} bytes for a {expected} message")
    msg = loads(payload)
    if msg.get("v") != ENVELOPE_VERSION:
        raise ProtocolError(f"unsupported {expected} version {msg.get('v')!r} (this receiver speaks {ENVELOPE_VERSION})")
    if msg.get("type", expected) != expected:
        raise ProtocolError(f"bad {expected}: type is {msg.get('type')!r}")
    return msg


# Built once: json.dumps with non-default options builds a new encoder on every call (a third of the cost).
_encode_payload = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _receiver_checks(rec: dict[str, Any]) -> tuple[str, RecordRow | None]:
    """Checks beyond the protocol's, for what a database would refuse or a county page would misread;
    returns the row to store, or the reason it cannot be stored."""
    kind, boot = rec["kind"], rec["boot"]
    try:
        ts, mono = float(rec["ts"]), float(rec["mono"])
    except OverflowError:
        return "ts and mono must be finite numbers", None
    if not (math.isfinite(ts) and math.isfinite(mono)):
        return "ts and mono must be finite numbers", None
    if abs(ts) > MAX_ABS_TS:
        return "ts out of range", None
    if rec["v"] > MAX_V:
        return f"v must be at most {MAX_V}", None
    if "\x00" in kind or "\x00" in boot:
        return "kind and boot must not contain NUL characters", None
    try:
        text = _encode_payload(rec["payload"])
        for s in (text, kind, boot):
            if not s.isascii():
                s.encode("utf-8")
    except ValueError as exc:  # NaN/Infinity, or a lone surrogate (UnicodeEncodeError is a ValueError)
        return f"not storable as UTF-8 JSON: {type(exc).__name__}", None
    return "", (rec["seq"], kind, rec["v"], ts, boot, mono, text)


def _rejections(payload: bytes, reasons: dict[int, str]) -> list[Rejection]:
    """Samples of rejected records: re-read the envelope (rare path) since decode_batch returns only seqs."""
    by_seq: dict[int, Any] = {}
    try:
        for rec in json.loads(inflate(payload))["records"]:
            if isinstance(rec, dict) and rec.get("seq") in reasons:
                by_seq[rec["seq"]] = rec
    except (ValueError, KeyError, TypeError):
        pass
    out = []
    for seq, reason in reasons.items():
        text = json.dumps(by_seq.get(seq), ensure_ascii=True, default=repr)
        out.append(Rejection(seq, _clean(reason, 500), text[:SAMPLE_BYTES], len(text)))
    return out


def sample_of(payload: bytes) -> str:
    """At most 1 KB a human can read: inflated when the message is zlib (bounded, so bombs stay harmless)."""
    head = b""
    try:
        head = zlib.decompressobj().decompress(payload[:64 * 1024], SAMPLE_BYTES)
    except zlib.error:
        pass
    text = _clean((head or payload[:SAMPLE_BYTES]).decode("utf-8", "backslashreplace"))
    return text.encode("utf-8")[:SAMPLE_BYTES].decode("utf-8", "ignore")


def _clean(text: str, limit: int = 100_000) -> str:
    """PostgreSQL text cannot hold NUL; keep it visible instead."""
    return text[:limit].replace("\x00", "\\x00")


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
