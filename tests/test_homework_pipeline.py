"""A whole class end to end with the real recognizer: 45 pens' Neo bytes, decoded and assembled by the pen
driver's own code, replayed onto the bus at 30x, through the homework feature with its store and outbox.

The acceptance figure: results within 5 s of the last pen lifting, 45 students x 20 questions, with the
doubtful marks in the review queue and the reading matching what each child meant.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from appliance.bus import Bus
from appliance.config.schema import HomeworkFeatureConfig
from appliance.events import PenStroke
from appliance.features.homework import BUNDLED_TEMPLATES, Homework
from appliance.features.homework.demo_plan import build_plan, demo_pen_ids
from appliance.features.homework.events import HwResults
from appliance.features.homework.roster import seed_class
from appliance.features.homework.template import load_template
from appliance.store import Store
from appliance.supervisor import Supervisor
from drivers.smartpen import neo
from drivers.smartpen.plan import load_plan
from drivers.smartpen.sim_pen import SimPen
from drivers.smartpen.strokes import StrokeAssembler
from sync.outbox import Outbox

SHEET = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
SPEED = 30.0  # a 25-minute class in under a minute; recognition keeps up with real time by a wide margin


class _Capture:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.chunks.append(data)


def class_strokes(plan: dict, t0: float) -> list[PenStroke]:
    """Every pen's sheet as the driver would publish it: simulator bytes -> decode_frames -> StrokeAssembler."""
    out: list[PenStroke] = []
    for pp in load_plan(plan):
        pen = SimPen(pp, "serial", 7, loss_rate=0.0, torn_rate=0.0, unix_at=lambda t: t0 + t / SPEED)
        link = _Capture()
        pen.attach(link)
        pen.online = True
        pen.advance(pen.end_s + 1.0, None)
        frames, _ = neo.decode_frames(b"".join(link.chunks))
        asm = StrokeAssembler(pp.pen_id, out.append, time.monotonic)
        for f in frames:
            asm.handle(f)
        asm.close()
    return sorted(out, key=lambda s: s.started_at)


async def test_45_pens_results_within_5_s_of_the_last_stroke(tmp_path: Path) -> None:
    pens = demo_pen_ids(45)
    plan, children = build_plan(SHEET, pens, seed=11, offline=0)
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_class(db, "4-2", pens))
    bus = Bus()
    supervisor = Supervisor(bus, store=store, outbox=Outbox(store, "boot-e2e"))
    hw = Homework(HomeworkFeatureConfig(enabled=True, finish_idle_s=30), tmp_path)  # the real recognizer
    supervisor.add(hw)
    await supervisor.start()
    try:
        for _ in range(200):
            if len(hw.roster) == 45:
                break
            await asyncio.sleep(0.05)
        a = await hw.open_assignment(SHEET.id, "4-2")
        await asyncio.to_thread(hw.slot.get)  # the daemon warms the model up at start; so does the test
        start = time.time() + 0.5
        strokes = await asyncio.to_thread(class_strokes, plan, start)
        assert len({s.pen_id for s in strokes}) == 45
        with bus.subscribe(HwResults, name="test") as sub:
            for s in strokes:  # replay on the pens' own (compressed) clock
                delay = s.ended_at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                bus.publish(s)
            last_lift = time.time()
            results = await asyncio.wait_for(sub.get(), timeout=30)
        assert isinstance(results, HwResults) and results.summary["finished"] == 45
        assert a.results_ready_at is not None and a.last_stroke_at is not None
        lag = a.results_ready_at - last_lift
        assert lag <= 5.0, f"results {lag:.2f} s after the last pen lifted"

        # the readings match what the children meant, except where they go to the teacher
        wrong = review = checked = 0
        for child in children:
            sheet = a.sheets[next(s.student_id for s in a.sheets.values() if s.pen_id == child.pen_id)]
            for q in SHEET.questions:
                meant = child.answers.get(q.id, "")
                if q.type == "free" or q.id == child.ambiguous or not meant:
                    continue
                ans = sheet.answers[q.id]
                checked += 1
                review += ans.status == "review"
                wrong += ans.status == "graded" and ans.given != meant
            if child.ambiguous:  # every deliberately doubtful mark is in the review queue
                assert sheet.answers[child.ambiguous].status == "review", child
        assert checked > 800 and wrong <= checked // 200 and review <= checked // 10, (checked, wrong, review)
        queued = store.db.execute("SELECT COUNT(*) FROM hw_reviews WHERE resolved_at IS NULL").fetchone()[0]
        assert queued >= 45 + 4  # every free answer, the doubtful marks, and the unsure readings
        scores = store.db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'homework.score'").fetchone()[0]
        assert scores == 45
    finally:
        await supervisor.stop()
        store.close()
