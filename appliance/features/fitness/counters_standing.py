"""Counters for the standing training exercises: squats and jumping jacks."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from appliance.features.fitness.counters_base import Counter, Cycle, Rep
from appliance.features.fitness.geometry import (
    LEFT_ANKLE,
    LEFT_SHOULDER,
    LEFT_WRIST,
    NOSE,
    RIGHT_ANKLE,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    Smoother,
    mid,
    point,
    seen,
)


class SquatCounter(Counter):
    """Squat (深蹲, training), camera side-on or front-on.

    Progress is the thigh's height over the shin's: ``(knee_y - hip_y) / (ankle_y - knee_y)``, summed over
    the seen sides. Standing it is ~1; with the hips at knee height (thigh horizontal) ~0. Vertical
    extents are the same from the side and from the front (a thigh pointing at the camera is short and flat
    on the image just as it is horizontal from the side), so one rule serves both camera set-ups and no body
    length is needed (a front camera foreshortens every length of a bending body). A rep starts below 0.8
    and ends when standing again above 0.9; a dip that never goes below 0.75 is taken as sway, not a rep.

    * ``squat_not_deep``: the lowest progress stayed above 0.45 (thigh more than ~28° above horizontal;
      knee angle above ~100° at a usual shin lean).
    """

    exercise: ClassVar[str] = "squat"
    START, END, DEEP, MIN_DIP = 0.8, 0.9, 0.45, 0.75

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self.cycle = Cycle(-self.START, -self.END)
        self._ratio = Smoother(0.08)
        self._low = 1.0
        self.phase = "up"

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        thigh = shin = 0.0
        for h, k, a in ((23, 25, 27), (24, 26, 28)):
            if seen(kps, h) and seen(kps, k) and seen(kps, a):
                thigh += float(kps[k, 1] - kps[h, 1])
                shin += float(kps[a, 1] - kps[k, 1])
        if shin < 0.05 * torso:
            return []
        r = self._ratio.update(ts, thigh / shin)
        out: list[Rep] = []
        ev = self.cycle.step(ts, -r)
        if ev == "start":
            self._low = r
            self.phase = "down"
        if self.cycle.active:
            self._low = min(self._low, r)
        if ev == "end":
            self.phase = "up"
            if self._low < self.MIN_DIP:
                out.append(self._rep(ts, None if self._low <= self.DEEP else "squat_not_deep"))
        return out

    def _live_hint(self) -> str | None:
        if self.cycle.active and self._low > self.DEEP:
            return "再蹲低一点"
        return None


class JumpingJackCounter(Counter):
    """Jumping jack (开合跳, training), camera front-on (or the student's back).

    Progress is the arms' elevation: the angle of shoulder→wrist from straight down (0°) to straight up
    (180°), both arms pooled; a rep starts above 80° and ends below 50°.

    * ``hands_not_over_head``: the lower wrist never got 0.3 torso lengths above the nose (≈ the top of the
      head; from behind, the nose is placed from the shoulders).
    * ``feet_not_apart``: the ankles were never more than 1.3 torso lengths apart (≈ twice hip width).
    """

    exercise: ClassVar[str] = "jumping_jack"
    START, END, OVER_HEAD, APART = 80.0, 50.0, 0.3, 1.3

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self.cycle = Cycle(self.START, self.END)
        self._arms = Smoother(0.05)
        self._hands = Smoother(0.05)
        self._feet = Smoother(0.05)
        self._best_hands = -math.inf
        self._best_feet = 0.0
        self.phase = "closed"

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        elevs, wrist_ys = [], []
        for s_i, w_i in ((LEFT_SHOULDER, LEFT_WRIST), (RIGHT_SHOULDER, RIGHT_WRIST)):
            s, w = point(kps, s_i), point(kps, w_i)
            if s is not None and w is not None:
                v = w - s
                n = float(np.linalg.norm(v))
                if n > 1e-6:
                    elevs.append(math.degrees(math.acos(max(-1.0, min(1.0, float(v[1]) / n)))))
                    wrist_ys.append(float(w[1]))
        if not elevs:
            return []
        a = self._arms.update(ts, float(np.mean(elevs)))
        nose = point(kps, NOSE)
        sh = mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
        head_y = float(nose[1]) if nose is not None else (float(sh[1]) - 0.32 * torso if sh is not None else None)
        hands = self._hands.update(ts, (head_y - max(wrist_ys)) / torso) if head_y is not None else None
        la, ra = point(kps, LEFT_ANKLE), point(kps, RIGHT_ANKLE)
        feet = self._feet.update(ts, abs(float(la[0] - ra[0])) / torso) if la is not None and ra is not None else None
        out: list[Rep] = []
        ev = self.cycle.step(ts, a)
        if ev == "start":
            self._best_hands, self._best_feet = -math.inf, 0.0
            self.phase = "open"
        if self.cycle.active:
            if hands is not None:
                self._best_hands = max(self._best_hands, hands)
            if feet is not None:
                self._best_feet = max(self._best_feet, feet)
        if ev == "end":
            reason = None
            if self._best_hands < self.OVER_HEAD:
                reason = "hands_not_over_head"
            elif self._best_feet < self.APART:
                reason = "feet_not_apart"
            out.append(self._rep(ts, reason))
            self.phase = "closed"
        return out
