"""The homework feature's tables (owner ``homework`` in the store's migration registry).

Ink stays on the box: it lives in ``hw_answers.ink_json`` (the strokes in mm an answer was read from)
and ``hw_ink`` (every box's latest ink, flushed every few seconds so a restart loses at most that much
of a box still being written), and never goes into an outbox record. Students are pseudonyms; a label such as "12号" is what the kiosk shows.
"""

from __future__ import annotations

from appliance.store import Migration, register_migration

SCHEMA = """
CREATE TABLE IF NOT EXISTS hw_students (
    student_id TEXT PRIMARY KEY,
    class_id TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hw_pens (
    student_id TEXT PRIMARY KEY REFERENCES hw_students (student_id) ON DELETE CASCADE,
    class_id TEXT NOT NULL,
    pen_id TEXT NOT NULL,
    UNIQUE (class_id, pen_id)
);
CREATE TABLE IF NOT EXISTS hw_assignments (
    assignment_id TEXT PRIMARY KEY,
    template_id TEXT NOT NULL,
    template_json TEXT NOT NULL,
    class_id TEXT NOT NULL,
    title TEXT NOT NULL,
    subject TEXT NOT NULL,
    grade INTEGER NOT NULL,
    opened_at REAL NOT NULL,
    opened_by TEXT NOT NULL,
    closed_at REAL,
    closed_by TEXT,
    results_ready_at REAL,
    last_stroke_at REAL
);
CREATE TABLE IF NOT EXISTS hw_sheets (
    assignment_id TEXT NOT NULL REFERENCES hw_assignments (assignment_id),
    student_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('not_started', 'writing', 'finished')),
    source TEXT NOT NULL DEFAULT 'pen',
    started_at REAL,
    last_stroke_at REAL,
    finished_at REAL,
    finished_by TEXT,
    active_s REAL NOT NULL DEFAULT 0,
    elapsed_s REAL NOT NULL DEFAULT 0,
    score REAL,
    needs_review INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (assignment_id, student_id)
);
CREATE TABLE IF NOT EXISTS hw_answers (
    assignment_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    given TEXT,
    confidence REAL,
    alternatives_json TEXT NOT NULL DEFAULT '[]',
    engine TEXT NOT NULL DEFAULT '',
    score REAL,
    correct INTEGER,
    status TEXT NOT NULL CHECK (status IN ('graded', 'review', 'blank', 'overridden')),
    ink_json TEXT NOT NULL DEFAULT '[]',
    updated_at REAL NOT NULL,
    PRIMARY KEY (assignment_id, student_id, question_id),
    FOREIGN KEY (assignment_id, student_id) REFERENCES hw_sheets (assignment_id, student_id)
);
CREATE TABLE IF NOT EXISTS hw_reviews (
    review_id INTEGER PRIMARY KEY AUTOINCREMENT,
    assignment_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    resolved_at REAL,
    resolved_by TEXT,
    value TEXT
);
CREATE TABLE IF NOT EXISTS hw_ink (
    assignment_id TEXT NOT NULL,
    student_id TEXT NOT NULL,
    question_id TEXT NOT NULL,
    ink_json TEXT NOT NULL,
    PRIMARY KEY (assignment_id, student_id, question_id)
);
CREATE INDEX IF NOT EXISTS hw_reviews_open ON hw_reviews (resolved_at, assignment_id);
CREATE INDEX IF NOT EXISTS hw_sheets_student ON hw_sheets (student_id)
"""

register_migration(Migration(
    "homework", 1, SCHEMA,
    "Pen homework: roster and pens, assignments, sheets, answers with their ink, review queue"))
