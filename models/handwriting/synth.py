"""Synthetic handwritten digits as pen strokes in mm: training data for the second-opinion classifier and test ink.

Why our own generator: the second opinion must never see the evaluation data (OpenCV's ``digits.png`` and the
smart-pen simulator's writing), and no handwriting data set ships in a package we may install. Each digit is a
few hand-drawn skeletons (the ways Chinese pupils are taught to write it, plus common variants such as the
open and closed 4 or the crossed 7) that are jittered point by point, slanted, squashed, rotated and drawn with
a random pen width, so the classifier learns shapes rather than one font.

Coordinates are millimetres, y down, like pen ink on the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from models.handwriting import Stroke

Pts = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 16) -> Pts:
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down because y points down)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(a0, a1, n)
    ]


def _line(x0: float, y0: float, x1: float, y1: float, n: int = 6) -> Pts:
    return [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0.0, 1.0, n)]


def _eight_one_stroke() -> list[Pts]:
    pts = [(0.3 - 0.24 * math.sin(2 * t) * (0.85 if t < math.pi else 1.1), 0.5 - 0.49 * math.cos(t))
           for t in np.linspace(0.15, 2 * math.pi + 0.15, 40)]
    return [pts]


# Skeletons in a unit cell (x 0..0.6, y 0..1): each variant is a list of strokes.
SKELETONS: dict[str, list[list[Pts]]] = {
    "0": [
        [_arc(0.3, 0.5, 0.27, 0.48, -100, 265, 28)],
        [_arc(0.3, 0.5, 0.24, 0.48, -80, 290, 28)],
    ],
    "1": [
        [_line(0.3, 0.0, 0.3, 1.0)],
        [_line(0.12, 0.22, 0.32, 0.0, 4) + _line(0.32, 0.0, 0.3, 1.0)],
        [_line(0.15, 0.2, 0.32, 0.0, 4) + _line(0.32, 0.0, 0.3, 1.0), _line(0.12, 1.0, 0.48, 1.0, 4)],
    ],
    "2": [
        [[*_arc(0.3, 0.27, 0.26, 0.25, 190, 370, 12), (0.5, 0.48), (0.3, 0.7), (0.04, 1.0), *_line(0.04, 1.0, 0.6, 1.0, 5)]],
        [[*_arc(0.28, 0.28, 0.26, 0.26, 200, 375, 12), (0.45, 0.55), (0.2, 0.8), (0.05, 0.98), *_arc(0.12, 0.93, 0.07, 0.06, 270, 450, 5)[1:], *_line(0.12, 0.99, 0.6, 0.99, 4)]],
    ],
    "3": [
        [_arc(0.28, 0.26, 0.25, 0.25, 200, 450, 14) + _arc(0.28, 0.74, 0.29, 0.26, -90, 160, 14)],
        [[*_line(0.05, 0.02, 0.52, 0.02, 4), (0.25, 0.42), *_arc(0.28, 0.72, 0.29, 0.28, -90, 165, 14)]],
    ],
    "4": [
        [_line(0.42, 0.0, 0.02, 0.68, 6) + _line(0.02, 0.68, 0.6, 0.68, 5), _line(0.45, 0.3, 0.45, 1.0, 6)],
        [_line(0.1, 0.0, 0.02, 0.55, 5) + _line(0.02, 0.55, 0.58, 0.5, 5), _line(0.5, 0.0, 0.42, 1.0, 6)],
        [_line(0.08, 0.0, 0.05, 0.6, 5) + _line(0.05, 0.6, 0.6, 0.6, 5), _line(0.46, 0.05, 0.46, 1.0, 6)],
        [_line(0.38, 0.0, 0.02, 0.68, 6) + _line(0.02, 0.68, 0.6, 0.68, 5), _line(0.42, 0.0, 0.42, 1.0, 6)],
    ],
    "5": [
        [_line(0.12, 0.0, 0.08, 0.45, 4) + _arc(0.3, 0.7, 0.28, 0.3, -125, 150, 16), _line(0.12, 0.0, 0.56, 0.0, 4)],
        [_line(0.55, 0.0, 0.12, 0.0, 4) + _line(0.12, 0.0, 0.08, 0.45, 4)[1:] + _arc(0.3, 0.7, 0.28, 0.3, -125, 150, 16)],
    ],
    "6": [
        [[(0.5, 0.0), (0.3, 0.15), (0.12, 0.38), *_arc(0.32, 0.72, 0.27, 0.27, 180, 540, 22)]],
        [[(0.45, 0.0), (0.2, 0.25), (0.06, 0.6), *_arc(0.31, 0.73, 0.25, 0.26, 170, 520, 20)]],
        [[(0.55, 0.0), (0.25, 0.3), (0.08, 0.75), *_arc(0.3, 0.8, 0.22, 0.2, 180, 530, 18)]],
    ],
    "7": [
        [_line(0.02, 0.0, 0.58, 0.0, 5) + _line(0.58, 0.0, 0.22, 1.0, 8)],
        [_line(0.02, 0.0, 0.58, 0.0, 5) + _line(0.58, 0.0, 0.22, 1.0, 8), _line(0.16, 0.52, 0.52, 0.52, 4)],
        [_line(0.02, 0.12, 0.02, 0.0, 3) + _line(0.02, 0.0, 0.58, 0.0, 5) + [(0.4, 0.45), (0.3, 1.0)]],
    ],
    "8": [
        _eight_one_stroke(),
        [_arc(0.3, 0.25, 0.21, 0.24, 0, 360, 18), _arc(0.3, 0.74, 0.27, 0.26, -90, 270, 20)],
    ],
    "9": [
        [_arc(0.3, 0.28, 0.26, 0.27, 0, -360, 20) + _line(0.56, 0.28, 0.5, 1.0, 7)],
        [_arc(0.32, 0.22, 0.22, 0.2, 10, -350, 18) + _line(0.54, 0.24, 0.42, 1.0, 7)],
        [[*_arc(0.3, 0.28, 0.26, 0.27, 10, -350, 20), (0.56, 0.4), (0.52, 0.75), (0.35, 1.0)]],
    ],
    ".": [[_arc(0.3, 0.93, 0.05, 0.05, 0, 360, 8)]],
    "-": [[_line(0.05, 0.5, 0.5, 0.5, 5)]],
    "/": [[_line(0.5, 0.0, 0.08, 1.0, 6)]],
}

CELL_WIDTH = {".": 0.6, "-": 0.6, "/": 0.6}  # a pupil leaves about the same gap around a point


def digit_strokes(
    ch: str,
    rng: np.random.Generator,
    origin_mm: tuple[float, float] = (0.0, 0.0),
    height_mm: float = 7.0,
    jitter: float = 0.035,
    slant: float | None = None,
) -> list[Stroke]:
    """One character as jittered strokes in mm, its cell's top-left at ``origin_mm``."""
    variants = SKELETONS[ch]
    strokes = variants[int(rng.integers(len(variants)))]
    if slant is None:
        slant = float(rng.normal(0.12, 0.12))  # most pupils lean to the right a little
    aspect = float(rng.uniform(0.75, 1.3))
    rot = math.radians(float(rng.normal(0.0, 5.0)))
    cr, sr = math.cos(rot), math.sin(rot)
    bend = rng.normal(0.0, 1.0, size=4) * jitter  # smooth, whole-glyph wobble on top of per-point jitter
    out: list[Stroke] = []
    for stroke in strokes:
        pts: Stroke = []
        shift = rng.normal(0.0, jitter * 0.6, size=2)
        for x, y in stroke:
            dx, dy = rng.normal(0.0, jitter * 0.5, size=2)
            x2 = (x - 0.3) * aspect + dx + shift[0] + bend[0] * math.sin(3 * y + bend[2] * 30)
            y2 = (y - 0.5) + dy + shift[1] + bend[1] * math.sin(3 * x + bend[3] * 30)
            x2 = x2 - slant * y2
            xr, yr = cr * x2 - sr * y2, sr * x2 + cr * y2
            pts.append((origin_mm[0] + (xr + 0.35) * height_mm, origin_mm[1] + (yr + 0.5) * height_mm))
        out.append(_smooth(pts))
    return out


