"""The Neo pen session without any transport: handshake, stroke assembly, counter gaps, lost pen-ups and
pen-downs, the offline upload (chunk by chunk, delete only after the last) and password handling."""

from __future__ import annotations

import logging
import random

import pytest

from appliance.events import Event, PenStatus, PenStroke
from drivers.smartpen import neo
from drivers.smartpen.neo_offline import OfflineDot, OfflineStroke, chunk_note
from drivers.smartpen.session import HANDSHAKE_ATTEMPTS, NeoPenSession
from drivers.smartpen.vendors import SessionIO, get_protocol

PEN = "9C:7B:D2:01:00:01"
T0 = 1_795_000_000_000


class Rig:
    """A session wired to lists: frames it sends, events it publishes, and a clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sent: list[neo.Frame] = []
        self.events: list[Event] = []
        io = SessionIO(PEN, "ble", self._send, self.events.append, logging.getLogger("test.pen"),
                       monotonic=lambda: self.now, wall=lambda: 1_795_000_000.0 + self.now)  # fmt: skip
        session = get_protocol("neo").open_session(io)
        assert isinstance(session, NeoPenSession)
        self.session = session

    def _send(self, data: bytes) -> None:
        frames, rest = neo.decode_frames(data)
        assert rest == b""
        self.sent.extend(frames)

    def feed(self, *frames: neo.Frame, split: int | None = None) -> None:
        data = b"".join(f.encode() for f in frames)
        if split is None:
            self.session.feed(data)
        else:
            for i in range(0, len(data), split):
                self.session.feed(data[i : i + split])

    def take(self) -> list[neo.Frame]:
        sent, self.sent = self.sent, []
        return sent

    def strokes(self) -> list[PenStroke]:
        return [e for e in self.events if isinstance(e, PenStroke)]

    def statuses(self) -> list[PenStatus]:
        return [e for e in self.events if isinstance(e, PenStatus)]

    def tick(self, advance_s: float = 0.0) -> None:
        self.now += advance_s
        self.session.tick()

    def ready(self, notes: tuple[neo.NoteId, ...] = ()) -> None:
        """Handshake an unlocked pen with ``notes`` stored."""
        self.session.connected()
        self.feed(neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "", 1, PEN, 1))
        self.feed(neo.SettingInfo(battery=77))
        self.feed(neo.NoteListResponse(0, notes))
        self.take()


def stroke_frames(counter: int, page: tuple[int, int, int, int], dots: list[tuple[float, float]], t: int = T0,
                  dt: int = 12) -> list[neo.Frame]:  # fmt: skip
    frames: list[neo.Frame] = [neo.PenDown(counter, t, 0, 0xFF000000), neo.PaperInfo(counter + 1, *page)]
    for i, (x, y) in enumerate(dots):
        frames.append(neo.Dot((counter + 2 + i) & 0xFF, dt, 400 + i, x, y))
    frames.append(neo.PenUp((counter + 2 + len(dots)) & 0xFF, t + dt * len(dots) + 5, len(dots)))
    return frames


PAGE = (3, 27, 603, 1)


def test_handshake_then_real_time_and_offline_requests() -> None:
    rig = Rig()
    rig.session.connected()
    assert rig.take() == [neo.VersionRequest()]
    assert rig.statuses()[-1].connected and rig.statuses()[-1].transport == "ble"
    rig.feed(neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "", 1, PEN, 1), split=5)
    assert rig.take() == [neo.SettingInfoRequest()]
    rig.feed(neo.SettingInfo(battery=77))
    assert rig.take() == [neo.OnlineDataRequest(), neo.NoteListRequest()]
    assert rig.session.status().battery == 77
    rig.feed(neo.LowBattery(9))
    assert rig.session.status().battery == 9


def test_handshake_is_retried_a_few_times_then_reported() -> None:
    rig = Rig()
    rig.session.connected()
    for _ in range(HANDSHAKE_ATTEMPTS + 2):
        rig.tick(4.0)
    assert rig.take() == [neo.VersionRequest()] * HANDSHAKE_ATTEMPTS
    assert "no answer" in (rig.session.status().detail or "")


def test_a_stroke_is_assembled_with_the_fractions_applied() -> None:
    rig = Rig()
    rig.ready()
    dots = [(43.86, 80.31), (43.99, 80.5), (44.01, 80.77)]
    rig.feed(*stroke_frames(0, PAGE, dots), split=7)
    [stroke] = rig.strokes()
    assert (stroke.pen_id, stroke.section, stroke.owner, stroke.note, stroke.page) == (PEN, 3, 27, 603, 1)
    assert [c for x, y, _f, _t in stroke.points for c in (x, y)] == pytest.approx([c for d in dots for c in d])
    assert [t for *_xy, t in stroke.points] == [12, 24, 36]  # the first dot's dt counts from the pen-down
    assert [f for _x, _y, f, _t in stroke.points] == [400, 401, 402]
    assert stroke.started_at == T0 / 1000 and stroke.ended_at == (T0 + 41) / 1000
    assert not stroke.offline and stroke.lost_before == 0
    assert rig.session.status().strokes == 1


def test_counter_gaps_are_counted_and_put_on_the_next_stroke() -> None:
    rig = Rig()
    rig.ready()
    frames = stroke_frames(250, PAGE, [(1.0, 1.0), (1.5, 1.5), (2.0, 2.0), (2.5, 2.5)])
    del frames[3:5]  # two dots lost
    rig.feed(*frames)  # the counter also wraps 255 → 0 here
    [stroke] = rig.strokes()
    assert len(stroke.points) == 2 and stroke.lost_before == 2
    status = rig.session.status()
    assert status.lost_events == 2 and status.counter_gaps == 1
    more = stroke_frames(frames[-1].counter + 4, PAGE, [(5.0, 5.0)])  # type: ignore[attr-defined]
    rig.feed(*more)
    assert rig.strokes()[-1].lost_before == 3
    assert rig.session.status().lost_events == 5 and rig.session.status().counter_gaps == 2


def test_lost_pen_up_closes_on_the_next_pen_down() -> None:
    rig = Rig()
    rig.ready()
    first = stroke_frames(0, PAGE, [(1.0, 1.0), (2.0, 2.0)])[:-1]  # no pen-up
    second = stroke_frames(5, PAGE, [(9.0, 9.0)], t=T0 + 500)
    rig.feed(*first, *second)
    a, b = rig.strokes()
    assert [p[:2] for p in a.points] == [(1.0, 1.0), (2.0, 2.0)] and a.ended_at == (T0 + 24) / 1000
    assert [p[:2] for p in b.points] == [(9.0, 9.0)] and b.started_at == (T0 + 500) / 1000
    assert rig.session.strokes.lost_pen_ups == 1


def test_lost_pen_up_closes_after_a_timeout() -> None:
    rig = Rig()
    rig.ready()
    rig.feed(*stroke_frames(0, PAGE, [(1.0, 1.0), (2.0, 2.0)])[:-1])
    for _ in range(5):
        rig.tick(0.25)  # the driver ticks four times a second
    assert rig.strokes() == []
    for _ in range(2):
        rig.tick(0.25)
    [stroke] = rig.strokes()
    assert len(stroke.points) == 2


def test_a_stalled_box_does_not_split_a_stroke() -> None:
    """After the event loop stalls, the pen's buffered dots come before any timeout decision."""
    rig = Rig()
    rig.ready()
    frames = stroke_frames(0, PAGE, [(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)])
    rig.feed(*frames[:3])
    rig.tick(0.25)
    rig.tick(4.0)  # a late tick: the loop was stalled for 4 s
    rig.feed(*frames[3:])  # what the pen sent meanwhile
    [stroke] = rig.strokes()
    assert len(stroke.points) == 3 and rig.session.strokes.lost_pen_ups == 0


