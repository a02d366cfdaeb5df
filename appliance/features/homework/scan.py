"""Reading a scanned or photographed answer sheet: what each box holds, how sure we are, and the crop.

``read_sheet`` registers the page on its corner marks (:mod:`models.sheets`), then per question:

* choices by OMR: the share of dark pixels inside each option box (its printed border left out). Below
  :data:`BLANK_BELOW` an option is empty, from :data:`MARKED_FROM` it is marked (a tick with a ballpoint
  covers ~8-15 % of the box, pencil filling 50-90 %), in between it is "unclear". Exactly one marked option
  of a single-choice question is a confident answer; several, or any unclear one, goes to review;
* numeric and short-text answers by the recognizer (``number`` / ``text``), whose calibrated confidence
  is passed through; an empty box is ``blank``;
* free answers are cropped for the teacher, never read;
* the 学号 box by the recognizer as ``digits``.

Grading is the homework feature's job. Everything here is blocking CPU work (registration ~50 ms,
~15 ms per recognised box): call it in an executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from appliance.features.homework.template import CHOICE_TYPES, Question, Template
from models.handwriting import Expect, Recognizer
from models.sheets import Registered, crop_mm, fill_ratio, register, remove_box_lines
from models.sheets.files import DEFAULT_DPI, load_page

PX_PER_MM = 8.0  # pages are warped to 203 dpi: a 7 mm digit is ~56 px tall
OPTION_INSET_MM = 1.2  # leaves the printed border (and half a millimetre of registration error) out
ANSWER_INSET_MM = 0.9
BLANK_BELOW = 0.03
MARKED_FROM = 0.07
EMPTY_BOX_INK = 0.004  # an answer box with less dark area than this is blank
CONF_CLEAR = 0.98  # one option clearly marked, the others clearly empty
CONF_WEAK = 0.93  # one marked, but lightly (a faint tick)
CONF_BLANK = 0.97
CONF_DOUBT = 0.5  # several marks or an unclear one: the teacher decides

Status = Literal["blank", "marked", "several", "unclear", "read", "free"]


@dataclass(frozen=True)
class ScannedAnswer:
    """One question as read from paper. ``given`` is None when blank (and for free answers)."""

    question_id: str
    type: str
    given: str | None  # "B", "AC", "T", "42", "宽"
    confidence: float
    status: Status
    crop: np.ndarray = field(repr=False)
    fills: dict[str, float] = field(default_factory=dict)  # option label -> fill ratio (choices)
    alternatives: tuple[tuple[str, float], ...] = ()
    engine: str = ""


@dataclass(frozen=True)
class ScannedAnswers:
    """Everything read from one page; ``page`` is the registered, upright page image for the review UI."""

    template_id: str
    page_index: int
    student_number: str | None
    student_confidence: float
    student_crop: np.ndarray | None = field(repr=False)
    answers: dict[str, ScannedAnswer]
    quarter_turns: int
    page: np.ndarray = field(repr=False)


def load_image(source: str | Path | np.ndarray, page_index: int = 0, dpi: float = DEFAULT_DPI) -> np.ndarray:
    """A grey page image from an array (grey or BGR), an image file or page ``page_index`` of a PDF."""
    if isinstance(source, np.ndarray):
        return source
    return load_page(Path(source), page_index, dpi)


def read_sheet(
    source: str | Path | np.ndarray,
    template: Template,
    recognizer: Recognizer,
    page_index: int = 0,
) -> ScannedAnswers:
    """Read one page against ``template``. Raises :class:`models.sheets.RegistrationError` when the corner
    marks are not found and :class:`models.sheets.files.UnreadableFile` when the file cannot be decoded."""
    image = load_image(source, page_index)
    reg = register(image, template.page.size_mm, PX_PER_MM)
    answers = {q.id: read_question(reg, q, recognizer) for q in template.questions}
    number, conf, crop = None, 0.0, None
    if template.student_box_mm is not None:
        crop = _answer_crop(reg, template.student_box_mm)
        if fill_ratio(crop, reg.paper) >= EMPTY_BOX_INK:
            rec = recognizer.recognize_image(crop, "digits")
            number, conf = (rec.text or None), rec.confidence
    return ScannedAnswers(template.id, page_index, number, conf, crop, answers, reg.quarter_turns, reg.page)


def read_question(reg: Registered, q: Question, recognizer: Recognizer) -> ScannedAnswer:
    """One question from a registered page (see the module docstring for the rules)."""
    if q.type in CHOICE_TYPES:
        return read_choice(reg, q)
    crop = _answer_crop(reg, q.box_mm)
    if q.type == "free":
        return ScannedAnswer(q.id, q.type, None, 0.0, "free", crop, engine="teacher")
    if fill_ratio(crop, reg.paper) < EMPTY_BOX_INK:
        return ScannedAnswer(q.id, q.type, None, CONF_BLANK, "blank", crop, engine="omr")
    expect: Expect = "number" if q.type == "numeric" else "text"
    rec = recognizer.recognize_image(crop, expect)
    if not rec.text:
        return ScannedAnswer(q.id, q.type, None, rec.confidence, "unclear", crop, alternatives=rec.alternatives,
                             engine=rec.engine)
    return ScannedAnswer(q.id, q.type, rec.text, rec.confidence, "read", crop, alternatives=rec.alternatives,
                         engine=rec.engine)


def read_choice(reg: Registered, q: Question) -> ScannedAnswer:
    """OMR over the option boxes: blank, one, several or unclear marks, with a confidence."""
    fills = {o.label: round(fill_ratio(reg.crop(o.box_mm, OPTION_INSET_MM), reg.paper), 4) for o in q.options}
    crop = reg.crop(q.box_mm)
    marked = [lbl for lbl, f in fills.items() if f >= MARKED_FROM]
    unclear = [lbl for lbl, f in fills.items() if BLANK_BELOW <= f < MARKED_FROM]
    if unclear:
        guess = "".join(marked) or max(fills, key=lambda k: fills[k])
        return ScannedAnswer(q.id, q.type, guess, CONF_DOUBT, "unclear", crop, fills, engine="omr")
    if not marked:
        return ScannedAnswer(q.id, q.type, None, CONF_BLANK, "blank", crop, fills, engine="omr")
    given = "".join(marked)
    if len(marked) > 1 and q.type != "multiple_choice":
        return ScannedAnswer(q.id, q.type, given, CONF_DOUBT, "several", crop, fills, engine="omr")
    weakest = min(fills[lbl] for lbl in marked)
    conf = CONF_CLEAR if weakest >= 2 * MARKED_FROM else CONF_WEAK
    return ScannedAnswer(q.id, q.type, given, conf, "marked", crop, fills, engine="omr")


def _answer_crop(reg: Registered, box_mm: tuple[float, float, float, float]) -> np.ndarray:
    return remove_box_lines(crop_mm(reg.page, box_mm, reg.px_per_mm, ANSWER_INSET_MM), reg.paper)
