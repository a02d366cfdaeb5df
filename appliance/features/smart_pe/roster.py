"""Who wears which band: the class roster, band assignments and the store schema of Smart PE.

Students are pseudonyms (``student_id``) with a wall label such as "12号"; real names never enter this
table, so nothing here can leak a child's identity to the county or to a photo of the wall.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import sqlite_utils

from appliance.store import Migration, audit_row, register_migration

Sex = Literal["male", "female"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS pe_students (
    student_id TEXT PRIMARY KEY,
    class_id TEXT NOT NULL,
    label TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    birth_year INTEGER NOT NULL,
    hrmax_measured INTEGER,
    resting_hr INTEGER
);
CREATE TABLE IF NOT EXISTS pe_bands (
    band_id TEXT PRIMARY KEY,
    student_id TEXT NOT NULL UNIQUE REFERENCES pe_students (student_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS pe_lessons (
    lesson_id TEXT PRIMARY KEY,
    class_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    students INTEGER,
    density REAL,
    avg_bpm REAL,
    report_json TEXT
);
CREATE TABLE IF NOT EXISTS pe_student_lessons (
    lesson_id TEXT NOT NULL REFERENCES pe_lessons (lesson_id),
    student_id TEXT NOT NULL,
    avg_bpm REAL,
    peak_bpm INTEGER,
    density REAL,
    zone_s_json TEXT NOT NULL,
    recovery_1min INTEGER,
    recovery_2min INTEGER,
    alerts INTEGER NOT NULL,
    PRIMARY KEY (lesson_id, student_id)
)
"""

register_migration(Migration("smart_pe", 1, SCHEMA, "Smart PE roster, band assignments and lesson aggregates"))

# One kit of bands serves every class the PE teacher has: a band is unique within a class, not globally.
PER_CLASS_BANDS = """
CREATE TABLE pe_bands_v2 (
    student_id TEXT PRIMARY KEY REFERENCES pe_students (student_id) ON DELETE CASCADE,
    class_id TEXT NOT NULL,
    band_id TEXT NOT NULL,
    UNIQUE (class_id, band_id)
);
INSERT INTO pe_bands_v2 (student_id, class_id, band_id)
    SELECT b.student_id, s.class_id, b.band_id FROM pe_bands b JOIN pe_students s ON s.student_id = b.student_id;
DROP TABLE pe_bands;
ALTER TABLE pe_bands_v2 RENAME TO pe_bands
"""
register_migration(Migration("smart_pe", 2, PER_CLASS_BANDS, "Band assignments per class (one kit, many classes)"))


@dataclass(frozen=True)
class Student:
    student_id: str
    class_id: str
    label: str
    sex: Sex
    birth_year: int
    hrmax_measured: int | None = None
    resting_hr: int | None = None
    band_id: str | None = None

    def hrmax(self, on: date) -> tuple[int, Literal["measured", "tanaka"]]:
        """A measured maximum beats any formula; otherwise Tanaka (208 - 0.7 x age), which fits children."""
        if self.hrmax_measured:
            return self.hrmax_measured, "measured"
        age = max(on.year - self.birth_year, 5)
        return round(208 - 0.7 * age), "tanaka"


def load_roster(db: sqlite_utils.Database) -> list[Student]:
    """Every student of every class with the band they wear (if any), by class then wall order."""
    rows = db.execute(
        "SELECT s.student_id, s.class_id, s.label, s.sex, s.birth_year, s.hrmax_measured, s.resting_hr, b.band_id"
        " FROM pe_students s LEFT JOIN pe_bands b ON b.student_id = s.student_id"
    ).fetchall()
    students = [Student(*row) for row in rows]
    return sorted(students, key=lambda s: (s.class_id, _label_number(s.label), s.student_id))


def class_ids(students: Sequence[Student]) -> list[str]:
    return sorted({s.class_id for s in students})


def _label_number(label: str) -> int:
    digits = "".join(ch for ch in label if ch.isdigit())
    return int(digits) if digits else 10**6


