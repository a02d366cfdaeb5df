"""An open assignment in memory: one sheet per student, ink per answer box, answers as they are read.

Pure state and views (no I/O): the feature feeds strokes in and persists what changes. Keeping the
live sheets in memory is what lets 45 pens write at once on a small box; the store holds every
answer and state change, so a restart rebuilds the same picture (:func:`persist.load_open`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from appliance.features.homework.grading import Answer
from appliance.features.homework.routing import Stroke, WritingClock
from appliance.features.homework.template import Template

SheetState = Literal["not_started", "writing", "finished"]


@dataclass
class Sheet:
    """One student's paper for one assignment."""

    student_id: str
    label: str
    pen_id: str | None
    state: SheetState = "not_started"
    source: str = "pen"
    clock: WritingClock = field(default_factory=WritingClock)
    finished_at: float | None = None  # box time
    finished_by: str | None = None  # submit | idle | closed | scan
    last_rx: float | None = None  # box monotonic time of the last stroke (idle detection)
    ink: dict[str, list[Stroke]] = field(default_factory=dict)
    ink_version: dict[str, int] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    read_version: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # boxes with ink not yet flushed to the store
    inflight: dict[str, int] = field(default_factory=dict)  # box -> ink version being read now
    current: str | None = None  # the box being written in now
    revision: int = 0  # bumps with every score change sent to the county
    reported: bool = False  # its homework.score has gone to the outbox

    @property
    def answered(self) -> int:
        return sum(1 for q in self.ink if self.ink[q]) if self.source == "pen" else sum(
            1 for a in self.answers.values() if a.status != "blank")

    @property
    def score(self) -> float | None:
        scores = [a.score for a in self.answers.values() if a.score is not None]
        return round(sum(scores), 2) if scores else None

    @property
    def needs_review(self) -> int:
        return sum(1 for a in self.answers.values() if a.status == "review")

    def unread(self) -> list[str]:
        """Boxes whose latest ink has no answer yet."""
        return [q for q, v in self.ink_version.items() if self.read_version.get(q) != v]


@dataclass
class Assignment:
    assignment_id: str
    template: Template
    class_id: str
    opened_at: float
    opened_by: str = "teacher"
    closed_at: float | None = None
    results_ready_at: float | None = None
    last_stroke_at: float | None = None  # box time the latest stroke for this assignment arrived
    sheets: dict[str, Sheet] = field(default_factory=dict)
    reading: int = 0  # boxes being read in the executor right now

    @property
    def state(self) -> Literal["open", "closed"]:
        return "closed" if self.closed_at is not None else "open"

    def with_pens(self) -> list[Sheet]:
        """Whose sheets the results wait for: students with a pen (after collection: those who wrote)."""
        if self.state == "closed":
            return [s for s in self.sheets.values() if s.state != "not_started"]
        return [s for s in self.sheets.values() if s.pen_id or s.state != "not_started"]

    def all_finished(self) -> bool:
        """Every student with a pen (or with a scanned sheet) is finished and nothing is left to read."""
        sheets = self.with_pens()
        return (bool(sheets) or self.state == "closed") and all(s.state == "finished" and not s.unread() for s in sheets) and self.reading == 0

    def summary(self) -> dict[str, Any]:
        sheets = list(self.sheets.values())
        finished = [s for s in sheets if s.state == "finished"]
        scores = [s.score for s in finished if s.score is not None]
        return {
            "students": len(sheets),
            "not_started": sum(s.state == "not_started" for s in sheets),
            "writing": sum(s.state == "writing" for s in sheets),
            "finished": len(finished),
            "mean_score": round(statistics.fmean(scores), 2) if scores else None,
            "median_score": round(statistics.median(scores), 2) if scores else None,
            "needs_review": sum(s.needs_review for s in sheets),
        }

    def student_row(self, s: Sheet) -> dict[str, Any]:
        return {"student_id": s.student_id, "label": s.label, "state": s.state, "answered": s.answered,
                "score": s.score, "needs_review": s.needs_review, "active_s": round(s.clock.active_s, 1),
                "elapsed_s": round(s.clock.elapsed_s, 1), "started_at": s.clock.first_at,
                "finished_at": s.finished_at}

    def question_rows(self) -> list[dict[str, Any]]:
        rows = []
        for q in self.template.questions:
            answers = [s.answers[q.id] for s in self.sheets.values() if q.id in s.answers]
            scored = [a for a in answers if a.score is not None and a.status != "blank"]
            scored_all = [a for a in answers if a.score is not None]
            dist = Counter(a.given for a in answers if a.given)
            by_answer: dict[str, list[str]] = {}
            for s in self.sheets.values():
                given = s.answers[q.id].given if q.id in s.answers else None
                if given:
                    by_answer.setdefault(given, []).append(s.student_id)
            rows.append({
                "id": q.id, "type": q.type, "points": q.points, "prompt": q.prompt, "answer": q.answer,
                "answered": sum(1 for s in self.sheets.values() if s.ink.get(q.id)) + sum(
                    1 for s in self.sheets.values() if s.source != "pen" and q.id in s.answers
                    and s.answers[q.id].status != "blank"),
                "correct_rate": round(sum(a.score or 0 for a in scored_all) / (q.points * len(scored_all)), 3)
                if scored_all and (scored or q.type != "free") else None,
                "distribution": dict(dist.most_common()),
                "students_by_answer": by_answer,
                "knowledge_points": list(q.knowledge_points),
            })
        return rows

    def view(self) -> dict[str, Any]:
        t = self.template
        return {
            "assignment_id": self.assignment_id, "template_id": t.id, "title": t.title, "subject": t.subject,
            "class_id": self.class_id, "state": self.state, "max_points": t.max_points,
            "opened_at": self.opened_at, "closed_at": self.closed_at,
            "results_ready": self.results_ready_at is not None, "results_ready_at": self.results_ready_at,
            "last_stroke_at": self.last_stroke_at,
            "summary": self.summary(),
            "students": [self.student_row(s) for s in self.sheets.values()],
            "questions": self.question_rows(),
        }

    def list_row(self) -> dict[str, Any]:
        return {"assignment_id": self.assignment_id, "template_id": self.template.id, "title": self.template.title,
                "class_id": self.class_id, "state": self.state, "opened_at": self.opened_at,
                "closed_at": self.closed_at, "finished": sum(s.state == "finished" for s in self.sheets.values()),
                "students": len(self.sheets), "results_ready": self.results_ready_at is not None}
