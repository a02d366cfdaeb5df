"""Stateless two-stage estimator: detector on the whole frame, landmark model per person.

This is MediaPipe's ``static_image_mode`` pipeline generalised to several people:
MediaPipe's legacy Pose solution keeps only the best detection; we keep up to
``max_people`` of them, because a PE class has more than one student in frame.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.pose.backends import BackendName, load_backend
from models.pose.detector import Detection, PoseDetector, iou
from models.pose.landmarks import LandmarkModel, LandmarkResult
from models.pose.roi import Roi
from models.pose.weights import model_paths

DUPLICATE_IOU = 0.5
"""Two poses whose keypoint boxes overlap more than this are the same person seen twice."""


@dataclass(frozen=True)
class Pose:
    """One person in one frame.

    ``keypoints`` is float32 ``(33, 3)``: x, y in full-image pixels and visibility 0..1, in
    MediaPipe's landmark order (see :mod:`models.pose.skeleton`). ``score`` is the landmark
    model's pose-presence score. ``bbox`` is ``(x0, y0, x1, y1)`` around all 33 keypoints,
    clipped to the image.
    """

    keypoints: np.ndarray
    score: float
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class TrackedPose(Pose):
    """A :class:`Pose` with an id that stays the same while the person stays in view."""

    track_id: int = -1


def keypoint_bbox(keypoints: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """Box around all keypoints, clipped to the image (occluded points are predicted too)."""
    xs = np.clip(keypoints[:, 0], 0, width)
    ys = np.clip(keypoints[:, 1], 0, height)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _check_image(image_rgb: np.ndarray) -> None:
    if not isinstance(image_rgb, np.ndarray) or image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got {getattr(image_rgb, 'shape', type(image_rgb))}")
    if image_rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image_rgb.dtype}")


class PoseEstimator:
    """Detector + landmark model on one runtime; one instance per camera thread.

    ``detect_grid`` (beyond MediaPipe): 1 = one whole-frame detector pass as MediaPipe;
    2 (default) = also a 2x2 grid of tiles, so students who are small in the frame are
    found (about 5 ms per pass on 2 cores; the tracker runs it only every few frames).

    Calls are serialised by a lock (the interpreters are not re-entrant), so sharing one
    instance between cameras is safe but gives no parallelism; on a 2-core box the models'
    own 2 threads already use both cores.
    """

    def __init__(
        self,
        backend: BackendName = "litert",
        threads: int = 2,
        max_people: int = 4,
        model_dir: Path | None = None,
        min_detection: float = 0.5,
        min_presence: float = 0.5,
        detect_grid: int = 2,
    ) -> None:
        det_path, lm_path = model_paths(model_dir)  # PoseModelsMissing names the fix command
        self.backend_name = backend
        self.threads = threads
        self.max_people = max_people
        self.min_detection = min_detection
        self.min_presence = min_presence
        self.detect_grid = detect_grid
        self.detector = PoseDetector(load_backend(backend, det_path, threads), min_score=min_detection)
        self.landmarks = LandmarkModel(load_backend(backend, lm_path, threads))
        self._lock = threading.Lock()
        self.last_detector_ms = 0.0
        self.last_landmark_ms: list[float] = []

    def warm_up(self) -> None:
        """Run both models once on a blank frame: the first LiteRT/XNNPACK invoke pays for
        weight packing (tens of ms), which should not land on the first real frame."""
        blank = np.zeros((480, 640, 3), np.uint8)
        with self._lock:
            self.detector.detect(blank)
            self.landmarks.run(blank, Roi(320, 240, 256, 256, 0.0))

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detector stage only (best first, at most ``max_people``); timing in ``last_detector_ms``."""
        _check_image(image_rgb)
        with self._lock:
            t0 = time.perf_counter()
            dets = self.detector.detect(image_rgb, self.max_people, self.detect_grid)
            self.last_detector_ms = (time.perf_counter() - t0) * 1000.0
        return dets

    def landmarks_for_roi(self, image_rgb: np.ndarray, roi: Roi) -> LandmarkResult:
        """Landmark stage for one ROI (used by the tracker with ROIs from the previous frame)."""
        with self._lock:
            t0 = time.perf_counter()
            res = self.landmarks.run(image_rgb, roi)
            self.last_landmark_ms.append((time.perf_counter() - t0) * 1000.0)
        return res

    def to_pose(self, res: LandmarkResult, image_rgb: np.ndarray) -> Pose:
        """Wrap a landmark result as the public :class:`Pose`."""
        h, w = image_rgb.shape[:2]
        return Pose(res.keypoints, res.presence, keypoint_bbox(res.keypoints, w, h))

    def estimate(self, image_rgb: np.ndarray) -> list[Pose]:
        """Everyone in the frame (up to ``max_people``), best detection first; no state kept."""
        self.last_landmark_ms = []
        poses: list[Pose] = []
        for det in self.detect(image_rgb):
            res = self.landmarks_for_roi(image_rgb, det.roi)
            if res.presence < self.min_presence:
                continue
            pose = self.to_pose(res, image_rgb)
            if any(_box_iou(pose.bbox, p.bbox) > DUPLICATE_IOU for p in poses):
                continue
            poses.append(pose)
        return poses


def _box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return float(iou(np.asarray(a, dtype=np.float64), np.asarray([b], dtype=np.float64))[0])
