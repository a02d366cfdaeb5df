"""Paper sheets from the scanner: read with ``scan.read_sheet``, matched to an assignment and a student, graded.

A scanned sheet goes through the same grading and review rules as pen ink; only the evidence differs. A
pen answer keeps its strokes, a scanned one keeps the crop of its box as a PNG on the box
(``data_dir/scans/ASSIGNMENT/STUDENT/QUESTION.png``), which the review queue shows to the teacher.

Which assignment: the one named by the upload, else the newest open assignment (a teacher scans the pile
of the lesson she is collecting). Which student: the one named by the upload, else the class number
(学号) read from the template's ``student_box_mm`` — only when that reading is confident and names a
student of the class; otherwise the sheet is kept aside with the reason and nothing is graded on a guess.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from appliance.events import ScannedSheet
from appliance.features.homework import persist
from appliance.features.homework.grading import Answer, grade
from appliance.features.homework.roster import label_number
from appliance.features.homework.template import Question

if TYPE_CHECKING:
    import numpy as np

    from appliance.features.homework import Homework
    from appliance.features.homework.assignments import Assignment, Sheet
    from appliance.features.homework.scan import ScannedAnswer, ScannedAnswers

MAX_SCAN_BYTES = 40 * 1024 * 1024
SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class ScanRejected(Exception):
    """A sheet that cannot be attached to a student's paper: the reason is shown as is."""

    reason: str
    status: int = 422

    def __str__(self) -> str:
        return self.reason


def crop_path(data_dir: Path, aid: str, sid: str, qid: str) -> Path:
    return data_dir / "scans" / aid / sid / f"{qid}.png"


def to_answer(q: Question, got: ScannedAnswer, review_below: float) -> Answer:
    """The pen rules on paper: blank scores 0, free and doubtful readings go to the teacher, the rest is graded."""
    if got.status == "blank":
        return Answer(q.id, q.type, None, got.confidence, 0.0, False, "blank", engine=got.engine)
    if got.status == "free":
        return Answer(q.id, q.type, None, None, None, None, "review", engine="teacher")
    if got.status in ("several", "unclear") or got.given is None or got.confidence < review_below:
        return Answer(q.id, q.type, got.given, got.confidence, None, None, "review", got.alternatives, got.engine)
    score, correct = grade(q, got.given)
    return Answer(q.id, q.type, got.given, got.confidence, score, correct, "graded", got.alternatives, got.engine)


def _pick_assignment(hw: Homework, aid: str | None) -> Assignment:
    if aid is not None:
        a = hw.live.get(aid)
        if a is None:
            raise ScanRejected(f"assignment {aid!r} is not open on this box", 404)
        return a
    open_ = sorted((a for a in hw.live.values() if a.state == "open"), key=lambda a: a.opened_at, reverse=True)
    if not open_:
        raise ScanRejected("没有进行中的作业 / no open assignment to file this sheet under: open one first", 409)
    return open_[0]


def _pick_sheet(a: Assignment, result: ScannedAnswers, sid: str | None, review_below: float) -> Sheet:
    if sid is not None:
        sheet = a.sheets.get(sid)
        if sheet is None:
            raise ScanRejected(f"student {sid!r} is not in class {a.class_id}", 404)
        return sheet
    number = result.student_number
    if number is None or not number.isdigit():
        raise ScanRejected("学号 not found on the sheet: upload it from the kiosk and choose the student")
    if result.student_confidence < review_below:
        raise ScanRejected(f"学号 read as {number} but not surely ({result.student_confidence:.2f}): "
                           "upload it from the kiosk and choose the student")
    for sheet in a.sheets.values():
        if label_number(sheet.label) == int(number):
            return sheet
    raise ScanRejected(f"学号 {number} is not a student of class {a.class_id}")


async def file_scan(hw: Homework, source: str | Path | np.ndarray, page_index: int = 0,
                    aid: str | None = None, sid: str | None = None) -> tuple[Assignment, Sheet]:
    """Read, match, grade and store one scanned page; raises :class:`ScanRejected` with the reason."""
    from appliance.features.homework.scan import read_sheet
    from models.sheets import RegistrationError
    from models.sheets.files import UnreadableFile

    a = _pick_assignment(hw, aid)
    loop = asyncio.get_running_loop()
    try:
        result = await loop.run_in_executor(hw._executor, lambda: read_sheet(source, a.template, hw.slot.get(),
                                                                             page_index))
    except (RegistrationError, UnreadableFile) as exc:
        raise ScanRejected(f"cannot read the sheet: {exc}") from None
    sheet = _pick_sheet(a, result, sid, hw.config.review_below)
    if sheet.source == "pen" and sheet.state != "not_started":
        raise ScanRejected(f"{sheet.label} already wrote this assignment with a pen; the scan is not graded", 409)
    answers = [to_answer(q, result.answers[q.id], hw.config.review_below) for q in a.template.questions]
    crops = {q.id: result.answers[q.id].crop for q in a.template.questions}
    await loop.run_in_executor(hw._executor, _save_crops, hw.data_dir, a.assignment_id, sheet.student_id, crops)
    sheet.source = "scan"
    sheet.answers = {ans.question_id: ans for ans in answers}
    sheet.state, sheet.finished_at, sheet.finished_by = "finished", time.time(), "scan"
    if a.results_ready_at is not None:
        sheet.revision += 1

    def write(db: Any) -> None:
        for ans in answers:
            persist.save_answer(db, a, sheet, ans, [])
        persist.save_sheet(db, a, sheet)

    await hw._store().run(write)
    hw._progress(a, sheet)
    await hw.maybe_results(a)
    return a, sheet


