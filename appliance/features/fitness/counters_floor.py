"""Counters for the floor exercises filmed side-on: sit-ups (test) and push-ups (training)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from appliance.features.fitness.counters_base import Counter, Cycle, Rep
from appliance.features.fitness.geometry import (
    LEFT_ELBOW,
    LEFT_HIP,
    LEFT_KNEE,
    LEFT_SHOULDER,
    RIGHT_ELBOW,
    RIGHT_HIP,
    RIGHT_KNEE,
    RIGHT_SHOULDER,
    Smoother,
    joint_angle,
    mid,
    point,
)


class SitUpCounter(Counter):
    """1-minute sit-up (仰卧起坐), camera side-on to the mat.

    Progress is the trunk's elevation from the mat (hip→shoulder line against the horizontal, measured
    towards the knees, so 0° lying flat and ~90-110° curled onto the knees); the knees tell which way the
    student lies, so either facing works. A rep starts at > 60° and ends on the way down at < 50°.
    Rules, checked when the rep ends:

    * ``shoulders_not_to_mat``: between the previous rep and this one the trunk never came down below 20°
      (shoulder blades on the mat). The rise that started off the mat is the one that does not count, as the
      tester counts it. Before the first rep nothing is required (the student may have been found late).
    * ``elbows_not_to_knees``: at no time during the rep was every seen elbow within 0.3 torso lengths of a
      knee (joint centres; elbows touching knees leave ~0.1-0.2 between the centres).
    """

    exercise: ClassVar[str] = "sit_up"
    START, END, MAT_DEG, TOUCH = 60.0, 50.0, 20.0, 0.30

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self.cycle = Cycle(self.START, self.END)
        self._elev = Smoother(0.08)
        self._touch = Smoother(0.06)
        self._side = Smoother(0.5, max_gap=5.0, median=False)
        self._trough: float | None = None  # lowest elevation since the last rep
        self._best: float = math.inf  # closest elbow-knee approach in this rep
        self.phase = "down"

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        hip, sh = mid(kps, LEFT_HIP, RIGHT_HIP), mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
        knee = mid(kps, LEFT_KNEE, RIGHT_KNEE)
        if hip is None or sh is None:
            return []
        if knee is not None:
            self._side.update(ts, 1.0 if knee[0] > hip[0] else -1.0)
        side = 1.0 if (self._side.value or 1.0) >= 0 else -1.0
        elev = math.degrees(math.atan2(hip[1] - sh[1], (sh[0] - hip[0]) * -side))
        e = self._elev.update(ts, elev)
        gap = self._elbow_knee(kps, torso)
        if gap is not None:
            g = self._touch.update(ts, gap)
            if self.cycle.active:
                self._best = min(self._best, g)
        out: list[Rep] = []
        ev = self.cycle.step(ts, e)
        if ev == "start":
            self._best = self._touch.value if self._touch.value is not None and gap is not None else math.inf
            self.phase = "up"
        elif ev == "end":
            reason = None
            if self._trough is not None and self._trough > self.MAT_DEG:
                reason = "shoulders_not_to_mat"
            elif self._best > self.TOUCH:
                reason = "elbows_not_to_knees"
            out.append(self._rep(ts, reason))
            self._trough = e
            self.phase = "down"
        elif not self.cycle.active:
            self._trough = e if self._trough is None else min(self._trough, e)
        return out

    @staticmethod
    def _elbow_knee(kps: np.ndarray, torso: float) -> float | None:
        """Distance of the farther seen elbow from its nearest seen knee, in torso lengths."""
        knees = [p for p in (point(kps, LEFT_KNEE), point(kps, RIGHT_KNEE)) if p is not None]
        elbows = [p for p in (point(kps, LEFT_ELBOW), point(kps, RIGHT_ELBOW)) if p is not None]
        if not knees or not elbows:
            return None
        return max(min(float(np.linalg.norm(e - k)) for k in knees) for e in elbows) / torso

    def _live_hint(self) -> str | None:
        if self.cycle.active and self._best > self.TOUCH and (self._elev.value or 0) > 80:
            return "肘部再向前碰膝"
        return None


class PushUpCounter(Counter):
    """Push-up (俯卧撑, training), camera side-on.

    Progress is elbow flexion (180° minus the shoulder-elbow-wrist angle, both arms pooled when both are
    seen); a rep starts below 145° and ends back above 155°. Frames where the trunk is more upright than
    horizontal are ignored (someone standing and bending the arms is not doing a push-up).

    * ``elbows_not_90``: the smallest elbow angle of the rep stayed above 100° (90° with some allowance
      for 2-D projection and smoothing).
    * ``body_not_straight``: the median shoulder-hip-ankle angle during the rep is under 160° (hips sagging
      or piked up).
    """

    exercise: ClassVar[str] = "push_up"
    START, END, DEPTH, STRAIGHT = 145.0, 155.0, 100.0, 160.0

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self.cycle = Cycle(180.0 - self.START, 180.0 - self.END)
        self._elbow = Smoother(0.06)
        self._body = Smoother(0.08)
        self._min_elbow = 180.0
        self._body_vals: list[float] = []
        self.phase = "up"

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        hip, sh = mid(kps, LEFT_HIP, RIGHT_HIP), mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
        if hip is None or sh is None or abs(sh[1] - hip[1]) > abs(sh[0] - hip[0]):
            return []
        el = joint_angle(kps, ((11, 13, 15), (12, 14, 16)))
        if el is None:
            return []
        e = self._elbow.update(ts, el)
        body = joint_angle(kps, ((11, 23, 27), (12, 24, 28)))
        if body is not None:
            self._body.update(ts, body)
        out: list[Rep] = []
        ev = self.cycle.step(ts, 180.0 - e)
        if ev == "start":
            self._min_elbow, self._body_vals = e, []
            self.phase = "down"
        if self.cycle.active:
            self._min_elbow = min(self._min_elbow, e)
            if body is not None and self._body.value is not None:
                self._body_vals.append(self._body.value)
        if ev == "end":
            reason = None
            if self._min_elbow > self.DEPTH:
                reason = "elbows_not_90"
            elif self._body_vals and float(np.median(self._body_vals)) < self.STRAIGHT:
                reason = "body_not_straight"
            out.append(self._rep(ts, reason))
            self.phase = "up"
        return out

    def _live_hint(self) -> str | None:
        if self._body.value is not None and self._body.value < self.STRAIGHT - 5:
            return "收紧腰腹，身体保持平直"
        return None
