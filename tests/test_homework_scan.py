"""Paper sheets through the homework feature: scanned, matched to a student by 学号, graded, reviewed with crops.

Real parts: the printed template, the real recognizer (rapidocr + second opinion), sheet registration, the
feature's store and API. The "scan" is the printed page filled in like a pupil and photographed badly
(helpers shared with tests/test_scan_sheet.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_scan_sheet import camera, draw_strokes, fill_in

from appliance.bus import Bus
from appliance.config.schema import HomeworkFeatureConfig
from appliance.events import ScannedSheet
from appliance.features.homework import BUNDLED_TEMPLATES, Homework
from appliance.features.homework.printing import render_image
from appliance.features.homework.roster import seed_class
from appliance.features.homework.template import Template, load_template
from appliance.store import Store
from appliance.supervisor import Supervisor
from models.handwriting.ocr import OcrRecognizer
from models.handwriting.synth import write_digits
from sync.outbox import Outbox

SHEET: Template = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
CLASS = "4-2"
Rig = tuple[Homework, Store, TestClient, Path]


@pytest.fixture(scope="module")
def printed() -> np.ndarray:
    return render_image(SHEET, 200)


def pupil_scan(printed: np.ndarray, number: str, seed: int) -> tuple[np.ndarray, dict[str, str]]:
    img, truth = fill_in(printed, SHEET, seed)
    assert SHEET.student_box_mm is not None
    draw_strokes(img, write_digits(number, SHEET.student_box_mm, np.random.default_rng(seed + 100), jitter=0.02))
    return camera(img, np.random.default_rng(seed), 2.0), truth


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_class(db, CLASS, [], students=7))
    supervisor = Supervisor(Bus(), store=store, outbox=Outbox(store, "boot-test"))
    feature = Homework(HomeworkFeatureConfig(enabled=True), tmp_path, recognizer_factory=OcrRecognizer)
    supervisor.add(feature)
    await supervisor.start()
    app = web.Application()
    feature.add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for _ in range(300):
            if len(feature.roster) == 7:
                break
            await asyncio.sleep(0.02)
        yield feature, store, client, tmp_path
    finally:
        await client.close()
        await supervisor.stop()
        store.close()


async def wait_for(predicate, within: float = 20.0):  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_scanned_sheets_are_filed_by_student_number_graded_and_reviewed(rig: Rig, printed: np.ndarray) -> None:
    hw, store, client, tmp = rig
    r = await client.post("/api/homework/assignments", json={"template_id": SHEET.id, "class_id": CLASS})
    aid = (await r.json())["assignment_id"]

    scan, truth = pupil_scan(printed, "3", seed=0)
    path = tmp / "scan-0001.png"
    cv2.imwrite(str(path), scan)
    hw.on_event(ScannedSheet(path=str(path)))
    sheet = await wait_for(lambda: hw.live[aid].sheets.get("hw-4-2-03") if
                           hw.live[aid].sheets["hw-4-2-03"].state == "finished" else None)
    assert sheet.source == "scan" and sheet.finished_by == "scan"
    view = await (await client.get(f"/api/homework/assignments/{aid}/students/hw-4-2-03")).json()
    answers = {a["question_id"]: a for a in view["answers"]}
    for qid, given in truth.items():  # choices by OMR, numbers by OCR: right, or sent to review — never wrong
        a = answers[qid]
        assert a["status"] in ("graded", "review"), (qid, a)
        if a["status"] == "graded":
            assert a["given"] == given, (qid, a)
    marked = [q for q in truth if SHEET.question(q).type in ("single_choice", "true_false", "multiple_choice")]
    assert all(answers[q]["status"] == "graded" for q in marked)
    assert answers["q19"]["status"] == "blank" and answers["q19"]["score"] == 0
    assert answers["q20"]["status"] == "review"  # a free answer is always the teacher's

    review = await (await client.get("/api/homework/review")).json()
    free = next(i for i in review["items"] if i["question_id"] == "q20" and i["student_id"] == "hw-4-2-03")
    assert free["image"] == f"/api/homework/scans/{aid}/hw-4-2-03/q20.png"
    png = await client.get(free["image"])
    assert png.status == 200 and (await png.read())[:4] == b"\x89PNG"
    assert (await client.get(f"/api/homework/scans/{aid}/hw-4-2-03/..%2Fx.png")).status == 404
    r = await client.post(f"/api/homework/review/{free['review_id']}", json={"value": "8"})
    assert (await r.json())["score"] == 8

    # a 学号 that is not in the class files nothing, and says why
    stranger, _ = pupil_scan(printed, "27", seed=1)
    other = tmp / "scan-0002.png"
    cv2.imwrite(str(other), stranger)
    hw.on_event(ScannedSheet(path=str(other)))
    unfiled = await wait_for(lambda: hw.unfiled_scans)
    assert unfiled[0]["path"] == str(other) and "27" in unfiled[0]["reason"]
    assert sum(s.state == "finished" for s in hw.live[aid].sheets.values()) == 1
    assert (await (await client.get("/api/homework/review")).json())["unfiled_scans"][0]["path"] == str(other)

    # the kiosk can file it by hand, naming the student
    _, png_bytes = cv2.imencode(".png", stranger)
    r = await client.post(f"/api/homework/scans?assignment_id={aid}&student_id=hw-4-2-05", data=png_bytes.tobytes())
    body = await r.json()
    assert r.status == 200, body
    assert body["student_id"] == "hw-4-2-05" and body["source"] == "scan"
    assert any(a["image"] for a in body["answers"])
    r = await client.post(f"/api/homework/scans?assignment_id={aid}&student_id=hw-4-2-05", data=b"not an image")
    assert r.status == 415 and "not a PDF" in (await r.json())["error"]
    torn = png_bytes.tobytes()[:2000]  # a PNG cut short: a clear refusal, nothing filed
    r = await client.post(f"/api/homework/scans?assignment_id={aid}&student_id=hw-4-2-06", data=torn)
    assert r.status == 422 and "cannot read the sheet" in (await r.json())["error"]
    assert hw.live[aid].sheets["hw-4-2-06"].state == "not_started"
    rows = store.db.execute("SELECT COUNT(*) FROM hw_answers WHERE assignment_id = ? AND student_id = 'hw-4-2-05'",
                            [aid]).fetchone()
    assert rows[0] == len(SHEET.questions)