def test_lost_pen_down_and_paper_info_use_the_last_page() -> None:
    rig = Rig()
    rig.ready()
    rig.feed(*stroke_frames(0, PAGE, [(1.0, 1.0)]))
    orphan = stroke_frames(4, PAGE, [(7.0, 7.0), (7.5, 7.5)], t=T0 + 900)[2:]  # pen-down and paper info lost
    rig.feed(*orphan)
    first, second = rig.strokes()
    assert [p[:2] for p in second.points] == [(7.0, 7.0), (7.5, 7.5)]
    assert (second.note, second.page) == (603, 1) and second.lost_before == 2
    assert second.started_at >= first.ended_at


def test_paper_info_mid_stroke_starts_a_new_stroke() -> None:
    rig = Rig()
    rig.ready()
    frames = stroke_frames(0, PAGE, [(1.0, 1.0), (2.0, 2.0)])[:-1]
    frames += [neo.PaperInfo(4, 3, 27, 603, 2), neo.Dot(5, 12, 300, 3.0, 3.0), neo.PenUp(6, T0 + 99)]
    rig.feed(*frames)
    a, b = rig.strokes()
    assert a.page == 1 and len(a.points) == 2
    assert b.page == 2 and [p[:2] for p in b.points] == [(3.0, 3.0)]


def test_dots_before_any_paper_info_are_dropped_and_counted() -> None:
    rig = Rig()
    rig.ready()
    rig.feed(neo.Dot(0, 12, 300, 3.0, 3.0), neo.Dot(1, 12, 300, 3.5, 3.0), neo.PenUp(2, T0))
    assert rig.strokes() == [] and rig.session.strokes.unplaced_dots == 2


