"""Choice marks from pen strokes, by geometry: is an option box marked, and with what (√, ×, filled, circled)?

Marks are not OCR: a tick is two straight legs meeting at a sharp turn, a cross two straight strokes that
intersect, a fill (填涂) ink covering much of the box, a circle a closed loop around the box's middle.
Ink length and coverage are measured inside the box (plus a small margin: children overshoot).
Pure Python/numpy, well under a millisecond: safe anywhere, thread-safe.

The confidence is the probability that ``marked`` is right, conservative by construction: a clean √, ×, fill
or circle is 0.97-0.99; marked ink of no known shape, or a short stray touch, is under 0.9 so the homework
feature sends it to review rather than guess.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from models.handwriting import Box, Stroke

MarkKind = Literal["empty", "stray", "tick", "cross", "fill", "circle", "other"]
MARGIN_MM = 0.8
COVER_PX_PER_MM = 4.0


@dataclass(frozen=True)
class MarkReading:
    marked: bool
    kind: MarkKind
    confidence: float
    ink_mm: float  # length of ink inside the box
    coverage: float  # share of the box's area under ink, drawn at the pen's width


def _clip(strokes: list[Stroke], box: Box, margin: float) -> list[Stroke]:
    """Stroke pieces inside the box (a stroke leaving and re-entering becomes two pieces)."""
    bx, by, bw, bh = box
    out: list[Stroke] = []
    for s in strokes:
        cur: Stroke = []
        for x, y in s:
            if bx - margin <= x <= bx + bw + margin and by - margin <= y <= by + bh + margin:
                cur.append((x, y))
            elif cur:
                out.append(cur)
                cur = []
        if cur:
            out.append(cur)
    return out


def _length(s: Stroke) -> float:
    return sum(math.dist(a, b) for a, b in itertools.pairwise(s))


def _simplify(s: Stroke, eps: float) -> Stroke:
    """Douglas-Peucker: the few points that carry a stroke's shape."""
    if len(s) < 3:
        return list(s)
    (x0, y0), (x1, y1) = s[0], s[-1]
    dx, dy = x1 - x0, y1 - y0
    norm = math.hypot(dx, dy)
    best, idx = -1.0, 0
    for i in range(1, len(s) - 1):
        px, py = s[i]
        d = abs(dy * (px - x0) - dx * (py - y0)) / norm if norm > 1e-9 else math.dist(s[i], s[0])
        if d > best:
            best, idx = d, i
    if best <= eps:
        return [s[0], s[-1]]
    return _simplify(s[: idx + 1], eps)[:-1] + _simplify(s[idx:], eps)


def _straight(s: Stroke) -> bool:
    length = _length(s)
    return length > 0 and math.dist(s[0], s[-1]) / length > 0.85


def _segments_cross(a: Stroke, b: Stroke) -> bool:
    """Whether the chords of two (straight) strokes intersect."""
    (p1, p2), (p3, p4) = (a[0], a[-1]), (b[0], b[-1])

    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return orient(p1, p2, p3) * orient(p1, p2, p4) < 0 and orient(p3, p4, p1) * orient(p3, p4, p2) < 0


def _angle_between(a: Stroke, b: Stroke) -> float:
    va = (a[-1][0] - a[0][0], a[-1][1] - a[0][1])
    vb = (b[-1][0] - b[0][0], b[-1][1] - b[0][1])
    na, nb = math.hypot(*va), math.hypot(*vb)
    if na < 1e-9 or nb < 1e-9:
        return 0.0
    cos = abs(va[0] * vb[0] + va[1] * vb[1]) / (na * nb)
    return math.degrees(math.acos(min(1.0, cos)))


def _is_tick(pieces: list[Stroke], size: float) -> bool:
    """One stroke that turns sharply once (short leg down, long leg up), or two strokes meeting at a vertex."""
    if len(pieces) == 1:
        pts = _simplify(pieces[0], size * 0.08)
        if len(pts) != 3:
            return False
        a, v, b = pts
    elif len(pieces) == 2 and all(_straight(p) for p in pieces):
        s1, s2 = pieces
        if math.dist(s1[-1], s2[0]) > size * 0.25:
            return False
        a, v, b = s1[0], s1[-1], s2[-1]
    else:
        return False
    leg1, leg2 = math.dist(a, v), math.dist(v, b)
    if leg1 < size * 0.1 or leg2 < size * 0.25:
        return False
    turn = math.degrees(math.atan2(b[1] - v[1], b[0] - v[0]) - math.atan2(v[1] - a[1], v[0] - a[0]))
    turn = (turn + 180) % 360 - 180
    # the vertex is the lowest point (y grows downwards) and the path turns by 50-160 degrees
    return v[1] >= max(a[1], b[1]) - size * 0.1 and 50 <= abs(turn) <= 160


def _is_circle(pieces: list[Stroke], box: Box) -> bool:
    if len(pieces) != 1 or len(pieces[0]) < 8:
        return False
    s = pieces[0]
    xs, ys = [p[0] for p in s], [p[1] for p in s]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    closed = math.dist(s[0], s[-1]) < 0.35 * max(w, h)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    around = min(xs) < cx < max(xs) and min(ys) < cy < max(ys)
    return closed and around and w > 0.5 * box[2] and h > 0.5 * box[3]


def _coverage(pieces: list[Stroke], box: Box, pen_mm: float) -> float:
    bx, by, bw, bh = box
    k = COVER_PX_PER_MM
    w, h = max(round(bw * k), 1), max(round(bh * k), 1)
    img = np.zeros((h, w), np.uint8)
    thick = max(round(pen_mm * k), 1)
    for s in pieces:
        pts = np.array([((x - bx) * k, (y - by) * k) for x, y in s], np.float64).round().astype(np.int32)
        if len(pts) == 1:
            cv2.circle(img, (int(pts[0][0]), int(pts[0][1])), max(thick // 2, 1), 1, -1)
        else:
            cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, 1, thick)
    return float(img.mean())


def mark_in_box(strokes: list[Stroke], box_mm: Box, pen_mm: float = 0.5) -> MarkReading:
    """Whether ink marks this option box, and how (see the module docstring)."""
    pieces = _clip(strokes, box_mm, MARGIN_MM)
    ink = sum(_length(p) for p in pieces)
    size = min(box_mm[2], box_mm[3])
    if ink < 0.5:
        return MarkReading(False, "empty", 0.99, ink, 0.0)
    cover = _coverage(pieces, box_mm, pen_mm)
    if ink < 0.2 * size:
        return MarkReading(False, "stray", 0.8, ink, cover)  # a touch of the pen, or a slip from the next box
    if cover >= 0.3:
        return MarkReading(True, "fill", 0.99, ink, cover)
    long_pieces = [p for p in pieces if _length(p) >= 0.15 * size]
    if len(long_pieces) == 2 and all(_straight(p) for p in long_pieces) and _segments_cross(*long_pieces) \
            and _angle_between(*long_pieces) > 45:
        return MarkReading(True, "cross", 0.98, ink, cover)
    if _is_tick(long_pieces, size):
        return MarkReading(True, "tick", 0.98, ink, cover)
    if _is_circle(long_pieces, box_mm):
        return MarkReading(True, "circle", 0.97, ink, cover)
    if cover >= 0.15:
        return MarkReading(True, "fill", 0.85, ink, cover)  # a light or partial fill: probably marked, ask
    return MarkReading(True, "other", 0.7, ink, cover)
