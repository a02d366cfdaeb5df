"""A class's weak knowledge points: error rate per point against the class's own mean.

Error is measured in lost points (a half-right multiple choice is half an error), over every graded
answer tagged with the point; answers still waiting for the teacher's review are left out rather than
guessed. Sorted weakest first, which is the order a teacher plans tomorrow's review lesson in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SUPPRESS_BELOW = 5  # cells about fewer students than this never leave the box (privacy)


@dataclass(frozen=True)
class GradedItem:
    student_id: str
    question_id: str
    points: float
    score: float
    knowledge_points: tuple[str, ...]


def weakness_map(items: Iterable[GradedItem]) -> dict[str, Any]:
    lost: dict[str, float] = defaultdict(float)
    attempts: dict[str, int] = defaultdict(int)
    wrong: dict[str, set[str]] = defaultdict(set)
    students: dict[str, set[str]] = defaultdict(set)
    total_lost = 0.0
    total = 0
    for it in items:
        share = max(0.0, min(1.0, 1 - it.score / it.points)) if it.points else 0.0
        total_lost += share
        total += 1
        for kp in it.knowledge_points:
            lost[kp] += share
            attempts[kp] += 1
            students[kp].add(it.student_id)
            if share > 0:
                wrong[kp].add(it.student_id)
    mean = total_lost / total if total else 0.0
    rows: list[dict[str, Any]] = []
    for kp in attempts:
        rate = lost[kp] / attempts[kp]
        rows.append({"kp": kp, "error_rate": round(rate, 3), "attempts": attempts[kp],
                     "students": len(students[kp]), "students_wrong": len(wrong[kp]),
                     "vs_mean": round(rate - mean, 3)})
    rows.sort(key=lambda r: (-r["error_rate"], r["kp"]))
    return {"class_mean_error_rate": round(mean, 3), "knowledge_points": rows}


def kp_records(class_id: str, assignment_id: str, subject: str, date: str, items: list[GradedItem]) -> list[dict[str, Any]]:
    """homework.kp_aggregate payloads: one per knowledge point; cells under 5 students carry no figures."""
    wm = weakness_map(items)
    out = []
    for row in wm["knowledge_points"]:
        base = {"assignment_id": assignment_id, "class_id": class_id, "subject": subject, "date": date, "kp": row["kp"]}
        if row["students"] < SUPPRESS_BELOW:
            out.append({**base, "suppressed": True})
        else:
            out.append({**base, "suppressed": False, "students": row["students"], "attempts": row["attempts"],
                        "error_rate": row["error_rate"], "students_wrong": row["students_wrong"],
                        "class_mean_error_rate": wm["class_mean_error_rate"]})
    return out
