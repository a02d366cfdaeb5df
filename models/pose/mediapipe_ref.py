"""Reference runner for MediaPipe's own Pose solution, executed in *another* interpreter.

mediapipe pins ``numpy<2``, so it lives in a separate venv (``.venv-mediapipe``, made by
``scripts/mediapipe_env.sh``) and is only ever used to check and benchmark our pipeline.
This file imports nothing from our package: the comparison test and the bench run it as
``<mediapipe python> mediapipe_ref.py IN.npz OUT.npz --mode static|video``.

Input npz: ``frames`` uint8 (N, H, W, 3) RGB. Output npz: ``landmarks`` float32
(N, 33, 4) = x_px, y_px, z, visibility (NaN where no pose), ``ms`` per-frame latency.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> int:
    """Run mp.solutions.pose over the frames and save landmarks and timings."""
    parser = argparse.ArgumentParser()
    parser.add_argument("inp", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mode", choices=("static", "video"), default="static")
    parser.add_argument("--warmup", type=int, default=0, help="extra untimed passes over the first frame")
    args = parser.parse_args()

    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp
    import numpy as np

    frames = np.load(args.inp)["frames"]
    n, h, w = frames.shape[:3]
    out = np.full((n, 33, 4), np.nan, dtype=np.float32)
    ms = np.zeros(n, dtype=np.float64)
    with mp.solutions.pose.Pose(
        static_image_mode=args.mode == "static", model_complexity=1, smooth_landmarks=args.mode == "video",
        enable_segmentation=False, min_detection_confidence=0.5, min_tracking_confidence=0.5,
    ) as pose:  # fmt: skip
        if args.warmup and args.mode == "static":
            for _ in range(args.warmup):
                pose.process(np.ascontiguousarray(frames[0]))
        for i in range(n):
            frame = np.ascontiguousarray(frames[i])
            t0 = time.perf_counter()
            res = pose.process(frame)
            ms[i] = (time.perf_counter() - t0) * 1000.0
            if res.pose_landmarks is not None:
                for j, lm in enumerate(res.pose_landmarks.landmark):
                    out[i, j] = (lm.x * w, lm.y * h, lm.z * w, lm.visibility)
    np.savez(args.out, landmarks=out, ms=ms, version=mp.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
