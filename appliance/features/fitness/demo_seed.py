"""A demo class's fitness archive: last term complete, this term waiting for the camera tests.

Values are drawn from the standard's own tables (a level chosen around a realistic spread, then the
value at that level's threshold), so the demo's results table and archive look like a real class
without anyone inventing plausible-looking numbers by hand.
"""

from __future__ import annotations

import random
import time
from datetime import date

import sqlite_utils

from appliance.features.fitness.terms import term_of
from appliance.features.smart_pe.roster import load_roster
from appliance.fitness import LEVELS, bonus_points, items_for, lower_is_better, score_item
from appliance.fitness.standard import bmi_table, item_table

CAMERA_ITEMS = ("rope_skip_1min", "sit_up_1min", "pull_up")


def _value(item: str, sex: str, grade: int, rng: random.Random) -> float:
    if item == "bmi":
        t = bmi_table(sex, grade)
        lo, hi = t.normal
        return round(rng.uniform(lo, hi) if rng.random() < 0.75 else rng.uniform(hi, hi + 3.0), 1)
    thresholds = item_table(item, sex, grade).thresholds
    level = min(len(LEVELS) - 1, max(0, int(rng.gauss(8, 4))))  # around 72-76 points, as county reports show
    value = float(thresholds[level])
    step = 0.1 if lower_is_better(item) and value < 30 else 1.0
    return round(value + (step if lower_is_better(item) else 0.0) * rng.choice((0, 0, 1)), 1)


def previous_term(day: date) -> date:
    """A day in the term before ``day``'s term (spring ↔ autumn)."""
    year, season = term_of(day).split("-")
    return date(int(year), 4, 15) if season == "autumn" else date(int(year) - 1, 10, 15)


def seed_demo_archive(db: sqlite_utils.Database, class_id: str, today: date, seed: int = 7) -> int:
    """Measurements for every student of ``class_id`` (once): last term all items, this term the hand-measured ones."""
    if db.execute("SELECT 1 FROM fit_measurements m JOIN pe_students s ON s.student_id = m.student_id"
                  " WHERE s.class_id = ? LIMIT 1", [class_id]).fetchone():
        return 0
    rng = random.Random(seed)
    rows = 0
    from appliance.features.fitness.terms import grade_of

    for student in (s for s in load_roster(db) if s.class_id == class_id):
        grade, _ = grade_of(None, student.class_id, student.birth_year, today)
        last = previous_term(today)
        last_grade = grade - 1 if term_of(today).endswith("autumn") else grade  # a new school year began
        for day, g, this_term in ((last, max(1, last_grade), False),
                                  (today, grade, True)):
            term = term_of(day)
            at = time.mktime(day.timetuple()) + 36000
            for item, _weight in items_for(student.sex, g):
                if this_term and item in CAMERA_ITEMS:
                    continue  # tested at the camera stations
                try:
                    value = _value(item, student.sex, g, rng)
                    score, bonus = score_item(item, student.sex, g, value), bonus_points(item, student.sex, g, value)
                except ValueError:  # a table this build does not carry
                    continue
                db.execute("INSERT INTO fit_measurements (student_id, term, grade, item, value, score, bonus,"
                           " measured_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'manual')",
                           [student.student_id, term, g, item, value, score, bonus, at])
                rows += 1
    return rows
