"""A child's handwriting, synthesised: what the pen simulator writes and what recognition tests read.

Public and stable (another engineer's held-out recognition test depends on it):

* :func:`write_text` — text written into an answer box;
* :func:`write_mark` — a tick, a cross, a filled option box (填涂) or a circled option;
* :class:`SimStroke` — ``points`` of ``(x_mm, y_mm, t_s, force)``, ``t_s`` since the stroke's own start,
  ``start_s`` when the stroke starts, in seconds since the writing's first stroke began;
* :class:`ChildStyle` — one child's hand: slant, size, width, wobble, speed and pauses.

Shapes come from the centreline glyphs in :mod:`drivers.smartpen.glyphs` (digits and answer symbols drawn
in a child's stroke order; other characters from an installed font's outlines). On top go the child's
style and per-character jitter (size, baseline, rotation), a slow wobble along each stroke, a pen speed that
eases in and out, pressure that ramps up and down, and pauses between strokes and between characters.
Points are sampled every ~12.5 ms, as a Neo pen samples. Everything stays inside the box: if a child's
writing would overflow it, it is scaled down, as a child squeezes an answer in.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Literal

from drivers.smartpen.glyphs import SPACE_ADVANCE, glyph

SAMPLE_S = 0.0125
BOX_INSET_MM = 0.4
MAX_FORCE = 1023

Box = tuple[float, float, float, float]
MarkKind = Literal["tick", "cross", "fill", "circle"]
MmPoint = tuple[float, float]


@dataclass(frozen=True)
class ChildStyle:
    """How one child writes; draw one per child with :meth:`random` and keep it for all their answers."""

    slant: float = 0.1  # shear: the top of a character leans right by slant × its height
    size: float = 0.65  # character height as a share of the box height
    width: float = 1.0  # character width factor
    wobble_mm: float = 0.12  # amplitude of the slow tremor along strokes
    speed_mm_s: float = 30.0  # pen speed in the middle of a stroke
    stroke_pause_s: float = 0.25  # lift between strokes of one character
    char_pause_s: float = 0.55  # between characters
    force: int = 520  # typical pressure, 0-1023
    spacing: float = 0.22  # gap between characters, share of their height
    messiness: float = 0.04  # how far each stroke strays from the model shape, share of the height

    @classmethod
    def random(cls, rng: random.Random) -> ChildStyle:
        return cls(
            slant=rng.uniform(-0.08, 0.25),
            size=rng.uniform(0.55, 0.75),
            width=rng.uniform(0.85, 1.12),
            wobble_mm=rng.uniform(0.04, 0.2),
            speed_mm_s=rng.uniform(18.0, 45.0),
            stroke_pause_s=rng.uniform(0.12, 0.4),
            char_pause_s=rng.uniform(0.3, 0.95),
            force=rng.randint(320, 760),
            spacing=rng.uniform(0.12, 0.35),
            messiness=rng.uniform(0.02, 0.07),
        )


@dataclass
class SimStroke:
    """One stroke: points ``(x_mm, y_mm, t_s since this stroke started, force)``; ``start_s`` within the writing."""

    points: list[tuple[float, float, float, int]]
    start_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return self.points[-1][2] if self.points else 0.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass
class _Path:
    points: list[MmPoint]
    pause_before_s: float = 0.0
    speed: float = 1.0  # multiplier on the child's speed


def write_text(
    text: str, box_mm: Box, rng: random.Random, style: ChildStyle | None = None
) -> list[SimStroke]:
    """``text`` handwritten into ``box_mm`` (x, y, width, height in mm), left-aligned like a child's answer."""
    style = style or ChildStyle.random(rng)
    x, y, w, h = box_mm
    chars = [c for c in text if not c.isspace() or c == " "]
    if not chars:
        return []
    height = h * style.size
    glyphs = [None if c == " " else glyph(c) for c in chars]
    advances = [SPACE_ADVANCE if g is None else g.advance for g in glyphs]
    total = sum(a * height * style.width for a in advances) + style.spacing * height * (len(chars) - 1)
    room = w - 2 * BOX_INSET_MM - 1.0
    if total > room:
        height *= room / total
        total = room
    margin = min(rng.uniform(1.0, 3.0), max(BOX_INSET_MM, (w - total) / 2))
    top = y + (h - height) / 2 + rng.uniform(-0.12, 0.12) * (h - height)
    cursor = x + margin
    paths: list[_Path] = []
    space_pause = 0.0
    for i, (g, adv) in enumerate(zip(glyphs, advances, strict=True)):
        cell_w = adv * height * style.width
        if g is None:
            space_pause += style.char_pause_s
        else:
            scale = 1 + rng.gauss(0, 0.04)
            angle = rng.gauss(0, 0.035)
            dy = rng.gauss(0, 0.03) * height
            for k, stroke in enumerate(g.strokes):
                m = style.messiness
                sx, sy = 1 + rng.gauss(0, m), 1 + rng.gauss(0, m)
                ox, oy, shear = rng.gauss(0, m / 2), rng.gauss(0, m / 2), rng.gauss(0, m)
                pts = [
                    _place(u * sx + shear * (0.5 - v) + ox, v * sy + oy, cursor, top + dy, height, cell_w, style,
                           scale, angle)
                    for u, v in stroke
                ]
                pause = 0.0 if not paths else (style.stroke_pause_s if k else style.char_pause_s + space_pause)
                paths.append(_Path(pts, pause * rng.uniform(0.7, 1.4)))
            space_pause = 0.0
        cursor += cell_w + (style.spacing * height * rng.uniform(0.8, 1.2) if i < len(chars) - 1 else 0)
    return _fit(_timed(paths, style, rng), box_mm)