def _save_crops(data_dir: Path, aid: str, sid: str, crops: dict[str, np.ndarray]) -> None:
    import cv2

    for qid, crop in crops.items():
        path = crop_path(data_dir, aid, sid, qid)
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), crop)


async def handle_scanned_sheet(hw: Homework, ev: ScannedSheet) -> None:
    try:
        a, sheet = await file_scan(hw, ev.path, ev.page_index)
    except ScanRejected as exc:
        hw._log.warning("homework: scanned sheet %s (page %d) not filed: %s", ev.path, ev.page_index + 1, exc)
        hw.unfiled_scans.append({"path": ev.path, "page_index": ev.page_index, "reason": str(exc), "at": time.time()})
        del hw.unfiled_scans[:-50]
        return
    hw._log.info("homework: scanned sheet %s filed as %s's paper for %s (score %s, %d to review)",
                 ev.path, sheet.label, a.assignment_id, sheet.score, sheet.needs_review)


async def upload(hw: Homework, request: web.Request) -> Any:
    """``POST /api/homework/scans?assignment_id=A&student_id=S`` with an image or PDF body (raw or multipart)."""
    from appliance.features.homework import HomeworkError

    aid = request.query.get("assignment_id") or None
    sid = request.query.get("student_id") or None
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        part = await reader.next()
        data = await part.read() if isinstance(part, BodyPartReader) else b""
    else:  # streamed past the API's small default body limit: a 600 dpi scan is several megabytes
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > MAX_SCAN_BYTES:
                raise HomeworkError(413, f"scan over {MAX_SCAN_BYTES // 2**20} MB")
            chunks.append(chunk)
        data = b"".join(chunks)
    if not data:
        raise HomeworkError(400, "send the scanned image or PDF as the request body")
    folder = hw.data_dir / "scans" / "uploads"
    suffix = _sniff(data)
    if suffix is None:
        raise HomeworkError(415, "not a PDF, PNG, JPEG, TIFF, BMP or WebP file")
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 10**6}{suffix}"
    await asyncio.to_thread(_keep_upload, path, data)  # megabytes to disk: not on the event loop
    try:
        a, sheet = await file_scan(hw, path, 0, aid, sid)
    except ScanRejected as exc:
        raise HomeworkError(exc.status, str(exc)) from None
    from appliance.features.homework.api import sheet_view

    return sheet_view(hw, a, sheet)


def _keep_upload(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _sniff(data: bytes) -> str | None:
    """The file type from its first bytes (uploads carry no trustworthy name)."""
    for magic, suffix in ((b"%PDF", ".pdf"), (b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"II*\x00", ".tif"),
                          (b"MM\x00*", ".tif"), (b"BM", ".bmp")):
        if data.startswith(magic):
            return suffix
    return ".webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def image_url(hw: Homework, aid: str, sid: str, qid: str) -> str | None:
    """Where the kiosk finds a scanned box's crop, or None for pen answers (they carry ink instead)."""
    if not (SAFE.match(aid) and SAFE.match(sid) and SAFE.match(qid)):
        return None
    if not crop_path(hw.data_dir, aid, sid, qid).is_file():
        return None
    return f"/api/homework/scans/{aid}/{sid}/{qid}.png"


async def crop_file(hw: Homework, request: web.Request) -> web.StreamResponse:
    from appliance.features.homework import HomeworkError

    aid, sid, qid = (request.match_info[k] for k in ("assignment_id", "student_id", "question_id"))
    if not (SAFE.match(aid) and SAFE.match(sid) and SAFE.match(qid)):
        raise HomeworkError(404, "no such crop")
    path = crop_path(hw.data_dir, aid, sid, qid)
    if not path.is_file():
        raise HomeworkError(404, "no such crop")
    return web.FileResponse(path, headers={"Content-Type": "image/png", "Cache-Control": "no-store"})