def test_link_loss_publishes_the_open_stroke_and_a_disconnected_status() -> None:
    rig = Rig()
    rig.ready()
    rig.feed(*stroke_frames(0, PAGE, [(1.0, 1.0)])[:-1])
    rig.session.disconnected("out of range")
    assert len(rig.strokes()) == 1
    status = rig.statuses()[-1]
    assert not status.connected and status.detail == "out of range"


def test_malformed_input_is_reported_not_raised() -> None:
    rig = Rig()
    rig.ready()
    rig.session.feed(b"\x00\x01\xc0\x6c\x01\x00\x01\xc1" + neo.PenDown(0, T0).encode())
    problems = rig.session.pop_problems()
    assert any(p.startswith("noise") for p in problems) and any("bad payload" in p for p in problems)
    assert rig.session.pop_problems() == []


# -- offline upload -------------------------------------------------------------------------------------------
def stored(n: int, seed: int = 5) -> list[OfflineStroke]:
    rng = random.Random(seed)
    return [
        OfflineStroke(1, T0 + 1000 * i, T0 + 1000 * i + 300,
                      tuple(OfflineDot(12, 500, 10 + i + k / 100, 20 + k / 100) for k in range(rng.randint(2, 30))))
        for i in range(n)
    ]  # fmt: skip


def test_offline_notes_are_pulled_chunk_by_chunk_and_deleted_only_after_the_last() -> None:
    rig = Rig()
    note = (3, 27, 603)
    rig.ready(notes=(note,))
    assert rig.session.status().offline_notes_pending == 1
    strokes = stored(12)
    chunks = chunk_note(*note, strokes, chunk_bytes=300)
    assert len(chunks) >= 3
    # (ready() swallowed the PageListRequest; the pen answers it now.)
    rig.feed(neo.PageListResponse(0, *note, (1,)))
    assert rig.take() == [neo.OfflineDataRequest(*note, delete_after=False)]
    rig.feed(neo.OfflineDataResponse(0, len(strokes), sum(c.size_before for c in chunks), True))
    for i, chunk in enumerate(chunks[:-1]):
        rig.feed(chunk, split=11)
        assert rig.take() == [neo.OfflineChunkAck(0, chunk.packet_id, True)], f"one ack for chunk {i}, no delete"
        assert rig.strokes() == [], "strokes wait for the whole note"
        assert "uploading" in (rig.session.status().detail or "")
    rig.feed(chunks[-1])
    assert rig.take() == [neo.OfflineChunkAck(0, chunks[-1].packet_id, True), neo.OfflineDeleteRequest(3, 27, (603,))]
    up = rig.strokes()
    assert len(up) == len(strokes) and all(s.offline for s in up)
    for got, want in zip(up, strokes, strict=True):
        assert [(x, y) for x, y, _f, _t in got.points] == [(d.x, d.y) for d in want.dots]
        assert got.started_at == want.down_ms / 1000 and (got.note, got.page) == (603, 1)
    rig.feed(neo.OfflineDeleteResponse(0))
    assert rig.session.offline.state == "done" and rig.session.status().offline_notes_pending == 0
    assert rig.session.status().detail is None


def test_a_corrupt_chunk_stops_the_transfer_and_keeps_the_note_on_the_pen() -> None:
    rig = Rig()
    notes = ((3, 27, 603), (3, 27, 604))
    rig.ready(notes=notes)
    rig.feed(neo.PageListResponse(0, *notes[0], (1,)))
    chunks = chunk_note(*notes[0], stored(8), chunk_bytes=300)
    rig.feed(neo.OfflineDataResponse(0, 8, 1, True), chunks[0])
    rig.take()
    bad = neo.OfflineChunk(**{**chunks[1].__dict__, "data": b"\x00garbage"})
    rig.feed(bad)
    sent = rig.take()
    assert sent[0] == neo.OfflineChunkAck(1, bad.packet_id, False)
    assert not any(isinstance(f, neo.OfflineDeleteRequest) for f in sent)
    assert sent[1:] == [neo.PageListRequest(3, 27, 604)], "on to the next note"
    assert rig.strokes() == [] and rig.session.offline.notes_failed == 1


def test_a_stalled_transfer_times_out_without_deleting() -> None:
    rig = Rig()
    note = (3, 27, 603)
    rig.ready(notes=(note,))
    rig.feed(neo.PageListResponse(0, *note, (1,)))
    chunks = chunk_note(*note, stored(8), chunk_bytes=300)
    rig.feed(neo.OfflineDataResponse(0, 8, 1, True), chunks[0])
    rig.take()
    rig.tick(11.0)
    assert rig.take() == [] and rig.session.offline.state == "done"
    assert "no answer" in (rig.session.offline.problem or "") and rig.strokes() == []