def assign_band(db: sqlite_utils.Database, band_id: str, student_id: str, actor: str = "teacher") -> str | None:
    """Give ``band_id`` to ``student_id`` inside the caller's transaction; returns whom it was taken from.

    When the band was on someone else in the same class, that student gets this student's old band (a
    swap), so a teacher fixing two mixed-up bands does it in one tap and nobody is left half-assigned.
    The same band on a student of another class is no conflict: the kit goes from class to class.
    """
    found = db.execute("SELECT class_id FROM pe_students WHERE student_id = ?", [student_id]).fetchone()
    if found is None:
        raise KeyError(f"no student {student_id!r} in the roster")
    class_id = found[0]
    row = db.execute("SELECT student_id FROM pe_bands WHERE band_id = ? AND class_id = ?", [band_id, class_id]).fetchone()
    previous_wearer: str | None = row[0] if row else None
    if previous_wearer == student_id:
        return None
    row = db.execute("SELECT band_id FROM pe_bands WHERE student_id = ?", [student_id]).fetchone()
    old_band: str | None = row[0] if row else None
    db.execute("DELETE FROM pe_bands WHERE (band_id = ? AND class_id = ?) OR student_id = ?",
               [band_id, class_id, student_id])
    db.execute("INSERT INTO pe_bands (student_id, class_id, band_id) VALUES (?, ?, ?)", [student_id, class_id, band_id])
    if previous_wearer is not None and old_band is not None:
        db.execute("INSERT INTO pe_bands (student_id, class_id, band_id) VALUES (?, ?, ?)",
                   [previous_wearer, class_id, old_band])
    detail = f"class={class_id} band={band_id} student={student_id}"
    if previous_wearer is not None:
        detail += f" swapped_with={previous_wearer} (now band={old_band})"
    audit_row(db, actor, "pe.roster.assign", detail)
    return previous_wearer


def roster_problems(
    students: Sequence[Student], seen_bands: Iterable[str], silent_bands: Iterable[str] = ()
) -> list[str]:
    """What a teacher must fix before the lesson, in words she can act on."""
    problems: list[str] = []
    assigned = {s.band_id: s for s in students if s.band_id}
    no_band = [s.label for s in students if not s.band_id]
    if no_band:
        problems.append(f"{len(no_band)} 名学生未分配心率带 / students without a band: {', '.join(no_band[:10])}")
    unassigned = sorted(set(seen_bands) - set(assigned))
    if unassigned:
        problems.append(f"{len(unassigned)} 个心率带未分配 / bands heard but not assigned: {', '.join(unassigned[:10])}")
    silent = sorted(b for b in silent_bands if b in assigned)
    if len(silent) >= 2:
        labels = ", ".join(assigned[b].label for b in silent[:10])
        problems.append(f"{len(silent)} 个心率带无信号 / bands silent: {labels}")
    elif silent:
        problems.append(f"{assigned[silent[0]].label} 心率带无信号 / band {silent[0]} is silent")
    return problems


def seed_demo_class(
    db: sqlite_utils.Database, band_ids: Sequence[str], students: int = 45, class_id: str = "demo-7-2",
    today: date | None = None, seed: int = 7,
) -> int:
    """Create a demo class (pseudonyms "1号".."N号", mixed sex, aged 11-12) once; returns students created.

    Bands are assigned in order from ``band_ids`` (the demo passes its simulator's ids), so the wall
    fills up the moment the simulator starts. A class that already exists is left alone.
    """
    if db.execute("SELECT 1 FROM pe_students WHERE class_id = ? LIMIT 1", [class_id]).fetchone() is not None:
        return 0
    rng = random.Random(seed)
    year = (today or date.today()).year
    for n in range(1, students + 1):
        sid = f"pe-{class_id}-{n:02d}"
        db.execute(
            "INSERT INTO pe_students (student_id, class_id, label, sex, birth_year, hrmax_measured, resting_hr)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?)",
            [sid, class_id, f"{n}号", "male" if n % 2 else "female", year - rng.choice((11, 12)), rng.randrange(68, 88)],
        )
        if n <= len(band_ids):
            db.execute("INSERT INTO pe_bands (student_id, class_id, band_id) VALUES (?, ?, ?)",
                       [sid, class_id, band_ids[n - 1]])
    audit_row(db, "demo", "pe.roster.seed", f"class={class_id} students={students} bands={min(students, len(band_ids))}")
    return students


