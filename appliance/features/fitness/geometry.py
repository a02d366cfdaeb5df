"""Pose geometry for the exercise counters: landmark indices, angles, body-size normalisation, smoothing.

Everything a counter decides on is a number that does not depend on how far the student stands from the
camera (lengths are divided by the student's own torso length), on which way they face (left/right sides are
pooled or the better-seen side is used), or on the frame rate (smoothing is by time constant in seconds, not by
a number of frames). Keypoints are MediaPipe BlazePose's 33 landmarks as a ``(33, 3)`` array of
``x_px, y_px, visibility``; image y grows downward.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

# -- MediaPipe BlazePose landmark indices ------------------------------------------------------------------
NOSE = 0
LEFT_EYE_INNER, LEFT_EYE, LEFT_EYE_OUTER = 1, 2, 3
RIGHT_EYE_INNER, RIGHT_EYE, RIGHT_EYE_OUTER = 4, 5, 6
LEFT_EAR, RIGHT_EAR = 7, 8
MOUTH_LEFT, MOUTH_RIGHT = 9, 10
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_PINKY, RIGHT_PINKY = 17, 18
LEFT_INDEX, RIGHT_INDEX = 19, 20
LEFT_THUMB, RIGHT_THUMB = 21, 22
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
LEFT_HEEL, RIGHT_HEEL = 29, 30
LEFT_FOOT_INDEX, RIGHT_FOOT_INDEX = 31, 32
NUM_LANDMARKS = 33

#: (left, right) landmark pairs, for mirroring and for pooling both sides of the body.
PAIRS: tuple[tuple[int, int], ...] = (
    (1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16), (17, 18), (19, 20), (21, 22),
    (23, 24), (25, 26), (27, 28), (29, 30), (31, 32),
)

#: Visibility below which a landmark is treated as not seen. BlazePose reports ~0.9+ for clearly seen joints
#: and drops below 0.5 for occluded or off-image ones.
MIN_VISIBILITY = 0.5

# -- Anthropometry (fractions of stature; Drillis & Contini segment table, also used by synth.py) ----------
#: Hip-joint to shoulder-joint distance: the unit every counter measures lengths in.
TORSO = 0.288
UPPER_ARM = 0.186
FOREARM = 0.146
THIGH = 0.245
SHIN = 0.246
#: Shoulder-to-wrist reach of a straight arm, in torso lengths.
ARM_REACH = (UPPER_ARM + FOREARM) / TORSO
#: Chin below the mouth corners' midpoint: the chin is not a landmark, so the pull-up counter puts it here.
CHIN_BELOW_MOUTH = 0.02
#: Chin above the ears' midpoint line is negative: the chin is this far below the ears.
CHIN_BELOW_EARS = 0.06
#: Chin above the shoulder joints (head upright), the last resort when the face is not seen.
CHIN_ABOVE_SHOULDERS = 0.052


def seen(kps: np.ndarray, idx: int, min_vis: float = MIN_VISIBILITY) -> bool:
    """Whether landmark ``idx`` is usable: visible enough and a finite position."""
    p = kps[idx]
    return bool(p[2] >= min_vis and np.isfinite(p[0]) and np.isfinite(p[1]))


def point(kps: np.ndarray, idx: int, min_vis: float = MIN_VISIBILITY) -> np.ndarray | None:
    """``(x, y)`` of a landmark, or None when it is not seen."""
    return kps[idx, :2].astype(np.float64) if seen(kps, idx, min_vis) else None


def mid(kps: np.ndarray, left: int, right: int, min_vis: float = MIN_VISIBILITY) -> np.ndarray | None:
    """Midpoint of a left/right pair, or the one side that is seen (side-on cameras hide the far side)."""
    a, b = point(kps, left, min_vis), point(kps, right, min_vis)
    if a is not None and b is not None:
        return (a + b) / 2.0
    return a if a is not None else b


def mean_of(kps: np.ndarray, idxs: Sequence[int], min_vis: float = MIN_VISIBILITY) -> np.ndarray | None:
    """Mean position of the seen landmarks among ``idxs``, None when none is seen."""
    pts = [kps[i, :2] for i in idxs if seen(kps, i, min_vis)]
    return np.mean(np.asarray(pts, dtype=np.float64), axis=0) if pts else None


def angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle ABC at vertex ``b`` in degrees (0..180); 180 when the three points are in a straight line."""
    v1, v2 = a - b, c - b
    n = float(np.linalg.norm(v1) * np.linalg.norm(v2))
    if n <= 1e-9:
        return float("nan")
    cos = float(np.dot(v1, v2)) / n
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def joint_angle(kps: np.ndarray, triples: Sequence[tuple[int, int, int]], min_vis: float = MIN_VISIBILITY) -> float | None:
    """Mean angle over the body sides whose three landmarks are all seen (e.g. both elbows), else None.

    Pooling both sides halves the jitter when both are seen (front-on cameras); side-on cameras see one side
    well and the other with low visibility, and then only the seen side counts.
    """
    vals = []
    for a, b, c in triples:
        pa, pb, pc = point(kps, a, min_vis), point(kps, b, min_vis), point(kps, c, min_vis)
        if pa is not None and pb is not None and pc is not None:
            v = angle(pa, pb, pc)
            if math.isfinite(v):
                vals.append(v)
    return float(np.mean(vals)) if vals else None


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def torso_length(kps: np.ndarray) -> float | None:
    """Shoulder-midpoint to hip-midpoint distance in px (this frame), None when not seen."""
    s = mid(kps, LEFT_SHOULDER, RIGHT_SHOULDER)
    h = mid(kps, LEFT_HIP, RIGHT_HIP)
    if s is None or h is None:
        return None
    d = distance(s, h)
    return d if d > 1e-6 else None


