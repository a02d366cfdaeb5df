"""The tflite -> ONNX conversion: onnxruntime must compute what LiteRT computes.

The comparison runs both models on a real image (a crop of messi5.jpg) and the whole
``PoseEstimator`` on both runtimes. Conversion happens into a temporary copy of the
weights folder, so these tests do not depend on (or change) the set-up state.

Tolerances: LiteRT's own XNNPACK and reference kernels differ by up to ~5e-6 of each
output's magnitude (float32 summation order; e.g. 0.0012 on detector box regressors that
reach 400), so outputs are compared at ``1e-4 + 2e-5 * max|litert|``; a layout or padding
mistake gives errors of the output's own magnitude. The segmentation logits (range
~1800, unused by the pipeline) are compared as sigmoid mask probabilities, at 5e-3: LiteRT's
two kernel paths already differ there by 1.4e-3 on this image.

Skipped, saying which, only when the weights, the sample image or the ``onnx`` package
(needed for conversion) are absent. Timing: ``python tests/test_pose_onnx.py``.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models.pose import PoseEstimator, PoseModelsMissing, model_paths
from models.pose.onnx_convert import CONVERTER_VERSION, OnnxUnavailable, ensure_onnx
from models.pose.samples import OPENCV_DATA, load_rgb
from models.pose.skeleton import PoseLandmark
from models.pose.weights import specs

MODELS = ("pose_detection", "pose_landmark_full")
ROLES = {"pose_detection": "detector", "pose_landmark_full": "landmarks"}


def _ready_or_skip() -> tuple[Path, Path]:
    try:
        paths = model_paths()
    except PoseModelsMissing as exc:
        pytest.skip(f"pose weights absent ({exc})")
    if not (OPENCV_DATA / "messi5.jpg").exists():
        pytest.skip(f"opencv-doc sample images absent ({OPENCV_DATA}); apt-get install opencv-doc")
    pytest.importorskip("onnx", reason="the `onnx` package (needed only for conversion) is not installed")
    return paths


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the verified weights folder with freshly converted ``.onnx`` files."""
    det, lm = _ready_or_skip()
    folder = tmp_path_factory.mktemp("pose-onnx")
    for src in (det, lm):
        shutil.copyfile(src, folder / src.name)
    ensure_onnx(folder / det.name, folder / lm.name)
    return folder


def _messi_input(size: int) -> np.ndarray:
    import cv2

    crop = load_rgb("messi5.jpg")[40:340, 100:400]
    return (cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)[None]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -80, 80))))


@pytest.mark.parametrize("name", MODELS)
def test_onnx_outputs_match_litert(model_dir: Path, name: str) -> None:
    from models.pose.backends import LiteRTBackend, OnnxRuntimeBackend

    lite = LiteRTBackend(model_dir / f"{name}.tflite", threads=2)
    ort = OnnxRuntimeBackend(model_dir / f"{name}.onnx", threads=2)
    assert ort.input_shape == lite.input_shape
    x = _messi_input(lite.input_shape[1])
    names = tuple(specs()[ROLES[name]].outputs.values())  # every output listed in pose.json
    want = lite.run(x, names)
    got = ort.run(x, names)
    for out, a, b in zip(names, want, got, strict=True):
        assert a.shape == b.shape and b.dtype == np.float32, out
        if name == "pose_landmark_full" and out == "Identity_2":  # segmentation logits
            err = float(np.abs(_sigmoid(a) - _sigmoid(b)).max())
            assert err < 5e-3, (out, err)
            continue
        err = float(np.abs(a - b).max())
        assert err <= 1e-4 + 2e-5 * float(np.abs(a).max()), (out, err, float(np.abs(a).max()))


def test_estimator_onnxruntime_matches_litert(model_dir: Path) -> None:
    img = load_rgb("messi5.jpg")
    ref = PoseEstimator(backend="litert", model_dir=model_dir).estimate(img)
    got = PoseEstimator(backend="onnxruntime", model_dir=model_dir).estimate(img)
    assert len(ref) == len(got) == 1
    a, b = ref[0], got[0]
    px = np.hypot(*(a.keypoints[:, :2] - b.keypoints[:, :2]).T)
    assert float(px.max()) < 1.0, px
    assert np.allclose(a.keypoints[:, 2], b.keypoints[:, 2], atol=1e-3)
    assert b.score == pytest.approx(a.score, abs=1e-4)
    assert b.keypoints[PoseLandmark.NOSE, 2] > 0.9


def test_ensure_onnx_is_idempotent_and_redoes_stale(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    det, lm = (model_dir / f"{n}.tflite" for n in MODELS)
    paths = ensure_onnx(det, lm)
    assert paths == [det.with_suffix(".onnx"), lm.with_suffix(".onnx")]
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert [p.stat().st_mtime_ns for p in ensure_onnx(det, lm)] == stamps  # current: left alone
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in paths)  # the daemon may run as another user
    monkeypatch.setattr("models.pose.onnx_convert.CONVERTER_VERSION", CONVERTER_VERSION + "-next")
    paths[0].write_bytes(b"truncated")
    ensure_onnx(det, lm)
    assert all(p.stat().st_mtime_ns != s for p, s in zip(paths, stamps, strict=True))  # both redone
    import onnx

    assert onnx.load(str(paths[0])).graph.output[0].name == "Identity"


def test_without_onnx_package_setup_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    det, lm = tmp_path / "pose_detection.tflite", tmp_path / "pose_landmark_full.tflite"
    with pytest.raises(OnnxUnavailable, match="pip install onnx"):
        ensure_onnx(det, lm)
    for p in (det, lm):
        p.with_suffix(".onnx").write_bytes(b"x")
    assert ensure_onnx(det, lm) == [det.with_suffix(".onnx"), lm.with_suffix(".onnx")]  # kept as they are


def test_missing_onnx_file_fails_with_reason(tmp_path: Path) -> None:
    from models.pose.backends import load_backend

    with pytest.raises(OnnxUnavailable, match=r"not found.*models\.pose\.weights"):
        load_backend("onnxruntime", tmp_path / "pose_detection.tflite")


def _bench(runs: int = 50, rounds: int = 5) -> None:
    """Per-inference ms, 2 threads, both runtimes; interleaved rounds, best round reported
    (the minimum is the least disturbed by other load on a shared machine)."""
    from models.pose.backends import LiteRTBackend, OnnxRuntimeBackend

    det, lm = model_paths()
    ensure_onnx(det, lm)
    for tfl in (det, lm):
        backends = [LiteRTBackend(tfl, 2), OnnxRuntimeBackend(tfl.with_suffix(".onnx"), 2)]
        x = _messi_input(backends[0].input_shape[1])
        outs = ("Identity", "Identity_1")
        best = [float("inf")] * 2
        for b in backends:
            for _ in range(5):
                b.run(x, outs)
        for _ in range(rounds):
            for i, b in enumerate(backends):
                t0 = time.perf_counter()
                for _ in range(runs):
                    b.run(x, outs)
                best[i] = min(best[i], (time.perf_counter() - t0) * 1000.0 / runs)
        print(f"{tfl.stem}: litert {best[0]:.2f} ms, onnxruntime {best[1]:.2f} ms")


if __name__ == "__main__":
    _bench()
