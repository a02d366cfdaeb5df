"""BlazePose's 33-landmark topology: names, indices and the bones to draw.

The order is MediaPipe's (``PoseLandmark``), so anything written against MediaPipe's
indices (fitness rules, drawing code, exported data) reads our keypoints unchanged.
"""

from __future__ import annotations

from enum import IntEnum

NUM_LANDMARKS = 33
"""Landmarks returned per person; the model also emits 6 auxiliary points we keep internal."""


class PoseLandmark(IntEnum):
    """Index of each landmark in ``Pose.keypoints`` (same numbering as MediaPipe)."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


LANDMARK_NAMES: tuple[str, ...] = tuple(lm.name.lower() for lm in PoseLandmark)
"""Lower-case names by index, e.g. ``LANDMARK_NAMES[0] == "nose"``."""

POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
"""Bones as index pairs, identical to MediaPipe's ``POSE_CONNECTIONS`` (35 edges)."""

LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = tuple(
    (PoseLandmark[n].value, PoseLandmark["RIGHT" + n[4:]].value)
    for n in PoseLandmark.__members__
    if n.startswith("LEFT")
)
"""(left, right) index pairs, for mirroring or for symmetric rules."""
