"""Reading and writing the homework tables. Every function runs inside a ``store.run`` transaction.

The county's records (``homework.score``, ``homework.kp_aggregate``, ``homework.time_aggregate``) are
written by :func:`write_results` in the same transaction as the scores they report, so a power cut
can never leave a score on the box that the county will not get, or the other way round.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from appliance.component import OutboxFull, RecordSink
from appliance.features.homework.assignments import Assignment, Sheet
from appliance.features.homework.grading import Answer
from appliance.features.homework.roster import HwStudent
from appliance.features.homework.routing import WritingClock
from appliance.features.homework.template import Template
from appliance.features.homework.weakness import GradedItem, kp_records
from appliance.features.homework.workload import TimeItem, time_records
from appliance.store import audit_row

log = logging.getLogger("classroom.homework")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def day_of(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).date().isoformat()


# -- assignments and sheets ---------------------------------------------------------------------
def insert_assignment(db: sqlite_utils.Database, a: Assignment) -> None:
    t = a.template
    db.execute("INSERT INTO hw_assignments (assignment_id, template_id, template_json, class_id, title, subject, grade,"
               " opened_at, opened_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [a.assignment_id, t.id, t.model_dump_json(), a.class_id, t.title, t.subject, t.grade, a.opened_at,
                a.opened_by])
    for s in a.sheets.values():
        save_sheet(db, a, s)
    audit_row(db, a.opened_by, "homework.assignment.open",
              f"assignment={a.assignment_id} template={t.id} class={a.class_id} students={len(a.sheets)}")


def save_sheet(db: sqlite_utils.Database, a: Assignment, s: Sheet) -> None:
    db.execute(
        "INSERT INTO hw_sheets (assignment_id, student_id, state, source, started_at, last_stroke_at, finished_at,"
        " finished_by, active_s, elapsed_s, score, needs_review, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (assignment_id, student_id) DO UPDATE SET state = excluded.state, source = excluded.source,"
        " started_at = excluded.started_at, last_stroke_at = excluded.last_stroke_at, finished_at = excluded.finished_at,"
        " finished_by = excluded.finished_by, active_s = excluded.active_s, elapsed_s = excluded.elapsed_s,"
        " score = excluded.score, needs_review = excluded.needs_review, revision = excluded.revision",
        [a.assignment_id, s.student_id, s.state, s.source, s.clock.first_at, s.clock.last_at, s.finished_at,
         s.finished_by, s.clock.active_s, s.clock.elapsed_s, s.score, s.needs_review, s.revision])


def save_answer(db: sqlite_utils.Database, a: Assignment, s: Sheet, ans: Answer, ink: list[Any]) -> None:
    """Upsert one answer with its ink; open a review item for a doubtful reading, drop it once settled."""
    db.execute(
        "INSERT INTO hw_answers (assignment_id, student_id, question_id, given, confidence, alternatives_json, engine,"
        " score, correct, status, ink_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (assignment_id, student_id, question_id) DO UPDATE SET given = excluded.given,"
        " confidence = excluded.confidence, alternatives_json = excluded.alternatives_json, engine = excluded.engine,"
        " score = excluded.score, correct = excluded.correct, status = excluded.status, ink_json = excluded.ink_json,"
        " updated_at = excluded.updated_at",
        [a.assignment_id, s.student_id, ans.question_id, ans.given, ans.confidence,
         _json([list(x) for x in ans.alternatives]), ans.engine, ans.score,
         None if ans.correct is None else int(ans.correct), ans.status, _json(ink), time.time()])
    key = [a.assignment_id, s.student_id, ans.question_id]
    open_row = db.execute("SELECT review_id FROM hw_reviews WHERE assignment_id = ? AND student_id = ? AND"
                          " question_id = ? AND resolved_at IS NULL", key).fetchone()
    if ans.status == "review" and open_row is None:
        db.execute("INSERT INTO hw_reviews (assignment_id, student_id, question_id, created_at) VALUES (?, ?, ?, ?)",
                   [*key, time.time()])
    elif ans.status != "review" and open_row is not None:
        db.execute("DELETE FROM hw_reviews WHERE review_id = ?", [open_row[0]])


def save_ink(db: sqlite_utils.Database, boxes: list[tuple[str, str, str, list[Any]]]) -> None:
    """The latest ink of boxes still being written (so a restart does not lose a half-written answer)."""
    db.conn.executemany("INSERT INTO hw_ink (assignment_id, student_id, question_id, ink_json) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT (assignment_id, student_id, question_id) DO UPDATE SET ink_json = excluded.ink_json",
                   [(a, s, q, _json(ink)) for a, s, q, ink in boxes])


def close_assignment(db: sqlite_utils.Database, a: Assignment, actor: str) -> None:
    db.execute("UPDATE hw_assignments SET closed_at = ?, closed_by = ? WHERE assignment_id = ?",
               [a.closed_at, actor, a.assignment_id])
    audit_row(db, actor, "homework.assignment.close", f"assignment={a.assignment_id}")


# -- loading --------------------------------------------------------------------------------------
def load_assignment(db: sqlite_utils.Database, assignment_id: str, labels: Mapping[str, HwStudent]) -> Assignment | None:
    row = db.execute("SELECT assignment_id, template_json, class_id, opened_at, opened_by, closed_at, results_ready_at,"
                     " last_stroke_at FROM hw_assignments WHERE assignment_id = ?", [assignment_id]).fetchone()
    if row is None:
        return None
    a = Assignment(row[0], Template.model_validate_json(row[1]), row[2], row[3], row[4], row[5], row[6], row[7])
    for (sid, state, source, started, last, finished_at, finished_by, active_s, revision) in db.execute(
            "SELECT student_id, state, source, started_at, last_stroke_at, finished_at, finished_by, active_s, revision"
            " FROM hw_sheets WHERE assignment_id = ? ORDER BY rowid", [assignment_id]).fetchall():
        st = labels.get(sid)
        s = Sheet(sid, st.label if st else sid, st.pen_id if st else None, state, source,
                  WritingClock(started, last, active_s or 0.0), finished_at, finished_by, revision=revision)
        a.sheets[sid] = s
    for (sid, qid, given, conf, alts, engine, score, correct, status, ink) in db.execute(
            "SELECT student_id, question_id, given, confidence, alternatives_json, engine, score, correct, status,"
            " ink_json FROM hw_answers WHERE assignment_id = ?", [assignment_id]).fetchall():
        sheet = a.sheets.get(sid)
        if sheet is None:
            continue
        s = sheet
        qtype = _qtype(a.template, qid)
        s.answers[qid] = Answer(qid, qtype, given, conf, score, None if correct is None else bool(correct), status,
                                tuple((str(t), float(c)) for t, c in json.loads(alts)), engine)
        strokes = [[(float(x), float(y)) for x, y in st] for st in json.loads(ink)]
        if strokes:
            s.ink[qid] = strokes
            s.ink_version[qid] = s.read_version[qid] = 1
    for sid, qid, ink in db.execute("SELECT student_id, question_id, ink_json FROM hw_ink WHERE assignment_id = ?",
                                    [assignment_id]).fetchall():
        pending = a.sheets.get(sid)
        strokes = [[(float(x), float(y)) for x, y in st] for st in json.loads(ink)]
        if pending is not None and strokes and strokes != pending.ink.get(qid):  # written after its last reading
            pending.ink[qid] = strokes
            pending.ink_version[qid] = 2
    return a


def _qtype(t: Template, qid: str) -> str:
    try:
        return t.question(qid).type
    except KeyError:
        return "free"


def open_assignment_ids(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT assignment_id FROM hw_assignments WHERE closed_at IS NULL OR results_ready_at IS NULL"
        " ORDER BY opened_at").fetchall()]


def list_assignments(db: sqlite_utils.Database, limit: int = 200) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT a.assignment_id, a.template_id, a.title, a.class_id, a.opened_at, a.closed_at, a.results_ready_at,"
        " (SELECT COUNT(*) FROM hw_sheets s WHERE s.assignment_id = a.assignment_id AND s.state = 'finished'),"
        " (SELECT COUNT(*) FROM hw_sheets s WHERE s.assignment_id = a.assignment_id)"
        " FROM hw_assignments a ORDER BY a.opened_at DESC LIMIT ?", [limit]).fetchall()
    return [{"assignment_id": r[0], "template_id": r[1], "title": r[2], "class_id": r[3],
             "state": "closed" if r[5] is not None else "open", "opened_at": r[4], "closed_at": r[5],
             "finished": r[7], "students": r[8], "results_ready": r[6] is not None} for r in rows]


# -- the class over time -----------------------------------------------------------------------------
_TEMPLATES: dict[str, Template] = {}


def template_of(assignment_id: str, template_json: str) -> Template:
    t = _TEMPLATES.get(assignment_id)
    if t is None:
        t = _TEMPLATES[assignment_id] = Template.model_validate_json(template_json)
    return t


def graded_items(db: sqlite_utils.Database, class_id: str, assignment_id: str | None = None) -> list[GradedItem]:
    """Every scored answer of a class (blank counts as wrong; answers awaiting review are left out)."""
    sql = ("SELECT a.assignment_id, a.template_json, x.student_id, x.question_id, x.score FROM hw_answers x"
           " JOIN hw_assignments a ON a.assignment_id = x.assignment_id"
           " WHERE a.class_id = ? AND x.score IS NOT NULL AND x.status IN ('graded', 'blank', 'overridden')")
    args: list[Any] = [class_id]
    if assignment_id is not None:
        sql += " AND a.assignment_id = ?"
        args.append(assignment_id)
    items = []
    for aid, tjson, sid, qid, score in db.execute(sql, args).fetchall():
        t = template_of(aid, tjson)
        try:
            q = t.question(qid)
        except KeyError:
            continue
        items.append(GradedItem(sid, qid, q.points, float(score), tuple(q.knowledge_points)))
    return items


def time_items(db: sqlite_utils.Database, class_id: str, tz: ZoneInfo, since: float = 0.0) -> list[TimeItem]:
    rows = db.execute(
        "SELECT s.student_id, s.started_at, a.subject, s.active_s, s.elapsed_s FROM hw_sheets s"
        " JOIN hw_assignments a ON a.assignment_id = s.assignment_id"
        " WHERE a.class_id = ? AND s.source = 'pen' AND s.started_at IS NOT NULL AND s.started_at >= ?",
        [class_id, since]).fetchall()
    return [TimeItem(sid, day_of(started, tz), subject, active or 0.0, elapsed or 0.0)
            for sid, started, subject, active, elapsed in rows]


def class_grade(db: sqlite_utils.Database, class_id: str) -> int | None:
    row = db.execute("SELECT grade FROM hw_assignments WHERE class_id = ? ORDER BY opened_at DESC LIMIT 1",
                     [class_id]).fetchone()
    return int(row[0]) if row else None


# -- results and the county's records --------------------------------------------------------------
def score_payload(a: Assignment, s: Sheet, tz: ZoneInfo) -> dict[str, Any]:
    """One student's sheet for the county: pseudonymous id, points per question, time; no label, no ink."""
    t = a.template
    when = s.clock.first_at or s.finished_at or a.opened_at
    return {
        "assignment_id": a.assignment_id, "template_id": t.id, "class_id": a.class_id, "subject": t.subject,
        "grade": t.grade, "kind": t.kind, "date": day_of(when, tz), "student_id": s.student_id,
        "revision": s.revision, "source": s.source, "finished_by": s.finished_by,
        "points": {q.id: (s.answers[q.id].score if q.id in s.answers else None) for q in t.questions},
        "total": s.score if s.score is not None else 0.0, "max_points": t.max_points,
        "needs_review": s.needs_review, "complete": s.needs_review == 0,
        "active_s": round(s.clock.active_s, 1), "elapsed_s": round(s.clock.elapsed_s, 1),
    }


