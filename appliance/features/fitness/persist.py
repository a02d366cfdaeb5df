"""Reading and writing the fitness tables. Every function runs inside a ``store.run`` transaction.

A scored test, its archive entry and the county's record are written in one transaction, so a power
cut never leaves a score on the box that the county will not get. Records carry the pseudonymous
student id, grade and sex (the standard's own breakdown), counts and scores: never a frame, never a label.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from appliance.component import OutboxFull, RecordSink
from appliance.features.fitness.stations import Station
from appliance.store import Migration, audit_row, register_migration

log = logging.getLogger("classroom.fitness")

SCHEMA = """
CREATE TABLE IF NOT EXISTS fit_stations (
    station_id TEXT PRIMARY KEY,
    camera TEXT NOT NULL,
    name TEXT NOT NULL,
    exercise TEXT NOT NULL,
    region_json TEXT NOT NULL,
    bar_y REAL,
    student_id TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS fit_results (
    result_id TEXT PRIMARY KEY,
    station_id TEXT NOT NULL,
    student_id TEXT,
    exercise TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('test', 'training')),
    item TEXT,
    term TEXT NOT NULL,
    grade INTEGER,
    sex TEXT,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    machine_count INTEGER NOT NULL,
    count INTEGER NOT NULL,
    invalid_json TEXT NOT NULL,
    score INTEGER,
    bonus INTEGER,
    corrected_by TEXT
);
CREATE INDEX IF NOT EXISTS fit_results_student ON fit_results (student_id, term);
CREATE TABLE IF NOT EXISTS fit_measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id TEXT NOT NULL,
    term TEXT NOT NULL,
    grade INTEGER NOT NULL,
    item TEXT NOT NULL,
    value REAL NOT NULL,
    score INTEGER NOT NULL,
    bonus INTEGER NOT NULL,
    measured_at REAL NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('camera', 'manual')),
    result_id TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS fit_measurements_student ON fit_measurements (student_id, term, item);
