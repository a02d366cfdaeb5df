"""Rope-skipping counter (1-minute 跳绳), camera front-on (or the student's back).

The rope itself is thin and fast and BlazePose does not see it, so a turn is read from the hands. What the
pose shows:

* the jump: the whole body goes up and down. ``body`` is the median, over the seen shoulders, hips, knees,
  ankles, heels and toes, of each landmark's height above its own 1.5-second average (torso lengths).
  Taking the median makes one glitching landmark harmless; the per-landmark average removes standing
  posture and slow drift. A jump is an excursion above +0.025 torso lengths back to below 0, whose peak
  reaches 0.035 (≈1 % of stature; the median of 12 landmarks keeps noise well under that); its time is the peak (the top of the
  jump, when the rope passes under the feet).
* the turn: while turning, each wrist draws a small circle (~4-6 % of stature) beside the hip, lowest
  when the rope passes under the feet. ``hands`` is the median height of the 8 hand landmarks above their
  own 1-second average, minus ``body`` (so the jump itself does not look like a turn). One turn = one
  cycle of that signal through -0.06 and +0.06 torso lengths; its time is the lowest point of the cycle.

A jump counts when a turn's low point lies within ±50 % of the jumping period of the jump's top (each turn
pays for one jump only); a jump with no such turn is invalid ``no_rope_turn`` (the rope was caught, or the
student hopped with the hands still). A turn nearer the next jump's top is left to that jump. A decision is
taken 1.5 periods after the jump (when the next jump is known), so the kiosk count trails by ~0.7 s.

Limits (honest): the hands are seen, not the rope — a student who keeps the wrists circling after the rope
has caught on a foot is still counted, and hands circling < ~3 % of stature (tiny wrist-only turns seen from
far away) are missed and those jumps are called invalid. A double-under (two turns in one jump) counts one,
as one jump. Crossed-arm skipping and running steps (one foot at a time) are not modelled. Needs ≥ ~4 frames
per jump: at 10 fps, jumping faster than ~2.5 per second cannot be counted reliably.
"""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

import numpy as np

from appliance.features.fitness.counters_base import Counter, Rep
from appliance.features.fitness.geometry import Smoother, seen

BODY = (11, 12, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32)
HANDS = (15, 16, 17, 18, 19, 20, 21, 22)


class _Baselines:
    """A slow per-landmark average of y, to measure each landmark's movement about its own resting place.

    Until it has ``tau`` seconds of history it is the plain mean of what it has seen (an EMA started from one
    noisy frame stays biased for a while, and the first second would look like jumping); deviations are
    reported once the average is ``warm`` seconds old.
    """

    def __init__(self, idxs: tuple[int, ...], tau: float, warm: float = 0.5, max_gap: float = 1.0) -> None:
        self.idxs, self.tau, self.warm, self.max_gap = idxs, tau, warm, max_gap
        self.value: dict[int, float] = {}
        self.since: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def deviations(self, ts: float, kps: np.ndarray, torso: float) -> list[float]:
        out = []
        for i in self.idxs:
            if not seen(kps, i):
                continue
            y = float(kps[i, 1])
            if i not in self.value or ts - self.last[i] > self.max_gap or ts <= self.last[i]:
                self.value[i], self.since[i], self.last[i] = y, ts, ts
                continue
            prev, dt, age = self.value[i], ts - self.last[i], ts - self.since[i]
            if age >= self.warm:
                out.append((prev - y) / torso)  # up is positive
            alpha = max(1.0 - math.exp(-dt / self.tau), dt / (age + dt))
            self.value[i] = prev + alpha * (y - prev)
            self.last[i] = ts
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
    JUMP_HI, JUMP_LO, JUMP_MIN = 0.025, 0.0, 0.035
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
        window = min(max(0.5 * p, 0.12), 0.4)
        delay = min(max(1.5 * p, 0.4), 1.0)
        out: list[Rep] = []
        while self._jumps and ts - self._jumps[0] > delay:
            tj = self._jumps.popleft()
            nxt = self._jumps[0] if self._jumps else None
            while self._turns and self._turns[0] < tj - window:
                self._turns.popleft()  # hands turned with no jump near: nothing to count
            # the turn nearest this jump's top, unless it is nearer the next jump's (then it is that one's)
            near = [t for t in self._turns if abs(t - tj) <= window and (nxt is None or abs(t - tj) <= abs(t - nxt))]
            if near:
                best = min(near, key=lambda t: abs(t - tj))
                self._turns.remove(best)
                out.append(self._rep(ts, None))
            else:
                out.append(self._rep(ts, "no_rope_turn"))
        return out