def point_in_polygon(x: float, y: float, poly: Sequence[tuple[float, float]]) -> bool:
    """Even-odd rule; used to pick the student standing at a station."""
    inside = False
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xc:
                inside = not inside
    return inside


class Smoother:
    """Median-of-3 then a time-constant EMA: kills single-frame outliers, then jitter, at any frame rate.

    The median removes a lone keypoint glitch (one frame far off) that an EMA would smear over several
    frames; the EMA uses ``alpha = 1 - exp(-dt / tau)`` so 10 fps and 30 fps smooth over the same time.
    After a gap longer than ``max_gap`` seconds the history is dropped: the student may have moved.
    """

    def __init__(self, tau: float, *, max_gap: float = 1.0, median: bool = True) -> None:
        self.tau = tau
        self.max_gap = max_gap
        self.median = median
        self._raw: deque[float] = deque(maxlen=3)
        self._ts: float | None = None
        self.value: float | None = None

    def reset(self) -> None:
        self._raw.clear()
        self._ts = None
        self.value = None

    def update(self, ts: float, x: float) -> float:
        if self._ts is not None and (ts - self._ts > self.max_gap or ts < self._ts):
            self.reset()
        self._raw.append(x)
        x_in = float(np.median(self._raw)) if self.median and len(self._raw) == 3 else x
        if self.value is None or self._ts is None:
            self.value = x_in
        else:
            dt = max(ts - self._ts, 1e-3)
            alpha = 1.0 - math.exp(-dt / self.tau) if self.tau > 0 else 1.0
            self.value += alpha * (x_in - self.value)
        self._ts = ts
        return self.value


class RunningMedian:
    """Median of the samples of the last ``window`` seconds: a body size or a bar height that holds still.

    A student's torso length in px changes only when they move nearer or farther, so a few seconds' median
    ignores the per-frame jitter and the odd mis-detected frame.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        self._buf: deque[tuple[float, float]] = deque()

    def update(self, ts: float, x: float) -> float:
        self._buf.append((ts, x))
        while self._buf and self._buf[0][0] < ts - self.window:
            self._buf.popleft()
        return self.value  # type: ignore[return-value]

    @property
    def value(self) -> float | None:
        return float(np.median([v for _, v in self._buf])) if self._buf else None

    def __len__(self) -> int:
        return len(self._buf)


class BodyScale:
    """The student's torso length in px (running median), the unit that makes thresholds scale-free."""

    def __init__(self, window: float = 4.0) -> None:
        self._med = RunningMedian(window)

    def update(self, ts: float, kps: np.ndarray) -> float | None:
        t = torso_length(kps)
        if t is not None:
            self._med.update(ts, t)
        return self._med.value

    @property
    def value(self) -> float | None:
        return self._med.value