def _smooth(pts: Stroke, samples_per_seg: int = 3) -> Stroke:
    """A Catmull-Rom pass so jittered skeletons look like ink, not polylines."""
    if len(pts) < 3:
        return pts
    p = [pts[0], *pts, pts[-1]]
    out: Stroke = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0.0, 1.0, samples_per_seg, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append((
                0.5 * (2 * p1[0] + (-p0[0] + p2[0]) * t + (2 * p0[0] - 5 * p1[0] + 4 * p2[0] - p3[0]) * t2
                       + (-p0[0] + 3 * p1[0] - 3 * p2[0] + p3[0]) * t3),
                0.5 * (2 * p1[1] + (-p0[1] + p2[1]) * t + (2 * p0[1] - 5 * p1[1] + 4 * p2[1] - p3[1]) * t2
                       + (-p0[1] + 3 * p1[1] - 3 * p2[1] + p3[1]) * t3),
            ))
    out.append(pts[-1])
    return out


def write_digits(
    text: str,
    box_mm: tuple[float, float, float, float],
    rng: np.random.Generator,
    height_frac: float | None = None,
    jitter: float = 0.035,
) -> list[Stroke]:
    """A short number written left to right inside an answer box, the way a pupil fills one in.

    ``jitter`` is the handwriting's sloppiness (0.02 neat, 0.08 hurried) in units of the digit height."""
    bx, by, bw, bh = box_mm
    h = bh * (height_frac if height_frac is not None else float(rng.uniform(0.5, 0.8)))
    # a pupil writes smaller rather than past the box's right edge
    need = sum(CELL_WIDTH.get(ch, 0.7) + 0.3 for ch in text) + 0.5
    h = min(h, bw * 0.8 / need)
    slant = float(rng.normal(0.12, 0.12))
    x = bx + float(rng.uniform(0.05, 0.15)) * bw
    y_base = by + (bh - h) / 2 + float(rng.normal(0.0, 0.05)) * bh
    strokes: list[Stroke] = []
    for ch in text:
        gap = h * float(rng.uniform(0.1, 0.3))
        strokes.extend(digit_strokes(ch, rng, (x, y_base), h, jitter=jitter, slant=slant))
        x += h * CELL_WIDTH.get(ch, 0.7) + gap
    return strokes


