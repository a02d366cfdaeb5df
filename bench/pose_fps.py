"""Pose frames per second per camera at 640x480, 1 and 4 people, threads=2.

Runs our pipeline (LiteRT, and onnxruntime when its ONNX files exist) in the daemon's
tracking mode (PoseTracker) and with the detector on every frame (PoseEstimator.estimate),
and MediaPipe's own Pose solution on the same frames in ``.venv-mediapipe`` (or
``$MEDIAPIPE_PYTHON``) when available (its legacy solution tracks one person only).
Frames are real person pixels from opencv-doc's messi5.jpg, moving 3 px per frame.

The last stdout line is one JSON object; ``fps_1_person``/``fps_4_people`` are LiteRT in
tracking mode. Run: ``.venv/bin/python bench/pose_fps.py [--frames 60]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import models.pose
from models.pose import PoseEstimator, PoseTracker
from models.pose.samples import fit_cell, load_rgb, people_frame

REPO = Path(__file__).resolve().parents[1]


def sequences(n: int) -> dict[str, np.ndarray]:
    """(n, 480, 640, 3) sequences: one large person, and four people in a 2x2 layout."""
    one = fit_cell(load_rgb("messi5.jpg"), 640, 480)
    seq1 = [np.roll(one, 3 * (i % 20) - 30, axis=1) for i in range(n)]
    seq4 = [people_frame(shift=(3 * (i % 20) - 30, (i % 10) - 5)) for i in range(n)]
    return {"1": np.stack(seq1), "4": np.stack(seq4)}


def bench_ours(backend: str, frames: np.ndarray, tracking: bool) -> dict[str, Any]:
    """Median-based fps plus the people found per frame, after a warm-up pass."""
    est = PoseEstimator(backend=backend, threads=2, max_people=4)  # type: ignore[arg-type]
    est.warm_up()
    tracker = PoseTracker(est, redetect_every=5)
    people = []
    times = []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        out = tracker.update(frame, i / 15.0) if tracking else est.estimate(frame)
        times.append(time.perf_counter() - t0)
        people.append(len(out))
    mean_ms = 1000.0 * statistics.fmean(times)
    return {
        "fps": round(1000.0 / mean_ms, 1),
        "mean_ms": round(mean_ms, 1),
        "p95_ms": round(1000.0 * float(np.percentile(times, 95)), 1),
        "people_median": statistics.median(people),
    }


def bench_mediapipe(frames: np.ndarray, mode: str) -> dict[str, Any] | None:
    """MediaPipe's Pose (model_complexity=1) in its own venv, same frames; None if unavailable."""
    env = os.environ.get("MEDIAPIPE_PYTHON")
    py = Path(env) if env else REPO / ".venv-mediapipe" / "bin" / "python"
    if not py.exists():
        return None
    script = Path(models.pose.__file__).with_name("mediapipe_ref.py")
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "in.npz", frames=frames)
        proc = subprocess.run(
            [str(py), str(script), f"{tmp}/in.npz", f"{tmp}/out.npz", "--mode", mode, "--warmup", "3"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            print(f"mediapipe failed: {proc.stderr[-500:]}", file=sys.stderr)
            return None
        data = np.load(Path(tmp) / "out.npz")
        ms = np.asarray(data["ms"])[3:] if mode == "video" else np.asarray(data["ms"])  # video: skip start-up
        found = int((~np.isnan(data["landmarks"][:, 0, 0])).sum())
    mean_ms = float(ms.mean())
    return {"fps": round(1000.0 / mean_ms, 1), "mean_ms": round(mean_ms, 1), "frames_with_pose": found}


def main() -> int:
    """Run every configuration, print a table, then the JSON summary as the last line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    seqs = sequences(args.frames)
    result: dict[str, Any] = {"threads": 2, "resolution": "640x480", "frames": args.frames, "cpus": os.cpu_count()}
    for backend in ("litert", "onnxruntime"):
        for people, frames in seqs.items():
            for mode, tracking in (("tracking", True), ("detect_every_frame", False)):
                key = f"{backend}_{mode}_{people}"
                try:
                    r = bench_ours(backend, frames, tracking)
                except Exception as exc:  # onnxruntime without converted models: report, go on
                    result[f"{backend}_error"] = f"{type(exc).__name__}: {exc}"
                    break
                result[key] = r
                print(f"{key:36s} {r['fps']:6.1f} fps  mean {r['mean_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                      f"people {r['people_median']}")  # fmt: skip
            if f"{backend}_error" in result:
                print(f"{backend}: skipped ({result[f'{backend}_error']})")
                break
    for people, frames in seqs.items():
        for mode in ("video", "static"):
            r = bench_mediapipe(frames, mode)
            if r is None:
                result["mediapipe"] = "unavailable"
                break
            result[f"mediapipe_{mode}_{people}"] = r
            print(f"{'mediapipe_' + mode + '_' + people:36s} {r['fps']:6.1f} fps  mean {r['mean_ms']:6.1f} ms  "
                  f"frames with a pose {r['frames_with_pose']}/{len(frames)}")  # fmt: skip
    result["fps_1_person"] = result["litert_tracking_1"]["fps"]
    result["fps_4_people"] = result["litert_tracking_4"]["fps"]
    if "mediapipe_video_1" in result:
        result["ratio_vs_mediapipe_1_person"] = round(result["fps_1_person"] / result["mediapipe_video_1"]["fps"], 2)
        result["ratio_vs_mediapipe_4_people"] = round(result["fps_4_people"] / result["mediapipe_video_4"]["fps"], 2)
    result["goal_4_people_15fps"] = result["fps_4_people"] >= 15.0
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
