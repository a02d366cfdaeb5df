"""Pen homework in-process: real Store, Bus, Supervisor and outbox; strokes published as the pen driver would.

A deterministic test recognizer stands in for handwriting recognition here (the demo test uses the real
one): the routing, reading-as-students-move-on, review queue, results, teacher actions and county
records are what these tests check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from appliance.bus import Bus
from appliance.config.schema import HomeworkFeatureConfig
from appliance.events import PenPasswordAttempt, PenStatus, PenStroke
from appliance.features.homework import BUNDLED_TEMPLATES, Homework
from appliance.features.homework.events import HwProgress, HwResults
from appliance.features.homework.roster import seed_class
from appliance.features.homework.template import NCODE_CELL_MM, Template, load_template
from appliance.store import Store
from appliance.supervisor import Supervisor
from models.handwriting import Recognition
from sync.outbox import Outbox

SHEET: Template = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
PENS = [f"9C:7B:D2:01:00:{n:02X}" for n in range(1, 9)]
CLASS = "4-2"


class TableRecognizer:
    """Reads the text a test wrote: the first stroke's x offset in the box indexes a table of (text, confidence)."""

    table: ClassVar[list[tuple[str, float]]] = []
    calls = 0

    def recognize_strokes(self, strokes, box_mm, expect):  # type: ignore[no-untyped-def]
        TableRecognizer.calls += 1
        idx = round((strokes[0][0][0] - box_mm[0] - 1.0) / 0.5)
        text, conf = self.table[idx]
        return Recognition(text, conf, (("?", 0.01),), "table")

    def recognize_image(self, image, expect):  # type: ignore[no-untyped-def]
        raise AssertionError("pen answers are read from strokes; nothing here should render an image")


def write_text(text: str, conf: float) -> int:
    TableRecognizer.table.append((text, conf))
    return len(TableRecognizer.table) - 1


def shapes(kind: str, box: tuple[float, float, float, float], idx: int = 0) -> list[list[tuple[float, float]]]:
    x, y, w, h = box
    if kind == "tick":
        return [[(x + 0.2 * w, y + 0.5 * h), (x + 0.4 * w, y + 0.8 * h), (x + 0.8 * w, y + 0.2 * h)]]
    if kind == "fill":
        return [[(x + 0.15 * w + (i % 2) * 0.7 * w, y + 0.15 * h + i * 0.1 * h) for i in range(8)]]
    if kind == "text":  # two short strokes starting at the table index's offset
        x0 = x + 1.0 + 0.5 * idx
        return [[(x0, y + 2), (x0 + 2, y + 8)], [(x0 + 3, y + 2), (x0 + 5, y + 8)]]
    raise ValueError(kind)


class Pen:
    """Writes strokes on the demo sheet's page address the way the pen driver publishes them."""

    def __init__(self, bus: Bus, pen_id: str, t0: float) -> None:
        self.bus, self.pen_id, self.t = bus, pen_id, t0

    def stroke(self, pts_mm: list[tuple[float, float]], offline: bool = False, pause: float = 2.0) -> None:
        self.t += pause
        points = tuple((x / NCODE_CELL_MM, y / NCODE_CELL_MM, 400, i * 20) for i, (x, y) in enumerate(pts_mm))
        p = SHEET.page
        self.bus.publish(PenStroke(pen_id=self.pen_id, section=p.section, owner=p.owner, note=p.note, page=p.page,
                                   started_at=self.t, ended_at=self.t + 0.02 * len(pts_mm), points=points,
                                   offline=offline))
        self.t += 0.02 * len(pts_mm)

    def mark(self, qid: str, label: str, kind: str = "fill", **kw: object) -> None:
        q = SHEET.question(qid)
        box = next(o.box_mm for o in q.options if o.label == label)
        for s in shapes(kind, box):
            self.stroke(s, **kw)  # type: ignore[arg-type]

    def text(self, qid: str, text: str, conf: float = 0.97, **kw: object) -> None:
        for s in shapes("text", SHEET.question(qid).box_mm, write_text(text, conf)):
            self.stroke(s, **kw)  # type: ignore[arg-type]

    def submit(self, **kw: object) -> None:
        assert SHEET.submit_box_mm is not None
        for s in shapes("tick", SHEET.submit_box_mm):
            self.stroke(s, **kw)  # type: ignore[arg-type]


Rig = tuple[Homework, Bus, Store, TestClient]


