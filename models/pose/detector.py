"""BlazePose person detector: SSD anchors, box + keypoint decoding, weighted NMS.

Re-implements, in numpy, the three calculators of MediaPipe's ``pose_detection_cpu``
graph with the options that graph sets (``SsdAnchorsCalculator``,
``TensorsToDetectionsCalculator``, ``NonMaxSuppressionCalculator``), because the raw
model output is meaningless without them and mediapipe itself cannot be a dependency.
The detector box is the *face* box; the body comes from the 4 keypoints (0 mid-hip,
1 full-body scale point, 2 mid-shoulder, 3 upper-body scale point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from models.pose.backends import Backend
from models.pose.roi import Roi, crop, letterbox_roi, project, roi_from_detection

INPUT_SIZE = 224
NUM_KEYPOINTS = 4


@dataclass(frozen=True)
class AnchorOptions:
    """``SsdAnchorsCalculatorOptions`` as configured in pose_detection_cpu.pbtxt."""

    num_layers: int = 5
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    input_size_height: int = INPUT_SIZE
    input_size_width: int = INPUT_SIZE
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    aspect_ratios: tuple[float, ...] = (1.0,)
    fixed_anchor_size: bool = True
    interpolated_scale_aspect_ratio: float = 1.0  # proto default
    reduce_boxes_in_lowest_layer: bool = False  # proto default


def _calculate_scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def generate_anchors(opts: AnchorOptions | None = None) -> np.ndarray:
    """``(N, 4)`` float32 anchors ``[x_center, y_center, w, h]``, normalised, in model output order.

    Same loop structure as ``SsdAnchorsCalculator::GenerateAnchors``: consecutive layers
    with the same stride share one feature map, each contributing its anchors per cell;
    order is row, column, anchor. For the pose graph that is
    28x28x2 + 14x14x2 + 7x7x6 = 2254 anchors.
    """
    o = opts or AnchorOptions()
    anchors: list[tuple[float, float, float, float]] = []
    layer_id = 0
    n = len(o.strides)
    while layer_id < o.num_layers:
        heights: list[float] = []
        widths: list[float] = []
        ratios: list[float] = []
        scales: list[float] = []
        last = layer_id
        while last < n and o.strides[last] == o.strides[layer_id]:
            scale = _calculate_scale(o.min_scale, o.max_scale, last, n)
            if last == 0 and o.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                for ratio in o.aspect_ratios:
                    ratios.append(ratio)
                    scales.append(scale)
                if o.interpolated_scale_aspect_ratio > 0.0:
                    scale_next = 1.0 if last == n - 1 else _calculate_scale(o.min_scale, o.max_scale, last + 1, n)
                    scales.append(math.sqrt(scale * scale_next))
                    ratios.append(o.interpolated_scale_aspect_ratio)
            last += 1
        for ratio, scale in zip(ratios, scales, strict=True):
            root = math.sqrt(ratio)
            heights.append(scale / root)
            widths.append(scale * root)
        stride = o.strides[layer_id]
        fm_h = math.ceil(o.input_size_height / stride)
        fm_w = math.ceil(o.input_size_width / stride)
        for y in range(fm_h):
            for x in range(fm_w):
                for aid in range(len(heights)):
                    xc = (x + o.anchor_offset_x) / fm_w
                    yc = (y + o.anchor_offset_y) / fm_h
                    if o.fixed_anchor_size:
                        anchors.append((xc, yc, 1.0, 1.0))
                    else:
                        anchors.append((xc, yc, widths[aid], heights[aid]))
        layer_id = last
    return np.asarray(anchors, dtype=np.float32)


@dataclass(frozen=True)
class RawDetections:
    """Decoded detections in the 224x224 tensor's normalised coordinates, before NMS."""

    boxes: np.ndarray  # (K, 4) xmin, ymin, xmax, ymax
    keypoints: np.ndarray  # (K, 4, 2) x, y
    scores: np.ndarray  # (K,)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float) -> RawDetections:
    """``TensorsToDetectionsCalculator`` with the pose graph's options.

    ``reverse_output_order`` (x before y), all scales 224, ``sigmoid_score`` with clipping
    at +-100, and a ``min_score_thresh`` filter before NMS. Boxes with non-positive size
    are dropped like MediaPipe drops them.
    """
    raw = raw_boxes.reshape(-1, 12).astype(np.float32, copy=False)
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)  # float64: exp(100) fits
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    keep = np.nonzero(scores >= min_score)[0]
    raw, scores, anc = raw[keep], scores[keep], anchors[keep]
    s = float(INPUT_SIZE)
    xc = raw[:, 0] / s * anc[:, 2] + anc[:, 0]
    yc = raw[:, 1] / s * anc[:, 3] + anc[:, 1]
    w = raw[:, 2] / s * anc[:, 2]
    h = raw[:, 3] / s * anc[:, 3]
    boxes = np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)
    kp = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2)
    kx = kp[:, :, 0] / s * anc[:, 2:3] + anc[:, 0:1]
    ky = kp[:, :, 1] / s * anc[:, 3:4] + anc[:, 1:2]
    keypoints = np.stack([kx, ky], axis=2)
    valid = (w > 0) & (h > 0)
    return RawDetections(boxes[valid], keypoints[valid], scores[valid])


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of one box *a* (4,) against many *b* (K, 4), ``INTERSECTION_OVER_UNION`` as in MediaPipe."""
    ix0 = np.maximum(a[0], b[:, 0])
    iy0 = np.maximum(a[1], b[:, 1])
    ix1 = np.minimum(a[2], b[:, 2])
    iy1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(dets: RawDetections, threshold: float = 0.3, max_out: int = -1) -> RawDetections:
    """MediaPipe's ``WeightedNonMaxSuppression`` (``min_suppression_threshold: 0.3``).

    Highest score first; everything overlapping it by IoU > threshold (itself included)
    is merged into one detection whose box and keypoints are the score-weighted mean, and
    whose score stays the top score. Averaging the many overlapping anchors is what makes
    BlazePose's keypoints stable from frame to frame.
    """
    order = np.argsort(-dets.scores, kind="stable")
    remaining = order
    out_b: list[np.ndarray] = []
    out_k: list[np.ndarray] = []
    out_s: list[float] = []
    while remaining.size and (max_out < 0 or len(out_s) < max_out):
        top = remaining[0]
        sim = iou(dets.boxes[top], dets.boxes[remaining])
        members = remaining[sim > threshold]
        rest = remaining[sim <= threshold]
        if members.size == 0:  # degenerate box: keep it alone, as MediaPipe does
            members = remaining[:1]
            rest = remaining[1:]
        w = dets.scores[members]
        total = float(w.sum())
        out_b.append((dets.boxes[members] * w[:, None]).sum(axis=0) / total)
        out_k.append((dets.keypoints[members] * w[:, None, None]).sum(axis=0) / total)
        out_s.append(float(dets.scores[top]))
        remaining = rest
    if not out_s:
        return RawDetections(np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros(0))
    return RawDetections(np.stack(out_b), np.stack(out_k), np.asarray(out_s, dtype=np.float32))


@dataclass(frozen=True)
class Detection:
    """One detected person in image pixels, plus the body ROI the landmark model should look at."""

    score: float
    box: tuple[float, float, float, float]  # face box x0, y0, x1, y1 (what the model's box means)
    keypoints: np.ndarray  # (4, 2) px: mid-hip, full-body scale point, mid-shoulder, upper-body scale point
    roi: Roi = field(compare=False)


def same_person(a: Detection, b: Detection, iou_threshold: float = 0.5, centre_ratio: float = 0.3) -> bool:
    """Whether two detections (e.g. from different tiles) describe one person.

    Face-box IoU is not enough across passes at different scales (the boxes differ in
    size); the body ROIs are built by one rule, so their IoU or the distance between the
    hip centres relative to the ROI size is a steadier test.
    """
    if float(iou(np.asarray(a.roi.aabb()), np.asarray([b.roi.aabb()]))[0]) > iou_threshold:
        return True
    dist = float(np.hypot(*(a.keypoints[0] - b.keypoints[0])))
    return dist < centre_ratio * max(a.roi.width, b.roi.width)


class PoseDetector:
    """Runs the 224x224 detector on a whole frame and returns people sorted by score."""

    OUTPUTS = ("Identity", "Identity_1")

    def __init__(self, backend: Backend, min_score: float = 0.5, nms_threshold: float = 0.3) -> None:
        self.backend = backend
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        self.anchors = generate_anchors()

    def preprocess(self, image_rgb: np.ndarray, roi: Roi | None = None) -> tuple[np.ndarray, Roi]:
        """224x224 tensor in [-1, 1] of *roi* (default: the whole frame, letterboxed; zero border -> -1)."""
        h, w = image_rgb.shape[:2]
        roi = roi or letterbox_roi(w, h)
        patch = crop(image_rgb, roi, INPUT_SIZE, border=cv2.BORDER_CONSTANT)
        tensor = patch.astype(np.float32) * (2.0 / 255.0) - 1.0
        return tensor[None], roi

    def detect_in(self, image_rgb: np.ndarray, roi: Roi | None = None, max_people: int = -1) -> list[Detection]:
        """One detector pass over *roi* (default whole frame); results in image pixels, best first."""
        tensor, roi = self.preprocess(image_rgb, roi)
        raw_boxes, raw_scores = self.backend.run(tensor, self.OUTPUTS)
        dets = weighted_nms(decode(raw_boxes, raw_scores, self.anchors, self.min_score), self.nms_threshold, max_people)
        out: list[Detection] = []
        for box, kps, score in zip(dets.boxes, dets.keypoints, dets.scores, strict=True):
            corners = project(box.reshape(2, 2), roi)
            kp_px = project(kps, roi)
            out.append(
                Detection(
                    score=float(score),
                    box=(float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]), float(corners[1, 1])),
                    keypoints=kp_px.astype(np.float32),
                    roi=roi_from_detection(kp_px),
                )
            )
        return out

    def detect(self, image_rgb: np.ndarray, max_people: int = -1, grid: int = 1) -> list[Detection]:
        """Detections sorted by score (best first), at most *max_people* if positive.

        ``grid=1`` is MediaPipe's single whole-frame pass. The 224x224 input makes anyone
        smaller than about a third of the frame height hard to find (the detector keys on
        the face), which is the normal case for several students in one 640x480 view; with
        ``grid=n > 1`` the frame is also scanned as n x n square tiles (each a cell plus
        its surroundings, so a person on a cell border is still whole in some pass) and
        the passes are merged by NMS on the face boxes in image pixels.
        """
        dets = self.detect_in(image_rgb, None, max_people)
        if grid <= 1:
            return dets
        h, w = image_rgb.shape[:2]
        tw, th = w / grid, h / grid
        side = max(tw, th)
        for gy in range(grid):
            for gx in range(grid):
                tile = self.detect_in(image_rgb, Roi((gx + 0.5) * tw, (gy + 0.5) * th, side, side, 0.0))
                # A body much larger than the tile is either the whole-frame pass's job or
                # a hallucination from a cut-off person; tiles are for the small ones.
                dets += [d for d in tile if d.roi.width <= 1.5 * side]
        dets.sort(key=lambda d: -d.score)
        kept: list[Detection] = []
        for det in dets:
            if any(same_person(det, k) for k in kept):
                continue
            kept.append(det)
            if 0 < max_people <= len(kept):
                break
        return kept
