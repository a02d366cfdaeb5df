"""Choice marks read from stroke geometry: clear marks are sure, doubtful ones say so (and go to review)."""

from __future__ import annotations

from appliance.features.homework import BUNDLED_TEMPLATES
from appliance.features.homework.marks import read_marks
from appliance.features.homework.reading import RecognizerSlot, read_answer
from appliance.features.homework.template import load_template

SHEET = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
Q1 = SHEET.question("q1")  # single choice A-D
Q9 = SHEET.question("q9")  # multiple choice, answer AC
Q11 = SHEET.question("q11")  # true/false


def box(q, label):  # type: ignore[no-untyped-def]
    return next(o.box_mm for o in q.options if o.label == label)


def tick(b):  # type: ignore[no-untyped-def]
    x, y, w, h = b
    return [[(x + 0.2 * w, y + 0.5 * h), (x + 0.4 * w, y + 0.85 * h), (x + 0.85 * w, y + 0.1 * h)]]


def fill(b):  # type: ignore[no-untyped-def]
    x, y, w, h = b
    return [[(x + 0.1 * w + (i % 2) * 0.8 * w, y + 0.1 * h + i * 0.11 * h) for i in range(8)]]


def test_clear_marks_are_read_with_high_confidence() -> None:
    for label in "ABCD":
        for shape in (tick, fill):
            m = read_marks(Q1, shape(box(Q1, label)))
            assert m.given == label and m.confidence >= 0.95, (label, shape, m)
    m = read_marks(Q9, fill(box(Q9, "A")) + fill(box(Q9, "C")))
    assert m.given == "AC" and m.confidence >= 0.95
    assert read_marks(Q11, tick(box(Q11, "F"))).given == "F"


def test_a_mark_straddling_two_boxes_is_doubtful() -> None:
    b, c = box(Q1, "B"), box(Q1, "C")
    mid = (b[0] + b[2] + c[0]) / 2
    straddle = [[(mid - 7, b[1] + 2), (mid + 7, b[1] + 6), (mid - 7, b[1] + 4), (mid + 7, b[1] + 3)]]
    m = read_marks(Q1, straddle)
    assert m.confidence < 0.6 and {m.given, *(a for a, _ in m.alternatives)} >= {"B", "C"}


def test_two_marks_on_single_choice_and_faint_marks_are_doubtful() -> None:
    two = read_marks(Q1, fill(box(Q1, "A")) + fill(box(Q1, "D")))
    assert two.confidence < 0.5 and two.alternatives
    x, y, _w, _h = box(Q9, "B")
    faint = [[(x + 3, y + 3), (x + 4.5, y + 3.5)]]  # 1.6 mm: neither clearly a mark nor nothing
    m = read_marks(Q9, fill(box(Q9, "A")) + fill(box(Q9, "C")) + faint)
    assert m.given == "AC" and m.confidence <= 0.6 and m.alternatives[0][0] == "ABC"


def test_writing_instead_of_marking_is_doubtful() -> None:
    a = box(Q1, "A")  # a word written in the gap between options A and B, in no option box
    words = [[(a[0] + a[2] + 1.2 + i * 0.3, a[1] + 1 + (i % 3) * 2) for i in range(20)]]
    assert read_marks(Q1, words).confidence <= 0.3


def test_read_answer_routes_doubt_to_review_and_blank_to_zero() -> None:
    slot = RecognizerSlot(lambda: (_ for _ in ()).throw(AssertionError("marks need no recognizer")))
    assert read_answer(Q1, [], slot, 0.9).status == "blank"
    clear = read_answer(Q1, fill(box(Q1, "D")), slot, 0.9)
    assert (clear.status, clear.given, clear.score) == ("graded", "D", 3)
    doubtful = read_answer(Q1, fill(box(Q1, "A")) + fill(box(Q1, "D")), slot, 0.9)
    assert doubtful.status == "review" and doubtful.score is None
