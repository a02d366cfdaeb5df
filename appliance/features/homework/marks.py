"""Reading choice marks from pen geometry: which option boxes carry a mark, and how sure that is.

A tick, a cross, a circle or a filled box all leave ink *inside* one option's printed box, so the
reading needs no handwriting model: it measures the ink length inside each option box. What makes a
reading doubtful is geometry too: one stroke split between two boxes, a faint mark that is neither
clearly there nor clearly absent, ink wandering outside every box, or two marks on a single-choice
question. Doubtful readings get a low confidence and go to the teacher, never graded silently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.features.homework.template import Box, Question

Stroke = Sequence[tuple[float, float]]

MIN_MARK_MM = 3.0  # less ink than this inside a box is not a mark (a pen resting, a stray dot)
FAINT_MM = 1.0  # between this and MIN_MARK_MM: neither clearly a mark nor clearly nothing
MARGIN_MM = 0.8  # a mark may overshoot its printed box a little
DOT_MM = 0.3  # a single-dot stroke counts as this much ink
STEP_MM = 0.5  # segments are measured in pieces this long


@dataclass(frozen=True)
class MarkReading:
    given: str  # marked option labels in printed order ("" when none)
    confidence: float
    alternatives: tuple[tuple[str, float], ...]
    ink_mm: dict[str, float]  # ink length inside each option box (for tests and the review screen)


def _in(box: Box, x: float, y: float, margin: float) -> bool:
    bx, by, bw, bh = box
    return bx - margin <= x <= bx + bw + margin and by - margin <= y <= by + bh + margin


def _where(options: Sequence[tuple[str, Box]], x: float, y: float) -> str | None:
    for label, box in options:  # exact boxes first, then with the overshoot margin
        if _in(box, x, y, 0.0):
            return label
    for label, box in options:
        if _in(box, x, y, MARGIN_MM):
            return label
    return None


def read_marks(question: Question, strokes: Sequence[Stroke]) -> MarkReading:
    """Which of the question's options are marked; confidence reflects how clear-cut the geometry is."""
    options = [(o.label, o.box_mm) for o in question.options]
    ink: dict[str, float] = {label: 0.0 for label, _ in options}
    outside = 0.0
    split_doubt = 0.0  # how badly the worst stroke is split between two options
    for stroke in strokes:
        parts: dict[str | None, float] = {}
        if len(stroke) == 1:
            x, y = stroke[0]
            parts[_where(options, x, y)] = DOT_MM
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            length = math.hypot(x1 - x0, y1 - y0)
            steps = max(1, math.ceil(length / STEP_MM))  # a long segment may cross from one box into another
            for i in range(steps):
                f = (i + 0.5) / steps
                where = _where(options, x0 + f * (x1 - x0), y0 + f * (y1 - y0))
                parts[where] = parts.get(where, 0.0) + length / steps
        for where, length in parts.items():
            if where is None:
                outside += length
            else:
                ink[where] += length
        in_options = sorted((v for k, v in parts.items() if k is not None), reverse=True)
        if len(in_options) >= 2 and in_options[1] >= FAINT_MM:
            split_doubt = max(split_doubt, in_options[1] / (in_options[0] + in_options[1]))
    marked = [label for label, _ in options if ink[label] >= MIN_MARK_MM]
    inside = sum(ink.values())
    total = inside + outside
    confidence = 0.99
    if split_doubt > 0:  # 0.5 = a stroke straddling two boxes evenly: a coin toss
        confidence = min(confidence, 0.99 - 1.1 * split_doubt)
    faint = [label for label, _ in options if FAINT_MM <= ink[label] < MIN_MARK_MM]
    if faint:
        confidence = min(confidence, 0.6)
    if total > 0 and outside / total > 0.4:  # most of the ink is not in any option: writing, not marking
        confidence = min(confidence, 0.99 - outside / total)
    if not marked:
        confidence = min(confidence, 0.3 if total >= FAINT_MM else confidence)
    if question.type != "multiple_choice" and len(marked) > 1:
        confidence = min(confidence, 0.45)
    ranked = sorted(marked, key=lambda lab: -ink[lab])
    if question.type == "multiple_choice":
        given = "".join(label for label, _ in options if label in marked)
        alternatives: list[tuple[str, float]] = []
        for label in faint:  # the reading with the faint mark included is the natural other guess
            alt = "".join(lab for lab, _ in options if lab in marked or lab == label)
            alternatives.append((alt, round(1 - confidence, 2)))
    else:
        given = ranked[0] if ranked else ""
        others = ranked[1:] + [lab for lab in sorted(faint, key=lambda lab: -ink[lab]) if lab not in ranked]
        alternatives = [(lab, round(ink[lab] / inside * (1 - confidence) * 2, 2) if inside else 0.0) for lab in others]
    return MarkReading(given, round(max(0.0, confidence), 3), tuple(alternatives),
                       {k: round(v, 2) for k, v in ink.items()})
