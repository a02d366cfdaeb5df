"""Pose pipeline: anchors, decoding, ROI geometry, weights handling, and real-model behaviour.

The real-model tests need the BlazePose weights (``python -m models.pose.weights``) and the
opencv-doc sample images; they are skipped, saying which, only when those are absent.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from models.pose import PoseEstimator, PoseModelsMissing, PoseTracker, model_paths
from models.pose.detector import RawDetections, decode, generate_anchors, weighted_nms
from models.pose.landmarks import refine_from_heatmap
from models.pose.roi import Roi, crop, roi_from_alignment_points
from models.pose.samples import OPENCV_DATA, QUADRANTS, load_rgb, people_frame
from models.pose.skeleton import LANDMARK_NAMES, POSE_CONNECTIONS, PoseLandmark

# Measured once on messi5.jpg (548x342) with the full pipeline; tolerance 12 px.
MESSI_BBOX = (89.0, 95.6, 434.0, 333.6)
MESSI_NOSE = (250.3, 113.9)
MESSI_HIP_CENTRE = (270.4, 233.7)
TOL_PX = 12.0


def _weights_or_skip() -> None:
    try:
        model_paths()
    except PoseModelsMissing as exc:
        pytest.skip(f"pose weights absent ({exc})")
    if not (OPENCV_DATA / "messi5.jpg").exists():
        pytest.skip(f"opencv-doc sample images absent ({OPENCV_DATA}); apt-get install opencv-doc")


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    _weights_or_skip()
    est = PoseEstimator(backend="litert", threads=2, max_people=4)
    est.warm_up()
    return est


# ---------------------------------------------------------------- pure geometry / decoding


def test_anchors_match_mediapipe_layout() -> None:
    a = generate_anchors()
    assert a.shape == (2254, 4)  # 28*28*2 + 14*14*2 + 7*7*6
    assert np.all(a[:, 2:] == 1.0)  # fixed_anchor_size
    assert np.allclose(a[0, :2], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1, :2], a[0, :2])
    assert np.allclose(a[2, :2], [1.5 / 28, 0.5 / 28])
    assert np.allclose(a[1568, :2], [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[-1, :2], [6.5 / 7, 6.5 / 7]) and np.allclose(a[-6:, :2], a[-1, :2])


def test_anchor_count_matches_model_output() -> None:
    _weights_or_skip()
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model_paths()[0]))
    shapes = {d["name"]: tuple(d["shape"]) for d in it.get_output_details()}
    assert shapes["Identity"] == (1, generate_anchors().shape[0], 12)
    assert shapes["Identity_1"] == (1, generate_anchors().shape[0], 1)


def test_decode_box_and_keypoints() -> None:
    anchors = generate_anchors()
    raw = np.zeros((2254, 12), np.float32)
    scores = np.full((2254, 1), -10.0, np.float32)
    i = 1568 + 2 * (14 * 3 + 5)  # 14x14 layer, row 3, col 5, first anchor
    scores[i] = 3.0
    raw[i, :4] = [22.4, -11.2, 44.8, 67.2]  # dx, dy, w, h in 224-pixel units
    raw[i, 4:6] = [0.0, 22.4]
    dets = decode(raw, scores, anchors, min_score=0.5)
    assert dets.scores.shape == (1,) and dets.scores[0] == pytest.approx(1 / (1 + math.exp(-3)))
    cx, cy = anchors[i, 0] + 0.1, anchors[i, 1] - 0.05
    assert np.allclose(dets.boxes[0], [cx - 0.1, cy - 0.15, cx + 0.1, cy + 0.15], atol=1e-6)
    assert np.allclose(dets.keypoints[0, 0], [anchors[i, 0], anchors[i, 1] + 0.1], atol=1e-6)


def test_weighted_nms_merges_overlaps_and_keeps_separate() -> None:
    boxes = np.array([[0, 0, 1, 1], [0.1, 0, 1.1, 1], [3, 3, 4, 4]], np.float32)
    kps = np.zeros((3, 4, 2), np.float32)
    kps[1] += 1.0
    out = weighted_nms(RawDetections(boxes, kps, np.array([0.9, 0.3, 0.8], np.float32)))
    assert len(out.scores) == 2 and out.scores[0] == pytest.approx(0.9)
    assert out.boxes[0, 0] == pytest.approx(0.1 * 0.3 / 1.2)  # score-weighted mean
    assert out.keypoints[0, 0, 0] == pytest.approx(0.3 / 1.2)
    assert np.allclose(out.boxes[1], [3, 3, 4, 4])


def test_roi_rotation_follows_body_axis() -> None:
    upright = roi_from_alignment_points(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert upright.rotation == pytest.approx(0.0) and upright.width == pytest.approx(250.0)
    lying = roi_from_alignment_points(np.array([100.0, 200.0]), np.array([200.0, 200.0]))  # head to the right
    assert lying.rotation == pytest.approx(math.pi / 2)
    # The crop of a rotated ROI is upright: a marker at the scale point lands at the top centre.
    img = np.zeros((400, 400, 3), np.uint8)
    cv2.circle(img, (200, 200), 6, (255, 255, 255), -1)
    patch = crop(img, Roi(100, 200, 250, 250, lying.rotation), 256)
    ys, xs = np.nonzero(patch[:, :, 0] > 128)
    assert abs(xs.mean() - 128) < 3 and abs(ys.mean() - (128 - 100 * 256 / 250)) < 3


def test_roi_projection_inverts_crop() -> None:
    roi = Roi(150.0, 120.0, 200.0, 200.0, 0.7)
    corners = roi.corners()
    m = roi.crop_to_image()
    uv = np.array([[0, 1], [0, 0], [1, 0], [1, 1]], np.float64)
    assert np.allclose(uv @ m[:, :2].T + m[:, 2], corners, atol=1e-3)


def test_heatmap_refinement_moves_to_peak() -> None:
    lm = np.zeros((39, 5), np.float32)
    lm[:, :2] = 0.5
    hm = np.full((64, 64, 39), -20.0, np.float32)
    hm[34, 30, 0] = 20.0  # confident peak 2 cells left, 2 down of (32, 32)
    out = refine_from_heatmap(lm, hm)
    assert out[0, 0] == pytest.approx(30 / 64, abs=1e-4) and out[0, 1] == pytest.approx(34 / 64, abs=1e-4)
    assert np.allclose(out[1:, :2], 0.5)  # no confident cell: unchanged


def test_skeleton_matches_mediapipe_topology() -> None:
    assert len(LANDMARK_NAMES) == 33 and LANDMARK_NAMES[PoseLandmark.LEFT_HIP] == "left_hip"
    assert len(POSE_CONNECTIONS) == 35 and all(0 <= a < 33 and 0 <= b < 33 for a, b in POSE_CONNECTIONS)


def test_missing_weights_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PoseModelsMissing) as err:
        model_paths(tmp_path)
    msg = str(err.value)
    assert "-m models.pose.weights" in msg and f"--model-dir {tmp_path}" in msg and "missing" in msg
    with pytest.raises(PoseModelsMissing):
        PoseEstimator(model_dir=tmp_path)


def test_corrupt_weights_are_rejected(tmp_path: Path) -> None:
    from models.pose.weights import specs

    for spec in specs().values():
        (tmp_path / spec.file).write_bytes(b"\0" * spec.size)
    with pytest.raises(PoseModelsMissing, match="wrong SHA-256"):
        model_paths(tmp_path)


def test_env_var_overrides_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSROOM_POSE_MODELS", str(tmp_path))
    with pytest.raises(PoseModelsMissing, match=str(tmp_path)):
        model_paths()


# ---------------------------------------------------------------- real model


def _within(p: np.ndarray, xy: tuple[float, float], tol: float = TOL_PX) -> bool:
    return bool(np.hypot(p[0] - xy[0], p[1] - xy[1]) < tol)


def test_one_person_keypoints_plausible(estimator: PoseEstimator) -> None:
    img = load_rgb("messi5.jpg")
    poses = estimator.estimate(img)
    assert len(poses) == 1
    p = poses[0]
    assert p.keypoints.shape == (33, 3) and p.keypoints.dtype == np.float32 and p.score > 0.9
    assert np.allclose(p.bbox, MESSI_BBOX, atol=TOL_PX)
    kp = p.keypoints
    assert _within(kp[PoseLandmark.NOSE], MESSI_NOSE)
    assert _within(kp[[PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP], :2].mean(axis=0), MESSI_HIP_CENTRE)
    assert kp[PoseLandmark.NOSE, 1] < kp[PoseLandmark.LEFT_SHOULDER, 1] < kp[PoseLandmark.LEFT_HIP, 1]
    assert np.all((kp[:, 2] >= 0) & (kp[:, 2] <= 1)) and kp[PoseLandmark.NOSE, 2] > 0.9


def test_four_people_one_per_quadrant(estimator: PoseEstimator) -> None:
    frame = people_frame()
    poses = estimator.estimate(frame)
    assert len(poses) == 4
    found = set()
    for p in poses:
        nose = p.keypoints[PoseLandmark.NOSE]
        hips = p.keypoints[[PoseLandmark.LEFT_HIP, PoseLandmark.RIGHT_HIP], :2].mean(axis=0)
        assert nose[1] < hips[1]
        cell = [i for i, (x, y) in enumerate(QUADRANTS) if x <= hips[0] < x + 320 and y <= hips[1] < y + 240]
        assert len(cell) == 1
        found.add(cell[0])
    assert found == {0, 1, 2, 3}


@pytest.mark.parametrize("code", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_rotated_image_maps_back(estimator: PoseEstimator, code: int) -> None:
    img = load_rgb("messi5.jpg")
    h, w = img.shape[:2]
    ref = estimator.estimate(img)[0].keypoints
    rot = estimator.estimate(np.ascontiguousarray(cv2.rotate(img, code)))
    assert len(rot) == 1
    x, y = rot[0].keypoints[:, 0], rot[0].keypoints[:, 1]
    back = np.stack([y, h - 1 - x] if code == cv2.ROTATE_90_CLOCKWISE else [w - 1 - y, x], axis=1)
    err = np.linalg.norm(back - ref[:, :2], axis=1)
    assert err.mean() < 0.02 * math.hypot(w, h), err


def test_tracker_keeps_ids_and_adds_newcomer(estimator: PoseEstimator) -> None:
    tracker = PoseTracker(estimator, redetect_every=5)
    ids_per_frame = []
    detector_runs = 0
    for i in range(14):
        cells = (0, 3) if i < 7 else (0, 1, 3)
        out = tracker.update(people_frame(cells, shift=(3 * i, i)), ts=i / 15)
        detector_runs += bool(tracker.stats["detector_ran"])
        ids_per_frame.append({o.track_id: o for o in out})
        assert tracker.stats["people"] == len(out)
    first = ids_per_frame[0]
    assert len(first) == 2
    for frame_ids in ids_per_frame[1:7]:
        assert set(frame_ids) == set(first)
    last = ids_per_frame[-1]
    assert set(first) < set(last) and len(last) == 3
    (new_id,) = set(last) - set(first)
    assert new_id > max(first)
    assert last[new_id].bbox[0] >= 320  # the newcomer is the one in the top-right cell
    # The same person keeps the same id: its box moves with the shift only.
    a = ids_per_frame[0][min(first)].bbox
    b = ids_per_frame[6][min(first)].bbox
    assert abs((b[0] - a[0]) - 18) < TOL_PX
    assert detector_runs <= 5  # not every frame: tracking mode


def test_tracker_drops_person_who_leaves(estimator: PoseEstimator) -> None:
    tracker = PoseTracker(estimator, redetect_every=5)
    assert len(tracker.update(people_frame((0, 3)), 0.0)) == 2
    out = []
    for i in range(1, 4):
        out = tracker.update(people_frame((0,)), i / 15)
    assert len(out) == 1


def test_onnxruntime_backend_without_converted_models_names_the_fix(tmp_path: Path) -> None:
    _weights_or_skip()
    import shutil

    for path in model_paths():  # the tflite files only: set-up has not converted them in this folder
        shutil.copy(path, tmp_path / path.name)
    from models.pose.onnx_convert import OnnxUnavailable

    with pytest.raises(OnnxUnavailable, match=r"not found.*models\.pose\.weights"):
        PoseEstimator(backend="onnxruntime", model_dir=tmp_path)
