"""Who holds which pen: the homework class lists, pen assignment and swap, and the CSV import.

Students are pseudonyms (``student_id``) with a label such as "12号"; names never enter these tables.
One kit of pens goes from class to class, so a pen is unique within a class, not across the school.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlite_utils

from appliance.features.homework import schema as _schema  # noqa: F401  (registers the tables)
from appliance.store import audit_row

IMPORT_COLUMNS = ("class_id", "student_id", "label", "pen_id")
_LABEL = re.compile(r"^[0-9A-Za-z号\-_.]{1,12}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PEN = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$|^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


@dataclass(frozen=True)
class HwStudent:
    student_id: str
    class_id: str
    label: str
    pen_id: str | None = None


def normalise_pen(pen_id: str) -> str:
    """Pens are Bluetooth addresses; the driver and a spreadsheet may disagree on case."""
    return pen_id.strip().upper()


def load_roster(db: sqlite_utils.Database) -> list[HwStudent]:
    """Every student of every class with their pen (if any), by class then label number."""
    rows = db.execute(
        "SELECT s.student_id, s.class_id, s.label, p.pen_id FROM hw_students s"
        " LEFT JOIN hw_pens p ON p.student_id = s.student_id").fetchall()
    return sorted((HwStudent(*r) for r in rows), key=lambda s: (s.class_id, label_number(s.label), s.student_id))


def class_ids(students: Sequence[HwStudent]) -> list[str]:
    return sorted({s.class_id for s in students})


def label_number(label: str) -> int:
    digits = "".join(ch for ch in label if ch.isdigit())
    return int(digits) if digits else 10**6


def assign_pen(db: sqlite_utils.Database, pen_id: str, student_id: str, actor: str = "teacher") -> str | None:
    """Give ``pen_id`` to ``student_id`` inside the caller's transaction; returns whom it was taken from.

    A pen already held by a classmate is swapped in one step (the classmate gets this student's old
    pen, if any), so fixing two mixed-up pens at the kiosk is one tap and nobody is half-assigned.
    """
    pen_id = normalise_pen(pen_id)
    found = db.execute("SELECT class_id FROM hw_students WHERE student_id = ?", [student_id]).fetchone()
    if found is None:
        raise KeyError(f"no student {student_id!r} in the homework roster")
    class_id = found[0]
    row = db.execute("SELECT student_id FROM hw_pens WHERE pen_id = ? AND class_id = ?", [pen_id, class_id]).fetchone()
    holder: str | None = row[0] if row else None
    if holder == student_id:
        return None
    row = db.execute("SELECT pen_id FROM hw_pens WHERE student_id = ?", [student_id]).fetchone()
    old_pen: str | None = row[0] if row else None
    db.execute("DELETE FROM hw_pens WHERE (pen_id = ? AND class_id = ?) OR student_id = ?", [pen_id, class_id, student_id])
    db.execute("INSERT INTO hw_pens (student_id, class_id, pen_id) VALUES (?, ?, ?)", [student_id, class_id, pen_id])
    if holder is not None and old_pen is not None:
        db.execute("INSERT INTO hw_pens (student_id, class_id, pen_id) VALUES (?, ?, ?)", [holder, class_id, old_pen])
    detail = f"class={class_id} pen={pen_id} student={student_id}"
    if holder is not None:
        detail += f" swapped_with={holder} (now pen={old_pen})"
    audit_row(db, actor, "homework.roster.assign", detail)
    return holder


class RosterImportError(ValueError):
    """Every problem in the file at once, each as 'line N, column: what to fix'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the roster file; nothing was imported")
        self.problems = problems


