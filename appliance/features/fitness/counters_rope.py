"""Rope-skipping counter (1-minute 跳绳), camera front-on (or the student's back).

The rope itself is thin and fast and BlazePose does not see it, so a turn is read from the hands. What the
pose shows:

* the jump: the whole body goes up and down. ``body`` is the median, over the seen shoulders, hips, knees,
  ankles, heels and toes, of each landmark's height above its own 1.5-second average (torso lengths).
  Taking the median makes one glitching landmark harmless; the per-landmark average removes standing
  posture and slow drift. A jump is an excursion above +0.035 torso lengths back to below 0, whose peak
  reaches 0.05 (≈1.5 % of stature: noise alone seldom gets there); its time is the peak (the top of the
  jump, when the rope passes under the feet).
* the turn: while turning, each wrist draws a small circle (~4-6 % of stature) beside the hip, lowest
  when the rope passes under the feet. ``hands`` is the median height of the 8 hand landmarks above their
  own 1-second average, minus ``body`` (so the jump itself does not look like a turn). One turn = one
  cycle of that signal through -0.06 and +0.06 torso lengths; its time is the lowest point of the cycle.

A jump counts when a turn's low point lies within ±45 % of the jumping period of the jump's top (each turn
pays for one jump only); a jump with no such turn is invalid ``no_rope_turn`` (the rope was caught, or the
student hopped with the hands still). A decision is taken ~0.9 period after the jump, so the kiosk count
trails by about half a second.

Limits (honest): the hands are seen, not the rope — a student who keeps the wrists circling after the rope
has caught on a foot is still counted, and hands circling < ~3 % of stature (tiny wrist-only turns seen from
far away) are missed and those jumps are called invalid. A double-under (two turns in one jump) counts one,
as one jump. Crossed-arm skipping and running steps (one foot at a time) are not modelled. Needs ≥ ~4 frames
per jump: at 10 fps, jumping faster than ~2.5 per second cannot be counted reliably.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

import numpy as np

from appliance.features.fitness.counters_base import Counter, Rep
from appliance.features.fitness.geometry import Smoother, seen

BODY = (11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)
HANDS = (15, 16, 17, 18, 19, 20, 21, 22)


class _Baselines:
    """A slow per-landmark average of y, to measure each landmark's movement about its own resting place."""

    def __init__(self, idxs: tuple[int, ...], tau: float) -> None:
        self.idxs = idxs
        self.sm = {i: Smoother(tau, max_gap=1.0, median=False) for i in idxs}

    def deviations(self, ts: float, kps: np.ndarray, torso: float) -> list[float]:
        out = []
        for i in self.idxs:
            if seen(kps, i):
                y = float(kps[i, 1])
                prev = self.sm[i].value
                self.sm[i].update(ts, y)
                if prev is not None:
                    out.append((prev - y) / torso)  # up is positive
        return out


class _Peaks:
    """Hysteresis excursions of a signal; records the time of the extreme of each excursion."""

    def __init__(self, hi: float, lo: float, sign: float, min_peak: float) -> None:
        self.hi, self.lo, self.sign, self.min_peak = hi, lo, sign, min_peak
        self.active = False
        self.best = -np.inf
        self.best_ts = 0.0

    def step(self, ts: float, x: float) -> float | None:
        v = x * self.sign
        if not self.active:
            if v > self.hi:
                self.active, self.best, self.best_ts = True, v, ts
            return None
        if v > self.best:
            self.best, self.best_ts = v, ts
        if v < self.lo:
            self.active = False
            return self.best_ts if self.best >= self.min_peak else None
        return None


class RopeSkipCounter(Counter):
    exercise: ClassVar[str] = "rope_skip"
    JUMP_HI, JUMP_LO, JUMP_MIN = 0.035, 0.0, 0.05
    TURN = 0.06

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self._body_base = _Baselines(BODY, 1.5)
        self._hand_base = _Baselines(HANDS, 1.0)
        self._body = Smoother(0.03, median=False)
        self._hands = Smoother(0.03, median=False)
        self._jump = _Peaks(self.JUMP_HI, self.JUMP_LO, 1.0, self.JUMP_MIN)
        # the hands' low point is a minimum: look at the signal upside down; +0.06 down, back above -0.06
        self._turn = _Peaks(self.TURN, -self.TURN, -1.0, self.TURN)
        self._jumps: deque[float] = deque()  # jump tops waiting for their decision
        self._turns: deque[float] = deque()  # unclaimed turn low points
        self._intervals: deque[float] = deque(maxlen=6)
        self._last_jump: float | None = None
        self.phase = "ground"

    def period(self) -> float:
        return float(np.median(self._intervals)) if self._intervals else 0.5

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        bd = self._body_base.deviations(ts, kps, torso)
        hd = self._hand_base.deviations(ts, kps, torso)
        if len(bd) < 3:
            return []
        body = self._body.update(ts, float(np.median(bd)))
        t_jump = self._jump.step(ts, body)
        self.phase = "air" if self._jump.active else "ground"
        if t_jump is not None:
            if self._last_jump is not None and t_jump - self._last_jump < 1.2:
                self._intervals.append(t_jump - self._last_jump)
            self._last_jump = t_jump
            self._jumps.append(t_jump)
        if len(hd) >= 2:
            hands = self._hands.update(ts, float(np.median(hd)) - float(np.median(bd)))
            t_turn = self._turn.step(ts, hands)
            if t_turn is not None:
                self._turns.append(t_turn)
        return []

    def _tick(self, ts: float) -> list[Rep]:
        p = self.period()
        window = min(max(0.45 * p, 0.12), 0.4)
        delay = min(max(0.9 * p, 0.3), 0.8)
        out: list[Rep] = []
        while self._jumps and ts - self._jumps[0] > delay:
            tj = self._jumps.popleft()
            while self._turns and self._turns[0] < tj - window:
                self._turns.popleft()  # hands turned with no jump near: nothing to count
            if self._turns and abs(self._turns[0] - tj) <= window:
                self._turns.popleft()
                out.append(self._rep(ts, None))
            else:
                out.append(self._rep(ts, "no_rope_turn"))
        return out
