"""The handwriting synthesiser, the plan format and the simulated pens (talking to a real session in memory)."""

from __future__ import annotations

import itertools
import json
import logging
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter

from appliance.events import Event, PenStatus, PenStroke
from drivers.smartpen import neo
from drivers.smartpen.glyphs import CENTRELINE, glyph
from drivers.smartpen.handwriting import SAMPLE_S, ChildStyle, SimStroke, write_mark, write_text
from drivers.smartpen.plan import PenPlan, PlanError, Writing, load_plan
from drivers.smartpen.session import NeoPenSession
from drivers.smartpen.sim_ledger import (
    detectable_losses,
    expected_offline,
    expected_online,
    merged_boundaries,
    unplaceable,
)
from drivers.smartpen.sim_pen import NCODE_UNIT_MM, SimPen, build_timeline, mm_to_pattern
from drivers.smartpen.simulator import PenSimulator
from drivers.smartpen.vendors import SessionIO

PAGE = [3, 27, 603, 1]
TEXTS = ["42", "1000", "6.3", "26", "150", "3/4", "-7", "ABCD", "宽", "TF", "宽度", "12 34"]


def flat(points: Sequence[Sequence[float]]) -> list[float]:
    """x0, y0, x1, y1, ... of points (x, y, ...), for exact comparisons with pytest.approx."""
    return [c for p in points for c in p[:2]]


def inside(box: tuple[float, float, float, float], x: float, y: float, margin: float = 0.0) -> bool:
    bx, by, bw, bh = box
    return bx - margin <= x <= bx + bw + margin and by - margin <= y <= by + bh + margin


def check_strokes(strokes: list[SimStroke], box: tuple[float, float, float, float]) -> None:
    assert strokes
    prev_end = -1.0
    for s in strokes:
        assert len(s.points) >= 2
        assert s.start_s > prev_end, "strokes do not overlap in time: the pen is lifted in between"
        prev_end = s.end_s
        ts = [p[2] for p in s.points]
        assert ts[0] == 0.0 and all(b - a == pytest.approx(SAMPLE_S, abs=1e-3) for a, b in itertools.pairwise(ts))
        for x, y, _t, force in s.points:
            assert inside(box, x, y), (x, y, box)
            assert 30 <= force <= 1023


# -- handwriting ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", TEXTS)
def test_text_stays_in_its_box_with_a_childs_timing(text: str) -> None:
    for seed in range(15):
        rng = random.Random(seed)
        box = (104.0, 190.4, rng.choice([20.0, 60.0]), 11.0)
        check_strokes(write_text(text, box, rng), box)


@pytest.mark.parametrize("kind", ["tick", "cross", "fill", "circle"])
def test_marks_stay_in_their_box(kind: str) -> None:
    for seed in range(15):
        rng = random.Random(seed)
        box = (130.0, 25.5, 14.0, 8.0)
        strokes = write_mark(kind, box, rng)  # type: ignore[arg-type]
        check_strokes(strokes, box)
        xs = [p[0] for s in strokes for p in s.points]
        ys = [p[1] for s in strokes for p in s.points]
        if kind == "fill":
            assert (max(xs) - min(xs)) * (max(ys) - min(ys)) > 0.4 * 14 * 8, "a fill covers most of the option box"
        if kind == "tick":
            assert len(strokes) == 1
        if kind == "cross":
            assert len(strokes) == 2


def test_unknown_marks_are_refused() -> None:
    with pytest.raises(ValueError):
        write_mark("star", (0, 0, 10, 10), random.Random(1))  # type: ignore[arg-type]


def test_handwriting_is_deterministic_per_seed_and_differs_between_children() -> None:
    box = (104.0, 190.4, 60.0, 11.0)
    a = write_text("150", box, random.Random(3))
    b = write_text("150", box, random.Random(3))
    c = write_text("150", box, random.Random(4))
    assert [s.points for s in a] == [s.points for s in b]
    assert [s.points for s in a] != [s.points for s in c]


def test_text_too_wide_for_the_box_is_squeezed_in() -> None:
    box = (10.0, 10.0, 12.0, 11.0)
    check_strokes(write_text("123456789", box, random.Random(1)), box)


