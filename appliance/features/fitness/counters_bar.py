"""Pull-up counter (引体向上), camera facing the bar (the student's front or back)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from appliance.features.fitness.counters_base import Counter, Cycle, Rep
from appliance.features.fitness.geometry import (
    CHIN_ABOVE_SHOULDERS,
    CHIN_BELOW_EARS,
    CHIN_BELOW_MOUTH,
    FOREARM,
    LEFT_EAR,
    LEFT_INDEX,
    LEFT_SHOULDER,
    LEFT_WRIST,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    RIGHT_EAR,
    RIGHT_INDEX,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    TORSO,
    UPPER_ARM,
    RunningMedian,
    Smoother,
    joint_angle,
    mean_of,
    mid,
    point,
)

ARM = (UPPER_ARM + FOREARM) / TORSO  # shoulder-to-wrist reach in torso lengths


def chin_y(kps: np.ndarray, torso: float) -> float | None:
    """Where the chin is (y px). The chin is no landmark: below the mouth when the face is seen, else below
    the ears (student's back to the camera), else above the shoulders."""
    m = mid(kps, MOUTH_LEFT, MOUTH_RIGHT)
    if m is not None and point(kps, MOUTH_LEFT) is not None and point(kps, MOUTH_RIGHT) is not None:
        return float(m[1]) + CHIN_BELOW_MOUTH / TORSO * torso
    ears = mean_of(kps, (LEFT_EAR, RIGHT_EAR))
    if ears is not None:
        return float(ears[1]) + CHIN_BELOW_EARS / TORSO * torso
    sh = mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
    return None if sh is None else float(sh[1]) - CHIN_ABOVE_SHOULDERS / TORSO * torso


class PullUpCounter(Counter):
    """Progress is how far the shoulders have risen towards the hands: ``1 - (wrist-to-shoulder height) /
    arm length`` (≈0 in a dead hang, ≈1 with the shoulders at the hands); a rep starts above 0.5 and ends
    below 0.35. Frames with the wrists well below the shoulders (not on the bar) are not used.

    * ``no_dead_hang``: since the previous rep (or, for the first, since the hands were on the bar) the
      elbows never opened to 150° (both arms pooled): the pull was started with bent arms.
    * ``chin_not_over_bar``: the chin (estimated from the mouth, ears or shoulders, see ``chin_y``) never
      got above ``bar_y``. ``bar_y`` is the station's when given, else the running median of the hands'
      middle (between wrist and index knuckle) while hanging: the hands grip the bar.
    """

    exercise: ClassVar[str] = "pull_up"
    START, END, HANG_DEG = 0.5, 0.35, 150.0

    def __init__(self, *, bar_y: float | None = None) -> None:
        super().__init__(bar_y=bar_y)
        self.cycle = Cycle(self.START, self.END)
        self._lift = Smoother(0.06)
        self._elbow = Smoother(0.08)
        self._chin = Smoother(0.05)
        self._bar = RunningMedian(30.0)
        self._hang_best: float | None = None  # straightest elbows since the last rep
        self._over = -np.inf  # best chin-over-bar margin in this rep (torso lengths)
        self.phase = "hang"

    def estimated_bar_y(self) -> float | None:
        return self.bar_y if self.bar_y is not None else self._bar.value

    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        sh = mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
        wr = mean_of(kps, (LEFT_WRIST, RIGHT_WRIST))
        if sh is None or wr is None or wr[1] > sh[1] + 0.4 * torso:
            return []  # hands well below the shoulders: not on the bar
        for w_i, i_i in ((LEFT_WRIST, LEFT_INDEX), (RIGHT_WRIST, RIGHT_INDEX)):
            w, ix = point(kps, w_i), point(kps, i_i)
            if w is not None and ix is not None and self.bar_y is None and not self.cycle.active:
                self._bar.update(ts, float(w[1] + ix[1]) / 2.0)
        lift = self._lift.update(ts, 1.0 - (sh[1] - wr[1]) / (ARM * torso))
        el = joint_angle(kps, ((11, 13, 15), (12, 14, 16)))
        e = self._elbow.update(ts, el) if el is not None else None
        bar = self.estimated_bar_y()
        c = chin_y(kps, torso)
        margin = self._chin.update(ts, (bar - c) / torso) if bar is not None and c is not None else None
        out: list[Rep] = []
        ev = self.cycle.step(ts, lift)
        if ev == "start":
            self._over = -np.inf
            self.phase = "up"
        if self.cycle.active:
            if margin is not None:
                self._over = max(self._over, margin)
        elif e is not None:
            self._hang_best = e if self._hang_best is None else max(self._hang_best, e)
        if ev == "end":
            reason = None
            if self._hang_best is None or self._hang_best < self.HANG_DEG:
                reason = "no_dead_hang"
            elif self._over <= 0.0:
                reason = "chin_not_over_bar"
            out.append(self._rep(ts, reason))
            self._hang_best = None
            self.phase = "hang"
        return out

    def _live_hint(self) -> str | None:
        if not self.cycle.active and self._hang_best is not None and self._hang_best < self.HANG_DEG:
            return "先把手臂伸直悬垂"
        if self.cycle.active and self._over <= 0.0:
            return "下颌要过杠"
        return None