def write_mark(
    kind: MarkKind, box_mm: Box, rng: random.Random, style: ChildStyle | None = None
) -> list[SimStroke]:
    """A choice or true/false mark in ``box_mm``: "tick" √, "cross" ×, "fill" (填涂 scribble), "circle"."""
    style = style or ChildStyle.random(rng)
    x, y, w, h = box_mm
    cx = x + w / 2 + rng.uniform(-0.06, 0.06) * w
    cy = y + h / 2 + rng.uniform(-0.06, 0.06) * h
    if kind in ("tick", "cross"):
        side = min(w, h) * rng.uniform(0.6, 0.82)
        ox, oy = cx - side / 2, cy - side / 2
        lean = style.slant * side * 0.3
        shape = (
            [[(0.04, 0.55), (0.36, 0.96), (0.97, 0.04)]]
            if kind == "tick"
            else [[(0.08, 0.08), (0.92, 0.92)], [(0.92, 0.08), (0.08, 0.92)]]
        )
        paths = []
        for k, stroke in enumerate(shape):
            pts = [(ox + u * side + lean * (1 - v) + rng.gauss(0, 0.03) * side, oy + v * side) for u, v in stroke]
            paths.append(_Path(pts, style.stroke_pause_s * rng.uniform(0.6, 1.2) if k else 0.0, speed=1.6))
    elif kind == "fill":
        share = rng.uniform(0.7, 0.86)
        fw, fh = w * share, h * share
        left, top = cx - fw / 2, cy - fh / 2
        step = rng.uniform(0.6, 0.9)
        rows = max(2, int(fh / step))
        zigzag: list[MmPoint] = [(left + rng.uniform(0, 0.4), top)]
        for r in range(rows):
            edge = left + fw - rng.uniform(0, 0.5) if r % 2 == 0 else left + rng.uniform(0, 0.5)
            zigzag.append((edge, top + fh * (r + 1) / rows))
        paths = [_Path(zigzag, 0.0, speed=2.4)]
        if rng.random() < 0.4:  # a second pass over the top, as many children do
            half = zigzag[: max(4, len(zigzag) // 2)]
            paths.append(_Path(list(reversed(half)), style.stroke_pause_s, speed=2.4))
    elif kind == "circle":
        rx, ry = w * rng.uniform(0.36, 0.44), h * rng.uniform(0.36, 0.44)
        start = rng.uniform(-120, -80)
        sweep = rng.uniform(370, 400)
        angles = [math.radians(start - sweep * i / 36) for i in range(37)]
        pts = [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]
        paths = [_Path(pts, 0.0, speed=1.8)]
    else:
        raise ValueError(f"unknown mark {kind!r}; use tick, cross, fill or circle")
    return _fit(_timed(paths, style, rng), box_mm)


# -- geometry and timing ----------------------------------------------------------------------------------
def _place(
    u: float, v: float, left: float, top: float, height: float, cell_w: float, style: ChildStyle, scale: float,
    angle: float,
) -> MmPoint:
    """A glyph-cell point (u across the advance, v down the height) on paper, with slant, size and tilt."""
    px = u * height * style.width * scale + style.slant * (1 - v) * height
    py = v * height * scale
    ccx, ccy = cell_w / 2, height / 2
    dx, dy = px - ccx, py - ccy
    ca, sa = math.cos(angle), math.sin(angle)
    return left + ccx + dx * ca - dy * sa, top + ccy + dx * sa + dy * ca


def _timed(paths: list[_Path], style: ChildStyle, rng: random.Random) -> list[SimStroke]:
    strokes: list[SimStroke] = []
    for path in paths:
        start = 0.0 if not strokes else strokes[-1].end_s + max(0.05, path.pause_before_s)
        strokes.append(SimStroke(_sample(path.points, style.speed_mm_s * path.speed, style, rng), start))
    return strokes


def _sample(
    poly: list[MmPoint], speed: float, style: ChildStyle, rng: random.Random
) -> list[tuple[float, float, float, int]]:
    """Points every SAMPLE_S along a polyline at an eased speed, with wobble and a pressure profile."""
    lengths = [0.0]
    for (ax, ay), (bx, by) in itertools.pairwise(poly):
        lengths.append(lengths[-1] + math.hypot(bx - ax, by - ay))
    total = lengths[-1]
    duration = max(0.05, total / max(speed, 1.0)) * rng.uniform(0.85, 1.15)
    n = max(2, math.ceil(duration / SAMPLE_S) + 1)
    duration = (n - 1) * SAMPLE_S
    phase_x, phase_y = rng.uniform(0, 6.3), rng.uniform(0, 6.3)
    wave_x, wave_y = rng.uniform(2.2, 4.0), rng.uniform(2.2, 4.0)
    press = style.force * rng.uniform(0.85, 1.15)
    out: list[tuple[float, float, float, int]] = []
    seg = 0
    for i in range(n):
        t = i * SAMPLE_S
        u = t / duration
        s = total * (0.45 * u + 0.55 * u * u * (3 - 2 * u))  # slower at the ends, as a hand starts and stops
        while seg < len(lengths) - 2 and lengths[seg + 1] < s:
            seg += 1
        a, b = poly[seg], poly[min(seg + 1, len(poly) - 1)]
        span = lengths[seg + 1] - lengths[seg] if seg + 1 < len(lengths) else 0.0
        f = 0.0 if span <= 0 else (s - lengths[seg]) / span
        x = a[0] + (b[0] - a[0]) * f + style.wobble_mm * math.sin(s / wave_x + phase_x)
        y = a[1] + (b[1] - a[1]) * f + style.wobble_mm * math.sin(s / wave_y + phase_y)
        ramp = min(1.0, (t + 0.01) / 0.04, (duration - t + 0.01) / 0.05)
        force = int(max(30, min(MAX_FORCE, press * (0.35 + 0.65 * ramp) + rng.gauss(0, 12))))
        out.append((x, y, round(t, 4), force))
    return out


def _fit(strokes: list[SimStroke], box_mm: Box) -> list[SimStroke]:
    """Scale the writing down (about its centre) and shift it so every point is inside the box's inset."""
    pts = [(p[0], p[1]) for s in strokes for p in s.points]
    if not pts:
        return strokes
    x, y, w, h = box_mm
    inner = (x + BOX_INSET_MM, y + BOX_INSET_MM, max(0.1, w - 2 * BOX_INSET_MM), max(0.1, h - 2 * BOX_INSET_MM))
    minx, maxx = min(p[0] for p in pts), max(p[0] for p in pts)
    miny, maxy = min(p[1] for p in pts), max(p[1] for p in pts)
    bw, bh = max(maxx - minx, 1e-6), max(maxy - miny, 1e-6)
    k = min(1.0, inner[2] / bw, inner[3] / bh)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    nminx, nmaxx = cx - (cx - minx) * k, cx + (maxx - cx) * k
    nminy, nmaxy = cy - (cy - miny) * k, cy + (maxy - cy) * k
    dx = max(inner[0] - nminx, 0.0) + min(inner[0] + inner[2] - nmaxx, 0.0)
    dy = max(inner[1] - nminy, 0.0) + min(inner[1] + inner[3] - nmaxy, 0.0)
    if k == 1.0 and dx == 0.0 and dy == 0.0:
        return strokes
    return [
        SimStroke([(cx + (px - cx) * k + dx, cy + (py - cy) * k + dy, t, f) for px, py, t, f in s.points], s.start_s)
        for s in strokes
    ]
