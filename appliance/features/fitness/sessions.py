"""One student's go at a station: the start signal, the countdown, the timed minute and the count.

Times inside a session are the camera frames' monotonic capture times, so a frame analysed late
still lands in the second it was taken, and a repetition made after the whistle is not counted.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from appliance.features.fitness.counters import REASONS_ZH, Counter, Rep, make_counter

Mode = Literal["test", "training"]
State = Literal["countdown", "running", "finished"]
OFF_BAR_ENDS_S = 10.0  # an untimed pull-up test ends when the student has been off the bar this long


@dataclass
class Session:
    station_id: str
    exercise: str
    mode: Mode
    student_id: str | None
    label: str | None
    countdown_s: float
    duration_s: float | None  # None: untimed (pull-ups), ends on stop or when the student leaves the bar
    bar_y_px: float | None = None
    session_id: str = field(default_factory=lambda: secrets.token_hex(6))
    created_mono: float = field(default_factory=time.monotonic)
    created_wall: float = field(default_factory=time.time)
    state: State = "countdown"
    counter: Counter = field(init=False)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    last_seen_mono: float | None = None
    ended_mono: float | None = None
    stopped_early: bool = False
    result: dict[str, Any] | None = None
    pre_start: int = 0  # valid reps the counter saw during the countdown (warming up its baseline)

    def __post_init__(self) -> None:
        self.counter = make_counter(self.exercise, bar_y=self.bar_y_px)

    @property
    def start_mono(self) -> float:
        return self.created_mono + self.countdown_s

    @property
    def end_mono(self) -> float | None:
        return None if self.duration_s is None else self.start_mono + self.duration_s

    def tick(self, now: float) -> bool:
        """Advance the clock; True when the session has just finished."""
        if self.state == "countdown" and now >= self.start_mono:
            self.state = "running"
            self.last_seen_mono = now
        if self.state == "running":
            end = self.end_mono
            if end is not None and now >= end:
                return self._finish(end)
            if (end is None and self.count > 0 and self.last_seen_mono is not None
                    and now - self.last_seen_mono >= OFF_BAR_ENDS_S):
                return self._finish(self.last_seen_mono)
        return False

    @property
    def count(self) -> int:
        return self.counter.count - self.pre_start

    def feed(self, ts: float, keypoints: np.ndarray | None) -> list[Rep]:
        """A frame taken at monotonic ``ts``; frames before the start or after the end are not counted.

        Countdown frames still go to the counter, so it learns the student's standing posture (the
        rope counter's baseline) before the whistle; whatever it counts then is subtracted.
        """
        if self.state == "finished":
            return []
        if ts < self.start_mono:
            self.counter.update(ts, keypoints)
            self.pre_start = self.counter.count
            return []
        end = self.end_mono
        if end is not None and ts > end:
            return []
        if keypoints is not None:
            self.last_seen_mono = ts
        reps = self.counter.update(ts, keypoints)
        for rep in reps:
            if not rep.valid and rep.reason:
                self.invalid.append({"t": round(rep.ts - self.start_mono, 2), "reason": rep.reason,
                                     "reason_zh": REASONS_ZH.get(rep.reason, rep.reason)})
        return reps

    def stop(self, now: float) -> bool:
        if self.state == "finished":
            return False
        self.stopped_early = self.duration_s is not None
        return self._finish(max(now, self.start_mono) if self.state == "running" else self.start_mono)

    def _finish(self, at: float) -> bool:
        if self.state == "finished":
            return False
        self.state = "finished"
        self.ended_mono = at
        return True

    @property
    def elapsed_s(self) -> float:
        end = self.ended_mono if self.ended_mono is not None else time.monotonic()
        return max(0.0, end - self.start_mono)

    @property
    def is_scored_test(self) -> bool:
        """A test stopped before its minute is over is kept as training: it is not a valid test score."""
        return self.mode == "test" and not self.stopped_early and self.student_id is not None

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        remaining: float | None = None
        end = self.end_mono
        if self.state == "countdown":
            remaining = self.start_mono - now
        elif self.state == "running" and end is not None:
            remaining = end - now
        return {"session_id": self.session_id, "mode": self.mode, "state": self.state, "student_id": self.student_id,
                "label": self.label, "starts_at": self.created_wall + self.countdown_s,
                "ends_at": None if self.duration_s is None else self.created_wall + self.countdown_s + self.duration_s,
                "remaining_s": None if remaining is None else round(max(0.0, remaining), 1),
                "count": self.count, "invalid": list(self.invalid[-20:]), "phase": self.counter.phase,
                "hint": self.counter.hint() if self.state == "running" else None, "result": self.result}
