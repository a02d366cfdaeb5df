"""The demo class's homework: what each of 45 simulated pens writes on the demo sheet, as the simulator's plan.

Answers follow realistic per-question error rates (decimals comparison, operation laws, perimeter and
"0 ÷ any number" are where fourth graders slip) scaled by each child's ability, so the weakness map has
a shape worth looking at. A few children leave a doubtful mark (a fill across two option boxes, or two
options filled on a single-choice question) so the review queue is never empty, and one pen is offline
and uploads after class.

Plan format (the pen simulator's ``drivers.smartpen.script``)::

    {"pens": [{"pen_id", "start_delay_s", "offline", "battery",
               "writings": [{"page": [S, O, N, P], "box_mm": [x, y, w, h], "kind", "text"?, "pause_before_s"}]}]}

Kinds used: ``fill`` in each chosen option box (choice questions: one writing per option), ``tick`` in the
chosen T or F box (true/false), ``text`` for numeric, short and free answers, and one final ``tick`` in
the submit box. Times are the child's seconds (the simulator divides them by its time scale).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.features.homework.template import Box, Question, Template

# chance a typical child gets each question wrong, and the wrong answers children actually give
ERRORS: dict[str, tuple[float, list[str]]] = {
    "q1": (0.35, ["C", "B"]), "q2": (0.05, ["A", "D"]), "q3": (0.10, ["D", "A"]), "q4": (0.15, ["B", "C"]),
    "q5": (0.10, ["A"]), "q6": (0.20, ["B", "C"]), "q7": (0.30, ["A", "C"]), "q8": (0.08, ["B"]),
    "q9": (0.20, ["A", "ABC", "C"]), "q10": (0.45, ["AC", "ABCD", "AD"]), "q11": (0.05, ["F"]),
    "q12": (0.40, ["T"]), "q13": (0.15, ["F"]), "q14": (0.10, ["100", "1008"]), "q15": (0.15, ["8", "60"]),
    "q16": (0.30, ["5.3", "6.13"]), "q17": (0.35, ["13", "36"]), "q18": (0.20, ["78", "140"]),
    "q19": (0.10, ["高", "长"]),
}
FREE_ANSWERS = ["用乘法验算", "商乘除数", "被除数除以商"]
PEN_PREFIX = "9C:7B:D2:01:00:"


def demo_pen_ids(n: int = 45) -> list[str]:
    return [f"{PEN_PREFIX}{i:02X}" for i in range(1, n + 1)]


@dataclass
class ChildSheet:
    """What one child means to answer (the plan's ground truth, for tests and the bench)."""

    pen_id: str
    answers: dict[str, str] = field(default_factory=dict)  # question -> intended answer ("" = left blank)
    ambiguous: str | None = None  # the question with a deliberately doubtful mark


def _writing(t: Template, box: Box, kind: str, pause: float, text: str = "") -> dict[str, Any]:
    w: dict[str, Any] = {"page": list(t.page.key()), "box_mm": [round(v, 2) for v in box], "kind": kind,
                         "pause_before_s": round(pause, 1)}
    if kind == "text":
        w["text"] = text
    return w


def _option_box(q: Question, label: str) -> Box:
    return next(o.box_mm for o in q.options if o.label == label)


def _straddle(q: Question, rng: random.Random) -> Box:
    """A fill box centred on the gap between two neighbouring options: half a mark in each."""
    i = rng.randrange(len(q.options) - 1)
    a, b = q.options[i].box_mm, q.options[i + 1].box_mm
    mid = (a[0] + a[2] + b[0]) / 2
    return (mid - 7.0, a[1], 14.0, a[3])


def child_writings(t: Template, rng: random.Random, ability: float, ambiguous: bool) -> tuple[list[dict[str, Any]], ChildSheet]:
    sheet = ChildSheet("")
    writings: list[dict[str, Any]] = []
    doubtful = rng.choice([q.id for q in t.questions if q.type == "single_choice"]) if ambiguous else None
    sheet.ambiguous = doubtful
    for q in t.questions:
        think = rng.uniform(8, 28) if rng.random() < 0.85 else rng.uniform(35, 90)  # some long pauses
        p_wrong, wrong = ERRORS.get(q.id, (0.0, []))
        if q.type != "free" and rng.random() < 0.02:
            sheet.answers[q.id] = ""  # skipped
            continue
        answer = q.answer or ""
        if wrong and rng.random() < min(0.95, p_wrong * ability):
            answer = rng.choice(wrong)
        if q.type == "free":
            answer = rng.choice(FREE_ANSWERS)
        sheet.answers[q.id] = answer
        if q.id == doubtful:
            if rng.random() < 0.5:
                writings.append(_writing(t, _straddle(q, rng), "fill", think))
            else:  # changed their mind and did not erase: two options filled
                other = rng.choice([o.label for o in q.options if o.label != answer])
                writings.append(_writing(t, _option_box(q, answer), "fill", think))
                writings.append(_writing(t, _option_box(q, other), "fill", rng.uniform(2, 6)))
            continue
        if q.type in ("single_choice", "multiple_choice"):
            for k, label in enumerate(answer):
                writings.append(_writing(t, _option_box(q, label), "fill", think if k == 0 else rng.uniform(1, 4)))
        elif q.type == "true_false":
            writings.append(_writing(t, _option_box(q, answer), "tick", think))
        else:
            x, y, w, h = q.box_mm
            writings.append(_writing(t, (x + 1.0, y + 0.5, min(w - 2.0, 8.0 * max(2, len(answer)) + 6), h - 1.0),
                                     "text", think, answer))
    if t.submit_box_mm is not None:
        writings.append(_writing(t, t.submit_box_mm, "tick", rng.uniform(5, 15)))
    return writings, sheet


def build_plan(t: Template, pen_ids: list[str], seed: int = 11, offline: int = 1,
               ambiguous: int = 4) -> tuple[dict[str, Any], list[ChildSheet]]:
    """The simulator plan for a class, and each child's intended answers."""
    rng = random.Random(seed)
    doubtful = set(rng.sample(range(len(pen_ids)), min(ambiguous, len(pen_ids))))
    offline_pens = set(rng.sample(sorted(set(range(len(pen_ids))) - doubtful), min(offline, len(pen_ids))))
    pens: list[dict[str, Any]] = []
    sheets: list[ChildSheet] = []
    for i, pen in enumerate(pen_ids):
        ability = rng.choice([0.4, 0.7, 1.0, 1.0, 1.3, 1.8])
        writings, sheet = child_writings(t, rng, ability, i in doubtful)
        sheet.pen_id = pen
        sheets.append(sheet)
        pens.append({"pen_id": pen, "start_delay_s": round(rng.uniform(60, 180), 1), "offline": i in offline_pens,
                     "battery": rng.randrange(35, 100), "writings": writings})
    return {"pens": pens}, sheets


def write_plan(path: Path, t: Template, pen_ids: list[str], seed: int = 11) -> list[ChildSheet]:
    plan, sheets = build_plan(t, pen_ids, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8")
    return sheets
