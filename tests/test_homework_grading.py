"""Grading rules: partial credit for multiple choice, numbers with tolerance and fractions, normalised words."""

from __future__ import annotations

from fractions import Fraction

import pytest

from appliance.features.homework.grading import choice_points, grade, normalise_text, parse_number
from appliance.features.homework.reading import resolve
from appliance.features.homework.template import Question

BOX = (10.0, 10.0, 90.0, 11.0)
OPTS = [{"label": lab, "box_mm": (12.0 + 20 * i, 11.0, 14.0, 8.0)} for i, lab in enumerate("ABCD")]


def q(**kw: object) -> Question:
    base: dict[str, object] = {"id": "q", "points": 4, "box_mm": BOX}
    base.update(kw)
    return Question.model_validate(base)


@pytest.mark.parametrize(("partial", "given", "points"), [
    ("subset_half", "ACD", 4), ("subset_half", "AC", 2), ("subset_half", "A", 2), ("subset_half", "AB", 0),
    ("subset_half", "ABCD", 0), ("subset_half", "", 0),
    ("per_option", "AC", 2.67), ("per_option", "A", 1.33), ("per_option", "AD", 2.67), ("per_option", "ACB", 0),
    ("none", "AC", 0), ("none", "ACD", 4),
])
def test_multiple_choice_partial_credit(partial: str, given: str, points: float) -> None:
    mc = q(type="multiple_choice", answer="ACD", partial=partial, options=OPTS)
    assert choice_points(given, mc) == pytest.approx(points, abs=0.01)


def test_single_choice_and_true_false() -> None:
    sc = q(type="single_choice", answer="B", options=OPTS)
    assert grade(sc, "B") == (4, True) and grade(sc, "C") == (0, False) and grade(sc, None) == (0, False)
    tf = q(type="true_false", answer="F", options=[{"label": "T", "box_mm": (12, 11, 18, 8)},
                                                  {"label": "F", "box_mm": (40, 11, 18, 8)}])
    assert grade(tf, "F") == (4, True) and grade(tf, "T") == (0, False)


@pytest.mark.parametrize(("text", "value"), [
    ("42", Fraction(42)), ("3.5", Fraction(7, 2)), ("-0.25", Fraction(-1, 4)), ("3/4", Fraction(3, 4)),
    ("６/８", Fraction(3, 4)), ("−3", Fraction(-3)), (" 1 000 ", Fraction(1000)), ("1,000", Fraction(1000)),
    ("１２。", Fraction(12)), ("abc", None), ("3/0", None), ("", None), ("1.2.3", None),
])
def test_parse_number(text: str, value: Fraction | None) -> None:
    assert parse_number(text) == value


def test_numeric_tolerance_fractions_and_accept() -> None:
    n = q(type="numeric", answer="6.3", tolerance=0.05)
    assert grade(n, "6.30")[1] and grade(n, "6.34")[1] and not grade(n, "6.36")[1]
    frac = q(type="numeric", answer="3/4", accept=["0.75"])
    assert grade(frac, "6/8")[1] and grade(frac, ".75")[1] and not grade(frac, "3/5")[1]
    exact = q(type="numeric", answer="80")
    assert grade(exact, "８０")[1] and grade(exact, "80.0")[1] and not grade(exact, "8O")[1]


def test_short_text_normalisation() -> None:
    st = q(type="short_text", answer="宽", accept=["宽度", "width"])
    for given in ("宽", " 宽 ", "宽\u3000", "宽。", "宽度", "Ｗｉｄｔｈ", "WIDTH"):
        assert grade(st, given) == (4, True), given
    assert grade(st, "长")[1] is False
    assert normalise_text(" ＡＢ　c ，") == "abc"


def test_free_answers_are_the_teachers() -> None:
    free = q(type="free", points=10)
    assert grade(free, "anything") == (None, None)
    assert resolve(free, "8").score == 8.0
    with pytest.raises(ValueError):
        resolve(free, "11")
    sc = q(type="single_choice", answer="B", options=OPTS)
    assert resolve(sc, " b ").score == 4 and resolve(sc, "b").given == "B"