@pytest.fixture(autouse=True)
def _fresh_table() -> Iterator[None]:
    TableRecognizer.table = []
    yield


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_class(db, CLASS, PENS[:6], students=7))  # 7号 has no pen
    bus = Bus()
    supervisor = Supervisor(bus, store=store, outbox=Outbox(store, "boot-test"))
    feature = Homework(HomeworkFeatureConfig(enabled=True, finish_idle_s=5), tmp_path,
                       recognizer_factory=TableRecognizer)
    supervisor.add(feature)
    await supervisor.start()
    app = web.Application()
    feature.add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for _ in range(200):
            if len(feature.roster) == 7:
                break
            await asyncio.sleep(0.02)
        yield feature, bus, store, client
    finally:
        await client.close()
        await supervisor.stop()
        store.close()


async def wait_until(predicate, within: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def perfect(pen: Pen, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Every answer right (q20 written out for the teacher), then the submit tick."""
    for q in SHEET.questions:
        if q.id in skip:
            continue
        if q.type in ("single_choice", "true_false"):
            pen.mark(q.id, q.answer or "", "tick" if q.type == "true_false" else "fill")
        elif q.type == "multiple_choice":
            for label in q.answer or "":
                pen.mark(q.id, label)
        elif q.type == "free":
            pen.text(q.id, "用乘法验算")
        else:
            pen.text(q.id, q.answer or "")
    pen.submit()


async def test_class_writes_results_review_and_county(rig: Rig) -> None:
    hw, bus, store, client = rig
    r = await client.get("/api/homework/templates")
    body = await r.json()
    assert body["problems"] == [] and body["templates"][0]["page"] == "3.27.603.1"
    assert body["templates"][0]["questions"] == 20

    r = await client.post("/api/homework/assignments", json={"template_id": SHEET.id, "class_id": CLASS})
    assert r.status == 200, await r.text()
    aid = (await r.json())["assignment_id"]
    assert (await client.post("/api/homework/assignments", json={"template_id": SHEET.id, "class_id": CLASS})).status == 409

    t0 = time.time() - 1800
    pens = [Pen(bus, p, t0) for p in PENS[:6]]
    with bus.subscribe(HwProgress, HwResults, maxsize=10000, name="test") as sub:
        for pen in pens[:4]:
            perfect(pen)
        # 5号: q1 wrong, q9 a correct subset (half points), q14 read with low confidence, q15 tolerance-free "80.0"
        p5 = pens[4]
        p5.mark("q1", "A")
        p5.mark("q9", "A")
        p5.text("q14", "1000", conf=0.5)
        p5.text("q15", "８０.0")
        p5.text("q19", " 宽 ")
        p5.submit()
        # 6号: a mark straddling B and C on q2 (ambiguous), then goes idle without submitting
        p6 = pens[5]
        q2 = SHEET.question("q2")
        b, c = (o.box_mm for o in q2.options if o.label in "BC")
        mid = (b[0] + b[2] + c[0]) / 2
        p6.stroke([(mid - 6, b[1] + 2), (mid + 6, b[1] + 6), (mid - 6, b[1] + 4), (mid + 6, b[1] + 3)])
        p6.text("q16", "6.3")
        last_stroke = time.time()

        detail = await wait_until(lambda: hw.live[aid].results_ready_at is not None, within=15)
        assert detail
        a = hw.live[aid]
        assert a.sheets["hw-4-2-06"].finished_by == "idle"
        assert a.results_ready_at - last_stroke >= 4.5  # 6号 had to go idle (finish_idle_s = 5)
        events = []
        while not sub.queue.empty():
            events.append(sub.queue.get_nowait())
    results = [e for e in events if isinstance(e, HwResults)]
    assert len(results) == 1 and results[0].summary["finished"] == 6
    assert any(isinstance(e, HwProgress) and e.state == "writing" for e in events)

    r = await client.get(f"/api/homework/assignments/{aid}")
    view = await r.json()
    assert view["results_ready"] is True and view["summary"]["not_started"] == 1  # 7号 has no pen
    by_label = {s["label"]: s for s in view["students"]}
    # perfect sheets: all but the free answer (10 of 78 points, the teacher's) = 68
    assert view["max_points"] == 78 and by_label["1号"]["score"] == 68 and by_label["1号"]["needs_review"] == 1
    assert by_label["1号"]["active_s"] > 0 and by_label["1号"]["elapsed_s"] >= by_label["1号"]["active_s"]
    assert by_label["5号"]["score"] == 2 + 5 + 5  # q9 half of 4, q15 "８０.0" = 80, q19 " 宽 " = 宽
    q1 = next(q for q in view["questions"] if q["id"] == "q1")
    assert q1["distribution"] == {"D": 4, "A": 1} and q1["correct_rate"] == pytest.approx(4 / 6, abs=0.01)

    r = await client.get(f"/api/homework/assignments/{aid}/students/hw-4-2-05")
    sheet = await r.json()
    answers = {x["question_id"]: x for x in sheet["answers"]}
    assert answers["q14"]["status"] == "review" and answers["q14"]["score"] is None
    assert answers["q1"]["status"] == "graded" and answers["q1"]["correct"] is False
    assert answers["q2"]["status"] == "blank" and answers["q2"]["ink"] == []
    assert answers["q9"]["ink"] and answers["q9"]["box_mm"] == [104.0, 126.4, 94.0, 11.0]

    r = await client.get("/api/homework/review")
    items = (await r.json())["items"]
    kinds = {(i["label"], i["question_id"]) for i in items}
    assert ("5号", "q14") in kinds and ("6号", "q2") in kinds  # low confidence and the straddling mark
    assert ("1号", "q20") in kinds  # free answers always go to the teacher
    ambiguous = next(i for i in items if i["question_id"] == "q2")
    assert ambiguous["confidence"] < 0.9 and ambiguous["ink"]

    # the teacher reads 5号's q14 as 1000 and 6号's mark as C (wrong); both audited
    q14 = next(i for i in items if (i["label"], i["question_id"]) == ("5号", "q14"))
    r = await client.post(f"/api/homework/review/{q14['review_id']}", json={"value": "1000", "by": "王老师"})
    assert (await r.json()) == {"ok": True, "score": 5.0}
    r = await client.post(f"/api/homework/review/{ambiguous['review_id']}", json={"value": "C"})
    assert (await r.json())["score"] == 0.0
    q20 = next(i for i in items if (i["label"], i["question_id"]) == ("1号", "q20"))
    r = await client.post(f"/api/homework/review/{q20['review_id']}", json={"value": "8"})
    assert (await r.json())["score"] == 8.0
    assert (await client.post(f"/api/homework/review/{q20['review_id']}", json={"value": "8"})).status == 404
    r = await client.post("/api/homework/override", json={"assignment_id": aid, "student_id": "hw-4-2-05",
                                                          "question_id": "q1", "score": 1, "reason": "过程对"})
    assert (await r.json()) == {"ok": True, "total": 18.0}
    r = await client.post("/api/homework/override", json={"assignment_id": aid, "student_id": "hw-4-2-05",
                                                          "question_id": "q1", "score": 7, "reason": "x"})
    assert r.status == 400

    audit = store.db.execute("SELECT actor, action FROM audit_log WHERE action LIKE 'homework.%'").fetchall()
    assert ("王老师", "homework.review.resolve") in audit and ("teacher", "homework.override") in audit

    # error book: 5号's wrong q1 with their ink and the right answer, and practice from the bank
    r = await client.get("/api/homework/students/hw-4-2-05/errorbook")
    book = await r.json()
    q1_item = next(i for i in book["items"] if i["question_id"] == "q1")
    assert q1_item["given"] == "A" and q1_item["correct_answer"] == "D" and q1_item["ink"]
    assert q1_item["knowledge_points"] == ["math.g4.decimals.compare"]
    assert any(s["knowledge_point"] == "math.g4.decimals.compare" for s in book["suggestions"])
    r = await client.get("/api/homework/students/hw-4-2-01/errorbook")
    assert [i["question_id"] for i in (await r.json())["items"]] == ["q20"]  # 8 of 10 on the free answer

    # weakness: 6号 left most of the sheet blank, so every point has errors; sorted weakest first
    r = await client.get(f"/api/homework/classes/{CLASS}/weakness?assignment_id={aid}")
    wm = await r.json()
    rates = [k["error_rate"] for k in wm["knowledge_points"]]
    assert rates == sorted(rates, reverse=True) and 0 < wm["class_mean_error_rate"] < 1
    compare = next(k for k in wm["knowledge_points"] if k["kp"] == "math.g4.decimals.compare")
    assert compare["attempts"] == 6 and compare["students_wrong"] == 2
    assert compare["vs_mean"] == pytest.approx(compare["error_rate"] - wm["class_mean_error_rate"], abs=0.002)

    # workload: pen timestamps from half an hour ago; grade 4 -> the 3-6 band, 60 minutes
    r = await client.get(f"/api/homework/workload?class_id={CLASS}&days=3")
    wl = await r.json()
    assert wl["grade"] == 4 and wl["limit_minutes"] == 60 and len(wl["days"]) == 3
    today = wl["days"][-1]
    assert today["students"] == 6 and 0 < today["mean_minutes"] < 60 and today["over_limit"] is False
    assert {s["label"] for s in wl["students"]} >= {"1号", "7号"} and wl["by_subject"][0]["subject"] == "math"

    # the county's records: a score per finished student, re-sent after each change; aggregates; no ink, no labels
    rows = store.db.execute("SELECT kind, payload FROM outbox WHERE kind LIKE 'homework.%' ORDER BY seq").fetchall()
    scores = [json.loads(p) for k, p in rows if k == "homework.score"]
    assert len({s["student_id"] for s in scores}) == 6
    latest = {s["student_id"]: s for s in scores}
    assert latest["hw-4-2-05"]["total"] == 18.0 and latest["hw-4-2-05"]["revision"] == 2
    assert latest["hw-4-2-05"]["points"]["q1"] == 1.0 and latest["hw-4-2-05"]["subject"] == "math"
    kps = [json.loads(p) for k, p in rows if k == "homework.kp_aggregate"]
    assert kps and all(not k["suppressed"] and k["students"] == 6 for k in kps)
    times = [json.loads(p) for k, p in rows if k == "homework.time_aggregate"]
    assert len(times) == 1 and times[0]["students"] == 6 and times[0]["limit_minutes"] == 60
    text = " ".join(p for _k, p in rows)
    assert "ink" not in text and "号" not in text and "label" not in text


async def test_late_offline_pen_joins_results_and_small_cells_are_suppressed(rig: Rig) -> None:
    hw, bus, store, client = rig
    r = await client.post("/api/homework/assignments", json={"template_id": SHEET.id, "class_id": CLASS, "by": "李老师"})
    aid = (await r.json())["assignment_id"]
    t0 = time.time()
    for p in PENS[:3]:
        perfect(Pen(bus, p, t0))
    await asyncio.sleep(0.3)
    assert hw.live[aid].results_ready_at is None  # three pens have not written yet
    r = await client.post(f"/api/homework/assignments/{aid}/close", json={"by": "李老师"})
    assert (await r.json()) == {"ok": True}
    await wait_until(lambda: hw.live[aid].results_ready_at is not None)
    view = await (await client.get(f"/api/homework/assignments/{aid}")).json()
    assert view["state"] == "closed" and view["summary"]["finished"] == 3
    # a pen that was offline in class uploads its stored strokes (pen clock: during the class)
    late = Pen(bus, PENS[3], t0)
    for q in SHEET.questions[:3]:
        late.mark(q.id, q.answer or "", offline=True)
    late.submit(offline=True)
    await wait_until(lambda: hw.live[aid].sheets["hw-4-2-04"].reported)
    rows = store.db.execute("SELECT kind, payload FROM outbox WHERE kind LIKE 'homework.%'").fetchall()
    scores = [json.loads(p) for k, p in rows if k == "homework.score"]
    assert {s["student_id"] for s in scores} == {"hw-4-2-01", "hw-4-2-02", "hw-4-2-03", "hw-4-2-04"}
    assert next(s for s in scores if s["student_id"] == "hw-4-2-04")["total"] == 9.0
    kps = [json.loads(p) for k, p in rows if k == "homework.kp_aggregate"]
    assert kps and all(k["suppressed"] and "error_rate" not in k for k in kps)  # 3-4 students: under 5
    # a pen nobody holds is named, and the roster offers it for assignment
    stranger = Pen(bus, "9C:7B:D2:01:00:99", t0)
    r = await client.post("/api/homework/assignments", json={"template_id": SHEET.id, "class_id": CLASS})
    stranger.mark("q1", "A")
    await asyncio.sleep(0.1)
    roster = await (await client.get("/api/homework/roster")).json()
    assert "9C:7B:D2:01:00:99" in roster["unassigned_pens"]
    pens = await (await client.get("/api/homework/pens")).json()
    assert any("not assigned" in p for p in pens["problems"])


async def test_roster_assign_swap_and_import(rig: Rig) -> None:
    hw, _bus, store, client = rig
    r = await client.post("/api/homework/roster/assign", json={"pen_id": PENS[0].lower(), "student_id": "hw-4-2-07"})
    assert (await r.json()) == {"ok": True, "swapped_with": "hw-4-2-01"}
    roster = await (await client.get(f"/api/homework/roster?class_id={CLASS}")).json()
    pens = {s["label"]: s["pen_id"] for s in roster["students"]}
    assert pens["7号"] == PENS[0] and pens["1号"] is None  # 7号 had no pen to give back
    bad = "class_id,student_id,label,pen_id\n4-3,s1,1号,\n4-3,s2,张三,\n4-3,s1,3号,zz\n"
    r = await client.post("/api/homework/roster/import", data=bad.encode())
    err = await r.json()
    assert r.status == 400 and err["problems"][0].startswith("line 3, label")
    assert any(p.startswith("line 4, student_id") for p in err["problems"])
    assert store.db.execute("SELECT COUNT(*) FROM hw_students WHERE class_id = '4-3'").fetchone()[0] == 0
    good = "class_id,student_id,label,pen_id\n4-3,s1,1号,9c:7b:d2:01:00:01\n4-3,s2,2号,\n"
    r = await client.post("/api/homework/roster/import?by=tech", data=good.encode())
    assert (await r.json()) == {"ok": True, "classes": 1, "created": 2, "updated": 0, "pens": 1}
    assert hw.class_ids() == ["4-2", "4-3"]


async def test_restart_keeps_open_sheets(tmp_path: Path) -> None:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_class(db, CLASS, PENS[:2], students=2))
    bus = Bus()
    for attempt in range(2):
        supervisor = Supervisor(bus, store=store, outbox=Outbox(store, f"boot-{attempt}"))
        hw = Homework(HomeworkFeatureConfig(enabled=True, finish_idle_s=60), tmp_path,
                      recognizer_factory=TableRecognizer)
        supervisor.add(hw)
        await supervisor.start()
        await wait_until(lambda hw=hw: len(hw.roster) == 2)
        if attempt == 0:
            a = await hw.open_assignment(SHEET.id, CLASS)
            pen = Pen(bus, PENS[0], time.time())
            pen.mark("q1", "D")
            pen.mark("q2", "B")
            await wait_until(lambda a=a: "q1" in a.sheets["hw-4-2-01"].answers)
            await asyncio.sleep(0.2)
        else:
            aid = a.assignment_id
            a2 = await wait_until(lambda hw=hw, aid=aid: hw.live.get(aid))
            s = a2.sheets["hw-4-2-01"]
            assert s.state == "writing" and s.answers["q1"].given == "D" and s.ink["q1"]
            Pen(bus, PENS[0], time.time()).submit()
            await wait_until(lambda s=s: s.state == "finished")
            assert s.answers["q2"].given == "B"  # the box left unread at the restart is read at the submit
        await supervisor.stop()
    store.close()


async def test_collected_assignments_leave_memory_but_stay_readable(rig: Rig) -> None:
    hw, bus, _store, client = rig
    ids = []
    for _ in range(5):
        a = await hw.open_assignment(SHEET.id, CLASS)
        Pen(bus, PENS[0], time.time()).mark("q1", "D")
        await asyncio.sleep(0.05)
        await hw.close_assignment(a.assignment_id)
        ids.append(a.assignment_id)
    await wait_until(lambda: len(hw.live) == 3)
    assert set(hw.live) == set(ids[-3:])
    old = await (await client.get(f"/api/homework/assignments/{ids[0]}")).json()  # from the store
    assert old["state"] == "closed" and old["results_ready"] and old["summary"]["finished"] == 1
    listed = (await (await client.get("/api/homework/assignments")).json())["assignments"]
    assert [a["assignment_id"] for a in listed if a["assignment_id"] in ids] == ids[-3:][::-1] + ids[:2][::-1]


async def test_pen_password_goes_to_the_driver_once_and_is_audited_without_the_password(rig: Rig) -> None:
    hw, bus, store, client = rig
    r = await client.post("/api/homework/pens/9C:7B:D2:01:99:99/password", json={"password": "2468"})
    assert r.status == 404  # a pen never heard is not tried
    with bus.subscribe(PenPasswordAttempt, maxsize=8, name="test") as sub:
        bus.publish(PenStatus(pen_id=PENS[0], transport="serial", connected=True, detail="locked: 10 tries left"))
        await wait_until(lambda: PENS[0] in hw.pens)
        r = await client.post(f"/api/homework/pens/{PENS[0].lower()}/password", json={"password": "2468", "by": "王老师"})
        assert (await r.json())["sent"] is True
        attempt = await asyncio.wait_for(sub.get(), 2)
        assert isinstance(attempt, PenPasswordAttempt) and attempt.password == "2468" and attempt.pen_id == PENS[0]
        assert "2468" not in json.dumps(attempt.to_json()) and "2468" not in repr(attempt)
        assert sub.queue.empty(), "exactly one attempt per request"
    rows = store.db.execute("SELECT actor, detail FROM audit_log WHERE action = 'homework.pen.password'").fetchall()
    assert rows == [("王老师", f"pen={PENS[0]}")]
