"""Pen strokes (mm on the page) to a clean grey image of the answer box, the input every recognizer reads.

Why render at all: the OCR model was trained on pictures of text, so pen ink is drawn the way a scanner would
see it: dark ink on light paper, anti-aliased, at a resolution where a 0.5 mm ballpoint line is a few pixels
wide. 10 px/mm (254 dpi) keeps a 7 mm digit about 70 px tall, well above the 48 px the recognizer resizes to.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.handwriting import Box, Stroke

PX_PER_MM = 10.0
PEN_MM = 0.5  # a gel pen or the smart pen's ballpoint refill
PAPER = 255
INK = 20


def render_strokes(
    strokes: list[Stroke],
    box_mm: Box,
    px_per_mm: float = PX_PER_MM,
    pen_mm: float = PEN_MM,
) -> np.ndarray:
    """A uint8 grey image of ``box_mm`` with the strokes drawn in it (ink outside the box is clipped).

    Pure numpy/OpenCV work, a millisecond or two: fine to call inside the recognizer's executor job.
    """
    bx, by, bw, bh = box_mm
    w = max(round(bw * px_per_mm), 1)
    h = max(round(bh * px_per_mm), 1)
    img = np.full((h, w), PAPER, np.uint8)
    shift = 4  # sub-pixel precision: coordinates are scaled by 2**shift
    thickness = max(round(pen_mm * px_per_mm), 1)
    for stroke in strokes:
        if not stroke:
            continue
        pts = np.array(
            [((x - bx) * px_per_mm * (1 << shift), (y - by) * px_per_mm * (1 << shift)) for x, y in stroke],
            dtype=np.float64,
        ).round().astype(np.int32)
        if len(pts) == 1:
            cv2.circle(img, (int(pts[0][0]), int(pts[0][1])), max(thickness // 2, 1) << shift, INK, -1,
                       cv2.LINE_AA, shift)
        else:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, INK, thickness, cv2.LINE_AA, shift)
    return img


def strokes_in_box(strokes: list[Stroke], box_mm: Box, margin_mm: float = 0.0) -> list[Stroke]:
    """Only the points of each stroke that fall inside the box (plus a margin); empty strokes are dropped."""
    bx, by, bw, bh = box_mm
    out: list[Stroke] = []
    for s in strokes:
        kept = [(x, y) for x, y in s
                if bx - margin_mm <= x <= bx + bw + margin_mm and by - margin_mm <= y <= by + bh + margin_mm]
        if kept:
            out.append(kept)
    return out
