"""Single-line (centreline) glyphs, drawn in the stroke order a Chinese primary-school child uses.

Why centrelines and not font outlines: a pen draws one line per stroke, and the recognition model that
reads simulated answers was trained on ink, not on outlined letters. So the characters answers are made of
(digits, '.', '-', '/', A-D, T/F, √, ×, and the few hanzi the demo sheets ask for) are drawn here by hand,
each stroke a polyline in a unit cell: y from 0 (top) to 1 (baseline), x from 0 to the glyph's advance.
Curves are sampled ellipse arcs (angles in degrees, 0 = right, 90 = down, as y grows downwards on paper).

Any other character falls back to the outline of an installed font (fontTools; WenQuanYi / Noto CJK /
DejaVu, whichever is present), each contour drawn as one stroke: readable by a teacher, though hollow.
When no font has the character either, it becomes a small scribble, so a plan never fails to write.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Point = tuple[float, float]
Stroke = list[Point]

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@dataclass(frozen=True)
class Glyph:
    strokes: tuple[tuple[Point, ...], ...]
    advance: float  # width of the cell, in units of the character height
    source: str = "centreline"  # "centreline", "font:<file>" or "scribble"


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, steps: int | None = None) -> Stroke:
    """Points on an ellipse from angle a0 to a1 (degrees; increasing = clockwise on paper)."""
    n = steps or max(4, int(abs(a1 - a0) / 12))
    out: Stroke = []
    for i in range(n + 1):
        a = math.radians(a0 + (a1 - a0) * i / n)
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def _g(advance: float, *strokes: Iterable[Point]) -> Glyph:
    return Glyph(tuple(tuple(s) for s in strokes), advance)


def _eight() -> Stroke:
    # Start at the upper right, over the top to the left, cross down into the lower loop clockwise, back up.
    upper = arc(0.30, 0.25, 0.21, 0.23, -30, -270)
    lower = arc(0.30, 0.73, 0.27, 0.26, -90, 270)
    back = arc(0.30, 0.25, 0.21, 0.23, 90, -30, 8)
    return upper + lower + back


CENTRELINE: dict[str, Glyph] = {
    "0": _g(0.62, arc(0.31, 0.5, 0.27, 0.49, -95, -445)),
    "1": _g(0.45, [(0.10, 0.20), (0.26, 0.02), (0.26, 1.0)]),
    "2": _g(0.62, [*arc(0.3, 0.29, 0.26, 0.27, -165, 25), (0.03, 1.0), (0.6, 0.99)]),
    "3": _g(0.6, arc(0.28, 0.26, 0.24, 0.24, -155, 90) + arc(0.28, 0.74, 0.28, 0.26, -90, 155)),
    "4": _g(0.64, [(0.36, 0.0), (0.02, 0.66), (0.62, 0.66)], [(0.46, 0.22), (0.46, 1.0)]),
    "5": _g(
        0.6,
        [(0.12, 0.02), (0.08, 0.44), *arc(0.29, 0.69, 0.27, 0.3, -140, 150)],
        [(0.12, 0.02), (0.56, 0.02)],
    ),
    "6": _g(0.6, [(0.5, 0.02), (0.3, 0.18), (0.12, 0.42), *arc(0.3, 0.72, 0.26, 0.27, 200, -160)]),
    "7": _g(0.6, [(0.02, 0.03), (0.58, 0.03), (0.22, 1.0)]),
    "8": _g(0.6, _eight()),
    "9": _g(0.6, [*arc(0.29, 0.28, 0.26, 0.27, -15, -375), (0.54, 0.5), (0.47, 1.0)]),
    ".": _g(0.3, [(0.12, 0.93), (0.16, 0.97), (0.13, 0.99)]),
    "-": _g(0.6, [(0.06, 0.55), (0.52, 0.55)]),
    "/": _g(0.55, [(0.50, 0.0), (0.05, 1.0)]),
    "A": _g(0.66, [(0.02, 1.0), (0.33, 0.0), (0.64, 1.0)], [(0.15, 0.62), (0.52, 0.62)]),
    "B": _g(
        0.64,
        [(0.06, 0.0), (0.06, 1.0)],
        [(0.06, 0.0), (0.32, 0.0), *arc(0.32, 0.25, 0.22, 0.25, -90, 90), (0.08, 0.5), (0.36, 0.5),
         *arc(0.36, 0.75, 0.24, 0.25, -90, 90), (0.06, 1.0)],
    ),
    "C": _g(0.66, arc(0.35, 0.5, 0.31, 0.5, -40, -320)),
    "D": _g(
        0.66, [(0.06, 0.0), (0.06, 1.0)], [(0.06, 0.0), (0.22, 0.0), *arc(0.22, 0.5, 0.4, 0.5, -90, 90), (0.06, 1.0)]
    ),
    "T": _g(0.62, [(0.02, 0.02), (0.60, 0.02)], [(0.31, 0.02), (0.31, 1.0)]),
    "F": _g(0.56, [(0.08, 0.0), (0.08, 1.0)], [(0.08, 0.02), (0.54, 0.02)], [(0.08, 0.48), (0.44, 0.48)]),
    "√": _g(0.8, [(0.02, 0.55), (0.28, 0.98), (0.78, 0.02)]),
    "×": _g(0.7, [(0.05, 0.15), (0.65, 0.85)], [(0.65, 0.15), (0.05, 0.85)]),
    "+": _g(0.62, [(0.04, 0.55), (0.58, 0.55)], [(0.31, 0.27), (0.31, 0.83)]),
    "=": _g(0.62, [(0.05, 0.42), (0.57, 0.42)], [(0.05, 0.68), (0.57, 0.68)]),
    # 宽 (wide): 宀 over 艹 over 见, ten strokes in the standard order.
    "宽": _g(
        1.0,
        [(0.47, 0.01), (0.53, 0.09)],
        [(0.13, 0.13), (0.11, 0.24)],
        [(0.13, 0.14), (0.88, 0.14), (0.84, 0.24)],
        [(0.20, 0.33), (0.80, 0.33)],
        [(0.37, 0.26), (0.38, 0.41)],
        [(0.63, 0.26), (0.61, 0.41)],
        [(0.26, 0.45), (0.26, 0.76)],
        [(0.26, 0.45), (0.75, 0.45), (0.75, 0.73)],
        [(0.47, 0.52), (0.45, 0.76), (0.20, 0.97)],
        [(0.57, 0.52), (0.57, 0.91), (0.63, 0.97), (0.92, 0.96), (0.93, 0.86)],
    ),
    # 长 (long): 撇, 横, 竖提, 捺 as children write it.
    "长": _g(
        1.0,
        [(0.35, 0.04), (0.35, 0.62), (0.46, 0.55)],
        [(0.74, 0.10), (0.40, 0.37)],
        [(0.08, 0.50), (0.92, 0.50)],
        [(0.44, 0.56), (0.64, 0.80), (0.94, 0.96)],
    ),
    # 高 (high): 点, 横, 口, 冂, 口 — the box components simplified to one stroke each where children join them.
    "高": _g(
        1.0,
        [(0.48, 0.0), (0.52, 0.07)],
        [(0.10, 0.12), (0.90, 0.12)],
        [(0.32, 0.20), (0.32, 0.36)],
        [(0.32, 0.20), (0.68, 0.20), (0.68, 0.36), (0.32, 0.36)],
        [(0.14, 0.45), (0.14, 0.99)],
        [(0.14, 0.45), (0.86, 0.45), (0.86, 0.95), (0.78, 0.99)],
        [(0.34, 0.60), (0.34, 0.82)],
        [(0.34, 0.60), (0.66, 0.60), (0.66, 0.82), (0.34, 0.82)],
    ),
}
SPACE_ADVANCE = 0.45


def glyph(char: str) -> Glyph:
    """The strokes for one character: centreline, else a font outline, else a scribble."""
    found = CENTRELINE.get(char)
    if found is not None:
        return found
    outline = _font_glyph(char)
    if outline is not None:
        return outline
    return _scribble(char)


@lru_cache(maxsize=512)
def _font_glyph(char: str) -> Glyph | None:
    for path in FONT_PATHS:
        font = _font(path)
        if font is None:
            continue
        cmap = font.getBestCmap() or {}
        name = cmap.get(ord(char))
        if name is None:
            continue
        strokes = _outline(font, name)
        if not strokes:
            continue
        return Glyph(tuple(tuple(s) for s in strokes[0]), strokes[1], f"font:{os.path.basename(path)}")
    return None


@lru_cache(maxsize=8)
def _font(path: str) -> Any:
    if not os.path.exists(path):
        return None
    try:
        from fontTools.ttLib import TTFont

        return TTFont(path, fontNumber=0, lazy=True)
    except Exception:  # an unreadable font is just not used
        return None


def _outline(font: Any, name: str) -> tuple[list[Stroke], float] | None:
    from fontTools.pens.basePen import BasePen

    class Flatten(BasePen):
        def __init__(self, glyphset: Any) -> None:
            super().__init__(glyphset)
            self.contours: list[Stroke] = []

        def _moveTo(self, pt: Point) -> None:
            self.contours.append([pt])

        def _lineTo(self, pt: Point) -> None:
            self.contours[-1].append(pt)

        def _curveToOne(self, p1: Point, p2: Point, p3: Point) -> None:
            p0 = self.contours[-1][-1]
            for i in range(1, 7):
                t = i / 6
                u = 1 - t
                self.contours[-1].append((
                    u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                    u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
                ))

        def _qCurveToOne(self, p1: Point, p2: Point) -> None:
            p0 = self.contours[-1][-1]
            for i in range(1, 5):
                t = i / 4
                u = 1 - t
                self.contours[-1].append((
                    u * u * p0[0] + 2 * u * t * p1[0] + t * t * p2[0],
                    u * u * p0[1] + 2 * u * t * p1[1] + t * t * p2[1],
                ))

        def _closePath(self) -> None:
            if self.contours and self.contours[-1]:
                self.contours[-1].append(self.contours[-1][0])

    glyphset = font.getGlyphSet()
    pen = Flatten(glyphset)
    glyphset[name].draw(pen)
    contours = [c for c in pen.contours if len(c) >= 2]
    if not contours:
        return None
    upem = font["head"].unitsPerEm
    ascent = font["hhea"].ascent
    descent = -font["hhea"].descent
    height = ascent + descent or upem
    advance = glyphset[name].width / height
    # Font units grow upwards from the baseline; the cell's y grows downwards from the top.
    return [[(x / height, (ascent - y) / height) for x, y in c] for c in contours], max(0.3, advance)


def _scribble(char: str) -> Glyph:
    """A deterministic squiggle for a character no font has: ink where the child wrote, at least."""
    seed = ord(char[0]) if char else 0
    strokes = []
    for i in range(3):
        y = 0.25 + 0.25 * i
        phase = (seed * (i + 1)) % 7 / 7
        strokes.append(tuple((0.1 + 0.8 * k / 8, y + 0.08 * math.sin(6.28 * (k / 8 + phase))) for k in range(9)))
    return Glyph(tuple(strokes), 1.0, "scribble")
