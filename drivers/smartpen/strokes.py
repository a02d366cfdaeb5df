"""Pen-down → paper info → dots → pen-up, assembled into PenStroke events, whatever got lost on the way.

Real-time pen events are lossy (a pen's radio buffer overflows, a gateway drops a packet), and the
protocol only says so through the u8 event counter each event carries. This module keeps the stroke
whole anyway:

* a pen-up that never came: the stroke closes on the next pen-down or paper info, or after
  ``pen_up_timeout_s`` without events (the pen samples ~80 times a second while writing, so that much
  silence means the tip is up). A tick that comes late (the box's event loop was stalled) closes nothing:
  the pen's bytes may be waiting in a buffer behind it, so the next, punctual tick decides;
* a pen-down that never came: dots on a known page open the stroke themselves (its start time is then
  estimated from the pen's last known time);
* paper info that never came: the page the pen was last on is used (children rarely turn the page between
  two strokes); dots before any paper info since connect cannot be placed and are dropped and counted;
* paper info in the middle of a stroke closes it (the pen moved to another page, or the pen-up and the next
  pen-down were both lost) and the dots after it start a new stroke.

Gaps in the event counter are counted (``lost_events``, ``counter_gaps``) and the events missing since the
last stroke closed are put on the next stroke as ``lost_before``, so a grader can tell an answer that may
be missing ink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.events import PenStroke
from drivers.smartpen import neo

PEN_UP_TIMEOUT_S = 1.5


class EventCounter:
    """Tracks the u8 event counter: the first event after connect is the baseline, then gaps are losses."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.lost_events = 0
        self.gaps = 0
        self.duplicates = 0

    def observe(self, counter: int) -> int:
        """How many events are missing just before this one (0 for the expected next counter)."""
        if self.last is None:
            self.last = counter
            return 0
        if counter == self.last:  # a repeated event (a gateway retransmit): not a loss
            self.duplicates += 1
            return 0
        lost = (counter - self.last - 1) & 0xFF
        self.last = counter
        if lost:
            self.gaps += 1
            self.lost_events += lost
        return lost

    def reset(self) -> None:
        """A new connection: the pen may restart its counter."""
        self.last = None


@dataclass
class _Open:
    section: int
    owner: int
    note: int
    page: int
    started_ms: int
    colour: int | None
    points: list[tuple[float, float, int, int]] = field(default_factory=list)
    t_ms: int = 0


