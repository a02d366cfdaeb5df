"""One simulated Neo pen: a child's writing on a timeline, and the pen's side of the Neo v2 protocol.

The pen behaves as the driver must expect real pens to:

* it streams nothing until a host has introduced itself (VersionRequest), read the settings, entered the
  password if one is set, and asked for real-time data (OnlineDataRequest); a stroke begun while it is not
  streaming is stored in the pen, per note, like a real pen's offline memory;
* its real-time events can be lost (``loss_rate``: the frame is never sent, so the event counter jumps) or
  torn (only a prefix of the frame is sent); requests, responses and offline chunks are never lost, as the
  BLE link layer retransmits them;
* stored notes are sent as zlib chunks, one at a time, each only after the previous one was acknowledged,
  and deleted only when the host asks (only what was transferred: a stroke stored meanwhile stays, which is
  this simulator's assumption about careful firmware, since the protocol deletes whole notes);
* after ``max_retries`` wrong passwords it erases itself.

Every stroke and every real-time event is recorded in a ledger (what was written, what reached the wire),
so tests can say exactly what the driver should have received.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from drivers.smartpen import neo
from drivers.smartpen.handwriting import ChildStyle, write_mark, write_text
from drivers.smartpen.neo_offline import OfflineDot, OfflineStroke, chunk_note
from drivers.smartpen.plan import PenPlan

NCODE_UNIT_MM = 2.371  # one Ncode pattern unit on paper (the driver must not import the feature's constant)
PEN_UP_AFTER_MS = 8  # the pen reports pen-up shortly after the last dot
MAX_RETRIES = 10
BATTERY_DRAIN_PER_S = 1 / 600  # percent per second of class time

SimTransport = Literal["serial", "ble"]


class SimLink(Protocol):
    """Where a pen's bytes go while it is connected (a gateway slot or a BLE connection)."""

    def send(self, data: bytes) -> None: ...


@dataclass
class TimedStroke:
    """A stroke on the class timeline (cycle 0): child seconds, pattern units, ms since pen-down."""

    start_s: float
    writing: int
    index: int
    page: tuple[int, int, int, int]
    box_mm: tuple[float, float, float, float]
    points: list[tuple[float, float, int, int]]  # x, y (pattern units), force, t_ms

    @property
    def end_s(self) -> float:
        return self.start_s + (self.points[-1][3] + PEN_UP_AFTER_MS) / 1000


@dataclass
class SentStroke:
    """Ledger: one stroke as written, and what of it reached the wire."""

    pen_id: str
    cycle: int
    writing: int
    index: int
    page: tuple[int, int, int, int]
    box_mm: tuple[float, float, float, float]
    points: list[tuple[float, float]]
    mode: Literal["online", "offline"]
    epoch: int
    down: bool = False
    paper: bool = False
    up: bool = False
    delivered: list[bool] = field(default_factory=list)

    @property
    def delivered_points(self) -> list[tuple[float, float]]:
        return [p for p, ok in zip(self.points, self.delivered, strict=True) if ok]


def mm_to_pattern(x_mm: float, y_mm: float) -> tuple[float, float]:
    """A paper position in pattern units, quantised to the hundredths a pen reports."""
    return round(x_mm / NCODE_UNIT_MM, 2), round(y_mm / NCODE_UNIT_MM, 2)


def build_timeline(plan: PenPlan, seed: int) -> list[TimedStroke]:
    """The pen's strokes for one run of the plan, deterministic for (seed, pen)."""
    rng = random.Random(f"{seed}:{plan.pen_id}")
    style = ChildStyle.random(rng)
    strokes: list[TimedStroke] = []
    t = plan.start_delay_s
    for w_index, w in enumerate(plan.writings):
        t += w.pause_before_s
        sim = write_text(w.text, w.box_mm, rng, style) if w.kind == "text" else write_mark(w.kind, w.box_mm, rng, style)
        for k, s in enumerate(sim):
            points = []
            for x_mm, y_mm, t_s, force in s.points:
                x, y = mm_to_pattern(x_mm, y_mm)
                points.append((x, y, force, round(t_s * 1000)))
            strokes.append(TimedStroke(t + s.start_s, w_index, k, w.page, w.box_mm, points))
        if sim:
            t = strokes[-1].end_s
    return strokes