def test_every_answer_character_has_a_centreline_glyph_and_others_still_write() -> None:
    for char in "0123456789.-/ABCDTF宽":
        assert char in CENTRELINE
    for char in "度☃":
        g = glyph(char)
        assert g.strokes and g.source != "centreline"
    check_strokes(write_text("度☃", (0.0, 0.0, 40.0, 11.0), random.Random(1)), (0.0, 0.0, 40.0, 11.0))


def _raster(strokes: list[SimStroke], size: int = 24) -> list[float]:
    pts = [(p[0], p[1]) for s in strokes for p in s.points]
    minx, maxx = min(p[0] for p in pts), max(p[0] for p in pts)
    miny, maxy = min(p[1] for p in pts), max(p[1] for p in pts)
    scale = (size - 6) / max(maxx - minx, maxy - miny, 1e-6)
    ox = (size - (maxx - minx) * scale) / 2
    oy = (size - (maxy - miny) * scale) / 2
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for s in strokes:
        draw.line([((x - minx) * scale + ox, (y - miny) * scale + oy) for x, y, _t, _f in s.points], fill=255, width=2)
    data = list(img.filter(ImageFilter.GaussianBlur(1.2)).tobytes())
    mean = sum(data) / len(data)
    norm = sum((v - mean) ** 2 for v in data) ** 0.5 or 1.0
    return [(v - mean) / norm for v in data]


def test_childrens_digits_stay_distinguishable() -> None:
    """A nearest-template reader must tell each child's digits apart: the jitter keeps them digits."""
    box = (0.0, 0.0, 12.0, 11.0)
    templates = {d: _raster(write_text(d, box, random.Random(0), ChildStyle(messiness=0.0, wobble_mm=0.0, slant=0.0)))
                 for d in "0123456789"}  # fmt: skip
    right = total = 0
    for child in range(25):
        rng = random.Random(1000 + child)
        style = ChildStyle.random(rng)
        for d in "0123456789":
            vec = _raster(write_text(d, box, rng, style))
            best = max(templates, key=lambda k: sum(a * b for a, b in zip(vec, templates[k], strict=True)))
            right += best == d
            total += 1
    assert right / total >= 0.9, f"only {right}/{total} simulated digits read as themselves"


# -- plans --------------------------------------------------------------------------------------------------------
def plan_dict(n: int = 3, offline: int | None = None, delay: float = 2.0) -> dict:
    return {
        "pens": [
            {
                "pen_id": f"9C:7B:D2:01:00:{i + 1:02X}",
                "start_delay_s": delay,
                "offline": i == offline,
                "battery": 70 + i,
                "writings": [
                    {"page": PAGE, "box_mm": [104.0, 190.4, 60.0, 11.0], "kind": "text", "text": "1000", "pause_before_s": 1.0},
                    {"page": PAGE, "box_mm": [130.0, 25.5, 14.0, 8.0], "kind": "fill", "pause_before_s": 3.0},
                    {"page": PAGE, "box_mm": [108.0, 153.5, 18.0, 8.0], "kind": "tick", "pause_before_s": 2.0},
                    {"page": PAGE, "box_mm": [104.0, 254.4, 60.0, 11.0], "kind": "text", "text": "宽", "pause_before_s": 2.0},
                ],
            }
            for i in range(n)
        ]
    }  # fmt: skip


def test_plan_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan_dict(2, offline=1)), encoding="utf-8")
    plans = load_plan(path)
    assert [p.pen_id for p in plans] == ["9C:7B:D2:01:00:01", "9C:7B:D2:01:00:02"]
    assert plans[1].offline and plans[0].battery == 70
    assert plans[0].writings[0] == Writing((3, 27, 603, 1), (104.0, 190.4, 60.0, 11.0), "text", "1000", 1.0)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"pen_id": "pen-1"}, "pens[0].pen_id"),
        ({"writings": [{"page": [3, 27], "box_mm": [0, 0, 1, 1], "kind": "tick"}]}, "writings[0].page"),
        ({"writings": [{"page": PAGE, "box_mm": [0, 0, -1, 1], "kind": "tick"}]}, "writings[0].box_mm"),
        ({"writings": [{"page": PAGE, "box_mm": [0, 0, 1, 1], "kind": "star"}]}, "writings[0].kind"),
        ({"writings": [{"page": PAGE, "box_mm": [0, 0, 1, 1], "kind": "text"}]}, "writings[0].text"),
        ({"offline": "yes"}, "pens[0].offline"),
    ],
)
def test_bad_plans_name_the_key(patch: dict, message: str) -> None:
    raw = plan_dict(1)
    raw["pens"][0].update(patch)
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_plan(raw)