def scribble(box_mm: Sequence[float], rng: np.random.Generator, n: int = 40) -> list[Stroke]:
    """A random zig-zag scribble: ink that is no answer, which must come back with a low confidence."""
    bx, by, bw, bh = box_mm
    pts = [(bx + bw * float(rng.uniform(0.1, 0.6)), by + bh * float(rng.uniform(0.15, 0.85))) for _ in range(n)]
    return [_smooth(pts)]


def mark_strokes(kind: str, box_mm: Sequence[float], rng: np.random.Generator) -> list[Stroke]:
    """A pupil's mark in an option box: "tick" √, "cross" ×, "fill" (填涂 zig-zag) or "empty" (no ink)."""
    bx, by, bw, bh = box_mm
    side = min(bw, bh) * float(rng.uniform(0.6, 0.85))
    cx = bx + bw / 2 + float(rng.normal(0, 0.05)) * bw
    cy = by + bh / 2 + float(rng.normal(0, 0.05)) * bh
    ox, oy = cx - side / 2, cy - side / 2

    def j() -> float:
        return float(rng.normal(0, 0.03)) * side

    if kind == "empty":
        return []
    if kind == "tick":
        return [_smooth([(ox + j(), oy + 0.5 * side + j()), (ox + 0.35 * side + j(), oy + side + j()),
                         (ox + side + j(), oy + j())], 4)]
    if kind == "cross":
        return [[(ox + j(), oy + j()), (ox + side + j(), oy + side + j())],
                [(ox + side + j(), oy + j()), (ox + j(), oy + side + j())]]
    if kind == "fill":
        fw, fh = bw * float(rng.uniform(0.7, 0.9)), bh * float(rng.uniform(0.7, 0.9))
        left, top = bx + (bw - fw) / 2, by + (bh - fh) / 2
        rows = max(3, int(fh / float(rng.uniform(0.5, 0.8))))
        return [[(left + (fw if r % 2 else 0.0) + j(), top + fh * r / rows) for r in range(rows + 1)]]
    raise ValueError(f"unknown mark {kind!r}")
