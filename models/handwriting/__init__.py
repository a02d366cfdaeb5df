"""Handwriting recognition for answer boxes: ink (pen strokes or a scanned crop) to text with a confidence.

The contract the homework feature relies on. Recognition is blocking CPU work (onnxruntime), so callers run
it in an executor. Every result carries a calibrated ``confidence``: the feature sends anything below its
``review_below`` threshold to the teacher's review queue, so a wrong answer is never graded silently.

Where things are (heavy modules are imported only by whoever needs them, so this one stays cheap):

* :mod:`models.handwriting.ocr` — ``OcrRecognizer``, the implementation of :class:`Recognizer`;
* :mod:`models.handwriting.marks` — ``mark_in_box``: choice marks (tick, cross, fill, circle) by geometry;
* :mod:`models.handwriting.render` — ``render_strokes``: pen ink in mm to a grey box image;
* :mod:`models.handwriting.synth` — generated handwriting for training, calibration and tests;
* ``train_digits`` / ``calibrate`` — the offline, deterministic scripts that produce ``digits_mlp.npz`` and
  ``calibration.json`` from generated data only; ``bench/digits_eval.py`` measures them on real ink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Stroke = list[tuple[float, float]]  # points in mm on the page
Box = tuple[float, float, float, float]  # x, y, width, height in mm
Expect = Literal["digits", "number", "text"]  # digits: 0-9 only; number: digits . - /; text: short words


@dataclass(frozen=True)
class Recognition:
    text: str  # "" when nothing legible was found
    confidence: float  # 0..1, calibrated: at >= 0.9 fewer than 1 in 200 answers is wrong
    alternatives: tuple[tuple[str, float], ...] = field(default=())  # other readings, best first
    engine: str = ""  # which model read it, for the review queue and the README's figures


class Recognizer(Protocol):
    def recognize_strokes(self, strokes: list[Stroke], box_mm: Box, expect: Expect) -> Recognition: ...

    def recognize_image(self, image: object, expect: Expect) -> Recognition:
        """``image``: a numpy uint8 grey array of the cropped answer box (dark ink on light paper)."""
        ...
