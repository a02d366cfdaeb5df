"""Per-camera multi-person tracking: landmarks steer the next crop, the detector runs rarely.

MediaPipe's Pose solution, in video mode, derives frame t+1's ROI from frame t's
auxiliary landmarks and only re-runs the detector when it loses the person. We do the
same for up to ``max_people`` people, plus the bookkeeping that multi-person needs:

* the detector runs every ``redetect_every`` frames, or at once when fewer people are
  tracked than the last detector run saw (capped at ``max_people``), or when nobody is
  tracked; so a newcomer is picked up within ``redetect_every`` frames;
* detections are matched to tracks by IoU of their ROI boxes (both built by the same
  rule, so the same person gives near-identical boxes); matched tracks keep their id;
* an unmatched detection becomes a new track with a new id, unless its landmarks turn
  out to duplicate an existing person;
* a track is dropped when the landmark model's presence falls below ``min_presence``,
  when it collapses onto another track, or when the detector has not confirmed it for
  ``max_unconfirmed`` consecutive detector runs (a crop stuck on background).

With 4 people this costs 4 landmark inferences per frame plus a detector run every 5th
frame, instead of the detector + 4 landmark runs every frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.pose.detector import Detection, iou
from models.pose.estimator import DUPLICATE_IOU, PoseEstimator, TrackedPose, keypoint_bbox
from models.pose.landmarks import LandmarkResult
from models.pose.roi import Roi, roi_from_landmarks

MATCH_IOU = 0.5
"""Detection ROI vs track ROI IoU needed to call them the same person. Side-by-side
students a torso apart give ~0.4, the same person ~0.7-0.9."""


@dataclass
class _Track:
    track_id: int
    result: LandmarkResult
    roi: Roi  # built from this frame's landmarks; the crop for the next frame
    unconfirmed: int = 0  # consecutive detector runs that did not see this track


def _aabb(roi: Roi) -> np.ndarray:
    return np.asarray(roi.aabb(), dtype=np.float64)


class PoseTracker:
    """Stateful tracker for one camera; ``update`` once per frame, in time order."""

    def __init__(self, estimator: PoseEstimator, redetect_every: int = 5, max_unconfirmed: int = 3) -> None:
        self.estimator = estimator
        self.redetect_every = max(1, int(redetect_every))
        self.max_unconfirmed = max(1, int(max_unconfirmed))
        self.stats: dict[str, Any] = {}
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (camera switched, stream restarted); ids keep counting up."""
        self._tracks: list[_Track] = []
        self._since_detect = self.redetect_every  # detect on the first frame
        self._last_detected = 0
        self._last_ts: float | None = None
        if not hasattr(self, "_next_id"):
            self._next_id = 1

    def _new_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    def _should_detect(self, tracked: int) -> bool:
        if tracked == 0 or self._since_detect >= self.redetect_every:
            return True
        return tracked < min(self._last_detected, self.estimator.max_people)

    def update(self, image_rgb: np.ndarray, ts: float) -> list[TrackedPose]:
        """Poses for this frame with persistent ``track_id``s, ordered by id.

        *ts* (seconds, any monotonic clock) going backwards means a new stream: tracks are
        reset rather than pushed onto an unrelated frame.
        """
        t_start = time.perf_counter()
        est = self.estimator
        if self._last_ts is not None and ts < self._last_ts:
            self.reset()
        self._last_ts = ts
        est.last_landmark_ms = []

        # 1. Follow every track with the ROI its previous landmarks predicted.
        survivors: list[_Track] = []
        for tr in self._tracks:
            res = est.landmarks_for_roi(image_rgb, tr.roi)
            if res.presence < est.min_presence:
                continue
            tr.result = res
            tr.roi = roi_from_landmarks(res.aux)
            survivors.append(tr)
        survivors = self._dedupe(survivors, image_rgb)

        # 2. Detector, when due: confirm tracks, start new ones.
        detected = self._should_detect(len(survivors))
        det_ms = 0.0
        if detected:
            dets = est.detect(image_rgb)
            det_ms = est.last_detector_ms
            self._since_detect = 0
            self._last_detected = len(dets)
            survivors = self._absorb(dets, survivors, image_rgb)
        self._since_detect += 1
        self._tracks = survivors

        h, w = image_rgb.shape[:2]
        out = [
            TrackedPose(
                keypoints=tr.result.keypoints,
                score=tr.result.presence,
                bbox=keypoint_bbox(tr.result.keypoints, w, h),
                track_id=tr.track_id,
            )
            for tr in sorted(self._tracks, key=lambda t: t.track_id)
        ]
        self.stats = {
            "detector_ran": detected,
            "detector_ms": det_ms,
            "landmark_ms": list(est.last_landmark_ms),
            "people": len(out),
            "frame_ms": (time.perf_counter() - t_start) * 1000.0,
        }
        return out

    def _absorb(self, dets: list[Detection], tracks: list[_Track], image_rgb: np.ndarray) -> list[_Track]:
        """Match detections to tracks (greedy on ROI IoU), age unmatched tracks, add newcomers."""
        est = self.estimator
        pairs: list[tuple[float, int, int]] = []
        if dets and tracks:
            track_boxes = np.stack([_aabb(t.roi) for t in tracks])
            for di, det in enumerate(dets):
                ious = iou(_aabb(det.roi), track_boxes)
                pairs += [(float(v), di, ti) for ti, v in enumerate(ious) if v > MATCH_IOU]
        pairs.sort(reverse=True)
        used_d: set[int] = set()
        used_t: set[int] = set()
        for _, di, ti in pairs:
            if di in used_d or ti in used_t:
                continue
            used_d.add(di)
            used_t.add(ti)
        kept: list[_Track] = []
        for ti, tr in enumerate(tracks):
            tr.unconfirmed = 0 if ti in used_t else tr.unconfirmed + 1
            if tr.unconfirmed < self.max_unconfirmed:
                kept.append(tr)
        h, w = image_rgb.shape[:2]
        for di, det in enumerate(dets):
            if di in used_d or len(kept) >= est.max_people:
                continue
            res = est.landmarks_for_roi(image_rgb, det.roi)
            if res.presence < est.min_presence:
                continue
            box = keypoint_bbox(res.keypoints, w, h)
            if any(_iou(box, keypoint_bbox(t.result.keypoints, w, h)) > DUPLICATE_IOU for t in kept):
                continue  # the same person as an existing track, just placed differently
            kept.append(_Track(self._new_id(), res, roi_from_landmarks(res.aux)))
        return kept

    def _dedupe(self, tracks: list[_Track], image_rgb: np.ndarray) -> list[_Track]:
        """Two crops that converged on one person: keep the older id (stable ids for the app)."""
        h, w = image_rgb.shape[:2]
        kept: list[_Track] = []
        for tr in sorted(tracks, key=lambda t: t.track_id):
            box = keypoint_bbox(tr.result.keypoints, w, h)
            if any(_iou(box, keypoint_bbox(k.result.keypoints, w, h)) > DUPLICATE_IOU for k in kept):
                continue
            kept.append(tr)
        return kept


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    return float(iou(np.asarray(a, dtype=np.float64), np.asarray([b], dtype=np.float64))[0])
