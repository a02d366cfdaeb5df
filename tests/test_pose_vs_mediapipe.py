"""Our numpy pipeline against MediaPipe's own Pose solution on the same pixels.

MediaPipe (which pins numpy<2) runs in a separate interpreter: ``$MEDIAPIPE_PYTHON`` or
``.venv-mediapipe/bin/python`` (made by ``scripts/mediapipe_env.sh``); the test is skipped
when neither exists. MediaPipe's legacy solution returns one person, so in multi-person
frames it is compared with our pose nearest to it.
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import models.pose
from models.pose import PoseEstimator, PoseModelsMissing, model_paths
from models.pose.samples import OPENCV_DATA, load_rgb, people_frame

REPO = Path(__file__).resolve().parents[1]
MAX_MEAN_ERROR = 0.02  # of the image diagonal, over points MediaPipe calls visible


def mediapipe_python() -> Path | None:
    """The interpreter that has mediapipe 0.10.21, if any."""
    env = os.environ.get("MEDIAPIPE_PYTHON")
    cand = Path(env) if env else REPO / ".venv-mediapipe" / "bin" / "python"
    return cand if cand.exists() else None


def run_mediapipe(frames: np.ndarray, tmp: Path, mode: str = "static") -> np.ndarray:
    """(N, 33, 4) landmarks from MediaPipe's Pose (model_complexity=1) in the other venv."""
    py = mediapipe_python()
    assert py is not None
    script = Path(models.pose.__file__).with_name("mediapipe_ref.py")
    np.savez(tmp / "in.npz", frames=frames)
    proc = subprocess.run(
        [str(py), str(script), str(tmp / "in.npz"), str(tmp / "out.npz"), "--mode", mode],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.asarray(np.load(tmp / "out.npz")["landmarks"])


@pytest.fixture(scope="module")
def estimator() -> PoseEstimator:
    if mediapipe_python() is None:
        pytest.skip("no MediaPipe interpreter (.venv-mediapipe or $MEDIAPIPE_PYTHON); see scripts/mediapipe_env.sh")
    try:
        model_paths()
    except PoseModelsMissing as exc:
        pytest.skip(f"pose weights absent ({exc})")
    if not (OPENCV_DATA / "messi5.jpg").exists():
        pytest.skip(f"opencv-doc sample images absent ({OPENCV_DATA})")
    return PoseEstimator(backend="litert", threads=2)


def _frames() -> dict[str, np.ndarray]:
    messi = load_rgb("messi5.jpg")
    return {
        "messi5": messi,
        "messi5_rot90": np.ascontiguousarray(cv2.rotate(messi, cv2.ROTATE_90_CLOCKWISE)),
        "basketball2": load_rgb("basketball2.png"),
        "four_people": people_frame(),
    }


def test_keypoints_agree_with_mediapipe(estimator: PoseEstimator, tmp_path: Path) -> None:
    frames = _frames()
    report = []
    for name, img in frames.items():
        ref = run_mediapipe(img[None], tmp_path)[0]
        assert not np.isnan(ref).all(), f"MediaPipe found nobody in {name}"
        ours = estimator.estimate(img)
        assert ours, f"we found nobody in {name}"
        vis = ref[:, 3] > 0.5
        errs = [np.linalg.norm(p.keypoints[vis, :2] - ref[vis, :2], axis=1) for p in ours]
        err = min(errs, key=lambda e: float(e.mean()))
        diag = math.hypot(img.shape[1], img.shape[0])
        rel = float(err.mean()) / diag
        best = min(range(len(ours)), key=lambda i: float(errs[i].mean()))
        vis_err = float(np.abs(ours[best].keypoints[vis, 2] - ref[vis, 3]).mean())
        report.append(
            f"{name}: mean {err.mean():.2f}px = {100 * rel:.2f}% diag, max {err.max():.1f}px, vis {vis_err:.3f}"
        )
        assert rel < MAX_MEAN_ERROR, report[-1]
    print("\n" + "\n".join(report))
