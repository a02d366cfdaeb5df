"""Homework time under the "double reduction" policy (双减): what the pens say children really spend.

Active time is pen-on-paper time plus pauses under 30 s (thinking); elapsed is first to last stroke of
each sheet, summed over the day's sheets (a break between two subjects is not homework). Limits are
per grade band: none for grades 1-2, 60 minutes on average for grades 3-6, 90 for junior middle school.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from appliance.features.homework.weakness import SUPPRESS_BELOW


@dataclass(frozen=True)
class TimeItem:
    student_id: str
    date: str  # YYYY-MM-DD in the school's time zone
    subject: str
    active_s: float
    elapsed_s: float


def grade_band(grade: int | None, limits: Mapping[str, int]) -> tuple[str | None, int | None]:
    """The configured band ("3-6") holding this grade and its daily limit in minutes."""
    if grade is None:
        return None, None
    for band, minutes in limits.items():
        lo, _, hi = band.partition("-")
        try:
            if int(lo) <= grade <= int(hi or lo):
                return band, minutes
        except ValueError:
            continue
    return None, None


def p90(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def over(minutes: float, limit: int | None) -> bool:
    """Over the limit; a limit of 0 (grades 1-2) means any written homework at all is over."""
    return limit is not None and (minutes > limit if limit > 0 else minutes > 0)


def per_student_day(items: Iterable[TimeItem]) -> dict[tuple[str, str], tuple[float, float]]:
    """(student, date) -> (active minutes, elapsed minutes) across all subjects."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for it in items:
        a = acc[(it.student_id, it.date)]
        a[0] += it.active_s / 60
        a[1] += it.elapsed_s / 60
    return {k: (v[0], v[1]) for k, v in acc.items()}


def workload_view(items: list[TimeItem], dates: list[str], today: str, limit: int | None,
                  labels: Mapping[str, str]) -> dict[str, Any]:
    totals = per_student_day(items)
    days = []
    for d in dates:
        mins = [v[0] for (_sid, day), v in totals.items() if day == d]
        mean = sum(mins) / len(mins) if mins else 0.0
        days.append({"date": d, "students": len(mins), "mean_minutes": round(mean, 1),
                     "p90_minutes": round(p90(mins), 1), "over_limit": bool(mins) and over(mean, limit),
                     "students_over_limit": sum(over(m, limit) for m in mins)})
    students = []
    for sid, label in labels.items():
        active, elapsed = totals.get((sid, today), (0.0, 0.0))
        students.append({"student_id": sid, "label": label, "today_active_minutes": round(active, 1),
                         "today_elapsed_minutes": round(elapsed, 1), "over_limit": over(active, limit)})
    by_subject: dict[str, list[float]] = defaultdict(list)
    per_subject_day: dict[tuple[str, str, str], float] = defaultdict(float)
    for it in items:
        per_subject_day[(it.subject, it.student_id, it.date)] += it.active_s / 60
    for (subject, _sid, _d), m in per_subject_day.items():
        by_subject[subject].append(m)
    return {"days": days, "students": students,
            "by_subject": [{"subject": s, "mean_minutes": round(sum(v) / len(v), 1)} for s, v in sorted(by_subject.items())]}


def time_records(class_id: str, grade: int, limits: Mapping[str, int], items: list[TimeItem]) -> list[dict[str, Any]]:
    """homework.time_aggregate payloads per (date, subject); groups under 5 students carry no figures."""
    band, limit = grade_band(grade, limits)
    totals = per_student_day(items)
    groups: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for it in items:
        groups[(it.date, it.subject)][it.student_id] += it.active_s / 60
    out = []
    for (d, subject), per_student in sorted(groups.items()):
        base = {"class_id": class_id, "date": d, "subject": subject, "grade": grade, "grade_band": band,
                "limit_minutes": limit}
        mins = list(per_student.values())
        if len(mins) < SUPPRESS_BELOW:
            out.append({**base, "suppressed": True})
            continue
        day_totals = [totals[(sid, d)][0] for sid in per_student]
        out.append({**base, "suppressed": False, "students": len(mins), "mean_minutes": round(sum(mins) / len(mins), 1),
                    "p90_minutes": round(p90(mins), 1),
                    "day_mean_minutes": round(sum(day_totals) / len(day_totals), 1),
                    "students_over_limit": sum(over(m, limit) for m in day_totals)})
    return out
