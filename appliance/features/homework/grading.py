"""Scoring one answer against its question: choice rules, numbers with tolerance and fractions, words.

Pure functions with no I/O, so the grading rules can be tested exhaustively and re-applied when a
teacher resolves a review or overrides a score. Whether an answer is *read* reliably is decided before
this (``reading.py``); this module only says how many points a given reading earns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from appliance.features.homework.template import Question

AnswerStatus = Literal["graded", "review", "blank", "overridden"]


@dataclass
class Answer:
    """What a student gave for one question, how sure the reading is, and what it scored."""

    question_id: str
    type: str
    given: str | None
    confidence: float | None
    score: float | None
    correct: bool | None
    status: AnswerStatus
    alternatives: tuple[tuple[str, float], ...] = field(default=())
    engine: str = ""


_SPACES = re.compile(r"\s+")
_TRAILING = "。.，,、；;！!？?"


def normalise_text(text: str) -> str:
    """Full-width to half-width (NFKC), no whitespace (ASCII or ideographic), no trailing punctuation, lower case."""
    t = unicodedata.normalize("NFKC", text)
    t = _SPACES.sub("", t).replace("\u3000", "")
    return t.rstrip(_TRAILING).lower()


_NUMBER = re.compile(r"^([+-]?)(\d+(?:\.\d+)?|\.\d+)(?:/(\d+(?:\.\d+)?))?$")


def parse_number(text: str) -> Fraction | None:
    """'42', '3.5', '-0.25', '3/4', '１２' and '−3' as exact fractions; anything else is None."""
    t = normalise_text(text).replace("−", "-").replace("－", "-").replace("÷", "/").replace("．", ".")
    t = t.replace(",", "") if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", t) else t
    m = _NUMBER.match(t)
    if m is None:
        return None
    sign, num, den = m.groups()
    try:
        value = Fraction(num) / (Fraction(den) if den else 1)
    except ZeroDivisionError:
        return None
    return -value if sign == "-" else value


def numeric_correct(given: str, q: Question) -> bool:
    value = parse_number(given)
    if value is None:
        return False
    tolerance = Fraction(str(q.tolerance)) if q.tolerance else Fraction(0)
    for expected_text in [q.answer or "", *q.accept]:
        expected = parse_number(expected_text)
        if expected is not None and abs(value - expected) <= tolerance:
            return True
    return False


def text_correct(given: str, q: Question) -> bool:
    g = normalise_text(given)
    return bool(g) and any(g == normalise_text(a) for a in [q.answer or "", *q.accept] if a)


def choice_points(given: str, q: Question) -> float:
    """Points for a set of marked option labels under the question's partial-credit rule."""
    if q.type != "multiple_choice":
        return q.points if given == q.answer else 0.0
    chosen, correct = set(given), set(q.answer or "")
    if not chosen:
        return 0.0
    if chosen == correct:
        return q.points
    if chosen - correct:  # any wrong option: nothing, under every rule
        return 0.0
    if q.partial == "subset_half":
        return q.points / 2
    if q.partial == "per_option":
        return round(q.points * len(chosen) / len(correct), 2)
    return 0.0


def grade(q: Question, given: str | None) -> tuple[float | None, bool | None]:
    """(score, fully correct) for a reading the feature trusts; free answers are the teacher's: (None, None)."""
    if q.type == "free":
        return None, None
    if given is None or given == "":
        return 0.0, False
    if q.type in ("single_choice", "multiple_choice", "true_false"):
        pts = choice_points(given, q)
    elif q.type == "numeric":
        pts = q.points if numeric_correct(given, q) else 0.0
    else:
        pts = q.points if text_correct(given, q) else 0.0
    return pts, pts == q.points


def correct_answer_text(q: Question) -> str:
    """The answer as a teacher would write it in an error book."""
    if q.answer is None:
        return "（教师批阅 / teacher grades）"
    return q.answer
