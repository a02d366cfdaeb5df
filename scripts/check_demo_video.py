"""Check the demo exerciser video with Google's own MediaPipe Pose (evidence, not product code).

Why: the demo video is a paper-doll puppet; it is only useful if the real BlazePose
pipeline sees a person in it and its landmarks follow the motion. Run it in the separate
MediaPipe venv (never import this from the project; the project runs the models itself):

    .venv/bin/python -c "from pathlib import Path; from appliance.demo_media import render_exercise_video as r; r(Path('/tmp/ex.mp4'))"
    .venv-mediapipe/bin/python scripts/check_demo_video.py /tmp/ex.mp4 [--every 1]

Prints per frame: detected?, MediaPipe 2-D knee angle vs the ground truth's, wrist height
above the nose (in shoulder widths; > 0 = hands above the head), then a summary: detection
rate, knee-angle correlation / error, mean joint error, and reps counted by a simple
hysteresis counter on MediaPipe's landmarks next to the ground-truth counts.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

# BlazePose indices of the ground truth's keypoint names.
MP_INDEX = {
    "nose": 0, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24, "left_knee": 25,
    "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}  # fmt: skip


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    v1, v2 = a - b, c - b
    cos = float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2) + 1e-9))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _count(signal: list[float | None], enter: float, leave: float, below: bool) -> int:
    """Reps = times the signal crosses ``enter`` and then comes back past ``leave``."""
    reps, inside = 0, False
    for v in signal:
        if v is None:
            continue
        hit = v < enter if below else v > enter
        back = v > leave if below else v < leave
        if not inside and hit:
            inside = True
        elif inside and back:
            inside, reps = False, reps + 1
    return reps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--every", type=int, default=1, help="print every Nth frame (all are analysed)")
    ap.add_argument(
        "--static",
        action="store_true",
        help="run the person detector on every frame (static_image_mode) instead of tracking",
    )
    ap.add_argument("--squat-enter", type=float, default=140.0, help="knee angle (deg) that starts a squat rep")
    args = ap.parse_args()
    truth = json.loads(args.video.with_suffix(".json").read_text())
    names: list[str] = truth["keypoints"]
    gt_frames = truth["per_frame"]

    detected = 0
    knee_mp: list[float | None] = []
    wrist_mp: list[float | None] = []
    knee_gt: list[float] = []
    joint_err: list[float] = []
    print("frame     t  exercise       det  knee_mp knee_gt  wrist_up(sw)")
    cap = cv2.VideoCapture(str(args.video))  # the MediaPipe venv has OpenCV's FFmpeg, not PyAV
    with mp.solutions.pose.Pose(static_image_mode=args.static, model_complexity=1) as pose:
        i = -1
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            i += 1
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            h, w = img.shape[:2]
            res = pose.process(img)
            gt = gt_frames[i] if i < len(gt_frames) else gt_frames[-1]
            knee_gt.append(gt["knee_angle_deg"])
            if res.pose_landmarks is None:
                knee_mp.append(None)
                wrist_mp.append(None)
                if i % args.every == 0:
                    print(f"{i:5d} {gt['t']:6.2f} {gt['exercise']:13s}  no")
                continue
            detected += 1
            lm = np.array([[p.x * w, p.y * h] for p in res.pose_landmarks.landmark])
            knee = (_angle(lm[23], lm[25], lm[27]) + _angle(lm[24], lm[26], lm[28])) / 2
            sw = float(np.linalg.norm(lm[11] - lm[12])) + 1e-6
            wrist_up = (lm[0, 1] - min(lm[15, 1], lm[16, 1])) / sw
            knee_mp.append(knee)
            wrist_mp.append(wrist_up)
            gj = np.array(gt["joints"])
            joint_err.append(float(np.mean([np.linalg.norm(lm[MP_INDEX[n]] - gj[k]) for k, n in enumerate(names)])))
            if i % args.every == 0:
                print(
                    f"{i:5d} {gt['t']:6.2f} {gt['exercise']:13s} yes  {knee:7.1f} {gt['knee_angle_deg']:7.1f}  {wrist_up:+6.2f}"
                )

    n = len(knee_mp)
    print(f"\nframes: {n}  detected: {detected}  detection rate: {detected / max(n, 1):.1%}")
    pairs = [(m, g) for m, g in zip(knee_mp, knee_gt, strict=True) if m is not None]
    if len(pairs) > 2:
        m_arr, g_arr = np.array(pairs).T
        print(
            f"knee angle: corr(MediaPipe, truth) = {np.corrcoef(m_arr, g_arr)[0, 1]:.3f}, "
            f"mean |error| = {np.mean(np.abs(m_arr - g_arr)):.1f} deg, "
            f"MediaPipe range {m_arr.min():.0f}..{m_arr.max():.0f} deg (truth {g_arr.min():.0f}..{g_arr.max():.0f})"
        )
    if joint_err:
        print(f"mean 2-D joint error vs truth: {np.mean(joint_err):.1f} px (median {np.median(joint_err):.1f})")
    squat_sig = [k if gt["exercise"] != "jumping_jack" else None for k, gt in zip(knee_mp, gt_frames, strict=False)]
    jack_sig = [v if gt["exercise"] != "squat" else None for v, gt in zip(wrist_mp, gt_frames, strict=False)]
    squats = _count(squat_sig, args.squat_enter, 165.0, below=True)
    jacks = _count(jack_sig, 0.3, -0.5, below=False)
    up = [v for v, gt in zip(wrist_mp, gt_frames, strict=False) if v is not None and gt["exercise"] == "jumping_jack"]
    if up:
        print(f"wrist height above nose during jacks: max {max(up):+.2f}, min {min(up):+.2f} shoulder widths")
    counts = truth["counts"]
    print(
        f"naive counter on MediaPipe landmarks: squats {squats} (truth {counts['squat']} valid + "
        f"{counts['squat_invalid']} shallow), jumping jacks {jacks} (truth {counts['jumping_jack']})"
    )
    return 0 if detected / max(n, 1) >= 0.9 else 1


if __name__ == "__main__":
    cv2.setNumThreads(1)
    sys.exit(main())