def test_missing_plan_file_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="cannot read the pen plan"):
        load_plan(tmp_path / "nope.json")


def test_transports_and_range() -> None:
    sim = PenSimulator(plan_dict(9, offline=4), transport="both", repeat_every_s=5.0)
    assert sim.ble_addresses == ("9C:7B:D2:01:00:01", "9C:7B:D2:01:00:09")
    assert sim.cycle_s is not None and sim.cycle_s > sim.class_end_s, "a repeat shorter than the class is stretched"
    offline = sim.pens[4]
    assert not sim.in_range(offline, 1.0) and sim.in_range(offline, sim.class_end_s + 0.5)
    assert not sim.in_range(offline, sim.cycle_s + 1.0), "out of range again while the next class writes"
    assert sim.in_range(sim.pens[0], 0.0)


def test_timeline_converts_mm_to_pattern_units() -> None:
    plan = load_plan(plan_dict(1))[0]
    timeline = build_timeline(plan, seed=7)
    assert timeline == build_timeline(plan, seed=7)
    for stroke in timeline:
        for x, y, _force, _t in stroke.points:
            assert inside(stroke.box_mm, x * NCODE_UNIT_MM, y * NCODE_UNIT_MM, margin=0.03)
    assert mm_to_pattern(23.71, 47.42) == (10.0, 20.0)
    starts = [s.start_s for s in timeline]
    assert starts == sorted(starts) and starts[0] >= 3.0  # start delay + the first pause


# -- simulated pens against a real session, in memory -------------------------------------------------------
class Wire:
    """Both directions of a link as queues, pumped by the test (no re-entrant calls)."""

    def __init__(self) -> None:
        self.to_host: list[bytes] = []
        self.to_pen: list[bytes] = []

    def send(self, data: bytes) -> None:  # the pen's side
        self.to_host.append(data)


class Pair:
    def __init__(self, plan: PenPlan, loss_rate: float, seed: int = 7) -> None:
        self.wire = Wire()
        self.events: list[Event] = []
        self.now = 0.0
        self.pen = SimPen(plan, "ble", seed, loss_rate, loss_rate / 5, lambda t: 1_795_000_000.0 + t)
        io = SessionIO(plan.pen_id, "ble", self.wire.to_pen.append, self.events.append,
                       logging.getLogger("test.pen"), monotonic=lambda: self.now)  # fmt: skip
        self.session = NeoPenSession(io)

    def connect(self) -> None:
        self.pen.attach(self.wire)
        self.session.connected()
        self.pump()

    def pump(self) -> None:
        while self.wire.to_host or self.wire.to_pen:
            if self.wire.to_pen:
                self.pen.on_host_bytes(self.wire.to_pen.pop(0))
            if self.wire.to_host:
                data = self.wire.to_host.pop(0)
                for i in range(0, len(data), 20):  # as BLE notifications
                    self.session.feed(data[i : i + 20])

    def run_until(self, t_end: float, step: float = 0.02) -> None:
        while self.now < t_end:
            self.now += step
            self.pen.advance(self.now, None)
            self.pump()
            self.session.tick()
            self.pump()

    def strokes(self) -> list[PenStroke]:
        return [e for e in self.events if isinstance(e, PenStroke)]