class StrokeAssembler:
    """One pen's online events in, PenStroke out (through ``publish``)."""

    def __init__(
        self,
        pen_id: str,
        publish: Callable[[PenStroke], None],
        monotonic: Callable[[], float],
        pen_up_timeout_s: float = PEN_UP_TIMEOUT_S,
    ) -> None:
        self.pen_id = pen_id
        self._publish = publish
        self._monotonic = monotonic
        self.pen_up_timeout_s = pen_up_timeout_s
        self.counter = EventCounter()
        self.strokes = 0
        self.lost_pen_ups = 0  # strokes closed by a pen-down, paper info or the timeout
        self.lost_pen_downs = 0  # strokes opened by a dot
        self.unplaced_dots = 0  # dots before any paper info: no page to put them on
        self.empty_strokes = 0  # pen-down/up with every dot lost (or a tap the pen did not sample)
        self._page: tuple[int, int, int, int] | None = None
        self._open: _Open | None = None
        self._down: tuple[int, int | None] | None = None  # (timestamp_ms, colour) of a pen-down without a page
        self._pen_ms: int | None = None  # the pen's clock as last heard
        self._last_event = monotonic()
        self._last_tick = monotonic()
        self._lost_pending = 0

    # -- events -------------------------------------------------------------------------------------------
    def handle(self, frame: neo.Frame) -> bool:
        """Take one frame; False when it is not a stroke event (the session handles it)."""
        if isinstance(frame, neo.Dot):
            self._count(frame.counter)
            self._dot(frame)
        elif isinstance(frame, neo.PenDown):
            self._count(frame.counter)
            self._pen_down(frame)
        elif isinstance(frame, neo.PaperInfo):
            self._count(frame.counter)
            self._paper(frame)
        elif isinstance(frame, neo.PenUp):
            self._count(frame.counter)
            self._pen_up(frame)
        else:
            return False
        self._last_event = self._monotonic()
        return True

    def tick(self) -> None:
        """Close a stroke whose pen-up never came (call a few times a second)."""
        now = self._monotonic()
        late = now - self._last_tick > self.pen_up_timeout_s / 2
        self._last_tick = now
        if late:
            return
        if self._open is not None and now - self._last_event > self.pen_up_timeout_s:
            self._close(None, lost_up=True)

    def close(self) -> None:
        """The link dropped: publish what was written so far."""
        if self._open is not None:
            self._close(None, lost_up=True)
        self._down = None
        self.counter.reset()

    @property
    def writing(self) -> bool:
        return self._open is not None

    def _count(self, counter: int | None) -> None:
        if counter is not None:
            self._lost_pending += self.counter.observe(counter)

    def _pen_down(self, f: neo.PenDown) -> None:
        if self._open is not None:
            self._close(None, lost_up=True)
        self._pen_ms = f.timestamp_ms
        self._down = (f.timestamp_ms, f.colour)
        if self._page is not None:  # paper info normally follows; until then assume the same page
            self._start(f.timestamp_ms, f.colour)

    def _paper(self, f: neo.PaperInfo) -> None:
        page = (f.section, f.owner, f.note, f.page)
        self._page = page
        cur = self._open
        if cur is None:
            if self._down is not None:
                self._start(*self._down)
            return
        if not cur.points:
            cur.section, cur.owner, cur.note, cur.page = page
            return
        # Dots already on this stroke: the pen changed page mid-stroke, or pen-up and pen-down were both lost.
        colour, resume_ms = cur.colour, cur.started_ms + cur.t_ms
        self._close(None, lost_up=True)
        self._start(resume_ms, colour)

    def _dot(self, f: neo.Dot) -> None:
        if self._open is None:
            if self._page is None:
                self.unplaced_dots += 1
                return
            self.lost_pen_downs += 1
            down = self._down
            self._start(self._pen_ms or 0, down[1] if down else None)
        cur = self._open
        assert cur is not None
        cur.t_ms += f.dt  # the first dot's dt counts from the pen-down
        cur.points.append((f.x, f.y, f.force, cur.t_ms))
        self._pen_ms = cur.started_ms + cur.t_ms

    def _pen_up(self, f: neo.PenUp) -> None:
        self._pen_ms = f.timestamp_ms
        self._down = None
        if self._open is None:
            return
        if not self._open.points:
            self.empty_strokes += 1
            self._open = None
            return
        self._close(f.timestamp_ms, lost_up=False)

    # -- strokes ------------------------------------------------------------------------------------------
    def _start(self, started_ms: int, colour: int | None) -> None:
        assert self._page is not None
        section, owner, note, page = self._page
        self._open = _Open(section, owner, note, page, started_ms, colour)
        self._down = None

    def _close(self, up_ms: int | None, *, lost_up: bool) -> None:
        cur = self._open
        self._open = None
        if cur is None:
            return
        if not cur.points:
            self.empty_strokes += 1
            return
        if lost_up:
            self.lost_pen_ups += 1
        ended_ms = up_ms if up_ms is not None and up_ms >= cur.started_ms else cur.started_ms + cur.t_ms
        lost, self._lost_pending = self._lost_pending, 0
        self.strokes += 1
        self._publish(
            PenStroke(
                pen_id=self.pen_id,
                section=cur.section,
                owner=cur.owner,
                note=cur.note,
                page=cur.page,
                started_at=cur.started_ms / 1000,
                ended_at=ended_ms / 1000,
                points=tuple(cur.points),
                colour=cur.colour,
                offline=False,
                lost_before=lost,
            )
        )
