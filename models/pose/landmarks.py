"""BlazePose landmark model (``pose_landmark_full``): 256x256 crop -> 39 landmarks.

Decoding follows MediaPipe's ``tensors_to_pose_landmarks_and_segmentation`` graph:
``TensorsToLandmarksCalculator`` (39 x [x, y, z, visibility, presence] in crop pixels,
sigmoid on visibility and presence), then ``RefineLandmarksFromHeatmapCalculator``
(kernel 7, refine where the 64x64 heatmap is confident). The pose-presence output already
ends in a LOGISTIC op inside the model, so it is used as is, thresholded at 0.5.
Landmarks 0..32 are the body; 33 and 34 are the auxiliary centre/scale points used to
place the next frame's ROI.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.pose.backends import Backend
from models.pose.roi import Roi, crop, project
from models.pose.skeleton import NUM_LANDMARKS

INPUT_SIZE = 256
NUM_RAW_LANDMARKS = 39
HEATMAP_KERNEL = 7
MIN_CONFIDENCE_TO_REFINE = 0.5


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, numerically safe for large negative logits."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0))), dtype=np.float32)


def decode_landmarks(raw: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """``(39, 5)`` float32: x, y (crop-normalised 0..1), z (/size), visibility, presence (0..1)."""
    lm = raw.reshape(NUM_RAW_LANDMARKS, 5).astype(np.float32, copy=True)
    lm[:, :3] /= float(size)
    lm[:, 3] = sigmoid(lm[:, 3])
    lm[:, 4] = sigmoid(lm[:, 4])
    return lm


def refine_from_heatmap(
    lm: np.ndarray,
    heatmap: np.ndarray,
    kernel_size: int = HEATMAP_KERNEL,
    min_confidence: float = MIN_CONFIDENCE_TO_REFINE,
) -> np.ndarray:
    """Replace x, y by the sigmoid-weighted centroid of the heatmap around each landmark.

    Same arithmetic as MediaPipe's ``RefineLandmarksFromHeatMap`` (integer cell from
    truncation, window clipped at the borders, centroid of cell indices divided by the
    heatmap size, refine only if the window's max confidence >= *min_confidence*),
    including its bounds check that never tests the row against the height: we want
    the same numbers MediaPipe gives, not a "fixed" variant.
    """
    hm = heatmap.reshape(heatmap.shape[-3], heatmap.shape[-2], heatmap.shape[-1])
    hm_h, hm_w, _ = hm.shape
    out = lm.copy()
    off = (kernel_size - 1) // 2
    for i in range(out.shape[0]):
        col = int(out[i, 0] * hm_w)  # C++ float->int truncates toward zero, as int() does
        row = int(out[i, 1] * hm_h)
        if col < 0 or col >= hm_w or row < 0 or col >= hm_h:
            continue
        r0, r1 = max(0, row - off), min(hm_h, row + off + 1)
        c0, c1 = max(0, col - off), min(hm_w, col + off + 1)
        if r1 <= r0 or c1 <= c0:
            continue
        conf = sigmoid(hm[r0:r1, c0:c1, i])
        total = float(conf.sum())
        if total > 0 and float(conf.max()) >= min_confidence:
            rows = np.arange(r0, r1, dtype=np.float32)[:, None]
            cols = np.arange(c0, c1, dtype=np.float32)[None, :]
            out[i, 0] = float((conf * cols).sum()) / hm_w / total
            out[i, 1] = float((conf * rows).sum()) / hm_h / total
    return out


@dataclass(frozen=True)
class LandmarkResult:
    """Landmarks of one ROI, in full-image pixels."""

    keypoints: np.ndarray  # (33, 3) float32: x_px, y_px, visibility
    aux: np.ndarray  # (2, 2) float32 px: auxiliary body centre and scale point (next ROI)
    presence: float  # pose presence score 0..1
    z: np.ndarray  # (33,) relative depth in pixel units (MediaPipe's z times the image width)


class LandmarkModel:
    """Crops the ROI, runs ``pose_landmark_full`` and projects landmarks back to the image."""

    OUTPUTS = ("Identity", "Identity_1", "Identity_3")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @staticmethod
    def preprocess(image_rgb: np.ndarray, roi: Roi) -> np.ndarray:
        """1x256x256x3 float32 in [0, 1], replicate border (ImageToTensorCalculator default)."""
        patch = crop(image_rgb, roi, INPUT_SIZE, border=cv2.BORDER_REPLICATE)
        return (patch.astype(np.float32) * (1.0 / 255.0))[None]

    def run(self, image_rgb: np.ndarray, roi: Roi) -> LandmarkResult:
        """Landmarks for the person inside *roi* (presence tells whether there is one)."""
        raw, flag, heatmap = self.backend.run(self.preprocess(image_rgb, roi), self.OUTPUTS)
        presence = float(np.asarray(flag).reshape(-1)[0])
        lm = refine_from_heatmap(decode_landmarks(raw), heatmap)
        pts = project(lm[:, :2], roi).astype(np.float32)
        keypoints = np.empty((NUM_LANDMARKS, 3), dtype=np.float32)
        keypoints[:, :2] = pts[:NUM_LANDMARKS]
        keypoints[:, 2] = lm[:NUM_LANDMARKS, 3]
        return LandmarkResult(
            keypoints=keypoints,
            aux=pts[NUM_LANDMARKS : NUM_LANDMARKS + 2].copy(),
            presence=presence,
            z=lm[:NUM_LANDMARKS, 2] * np.float32(roi.width),
        )
