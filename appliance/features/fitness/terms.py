"""School terms and grades: the two keys every fitness score is filed under.

The standard scores a student against the tables of their grade, and the archive compares terms, so
both must be right without a teacher typing them in: a grade set by hand wins, then the grade in the
class id ("7-2" is 初一 2 班), then the grade a child born that year is normally in.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

GradeSource = Literal["set", "class", "birth_year"]

_CLASS_GRADE = re.compile(r"(?:^|[^0-9])([1-9]|1[0-2])-[0-9]+$")


def term_of(day: date) -> str:
    """``YYYY-autumn`` for September-January (January closes the autumn term), else ``YYYY-spring``."""
    if day.month >= 9:
        return f"{day.year}-autumn"
    if day.month == 1:
        return f"{day.year - 1}-autumn"
    return f"{day.year}-spring"


def school_year_start(day: date) -> int:
    """The calendar year in which the school year containing ``day`` began (in September)."""
    return day.year if day.month >= 9 else day.year - 1


def grade_from_class(class_id: str) -> int | None:
    match = _CLASS_GRADE.search(class_id)
    return int(match.group(1)) if match else None


def grade_from_birth_year(birth_year: int, day: date) -> int:
    """Children start grade 1 in the September after they turn 6 (born by 31 August); clamped to 1-12."""
    return max(1, min(12, school_year_start(day) - birth_year - 5))


def grade_of(set_grade: int | None, class_id: str, birth_year: int, day: date) -> tuple[int, GradeSource]:
    if set_grade is not None:
        return set_grade, "set"
    from_class = grade_from_class(class_id)
    if from_class is not None:
        return from_class, "class"
    return grade_from_birth_year(birth_year, day), "birth_year"
