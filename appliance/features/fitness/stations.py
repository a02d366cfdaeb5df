"""Stations: a polygon on one camera's picture where one student at a time does one exercise.

A station is drawn by the teacher on the camera picture at the kiosk (fractions of the image, so a
camera that changes resolution keeps its stations) and tied to the roster entry standing there. The
person counted at a station is the tracked person whose hips are inside the polygon; once chosen,
the same track id is kept while it stays inside, so a classmate walking past the mat does not take
over someone's count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from appliance.features.fitness.geometry import point_in_polygon

EXERCISES: dict[str, dict[str, Any]] = {
    # id: Chinese and English labels, whether a test is timed, and the standard's item it scores
    "rope_skip": {"label_zh": "1分钟跳绳", "label_en": "1-min rope skipping", "timed": True, "item": "rope_skip_1min"},
    "sit_up": {"label_zh": "1分钟仰卧起坐", "label_en": "1-min sit-ups", "timed": True, "item": "sit_up_1min"},
    "pull_up": {"label_zh": "引体向上", "label_en": "Pull-ups", "timed": False, "item": "pull_up"},
    "push_up": {"label_zh": "俯卧撑", "label_en": "Push-ups", "timed": True, "item": None},
    "squat": {"label_zh": "深蹲", "label_en": "Squats", "timed": True, "item": None},
    "jumping_jack": {"label_zh": "开合跳", "label_en": "Jumping jacks", "timed": True, "item": None},
}

HIPS = (23, 24)
SHOULDERS = (11, 12)


class PersonLike(Protocol):
    track_id: int
    keypoints: np.ndarray
    bbox: tuple[float, float, float, float]


@dataclass
class Station:
    station_id: str
    camera: str
    name: str
    exercise: str
    region: list[tuple[float, float]]
    bar_y: float | None = None
    student_id: str | None = None
    track_id: int | None = field(default=None, compare=False)  # who is counted now (not stored)
    lost_at: float | None = field(default=None, compare=False)  # when that person was last missed

    def to_json(self) -> dict[str, Any]:
        return {"station_id": self.station_id, "camera": self.camera, "name": self.name, "exercise": self.exercise,
                "region": [list(p) for p in self.region], "bar_y": self.bar_y, "student_id": self.student_id}


def anchor(person: PersonLike, width: int, height: int) -> tuple[float, float]:
    """Where a person "stands", as image fractions: the hip centre when visible, else the box centre.

    Hips, not feet: on a mat (sit-ups, push-ups) the feet stick out of the drawn region, and under
    a pull-up bar the feet are off the ground.
    """
    kp = person.keypoints
    vis = kp[list(HIPS), 2]
    if float(vis.min()) >= 0.3:
        x, y = kp[list(HIPS), :2].mean(axis=0)
    else:
        x0, y0, x1, y1 = person.bbox
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
    return float(x) / max(width, 1), float(y) / max(height, 1)


HOLD_S = 1.0  # a counted student missed by the tracker this long may be replaced by someone else


def assign(stations: Sequence[Station], people: Sequence[PersonLike], width: int, height: int,
           now: float = 0.0) -> dict[str, PersonLike]:
    """The person each station counts now (stations with nobody inside are left out).

    Keeps the station's current track when it is still inside; otherwise takes the largest person
    inside (the one nearest the camera), and a person is never counted at two stations at once.
    A counted student the tracker misses for a frame or two keeps the station for ``HOLD_S``
    (``now`` is the frame's time): a classmate standing by must not inherit the count.
    """
    anchors = {p.track_id: anchor(p, width, height) for p in people}
    by_id = {p.track_id: p for p in people}
    taken: set[int] = set()
    chosen: dict[str, PersonLike] = {}
    # Sticky assignments first, so a newcomer cannot take a station from the student already on it.
    for st in stations:
        if st.track_id is not None and st.track_id in by_id and point_in_polygon(*anchors[st.track_id], st.region):
            chosen[st.station_id] = by_id[st.track_id]
            taken.add(st.track_id)
            st.lost_at = None
    for st in stations:
        if st.station_id in chosen:
            continue
        if st.track_id is not None and st.track_id not in by_id:
            if st.lost_at is None:
                st.lost_at = now
            if now - st.lost_at < HOLD_S:
                continue  # nobody counted for a moment rather than the wrong child
        candidates = [p for p in people if p.track_id not in taken and point_in_polygon(*anchors[p.track_id], st.region)]
        if not candidates:
            st.track_id = None
            continue
        best = max(candidates, key=lambda p: (p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]))
        st.track_id, st.lost_at = best.track_id, None
        chosen[st.station_id] = best
        taken.add(best.track_id)
    return chosen
