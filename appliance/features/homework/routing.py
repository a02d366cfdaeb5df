"""Where a pen stroke belongs: pattern units to millimetres, then the answer box that holds most of it.

A child's tick often overshoots its box and a digit's tail dips into the next line, so a stroke goes to
the box holding the majority of its points, not to the box of its first dot. Ink outside every box
(doodles, the 学号 box a pen student need not fill) is kept out of the answers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from appliance.events import PenStroke
from appliance.features.homework.template import Template, pattern_to_mm

MajorityShare = 0.5

Stroke = list[tuple[float, float]]


@dataclass(frozen=True)
class RoutedStroke:
    target: str | None  # a question id, "submit", or None (outside every box)
    points_mm: Stroke
    started_at: float
    ended_at: float


def stroke_mm(stroke: PenStroke, template: Template) -> Stroke:
    origin = template.page.origin_mm
    return [pattern_to_mm(x, y, origin) for x, y, _force, _t in stroke.points]


def locate_stroke(points_mm: Stroke, template: Template) -> str | None:
    """The box holding more than half of the stroke's points, else None."""
    if not points_mm:
        return None
    votes = Counter(template.locate(x, y) for x, y in points_mm)
    target, n = votes.most_common(1)[0]
    if target is None or n / len(points_mm) <= MajorityShare:
        return None
    return target


def route(stroke: PenStroke, template: Template) -> RoutedStroke:
    pts = stroke_mm(stroke, template)
    return RoutedStroke(locate_stroke(pts, template), pts, stroke.started_at, stroke.ended_at)


PAUSE_COUNTS_S = 30.0  # pauses shorter than this are thinking time and count as homework time


@dataclass
class WritingClock:
    """Active writing time from pen timestamps: strokes plus pauses under 30 s; elapsed: first to last."""

    first_at: float | None = None
    last_at: float | None = None
    active_s: float = 0.0

    def add(self, started_at: float, ended_at: float) -> None:
        ended_at = max(ended_at, started_at)
        if self.first_at is None or self.last_at is None:
            self.first_at, self.last_at = started_at, ended_at
            self.active_s = ended_at - started_at
            return
        gap = started_at - self.last_at
        if 0 < gap < PAUSE_COUNTS_S:
            self.active_s += gap
        self.active_s += max(0.0, ended_at - max(started_at, self.last_at))  # overlap counted once
        self.first_at = min(self.first_at, started_at)
        self.last_at = max(self.last_at, ended_at)

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.first_at is None or self.last_at is None else self.last_at - self.first_at
