"""Regions of interest: from detections or landmarks to rotated square crops, and back.

Mirrors MediaPipe's CPU graph so our crops are the crops the landmark model was trained
on: ``AlignmentPointsRectsCalculator`` (centre = hip-centre keypoint, size = 2 x distance
to the scale keypoint, rotation making the hip->shoulder vector point up) followed by
``RectTransformationCalculator`` (``scale 1.25``, ``square_long``), and
``ImageToTensorCalculator``'s OpenCV path (``cv2.boxPoints`` corners onto the output
tensor corners, bilinear, border per stage). All coordinates here are **pixels** of the
full image; MediaPipe's normalised rects differ only by the image size factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

ROI_SCALE = 1.25
"""Margin MediaPipe adds around the body (pose_detection_to_roi / pose_landmarks_to_roi)."""
TARGET_ANGLE = math.pi / 2
"""``rotation_vector_target_angle_degrees: 90``: the hip->shoulder direction ends up pointing up."""


@dataclass(frozen=True)
class Roi:
    """Rotated rectangle in image pixels; ``rotation`` in radians, clockwise on screen (MediaPipe)."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    def corners(self) -> np.ndarray:
        """(4, 2) float32 corners in ``cv2.boxPoints`` order: bottom-left, top-left, top-right, bottom-right."""
        rect = ((self.cx, self.cy), (self.width, self.height), math.degrees(self.rotation))
        return np.asarray(cv2.boxPoints(rect), dtype=np.float32)

    def aabb(self) -> tuple[float, float, float, float]:
        """Axis-aligned bounds ``(x0, y0, x1, y1)`` of the rotated rectangle, for IoU matching."""
        c = self.corners()
        return float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max())

    def crop_to_image(self) -> np.ndarray:
        """2x3 affine mapping crop-normalised ``(u, v)`` in [0, 1] to image pixels.

        Same as MediaPipe's ``LandmarkProjectionCalculator`` (rotate about the centre,
        scale by the rect size, translate), written as a matrix so whole arrays of
        points project with one matmul.
        """
        cos, sin = math.cos(self.rotation), math.sin(self.rotation)
        w, h = self.width, self.height
        # p = c + R @ [(u - 0.5) * w, (v - 0.5) * h]
        return np.array(
            [
                [cos * w, -sin * h, self.cx - 0.5 * cos * w + 0.5 * sin * h],
                [sin * w, cos * h, self.cy - 0.5 * sin * w - 0.5 * cos * h],
            ],
            dtype=np.float64,
        )


def normalize_radians(angle: float) -> float:
    """Wrap into [-pi, pi) exactly like MediaPipe's ``NormalizeRadians``."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_alignment_points(center: np.ndarray, scale_point: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """Square rotated ROI from (centre, scale point) in pixels, as MediaPipe builds it.

    Size: twice the centre->scale-point distance, times *scale*. Rotation:
    ``target - atan2(-(y1 - y0), x1 - x0)`` (y flipped because image y points down), so a
    tilted or lying person is cropped upright, which is what the landmark model expects.
    """
    x0, y0 = float(center[0]), float(center[1])
    x1, y1 = float(scale_point[0]), float(scale_point[1])
    size = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    rotation = normalize_radians(TARGET_ANGLE - math.atan2(-(y1 - y0), x1 - x0))
    return Roi(x0, y0, size, size, rotation)


def roi_from_detection(keypoints_px: np.ndarray) -> Roi:
    """ROI from a detector result: keypoint 0 = mid-hip centre, keypoint 1 = full-body scale/rotation point."""
    return roi_from_alignment_points(keypoints_px[0], keypoints_px[1])


def roi_from_landmarks(aux_px: np.ndarray) -> Roi:
    """Next frame's ROI from this frame's auxiliary landmarks (33 = body centre, 34 = scale point).

    This is MediaPipe's tracking step (pose_landmarks_to_roi): the detector is not needed
    while the person stays roughly where they were.
    """
    return roi_from_alignment_points(aux_px[0], aux_px[1])


def letterbox_roi(width: int, height: int) -> Roi:
    """Whole image padded to a square around its centre (``keep_aspect_ratio: true``)."""
    side = float(max(width, height))
    return Roi(width / 2.0, height / 2.0, side, side, 0.0)


def crop(image: np.ndarray, roi: Roi, size: int, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Warp the rotated *roi* of *image* to a ``size x size`` crop (still uint8).

    Uses three of the ``boxPoints`` corners mapped to the tensor corners, exactly as
    MediaPipe's OpenCV converter maps all four; an affine warp is the same transform
    for a rectangle and is cheaper than ``warpPerspective``. Converting to float after
    the warp (not before) keeps it at 1 byte per channel, and matches MediaPipe's
    border value semantics (zero border = pixel value 0).
    """
    src = roi.corners()[:3]
    dst = np.array([[0, size], [0, 0], [size, 0]], dtype=np.float32)
    matrix = cv2.getAffineTransform(src, dst)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def project(points_norm: np.ndarray, roi: Roi) -> np.ndarray:
    """Crop-normalised ``(N, 2)`` points to image pixels through *roi*."""
    m = roi.crop_to_image()
    pts = np.asarray(points_norm, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]
