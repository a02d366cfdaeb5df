"""Who wears which band: the class roster, band assignments and the store schema of Smart PE.

Students are pseudonyms (``student_id``) with a wall label such as "12号"; real names never enter this
table, so nothing here can leak a child's identity to the county or to a photo of the wall.
"""

from __future__ import annotations

import random
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
    """Every student with the band they wear (if any), in wall order (label number, then id)."""
    rows = db.execute(
        "SELECT s.student_id, s.class_id, s.label, s.sex, s.birth_year, s.hrmax_measured, s.resting_hr, b.band_id"
        " FROM pe_students s LEFT JOIN pe_bands b ON b.student_id = s.student_id"
    ).fetchall()
    students = [Student(*row) for row in rows]
    return sorted(students, key=lambda s: (_label_number(s.label), s.student_id))


def _label_number(label: str) -> int:
    digits = "".join(ch for ch in label if ch.isdigit())
    return int(digits) if digits else 10**6


def assign_band(db: sqlite_utils.Database, band_id: str, student_id: str, actor: str = "teacher") -> str | None:
    """Give ``band_id`` to ``student_id`` inside the caller's transaction; returns whom it was taken from.

    When the band was on someone else, that student gets this student's old band (a swap), so a teacher
    fixing two mixed-up bands does it in one tap and nobody is left half-assigned.
    """
    if db.execute("SELECT 1 FROM pe_students WHERE student_id = ?", [student_id]).fetchone() is None:
        raise KeyError(f"no student {student_id!r} in the roster")
    row = db.execute("SELECT student_id FROM pe_bands WHERE band_id = ?", [band_id]).fetchone()
    previous_wearer: str | None = row[0] if row else None
    if previous_wearer == student_id:
        return None
    row = db.execute("SELECT band_id FROM pe_bands WHERE student_id = ?", [student_id]).fetchone()
    old_band: str | None = row[0] if row else None
    db.execute("DELETE FROM pe_bands WHERE band_id = ? OR student_id = ?", [band_id, student_id])
    db.execute("INSERT INTO pe_bands (band_id, student_id) VALUES (?, ?)", [band_id, student_id])
    if previous_wearer is not None and old_band is not None:
        db.execute("INSERT INTO pe_bands (band_id, student_id) VALUES (?, ?)", [old_band, previous_wearer])
    detail = f"band={band_id} student={student_id}"
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
    fills up the moment the simulator starts. A roster that already exists is left alone.
    """
    if db.execute("SELECT 1 FROM pe_students LIMIT 1").fetchone() is not None:
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
            db.execute("INSERT INTO pe_bands (band_id, student_id) VALUES (?, ?)", [band_ids[n - 1], sid])
    audit_row(db, "demo", "pe.roster.seed", f"class={class_id} students={students} bands={min(students, len(band_ids))}")
    return students
