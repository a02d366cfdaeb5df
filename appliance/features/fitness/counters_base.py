"""What every exercise counter shares: the Rep record, the fault codes and their wording, the base class.

A counter is a state machine over one smoothed, body-size-normalised "progress" signal (how far into the
movement the student is) with two thresholds (hysteresis): a rep starts when progress passes ``start`` and
ends when it comes back past ``end``. Between the two, the rule signals (elbow-to-knee distance, chin over
bar, ...) are recorded; between reps, the start-position rule (shoulders on the mat, dead hang). The rep is
judged when it ends, so each rep is counted exactly once however much the signal wiggles near a threshold.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from appliance.features.fitness.geometry import NUM_LANDMARKS, BodyScale

EXERCISES = ("rope_skip", "sit_up", "pull_up", "push_up", "squat", "jumping_jack")


@dataclass(frozen=True)
class Rep:
    """One repetition as a tester would record it: when it ended, whether it counts, and why not."""

    ts: float
    valid: bool
    reason: str | None  # fault code (a key of REASONS_ZH); None when valid


#: What the official tester says (国家学生体质健康标准 测试细则 wording where there is one).
REASONS_ZH: dict[str, str] = {
    "elbows_not_to_knees": "肘未触膝",
    "shoulders_not_to_mat": "肩胛未触垫",
    "chin_not_over_bar": "下颌未过杠",
    "no_dead_hang": "未从直臂悬垂开始",
    "no_rope_turn": "跳起时未摇绳（绊绳）",
    "elbows_not_90": "俯卧撑未屈臂至90°",
    "body_not_straight": "身体未保持平直",
    "squat_not_deep": "下蹲不够深",
    "hands_not_over_head": "开合跳手未过头顶",
    "feet_not_apart": "开合跳脚未分开",
}
REASONS_EN: dict[str, str] = {
    "elbows_not_to_knees": "elbows did not reach the knees",
    "shoulders_not_to_mat": "shoulder blades did not touch the mat before this sit-up",
    "chin_not_over_bar": "chin did not clear the bar",
    "no_dead_hang": "did not start from a straight-arm hang",
    "no_rope_turn": "jumped without turning the rope (rope caught)",
    "elbows_not_90": "elbows did not bend to 90°",
    "body_not_straight": "body not kept straight (hips sagging or piked)",
    "squat_not_deep": "squat not deep enough (hips not down to knee height)",
    "hands_not_over_head": "hands did not go above the head",
    "feet_not_apart": "feet did not jump apart",
}
#: The faults each exercise can report, in the order they are checked (the first one found is reported).
REASONS_BY_EXERCISE: dict[str, tuple[str, ...]] = {
    "rope_skip": ("no_rope_turn",),
    "sit_up": ("shoulders_not_to_mat", "elbows_not_to_knees"),
    "pull_up": ("no_dead_hang", "chin_not_over_bar"),
    "push_up": ("elbows_not_90", "body_not_straight"),
    "squat": ("squat_not_deep",),
    "jumping_jack": ("hands_not_over_head", "feet_not_apart"),
}

#: Seconds an invalid rep's reason stays as the kiosk hint.
HINT_SECONDS = 3.0
#: Seconds without the student before the hint asks them back.
AWAY_SECONDS = 1.5


class Cycle:
    """Two-threshold state machine on a progress signal that rises during a rep.

    ``start`` > ``end``: the rep is under way from progress > start until progress < end. A jittery signal
    sitting at one threshold cannot produce a second rep because it must cross the other one first.
    """

    def __init__(self, start: float, end: float) -> None:
        if end >= start:
            raise ValueError("hysteresis needs end < start")
        self.start, self.end = start, end
        self.active = False
        self.since: float | None = None

    def step(self, ts: float, progress: float) -> str | None:
        """"start" when a rep begins, "end" when it ends, else None."""
        if not self.active and progress > self.start:
            self.active, self.since = True, ts
            return "start"
        if self.active and progress < self.end:
            self.active = False
            return "end"
        return None


class Counter(ABC):
    """Feed it one frame at a time; it returns the reps that finished on that frame.

    ``update(ts, None)`` means nobody was visible; keypoints whose visibility is below 0.5 are ignored, so a
    frame where the needed joints are hidden simply does not move the state machine.
    """

    exercise: ClassVar[str]

    def __init__(self, *, bar_y: float | None = None) -> None:
        self.bar_y = bar_y
        self.reps: list[Rep] = []
        self.phase = "idle"
        self.scale = BodyScale()
        self._last_seen: float | None = None
        self._last_ts: float | None = None

    @property
    def count(self) -> int:
        """Valid reps so far."""
        return sum(1 for r in self.reps if r.valid)

    def update(self, ts: float, keypoints: np.ndarray | None) -> list[Rep]:
        self._last_ts = ts
        new: list[Rep] = []
        if keypoints is not None:
            kps = np.asarray(keypoints, dtype=np.float64)
            if kps.shape != (NUM_LANDMARKS, 3):
                raise ValueError(f"keypoints must be (33, 3) x, y, visibility; got {kps.shape}")
            torso = self.scale.update(ts, kps)
            if torso is not None:
                self._last_seen = ts
                new = self._step(ts, kps, torso)
        new += self._tick(ts)
        self.reps.extend(new)
        return new

    @abstractmethod
    def _step(self, ts: float, kps: np.ndarray, torso: float) -> list[Rep]:
        """Advance on one frame with the student seen; ``torso`` is their torso length in px."""

    def _tick(self, ts: float) -> list[Rep]:
        """Called on every frame, seen or not: for decisions that fall due with time (rope skipping)."""
        return []

    def hint(self) -> str | None:
        """Short coaching text for the kiosk (Chinese), or None."""
        now = self._last_ts
        if now is None:
            return None
        if self._last_seen is None or now - self._last_seen > AWAY_SECONDS:
            return "请回到测试位置" if self.reps else None
        if self.reps and not self.reps[-1].valid and now - self.reps[-1].ts <= HINT_SECONDS:
            reason = self.reps[-1].reason
            return REASONS_ZH.get(reason, reason) if reason else None
        return self._live_hint()

    def _live_hint(self) -> str | None:
        return None

    def _rep(self, ts: float, reason: str | None) -> Rep:
        return Rep(ts=ts, valid=reason is None, reason=reason)