def parse_roster_csv(text: str) -> list[HwStudent]:
    """Validate a class list (``class_id,student_id,label[,pen_id]``); one bad row rejects the whole file.

    All or nothing, because a half-imported class would send some children's ink to nobody.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in IMPORT_COLUMNS[:3] if c not in header]
    if missing:
        raise RosterImportError([f"line 1: missing column(s) {', '.join(missing)}; the header must name "
                                 f"{', '.join(IMPORT_COLUMNS)} (pen_id optional)"])
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if unknown:
        raise RosterImportError([f"line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(IMPORT_COLUMNS)}"])
    problems: list[str] = []
    rows: list[HwStudent] = []
    seen_ids: set[str] = set()
    seen_pens: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        line_problems: list[str] = []
        for c in ("class_id", "student_id"):
            if not _ID.match(row.get(c, "")):
                line_problems.append(f"line {n}, {c}: {row.get(c, '')!r} must be 1-64 letters, digits, '-', '_' or '.'")
        label = row.get("label", "")
        if not _LABEL.match(label):
            line_problems.append(f"line {n}, label: {label!r} must be a class number like '12号' (no names)")
        sid, cid = row.get("student_id", ""), row.get("class_id", "")
        if sid in seen_ids:
            line_problems.append(f"line {n}, student_id: {sid!r} appears twice")
        seen_ids.add(sid)
        pen = row.get("pen_id") or None
        if pen is not None:
            if not _PEN.match(pen):
                line_problems.append(f"line {n}, pen_id: {pen!r} must be the pen's address such as 9C:7B:D2:01:00:01")
            else:
                pen = normalise_pen(pen)
                first = seen_pens.get((cid, pen))
                if first is not None:
                    line_problems.append(f"line {n}, pen_id: {pen} is already given to line {first} in class {cid!r}")
                seen_pens[(cid, pen)] = n
        problems.extend(line_problems)
        if not line_problems:
            rows.append(HwStudent(sid, cid, label, pen))
    if not problems and not rows:
        problems.append("line 2: the file has no students")
    if problems:
        raise RosterImportError(problems)
    return rows


def import_roster(db: sqlite_utils.Database, rows: Sequence[HwStudent], actor: str) -> dict[str, int]:
    """Insert or update students and their pens inside the caller's transaction (all rows or none)."""
    created = updated = pens = 0
    for s in rows:
        exists = db.execute("SELECT 1 FROM hw_students WHERE student_id = ?", [s.student_id]).fetchone()
        db.execute("INSERT INTO hw_students (student_id, class_id, label) VALUES (?, ?, ?)"
                   " ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id, label = excluded.label",
                   [s.student_id, s.class_id, s.label])
        if exists:
            updated += 1
        else:
            created += 1
        db.execute("DELETE FROM hw_pens WHERE student_id = ? AND class_id != ?", [s.student_id, s.class_id])
        if s.pen_id is not None:
            db.execute("DELETE FROM hw_pens WHERE student_id = ? OR (class_id = ? AND pen_id = ?)",
                       [s.student_id, s.class_id, s.pen_id])
            db.execute("INSERT INTO hw_pens (student_id, class_id, pen_id) VALUES (?, ?, ?)",
                       [s.student_id, s.class_id, s.pen_id])
            pens += 1
    classes = len({s.class_id for s in rows})
    audit_row(db, actor, "homework.roster.import", f"classes={classes} created={created} updated={updated} pens={pens}")
    return {"classes": classes, "created": created, "updated": updated, "pens": pens}


def seed_class(db: sqlite_utils.Database, class_id: str, pen_ids: Sequence[str], students: int = 45) -> int:
    """Create a class "1号".."N号" with pens in order (the demo's), once; returns how many were created."""
    if db.execute("SELECT 1 FROM hw_students WHERE class_id = ? LIMIT 1", [class_id]).fetchone() is not None:
        return 0
    rows = [HwStudent(f"hw-{class_id}-{n:02d}", class_id, f"{n}号",
                      normalise_pen(pen_ids[n - 1]) if n <= len(pen_ids) else None) for n in range(1, students + 1)]
    import_roster(db, rows, "demo")
    return students