IMPORT_COLUMNS = ("class_id", "student_id", "label", "sex", "birth_year", "hrmax", "resting_hr", "band_id")
_SEX = {"male": "male", "m": "male", "男": "male", "female": "female", "f": "female", "女": "female"}
_LABEL = re.compile(r"^[0-9A-Za-z号\-_.]{1,12}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class RosterImportError(ValueError):
    """Every problem in the file at once, each as 'line N, column: what to fix'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the roster file; nothing was imported")
        self.problems = problems


def parse_roster_csv(text: str, this_year: int) -> list[tuple[Student, str | None]]:
    """Validate a roster CSV (header row with :data:`IMPORT_COLUMNS`; hrmax, resting_hr and band_id optional).

    All-or-nothing: one bad row rejects the file, so a half-imported class never reaches the wall.
    Labels are wall numbers such as "12号"; a name in that column is refused, because the wall is
    seen (and photographed) by everyone on the playground.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    required = IMPORT_COLUMNS[:5]
    missing = [c for c in required if c not in header]
    if missing:
        raise RosterImportError([f"line 1: missing column(s) {', '.join(missing)}; the header must name "
                                 f"{', '.join(IMPORT_COLUMNS)}"])
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if unknown:
        raise RosterImportError([f"line 1: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(IMPORT_COLUMNS)}"])
    problems: list[str] = []
    rows: list[tuple[Student, str | None]] = []
    seen_ids: set[str] = set()
    seen_bands: set[tuple[str, str]] = set()
    for n, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}

        def bad(column: str, message: str, line: int = n) -> None:
            problems.append(f"line {line}, {column}: {message}")

        for c in ("class_id", "student_id"):
            if not _ID.match(row.get(c, "")):
                bad(c, f"{row.get(c, '')!r} must be 1-64 letters, digits, '-', '_' or '.'")
        if not _LABEL.match(row.get("label", "")):
            bad("label", f"{row.get('label', '')!r} must be a wall number like '12号' (no names on the wall)")
        sex = _SEX.get(row.get("sex", "").lower())
        if sex is None:
            bad("sex", f"{row.get('sex', '')!r} must be male/female (or 男/女, m/f)")
        year = _int(row.get("birth_year", ""))
        if year is None or not this_year - 20 <= year <= this_year - 5:
            bad("birth_year", f"{row.get('birth_year', '')!r} must be a year between {this_year - 20} and {this_year - 5}")
        hrmax = _int(row.get("hrmax", "")) if row.get("hrmax") else None
        if row.get("hrmax") and (hrmax is None or not 150 <= hrmax <= 230):
            bad("hrmax", f"{row.get('hrmax')!r} must be a measured maximum between 150 and 230, or empty")
        resting = _int(row.get("resting_hr", "")) if row.get("resting_hr") else None
        if row.get("resting_hr") and (resting is None or not 35 <= resting <= 120):
            bad("resting_hr", f"{row.get('resting_hr')!r} must be between 35 and 120, or empty")
        band = row.get("band_id") or None
        sid, cid = row.get("student_id", ""), row.get("class_id", "")
        if sid in seen_ids:
            bad("student_id", f"{sid!r} appears twice")
        seen_ids.add(sid)
        if band is not None:
            if (cid, band.upper()) in seen_bands:
                bad("band_id", f"{band!r} is given to two students of class {cid!r}")
            seen_bands.add((cid, band.upper()))
        if sex is not None and year is not None:
            rows.append((Student(sid, cid, row.get("label", ""), sex, year, hrmax, resting),  # type: ignore[arg-type]
                         band.upper() if band else None))
    if not problems and not rows:
        problems.append("line 2: the file has no students")
    if problems:
        raise RosterImportError(problems)
    return rows


def import_roster(db: sqlite_utils.Database, rows: Sequence[tuple[Student, str | None]], actor: str) -> dict[str, int]:
    """Insert or update students and set their bands (inside the caller's transaction)."""
    created = updated = bands = 0
    for s, band in rows:
        exists = db.execute("SELECT 1 FROM pe_students WHERE student_id = ?", [s.student_id]).fetchone()
        db.execute(
            "INSERT INTO pe_students (student_id, class_id, label, sex, birth_year, hrmax_measured, resting_hr)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (student_id) DO UPDATE SET class_id = excluded.class_id,"
            " label = excluded.label, sex = excluded.sex, birth_year = excluded.birth_year,"
            " hrmax_measured = excluded.hrmax_measured, resting_hr = excluded.resting_hr",
            [s.student_id, s.class_id, s.label, s.sex, s.birth_year, s.hrmax_measured, s.resting_hr],
        )
        created, updated = (created, updated + 1) if exists else (created + 1, updated)
        # a student who moved class leaves the old class's band behind
        db.execute("DELETE FROM pe_bands WHERE student_id = ? AND class_id != ?", [s.student_id, s.class_id])
        if band is not None:
            db.execute("DELETE FROM pe_bands WHERE student_id = ? OR (class_id = ? AND band_id = ?)",
                       [s.student_id, s.class_id, band])
            db.execute("INSERT INTO pe_bands (student_id, class_id, band_id) VALUES (?, ?, ?)",
                       [s.student_id, s.class_id, band])
            bands += 1
    classes = len({s.class_id for s, _ in rows})
    audit_row(db, actor, "pe.roster.import", f"classes={classes} created={created} updated={updated} bands={bands}")
    return {"classes": classes, "created": created, "updated": updated, "bands": bands}


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