CREATE TABLE IF NOT EXISTS fit_grades (
    student_id TEXT PRIMARY KEY,
    grade INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 12)
);
CREATE TABLE IF NOT EXISTS fit_prescriptions (
    student_id TEXT NOT NULL,
    term TEXT NOT NULL,
    created_at REAL NOT NULL,
    retest_on TEXT NOT NULL,
    prescription_json TEXT NOT NULL,
    PRIMARY KEY (student_id, term)
)
"""
register_migration(Migration("fitness", 1, SCHEMA, "fitness stations, results, measurements and prescriptions"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# -- stations ---------------------------------------------------------------------------------------
def load_stations(db: sqlite_utils.Database) -> list[Station]:
    rows = db.execute("SELECT station_id, camera, name, exercise, region_json, bar_y, student_id FROM fit_stations"
                      " WHERE deleted = 0 ORDER BY station_id").fetchall()
    return [Station(r[0], r[1], r[2], r[3], [tuple(p) for p in json.loads(r[4])], r[5], r[6]) for r in rows]


def seed_stations(db: sqlite_utils.Database, stations: Sequence[Station]) -> int:
    """Stations from the config, created once: one a teacher deleted or redrew is not brought back."""
    created = 0
    for st in stations:
        if db.execute("SELECT 1 FROM fit_stations WHERE station_id = ?", [st.station_id]).fetchone():
            continue
        _upsert(db, st)
        created += 1
    return created


def _upsert(db: sqlite_utils.Database, st: Station) -> None:
    db.execute(
        "INSERT INTO fit_stations (station_id, camera, name, exercise, region_json, bar_y, student_id, deleted,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (station_id) DO UPDATE SET camera = excluded.camera,"
        " name = excluded.name, exercise = excluded.exercise, region_json = excluded.region_json, bar_y = excluded.bar_y,"
        " student_id = excluded.student_id, deleted = 0, updated_at = excluded.updated_at",
        [st.station_id, st.camera, st.name, st.exercise, _json(st.region), st.bar_y, st.student_id, time.time()])


def save_station(db: sqlite_utils.Database, st: Station, actor: str) -> None:
    _upsert(db, st)
    audit_row(db, actor, "fitness.station.save",
              f"station={st.station_id} camera={st.camera} exercise={st.exercise} points={len(st.region)}")


def delete_station(db: sqlite_utils.Database, station_id: str, actor: str) -> None:
    db.execute("UPDATE fit_stations SET deleted = 1, student_id = NULL, updated_at = ? WHERE station_id = ?",
               [time.time(), station_id])
    audit_row(db, actor, "fitness.station.delete", f"station={station_id}")


def set_station_student(db: sqlite_utils.Database, station_id: str, student_id: str | None) -> None:
    db.execute("UPDATE fit_stations SET student_id = ?, updated_at = ? WHERE station_id = ?",
               [student_id, time.time(), station_id])


# -- grades -----------------------------------------------------------------------------------------
def load_set_grades(db: sqlite_utils.Database) -> dict[str, int]:
    return {r[0]: r[1] for r in db.execute("SELECT student_id, grade FROM fit_grades").fetchall()}


def set_grade(db: sqlite_utils.Database, student_id: str, grade: int | None, actor: str) -> None:
    """A grade set by hand (a child who repeated a year, a class id without the grade in it); None clears it."""
    if grade is None:
        db.execute("DELETE FROM fit_grades WHERE student_id = ?", [student_id])
    else:
        db.execute("INSERT INTO fit_grades (student_id, grade) VALUES (?, ?) ON CONFLICT (student_id)"
                   " DO UPDATE SET grade = excluded.grade", [student_id, grade])
    audit_row(db, actor, "fitness.grade", f"student={student_id} grade={grade}")


# -- results and measurements -------------------------------------------------------------------------
def _add(outbox: RecordSink | None, db: sqlite_utils.Database, kind: str, payload: dict[str, Any]) -> None:
    if outbox is None:
        return
    try:
        outbox.add(db, kind, payload)
    except OutboxFull:  # only LOW/NORMAL kinds can be refused; scores are CRITICAL and never are
        log.warning("outbox full: %s for %s not recorded", kind, payload.get("student_id"))


def result_record(result: dict[str, Any], class_id: str | None) -> dict[str, Any]:
    """What the county gets of a camera session: no label, no station picture, no frame."""
    return {"result_id": result["result_id"], "student_id": result["student_id"], "class_id": class_id,
            "term": result["term"], "grade": result.get("grade"), "sex": result.get("sex"),
            "exercise": result["exercise"], "mode": result["mode"], "item": result["item"],
            "count": result["count"], "machine_count": result["machine_count"],
            "invalid_reps": len(result["invalid"]), "invalid_reasons": sorted({i["reason"] for i in result["invalid"]}),
            "score": result["score"], "bonus": result["bonus"], "started_at": result["started_at"],
            "duration_s": result["duration_s"], "corrected": result.get("corrected_by") is not None}


def insert_result(db: sqlite_utils.Database, result: dict[str, Any], class_id: str | None,
                  outbox: RecordSink | None) -> None:
    """A finished session; a scored test also becomes an archive measurement, in the same transaction."""
    db.execute(
        "INSERT INTO fit_results (result_id, station_id, student_id, exercise, mode, item, term, grade, sex, started_at,"
        " duration_s, machine_count, count, invalid_json, score, bonus, corrected_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [result["result_id"], result["station_id"], result["student_id"], result["exercise"], result["mode"],
         result["item"], result["term"], result.get("grade"), result.get("sex"), result["started_at"],
         result["duration_s"], result["machine_count"], result["count"], _json(result["invalid"]), result["score"],
         result["bonus"], result.get("corrected_by")])
    if result["score"] is not None and result["student_id"]:
        db.execute(
            "INSERT INTO fit_measurements (student_id, term, grade, item, value, score, bonus, measured_at, source,"
            " result_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'camera', ?)",
            [result["student_id"], result["term"], result["grade"], result["item"], result["count"], result["score"],
             result["bonus"] or 0, result["started_at"], result["result_id"]])
    kind = "fitness.result" if result["score"] is not None else "fitness.training"
    _add(outbox, db, kind, result_record(result, class_id))


def load_result(db: sqlite_utils.Database, result_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT result_id, station_id, student_id, exercise, mode, item, term, grade, sex, started_at, duration_s,"
        " machine_count, count, invalid_json, score, bonus, corrected_by FROM fit_results WHERE result_id = ?",
        [result_id]).fetchone()
    if row is None:
        return None
    keys = ("result_id", "station_id", "student_id", "exercise", "mode", "item", "term", "grade", "sex", "started_at",
            "duration_s", "machine_count", "count", "invalid", "score", "bonus", "corrected_by")
    out = dict(zip(keys, row, strict=True))
    out["invalid"] = json.loads(out["invalid"])
    return out


def correct_result(db: sqlite_utils.Database, result: dict[str, Any], class_id: str | None, actor: str,
                   outbox: RecordSink | None) -> None:
    """The teacher's count replaces the machine's; the archive and the county follow (audited)."""
    db.execute("UPDATE fit_results SET count = ?, score = ?, bonus = ?, corrected_by = ? WHERE result_id = ?",
               [result["count"], result["score"], result["bonus"], actor, result["result_id"]])
    if result["score"] is not None:
        db.execute("UPDATE fit_measurements SET value = ?, score = ?, bonus = ? WHERE result_id = ?",
                   [result["count"], result["score"], result["bonus"] or 0, result["result_id"]])
    audit_row(db, actor, "fitness.result.correct",
              f"result={result['result_id']} machine={result['machine_count']} count={result['count']}")
    kind = "fitness.result" if result["score"] is not None else "fitness.training"
    _add(outbox, db, kind, result_record(result, class_id))


def add_measurement(db: sqlite_utils.Database, *, student_id: str, term: str, grade: int, sex: str, class_id: str,
                    item: str, value: float, score: int, bonus: int, actor: str, outbox: RecordSink | None) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO fit_measurements (student_id, term, grade, item, value, score, bonus, measured_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'manual')", [student_id, term, grade, item, value, score, bonus, now])
    audit_row(db, actor, "fitness.measurement", f"student={student_id} item={item} value={value}")
    _add(outbox, db, "fitness.result", {
        "result_id": None, "student_id": student_id, "class_id": class_id, "term": term, "grade": grade, "sex": sex,
        "exercise": None, "mode": "test", "item": item, "value": value, "score": score, "bonus": bonus,
        "started_at": now, "source": "manual"})


def best_measurements(db: sqlite_utils.Database, student_ids: Sequence[str] | None = None,
                      term: str | None = None) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """(student, term) → item → the best attempt of that term (highest score, then most recent).

    The standard files one result per item per term; a student who tried twice keeps the better one.
    """
    sql = "SELECT student_id, term, grade, item, value, score, bonus, measured_at, source FROM fit_measurements"
    where: list[str] = []
    params: list[Any] = []
    if student_ids is not None:
        where.append(f"student_id IN ({','.join('?' * len(student_ids))})")
        params.extend(student_ids)
    if term is not None:
        where.append("term = ?")
        params.append(term)
    if where:
        sql += " WHERE " + " AND ".join(where)
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for sid, t, grade, item, value, score, bonus, at, source in db.execute(sql, params).fetchall():
        items = out.setdefault((sid, t), {})
        prev = items.get(item)
        if prev is None or (score + bonus, at) > (prev["score"] + prev["bonus"], prev["tested_at"]):
            items[item] = {"value": value, "score": score, "bonus": bonus, "tested_at": at, "source": source,
                           "grade": grade}
    return out


def save_prescription(db: sqlite_utils.Database, student_id: str, term: str, retest_on: str,
                      prescription: dict[str, Any], outbox: RecordSink | None) -> None:
    db.execute("INSERT INTO fit_prescriptions (student_id, term, created_at, retest_on, prescription_json)"
               " VALUES (?, ?, ?, ?, ?) ON CONFLICT (student_id, term) DO UPDATE SET created_at = excluded.created_at,"
               " retest_on = excluded.retest_on, prescription_json = excluded.prescription_json",
               [student_id, term, time.time(), retest_on, _json(prescription)])
    _add(outbox, db, "fitness.prescription", {
        "student_id": student_id, "term": term, "retest_on": retest_on,
        "items": [{"item": a["item"], "score": a["score"], "lost_points": a["lost_points"]}
                  for a in prescription.get("advice", [])]})


def load_prescription(db: sqlite_utils.Database, student_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT prescription_json FROM fit_prescriptions WHERE student_id = ? ORDER BY created_at DESC"
                     " LIMIT 1", [student_id]).fetchone()
    return json.loads(row[0]) if row else None


def retest_dates(db: sqlite_utils.Database, student_ids: Sequence[str]) -> dict[str, str]:
    """Each student's latest re-test date (ISO), from their newest prescription."""
    if not student_ids:
        return {}
    rows = db.execute(f"SELECT student_id, retest_on, created_at FROM fit_prescriptions WHERE student_id IN"
                      f" ({','.join('?' * len(student_ids))}) ORDER BY created_at", list(student_ids)).fetchall()
    return {sid: retest for sid, retest, _at in rows}