def test_lossy_pen_strokes_arrive_as_the_ledger_says() -> None:
    for seed in range(4):
        plan = load_plan(plan_dict(1, delay=5.0))[0]
        pair = Pair(plan, loss_rate=0.04, seed=seed)
        pair.connect()
        pair.run_until(pair.pen.end_s + 3.0)
        assert not merged_boundaries(pair.pen) and not unplaceable(pair.pen), "pick a seed without triple losses"
        want = expected_online(pair.pen)
        got = pair.strokes()
        assert len(got) == len(want), f"seed {seed}"
        for g, w in zip(got, want, strict=True):
            assert flat(g.points) == pytest.approx(flat(w.delivered_points), abs=1e-9)
            assert (g.section, g.owner, g.note, g.page) == w.page and not g.offline
        lost, gaps = detectable_losses(pair.pen)
        assert lost > 0, "the test must actually lose something"
        status = pair.session.status()
        assert (status.lost_events, status.counter_gaps) == (lost, gaps)
        assert sum(s.lost_before for s in got) <= lost


def test_a_pen_that_wrote_offline_uploads_everything_after_connecting() -> None:
    plan = load_plan(plan_dict(1, delay=1.0))[0]
    pair = Pair(plan, loss_rate=0.1)
    pair.run_until(pair.pen.end_s + 1.0)
    assert pair.strokes() == [] and all(s.mode == "offline" for s in pair.pen.ledger)
    pair.connect()
    pair.run_until(pair.now + 1.0)
    got = pair.strokes()
    want = expected_offline(pair.pen)
    assert len(got) == len(want) > 5 and all(s.offline for s in got)
    for g, w in zip(got, want, strict=True):
        assert flat(g.points) == pytest.approx(flat(w.points), abs=1e-9)
    log = pair.pen.transfer_log
    chunks = [i for kind, i in log if kind == "chunk"]
    assert log[: 2 * len(chunks)] == [e for i in chunks for e in (("chunk", i), ("ack", i))], "each chunk acked"
    assert log[-1] == ("delete", 603) and len(log) == 2 * len(chunks) + 1, "deleted once, after the last ack"
    assert pair.pen.stored == {}
    status = pair.session.status()
    assert status.offline_notes_pending == 0 and status.strokes == len(want)


def test_a_locked_simulated_pen_waits_for_a_person() -> None:
    plan = PenPlan("9C:7B:D2:01:00:01", load_plan(plan_dict(1))[0].writings, start_delay_s=1.0, password="2468")
    pair = Pair(plan, loss_rate=0.0)
    pair.connect()
    pair.run_until(3.0)
    assert pair.pen.password_attempts == []
    statuses = [e for e in pair.events if isinstance(e, PenStatus)]
    assert "10 of 10 tries left" in (statuses[-1].detail or "")
    pair.session.submit_password("1111")
    pair.run_until(8.0)
    assert pair.pen.password_attempts == ["1111"] and pair.session.state == "locked"
    pair.session.submit_password("2468")
    pair.run_until(pair.pen.end_s + 2.0)
    assert pair.pen.password_attempts == ["1111", "2468"] and pair.session.state == "ready"
    # Written while locked: stored, uploaded once unlocked; a stroke begun locked and ended unlocked is
    # stored after that upload and picked up by the next look a minute later.
    pair.run_until(pair.now + 65.0)
    assert len(pair.strokes()) == len(pair.pen.ledger) and any(s.offline for s in pair.strokes())
    assert pair.pen.stored == {}


def test_torn_frames_happen_and_are_survived() -> None:
    plan = load_plan(plan_dict(1, delay=5.0))[0]
    pair = Pair(plan, loss_rate=0.0)
    pair.pen.torn_rate = 0.05
    pair.connect()
    pair.run_until(pair.pen.end_s + 3.0)
    assert pair.pen.torn > 0
    assert any(p.startswith("torn frame") for p in pair.session.pop_problems())
    assert len(pair.strokes()) == len(expected_online(pair.pen))


def test_unknown_requests_do_not_upset_the_pen() -> None:
    pair = Pair(load_plan(plan_dict(1))[0], loss_rate=0.0)
    pair.connect()
    pair.pen.on_host_bytes(neo.encode_frame(0x41, b"\x00") + b"\xff\xfe")
    pair.pump()
    assert pair.session.state == "ready"