class SimPen:
    """A pen with a child behind it; driven by :meth:`advance` with the class clock."""

    def __init__(
        self,
        plan: PenPlan,
        transport: SimTransport,
        seed: int,
        loss_rate: float,
        torn_rate: float,
        unix_at: Callable[[float], float],
    ) -> None:
        self.plan = plan
        self.pen_id = plan.pen_id
        self.transport = transport
        self.timeline = build_timeline(plan, seed)
        self.end_s = self.timeline[-1].end_s if self.timeline else plan.start_delay_s
        self.loss_rate = loss_rate
        self.torn_rate = torn_rate
        self._unix_at = unix_at
        self._rng = random.Random(f"{seed}:{plan.pen_id}:link")
        self.password = plan.password
        self.retries = 0
        self.authorized = plan.password is None
        self.link: SimLink | None = None
        self.online = False  # streaming real-time events to a host
        self.epoch = 0  # one per host handshake
        self.counter = 0
        self.battery = float(plan.battery)
        self.stored: dict[neo.NoteId, list[tuple[SentStroke, OfflineStroke]]] = {}
        self.ledger: list[SentStroke] = []
        self.events: list[tuple[int, bool]] = []  # (epoch, delivered) per real-time event, in order
        self.torn = 0
        self.transfer_log: list[tuple[str, int]] = []  # ("chunk", id) / ("ack", id) / ("delete", note)
        self.password_attempts: list[str] = []
        self.requests: list[neo.Frame] = []
        self._decoder = neo.FrameDecoder()
        self._transfer: list[neo.OfflineChunk] = []
        self._transfer_next = 0
        self._transfer_delete = False
        self._transferred: dict[neo.NoteId, list[OfflineStroke]] = {}  # sent in a transfer, by note
        self._out: list[bytes] = []
        # timeline cursor
        self._cycle = 0
        self._i = 0
        self._phase: Literal["down", "dots", "up"] = "down"
        self._dot = 0
        self._current: SentStroke | None = None

    # -- link ---------------------------------------------------------------------------------------------
    def attach(self, link: SimLink) -> None:
        self.link = link
        self.online = False
        self._decoder.reset()

    def detach(self) -> None:
        self.link = None
        self.online = False
        self._transfer = []

    def on_host_bytes(self, data: bytes) -> None:
        """Requests from the host (through the gateway or a GATT write)."""
        for frame in self._decoder.feed(data):
            self.requests.append(frame)
            self._request(frame)
        self._decoder.pop_errors()
        self.flush()

    def flush(self) -> None:
        data, self._out = b"".join(self._out), []
        if data and self.link is not None:
            self.link.send(data)

    # -- the child writing --------------------------------------------------------------------------------
    def advance(self, now_s: float, cycle_s: float | None) -> None:
        """Emit (or store) everything the child has written up to class time ``now_s``."""
        self.battery = max(1.0, self.plan.battery - now_s * BATTERY_DRAIN_PER_S)
        while self.timeline:
            if self._i >= len(self.timeline):
                if cycle_s is None:
                    break
                self._cycle += 1
                self._i = 0
            base = self._cycle * cycle_s if cycle_s is not None else 0.0
            stroke = self.timeline[self._i]
            t0 = base + stroke.start_s
            if self._phase == "down":
                if now_s < t0:
                    break
                self._begin(stroke, t0)
            if self._phase == "dots":
                while self._dot < len(stroke.points) and t0 + stroke.points[self._dot][3] / 1000 <= now_s:
                    self._emit_dot(stroke)
                if self._dot < len(stroke.points):
                    break
                self._phase = "up"
            if now_s < base + stroke.end_s:
                break
            self._end(stroke, t0)
            self._i += 1
            self._phase = "down"
        self.flush()

    def _begin(self, stroke: TimedStroke, t0: float) -> None:
        mode: Literal["online", "offline"] = "online" if self.online else "offline"
        sent = SentStroke(
            self.pen_id, self._cycle, stroke.writing, stroke.index, stroke.page, stroke.box_mm,
            [(x, y) for x, y, _f, _t in stroke.points], mode, self.epoch,
        )  # fmt: skip
        self.ledger.append(sent)
        self._current = sent
        self._phase = "dots"
        self._dot = 0
        if mode == "online":
            sent.down = self._event(neo.PenDown(self._next_counter(), self._ms(t0), 0, 0xFF101010))
            section, owner, note, page = stroke.page
            sent.paper = self._event(neo.PaperInfo(self._next_counter(), section, owner, note, page))

    def _emit_dot(self, stroke: TimedStroke) -> None:
        sent = self._current
        assert sent is not None
        x, y, force, t_ms = stroke.points[self._dot]
        prev = stroke.points[self._dot - 1][3] if self._dot else 0
        ok = False
        if sent.mode == "online" and self.online and sent.epoch == self.epoch:
            dot = neo.Dot(self._next_counter(), max(0, min(255, t_ms - prev)), force, x, y, 10, 10, 0)
            ok = self._event(dot)
        sent.delivered.append(ok)
        self._dot += 1

    def _end(self, stroke: TimedStroke, t0: float) -> None:
        sent = self._current
        assert sent is not None
        up_ms = self._ms(t0) + stroke.points[-1][3] + PEN_UP_AFTER_MS
        if sent.mode == "online":
            if self.online and sent.epoch == self.epoch:
                sent.up = self._event(neo.PenUp(self._next_counter(), up_ms, len(stroke.points)))
            return
        sent.delivered = [False] * len(stroke.points)
        dots = []
        prev = 0
        for x, y, force, t_ms in stroke.points:
            dots.append(OfflineDot(max(0, min(255, t_ms - prev)), force, x, y, 10, 10, 0))
            prev = t_ms
        record = OfflineStroke(stroke.page[3], self._ms(t0), up_ms, tuple(dots), 0, 0xFF101010)
        self.stored.setdefault(stroke.page[:3], []).append((sent, record))

    def _ms(self, t_s: float) -> int:
        return round(self._unix_at(t_s) * 1000)

    def _next_counter(self) -> int:
        value = self.counter
        self.counter = (self.counter + 1) & 0xFF
        return value

    def _event(self, frame: neo.Frame) -> bool:
        """A real-time event onto the wire, or lost on the way; True when it arrived whole."""
        data = frame.encode()
        r = self._rng.random()
        delivered = True
        if r < self.loss_rate:
            delivered = False
        elif r < self.loss_rate + self.torn_rate:
            self._out.append(data[: self._rng.randint(1, len(data) - 2)])
            self.torn += 1
            delivered = False
        else:
            self._out.append(data)
        self.events.append((self.epoch, delivered))
        return delivered

    # -- the pen's side of the protocol -------------------------------------------------------------------
    def _reply(self, frame: neo.Frame) -> None:
        self._out.append(frame.encode())

    def _request(self, f: neo.Frame) -> None:
        if isinstance(f, neo.VersionRequest):
            self.epoch += 1
            self.counter = 0
            self.online = False
            self.authorized = self.password is None
            self._reply(neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "simulated", 0x0201, self.pen_id, 1))
        elif isinstance(f, neo.SettingInfoRequest):
            self._reply(
                neo.SettingInfo(
                    locked=not self.authorized, max_retries=MAX_RETRIES, retries=self.retries,
                    timestamp_ms=self._ms(0.0), battery=round(self.battery), used_storage=min(100, len(self.stored)),
                )
            )
        elif isinstance(f, neo.PasswordRequest):
            self._password(f.password)
        elif isinstance(f, neo.OnlineDataRequest):
            self.online = self.authorized
            self._reply(neo.OnlineDataResponse(0 if self.authorized else 1))
        elif not self.authorized:
            refusal = _REFUSALS.get(type(f))
            if refusal is not None:
                self._reply(refusal)
        elif isinstance(f, neo.NoteListRequest):
            notes = tuple(key for key, strokes in self.stored.items() if strokes)
            self._reply(neo.NoteListResponse(0, notes))
        elif isinstance(f, neo.PageListRequest):
            key = (f.section, f.owner, f.note)
            pages = sorted({record.page for _sent, record in self.stored.get(key, [])})
            self._reply(neo.PageListResponse(0, f.section, f.owner, f.note, tuple(pages)))
        elif isinstance(f, neo.OfflineDataRequest):
            self._start_transfer(f)
        elif isinstance(f, neo.OfflineChunkAck):
            self._ack(f)
        elif isinstance(f, neo.OfflineDeleteRequest):
            for note in f.notes:
                self._delete((f.section, f.owner, note))
                self.transfer_log.append(("delete", note))
            self._reply(neo.OfflineDeleteResponse(0))

    def _password(self, password: str) -> None:
        self.password_attempts.append(password)
        if self.authorized or self.password is None or password == self.password:
            self.authorized = True
            self.retries = 0
            self._reply(neo.PasswordResponse(0, neo.PASSWORD_OK, 0, MAX_RETRIES))
            return
        self.retries += 1
        if self.retries >= MAX_RETRIES:
            self.stored.clear()
            self.password = None
            self._reply(neo.PasswordResponse(0, neo.PASSWORD_RESET, self.retries, MAX_RETRIES))
            return
        self._reply(neo.PasswordResponse(0, neo.PASSWORD_NEEDED, self.retries, MAX_RETRIES))

    def _start_transfer(self, f: neo.OfflineDataRequest) -> None:
        key = (f.section, f.owner, f.note)
        records = [r for _s, r in self.stored.get(key, []) if not f.pages or r.page in f.pages]
        if not records:
            self._reply(neo.OfflineDataResponse(0, 0, 0, True))
            return
        chunks = chunk_note(f.section, f.owner, f.note, records, compress=f.compress)
        self._transferred[key] = records
        self._reply(neo.OfflineDataResponse(0, len(records), sum(c.size_before for c in chunks), f.compress))
        self._transfer = chunks
        self._transfer_next = 0
        self._transfer_delete = f.delete_after
        self._send_chunk()

    def _send_chunk(self) -> None:
        chunk = self._transfer[self._transfer_next]
        self.transfer_log.append(("chunk", chunk.packet_id))
        self._reply(chunk)

    def _ack(self, f: neo.OfflineChunkAck) -> None:
        self.transfer_log.append(("ack", f.packet_id))
        if not self._transfer or f.packet_id != self._transfer[self._transfer_next].packet_id:
            return
        if f.result or not f.proceed:
            self._transfer = []
            return
        self._transfer_next += 1
        if self._transfer_next < len(self._transfer):
            self._send_chunk()
            return
        last = self._transfer[-1]
        self._transfer = []
        if self._transfer_delete:
            self._delete((last.section, last.owner, last.note))

    def _delete(self, key: neo.NoteId) -> None:
        """Delete what was transferred of a note; strokes stored since the transfer began stay for the next one."""
        sent = {id(r) for r in self._transferred.pop(key, [])}
        kept = [(s, r) for s, r in self.stored.get(key, []) if id(r) not in sent]
        if kept:
            self.stored[key] = kept
        else:
            self.stored.pop(key, None)


# What a locked pen answers to offline requests: the typed response with a failure result.
_REFUSALS: dict[type[neo.Frame], neo.Frame] = {
    neo.NoteListRequest: neo.NoteListResponse(1),
    neo.PageListRequest: neo.PageListResponse(1),
    neo.OfflineDataRequest: neo.OfflineDataResponse(1),
    neo.OfflineDeleteRequest: neo.OfflineDeleteResponse(1),
}
