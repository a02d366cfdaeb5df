"""Turning one answer box's ink into an :class:`Answer`: marks by geometry, words by the recognizer.

Runs in an executor (recognition is blocking CPU work). Anything read with a confidence under
``review_below`` becomes a review item with no score: a doubtful reading is never graded silently.
Free answers always go to the teacher.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence

from appliance.features.homework.grading import Answer, grade, parse_number
from appliance.features.homework.marks import read_marks
from appliance.features.homework.template import CHOICE_TYPES, Question
from models.handwriting import Recognition, Recognizer

log = logging.getLogger("classroom.homework.reading")

Stroke = list[tuple[float, float]]
BLANK_INK_MM = 0.5  # less ink than this in a whole box is a pen touching the paper, not an answer


def ink_length(strokes: Sequence[Sequence[tuple[float, float]]]) -> float:
    total = 0.0
    for s in strokes:
        total += sum(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 for (x0, y0), (x1, y1) in itertools.pairwise(s))
        if len(s) == 1:
            total += 0.3
    return total


def default_recognizer() -> Recognizer:
    """The on-device handwriting recognizer (``models.handwriting.ocr.OcrRecognizer``), built on first use."""
    from models.handwriting.ocr import OcrRecognizer

    return OcrRecognizer()


class RecognizerSlot:
    """One recognizer for the feature's lifetime, built lazily on the worker thread that first needs it.

    Loading an ONNX model takes seconds: doing it in ``__init__`` would stall the daemon's start, and
    doing it on the event loop would freeze the kiosk.
    """

    def __init__(self, factory: Callable[[], Recognizer] = default_recognizer) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._recognizer: Recognizer | None = None
        self.error: str | None = None

    def get(self) -> Recognizer:
        with self._lock:
            if self._recognizer is None:
                self._recognizer = self._factory()
            return self._recognizer


def read_answer(question: Question, strokes: Sequence[Stroke], slot: RecognizerSlot, review_below: float) -> Answer:
    """Read and grade one box (blocking: call it in an executor)."""
    qid, qtype = question.id, question.type
    if ink_length(strokes) < BLANK_INK_MM:
        return Answer(qid, qtype, None, None, 0.0, False, "blank")
    if qtype == "free":
        return Answer(qid, qtype, None, None, None, None, "review", engine="teacher")
    if qtype in CHOICE_TYPES:
        marks = read_marks(question, strokes)
        given, confidence, alternatives, engine = marks.given, marks.confidence, marks.alternatives, "marks"
    else:
        try:
            rec: Recognition = slot.get().recognize_strokes(
                [list(s) for s in strokes], question.box_mm, "number" if qtype == "numeric" else "text")
        except Exception as exc:  # a model that cannot read this box must not lose the answer
            log.warning("recognition of %s failed (%s); the box goes to the review queue", qid, exc)
            return Answer(qid, qtype, None, None, None, None, "review", engine="error")
        given, confidence, alternatives, engine = rec.text, rec.confidence, rec.alternatives, rec.engine
    if confidence < review_below or not given:
        return Answer(qid, qtype, given or None, confidence, None, None, "review", alternatives, engine)
    score, correct = grade(question, given)
    return Answer(qid, qtype, given, confidence, score, correct, "graded", alternatives, engine)


def resolve(question: Question, value: str) -> Answer:
    """The teacher's reading of a review item, graded by the same rules (confidence 1: a person read it)."""
    if question.type == "free":  # the teacher's points for a free answer, e.g. "8"
        points = parse_number(value)
        if points is None or not 0 <= points <= question.points:
            raise ValueError(f"a free answer's value is the points given, 0 to {question.points:g}")
        pts = float(points)
        return Answer(question.id, question.type, None, 1.0, pts, pts == question.points, "graded", engine="teacher")
    value = value.strip().upper() if question.type in CHOICE_TYPES else value.strip()
    score, correct = grade(question, value)
    return Answer(question.id, question.type, value or None, 1.0, score, correct, "graded" if value else "blank",
                  engine="teacher")