def add_normal(outbox: RecordSink, db: sqlite_utils.Database, kind: str, payload: dict[str, Any]) -> None:
    """Aggregates give way when the outbox is over quota; scores (CRITICAL) never do."""
    try:
        outbox.add(db, kind, payload)
    except OutboxFull:
        log.warning("outbox full: %s for %s not recorded", kind, payload.get("class_id"))


def write_results(db: sqlite_utils.Database, a: Assignment, ready_at: float, outbox: RecordSink | None, tz: ZoneInfo,
                  limits: Mapping[str, int]) -> None:
    """Scores, results time and the county's records, in one transaction."""
    db.execute("UPDATE hw_assignments SET results_ready_at = ?, last_stroke_at = ? WHERE assignment_id = ?",
               [ready_at, a.last_stroke_at, a.assignment_id])
    finished = [s for s in a.sheets.values() if s.state == "finished"]
    for s in a.sheets.values():
        save_sheet(db, a, s)
    if outbox is None:
        return
    for s in finished:
        outbox.add(db, "homework.score", score_payload(a, s, tz))
    add_aggregates(db, a, outbox, tz, limits)


def add_aggregates(db: sqlite_utils.Database, a: Assignment, outbox: RecordSink, tz: ZoneInfo,
                   limits: Mapping[str, int], with_time: bool = True) -> None:
    """The class's knowledge-point cells and (with_time) its homework minutes for the assignment's days."""
    t = a.template
    date = day_of(a.opened_at, tz)
    for payload in kp_records(a.class_id, a.assignment_id, t.subject, date, graded_items(db, a.class_id, a.assignment_id)):
        add_normal(outbox, db, "homework.kp_aggregate", payload)
    if not with_time:  # a changed score does not change anyone's homework time
        return
    days = {day_of(s.clock.first_at, tz) for s in a.sheets.values() if s.clock.first_at is not None}
    items = [i for i in time_items(db, a.class_id, tz) if i.date in days and i.subject == t.subject]
    for payload in time_records(a.class_id, t.grade, limits, items):
        add_normal(outbox, db, "homework.time_aggregate", payload)


def rescore(db: sqlite_utils.Database, a: Assignment, s: Sheet, ans: Answer, outbox: RecordSink | None,
            tz: ZoneInfo, limits: Mapping[str, int], actor: str, action: str, detail: str) -> None:
    """A teacher changed one answer: the answer, the sheet, the audit line and (after results) the county's copy."""
    save_answer(db, a, s, ans, s.ink.get(ans.question_id, []))
    save_sheet(db, a, s)
    audit_row(db, actor, action, detail)
    if outbox is not None and a.results_ready_at is not None and s.state == "finished":
        outbox.add(db, "homework.score", score_payload(a, s, tz))
        add_aggregates(db, a, outbox, tz, limits, with_time=False)
