"""Rule-checked repetition counters, one per exercise (the API the stations and the kiosk use).

Each counter turns a stream of ``(ts, keypoints | None)`` (MediaPipe BlazePose's 33 landmarks, px) into
``Rep`` records, valid or with the fault an official tester would call (国家学生体质健康标准 测试细则 for the
test exercises: 1-minute sit-ups, pull-ups, 1-minute rope skipping; common coaching rules for push-ups,
squats and jumping jacks). How each rule is read from the pose is in each counter's docstring:

* ``SitUpCounter`` (counters_floor): elbows to knees, shoulder blades to the mat.
* ``PushUpCounter`` (counters_floor): elbows to 90°, body straight.
* ``PullUpCounter`` (counters_bar): chin over the bar, from a dead hang.
* ``RopeSkipCounter`` (counters_rope): one jump with one turn of the hands.
* ``SquatCounter``, ``JumpingJackCounter`` (counters_standing): depth; hands over head and feet apart.

All thresholds are in the student's own torso lengths or in angles, all smoothing in seconds, so the
camera distance, the side the student faces and the frame rate (10-30 fps) do not matter.
"""

from __future__ import annotations

from typing import Any

from appliance.features.fitness.counters_bar import PullUpCounter
from appliance.features.fitness.counters_base import (
    EXERCISES,
    REASONS_BY_EXERCISE,
    REASONS_EN,
    REASONS_ZH,
    Counter,
    Rep,
)
from appliance.features.fitness.counters_floor import PushUpCounter, SitUpCounter
from appliance.features.fitness.counters_rope import RopeSkipCounter
from appliance.features.fitness.counters_standing import JumpingJackCounter, SquatCounter

COUNTERS: dict[str, type[Counter]] = {
    c.exercise: c
    for c in (RopeSkipCounter, SitUpCounter, PullUpCounter, PushUpCounter, SquatCounter, JumpingJackCounter)
}


def make_counter(exercise: str, **kwargs: Any) -> Counter:
    """A fresh counter for ``exercise`` (one of EXERCISES); ``bar_y`` (px) is used by pull-ups only."""
    try:
        cls = COUNTERS[exercise]
    except KeyError:
        raise ValueError(f"unknown exercise {exercise!r}; one of {', '.join(EXERCISES)}") from None
    return cls(**kwargs)


__all__ = [
    "COUNTERS", "EXERCISES", "REASONS_BY_EXERCISE", "REASONS_EN", "REASONS_ZH", "Counter", "JumpingJackCounter",
    "PullUpCounter", "PushUpCounter", "Rep", "RopeSkipCounter", "SitUpCounter", "SquatCounter", "make_counter",
]
