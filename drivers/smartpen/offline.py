"""Pulling a Neo pen's stored notes after every (re)connect, one note at a time, never losing one.

A child who writes while the pen is not connected (walking between rooms, the box restarting, a pen
handed out before class) still hands in homework: the pen stores the strokes per note. After each
connect the session runs this exchange::

    host  NoteListRequest(all)          →  pen  NoteListResponse(notes)
    for each note:
    host  PageListRequest(note)         →  pen  PageListResponse(pages)          (for the log and status)
    host  OfflineDataRequest(keep)      →  pen  OfflineDataResponse(strokes, size)
                                        ←  pen  OfflineChunk #0 … #n (zlib), each
    host  OfflineChunkAck(#i)           →       acknowledged before the pen sends the next
    host  OfflineDeleteRequest(note)    →  pen  OfflineDeleteResponse             (only when every chunk
                                                                                   arrived and decoded)

The request asks the pen to *keep* the data and the host deletes it explicitly, and the strokes are
published only once the whole note has arrived: a transfer that breaks off (link lost, corrupt chunk,
timeout) leaves the note on the pen, and the next connect transfers it again from the start, so nothing
is lost and nothing is published twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from appliance.events import PenStroke
from drivers.smartpen import neo
from drivers.smartpen.neo_offline import OfflineStroke, chunk_strokes

STEP_TIMEOUT_S = 10.0
State = Literal["idle", "listing", "paging", "requesting", "receiving", "deleting", "done"]


class OfflineSync:
    """The offline-upload state machine of one connection."""

    def __init__(
        self,
        pen_id: str,
        send: Callable[[neo.Frame], None],
        deliver: Callable[[list[PenStroke]], None],
        monotonic: Callable[[], float],
        log: logging.Logger,
        step_timeout_s: float = STEP_TIMEOUT_S,
    ) -> None:
        self.pen_id = pen_id
        self._send = send
        self._deliver = deliver
        self._monotonic = monotonic
        self._log = log
        self.step_timeout_s = step_timeout_s
        self.state: State = "idle"
        self.queue: list[neo.NoteId] = []
        self.current: neo.NoteId | None = None
        self.notes_done = 0
        self.notes_failed = 0
        self.strokes_uploaded = 0
        self.round_uploaded = 0  # strokes delivered since the last start()
        self.bad_dots = 0
        self.problem: str | None = None
        self._expected_strokes = 0
        self._next_packet = 0
        self._received: list[OfflineStroke] = []
        self._since = monotonic()
        self.finished_at = monotonic()

    @property
    def pending(self) -> int | None:
        """Notes still on the pen (None until the pen has said how many)."""
        if self.state in ("idle", "listing"):
            return None
        return len(self.queue) + (1 if self.current is not None else 0)

    @property
    def busy(self) -> bool:
        return self.state not in ("idle", "done")

    def start(self) -> None:
        self.problem = None
        self.round_uploaded = 0
        self._step("listing", neo.NoteListRequest())

    def tick(self) -> None:
        if self.busy and self._monotonic() - self._since > self.step_timeout_s:
            self._fail(f"no answer from the pen for {self.step_timeout_s:.0f} s while {self.state}")

    def handle(self, frame: neo.Frame) -> bool:
        """Take one frame; False when it is not part of the offline exchange."""
        if isinstance(frame, neo.NoteListResponse):
            if self.state == "listing":
                self._notes(frame)
        elif isinstance(frame, neo.PageListResponse):
            if self.state == "paging":
                self._pages(frame)
        elif isinstance(frame, neo.OfflineDataResponse):
            if self.state == "requesting":
                self._announced(frame)
        elif isinstance(frame, neo.OfflineChunk):
            self._chunk(frame)
        elif isinstance(frame, neo.OfflineDeleteResponse):
            if self.state == "deleting":
                self._deleted(frame)
        else:
            return False
        return True

    # -- steps --------------------------------------------------------------------------------------------
    def _step(self, state: State, request: neo.Frame | None = None) -> None:
        self.state = state
        self._since = self._monotonic()
        if state == "done":
            self.finished_at = self._since
        if request is not None:
            self._send(request)

    def _notes(self, f: neo.NoteListResponse) -> None:
        if f.result:
            self._fail(f"the pen refused the note list (result {f.result})")
            return
        self.queue = list(f.notes)
        if self.queue:
            self._log.info("pen %s holds %d stored note(s); uploading", self.pen_id, len(self.queue))
        self._next_note()

    def _next_note(self) -> None:
        self.current = None
        self._received = []
        if not self.queue:
            self._step("done")
            return
        self.current = self.queue.pop(0)
        section, owner, note = self.current
        self._step("paging", neo.PageListRequest(section, owner, note))

    def _pages(self, f: neo.PageListResponse) -> None:
        assert self.current is not None
        section, owner, note = self.current
        if f.result == 0:
            self._log.info("pen %s note %d.%d.%d: pages %s stored", self.pen_id, section, owner, note, list(f.pages))
        self._step("requesting", neo.OfflineDataRequest(section, owner, note, delete_after=False))

    def _announced(self, f: neo.OfflineDataResponse) -> None:
        if f.result or f.strokes == 0:
            # Nothing to transfer for this note (or the pen would not): leave it and go on.
            self._log.info("pen %s: nothing to upload for note %s (result %d)", self.pen_id, self.current, f.result)
            self._next_note()
            return
        self._expected_strokes = f.strokes
        self._next_packet = 0
        self._received = []
        self._step("receiving")

    def _chunk(self, f: neo.OfflineChunk) -> None:
        if self.state != "receiving" or self.current is None:
            # Not asked for (a transfer we abandoned): stop the pen sending more.
            self._send(neo.OfflineChunkAck(result=1, packet_id=f.packet_id, proceed=False))
            return
        if (f.section, f.owner, f.note) != self.current or f.packet_id != self._next_packet:
            self._send(neo.OfflineChunkAck(result=1, packet_id=f.packet_id, proceed=False))
            self._fail(f"chunk {f.packet_id} of note {f.section}.{f.owner}.{f.note} out of order")
            return
        try:
            strokes, bad = chunk_strokes(f)
        except neo.FrameError as exc:
            self._send(neo.OfflineChunkAck(result=1, packet_id=f.packet_id, proceed=False))
            self._fail(str(exc))
            return
        self.bad_dots += bad
        self._received.extend(strokes)
        self._next_packet += 1
        self._send(neo.OfflineChunkAck(result=0, packet_id=f.packet_id, proceed=True))
        self._since = self._monotonic()
        if f.position != neo.CHUNK_END:
            return
        if len(self._received) != self._expected_strokes:
            self._fail(f"note ended after {len(self._received)} of {self._expected_strokes} strokes")
            return
        section, owner, note = self.current
        self._deliver([self._stroke(section, owner, note, s) for s in self._received if s.dots])
        self.strokes_uploaded += len(self._received)
        self.round_uploaded += len(self._received)
        self._step("deleting", neo.OfflineDeleteRequest(section, owner, (note,)))

    def _deleted(self, f: neo.OfflineDeleteResponse) -> None:
        if f.result:
            self._log.warning(
                "pen %s would not delete uploaded note %s (result %d)", self.pen_id, self.current, f.result
            )
        self.notes_done += 1
        self._next_note()

    def _fail(self, reason: str) -> None:
        self.problem = reason
        self.notes_failed += 1
        self._log.warning(
            "pen %s offline upload: %s; the note stays on the pen for the next connect", self.pen_id, reason
        )
        if self.state == "listing":
            self.current = None
            self._step("done")
            return
        self._next_note()

    def _stroke(self, section: int, owner: int, note: int, s: OfflineStroke) -> PenStroke:
        points: list[tuple[float, float, int, int]] = []
        t = 0
        for d in s.dots:
            t += d.dt
            points.append((d.x, d.y, d.force, t))
        return PenStroke(
            pen_id=self.pen_id,
            section=section,
            owner=owner,
            note=note,
            page=s.page,
            started_at=s.down_ms / 1000,
            ended_at=max(s.up_ms, s.down_ms) / 1000,
            points=tuple(points),
            colour=s.colour,
            offline=True,
        )