# -- passwords ------------------------------------------------------------------------------------------------
def locked_rig(retries: int = 3) -> Rig:
    rig = Rig()
    rig.session.connected()
    rig.feed(neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "", 1, PEN, 1))
    rig.feed(neo.SettingInfo(locked=True, max_retries=10, retries=retries, battery=60))
    return rig


def passwords(frames: list[neo.Frame]) -> list[neo.PasswordRequest]:
    return [f for f in frames if isinstance(f, neo.PasswordRequest)]


def test_a_locked_pen_gets_no_password_until_someone_gives_one() -> None:
    rig = locked_rig()
    assert passwords(rig.take()) == []
    status = rig.statuses()[-1]
    assert "locked" in (status.detail or "") and "7 of 10 tries left" in (status.detail or "")
    for _ in range(40):
        rig.tick(5.0)
    assert passwords(rig.take()) == [], "never on a timer"


def test_one_attempt_per_request_and_never_a_retry() -> None:
    rig = locked_rig()
    rig.take()
    reply = rig.session.submit_password("0000")
    assert "one password attempt sent" in reply
    assert passwords(rig.take()) == [neo.PasswordRequest("0000")]
    assert "has not answered" in rig.session.submit_password("0000"), "a second click before the answer is refused"
    assert passwords(rig.take()) == []
    rig.feed(neo.PasswordResponse(0, neo.PASSWORD_NEEDED, 4, 10))
    assert "6 of 10 tries left" in (rig.statuses()[-1].detail or "")
    for _ in range(20):
        rig.tick(5.0)
    rig.feed(neo.SettingInfo(locked=True, max_retries=10, retries=4))  # the pen asking again changes nothing
    assert passwords(rig.take()) == [], "a wrong password is never retried on its own"
    rig.session.submit_password("1234")
    assert passwords(rig.take()) == [neo.PasswordRequest("1234")]
    rig.feed(neo.PasswordResponse(0, neo.PASSWORD_OK, 0, 10))
    assert rig.take() == [neo.OnlineDataRequest(), neo.NoteListRequest()]
    assert rig.session.state == "ready" and rig.session.password_attempts == 2


def test_the_password_is_not_kept_for_a_reconnect() -> None:
    rig = locked_rig()
    rig.session.submit_password("1234")
    rig.feed(neo.PasswordResponse(0, neo.PASSWORD_OK, 0, 10))
    rig.session.disconnected("out of range")
    rig.take()
    rig.session.connected()
    rig.feed(neo.VersionInfo(0, "NWP-F130", "1.10", "2.18", "", 1, PEN, 1))
    rig.feed(neo.SettingInfo(locked=True, max_retries=10, retries=0))
    assert passwords(rig.take()) == [] and rig.session.state == "locked"


def test_a_wiped_pen_is_reported() -> None:
    rig = locked_rig(retries=9)
    rig.session.submit_password("9999")
    rig.feed(neo.PasswordResponse(0, neo.PASSWORD_RESET, 10, 10))
    assert rig.session.state == "wiped" and "erased itself" in (rig.statuses()[-1].detail or "")
    assert "not asking" in rig.session.submit_password("1234")
    assert passwords(rig.take()) == [neo.PasswordRequest("9999")]


def test_password_requests_are_validated_before_anything_is_sent() -> None:
    rig = locked_rig()
    rig.take()
    assert "nothing was sent" in rig.session.submit_password("")
    assert "nothing was sent" in rig.session.submit_password("x" * 17)
    assert passwords(rig.take()) == []
    unlocked = Rig()
    unlocked.ready()
    assert "not asking" in unlocked.session.submit_password("1234")
    assert passwords(unlocked.take()) == []


def test_the_pen_is_asked_again_for_notes_stored_after_an_upload() -> None:
    rig = Rig()
    rig.ready()  # nothing stored
    rig.tick(6.0)
    assert not any(isinstance(f, neo.NoteListRequest) for f in rig.take())
    rig.tick(60.0)
    assert neo.NoteListRequest() in rig.take(), "a minute later, look again"
    note = (3, 27, 603)
    rig.feed(neo.NoteListResponse(0, (note,)), neo.PageListResponse(0, *note, (1,)))
    chunks = chunk_note(*note, stored(2))
    rig.feed(neo.OfflineDataResponse(0, 2, 1, True), *chunks, neo.OfflineDeleteResponse(0))
    assert len(rig.strokes()) == 2
    rig.take()
    rig.tick(6.0)
    assert neo.NoteListRequest() in rig.take(), "soon after an upload that found strokes"
