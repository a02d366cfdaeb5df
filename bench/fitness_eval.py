"""Exercise counters: how far off is the count, and are the faults called right?

(a) The synthetic evaluation set (``synth.eval_set``: 20 seeded sequences per exercise, ~20 % faulty reps,
    10/15/30 fps, 1-2 % jitter, outliers, dropped frames, every facing). Per exercise: count MAE, the share
    of sequences exactly right and off by exactly one, and invalid-rep detection: per sequence and reason,
    matched = min(called, true); precision = matched / called, recall = matched / true (over all sequences).
(b) The school's saved clips (``--clips DIR``; default ``<data_dir>/fitness/clips`` if it exists): each a
    folder with ``clip.mkv`` and ``clip.json`` (``exercise``, ``observed_count`` = the teacher's count,
    ``region`` polygon in image fractions, ``bar_y`` fraction or null, ``fps``). The pose tracker runs on
    every frame, the person whose hip centre is inside the region (largest if several) feeds the counter,
    and ``count`` is compared with the teacher's. Only counts: teachers do not record faults per rep.

``--baseline`` adds a naive counter beside ours: the same progress signal, unsmoothed, one threshold, no
hysteresis and no rules (every crossing is a valid rep) — the ratio baseline MAE / ours shows what the
smoothing, hysteresis and rules are worth.

Run: .venv/bin/python bench/fitness_eval.py [--per-exercise 20] [--seed 2014] [--clips DIR] [--baseline]
Prints a table, then one JSON object on the last stdout line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.features.fitness.counters import EXERCISES, REASONS_BY_EXERCISE, make_counter
from appliance.features.fitness.geometry import (
    ARM_REACH,
    joint_angle,
    mean_of,
    mid,
    torso_length,
)
from appliance.features.fitness.stations import Station, assign
from appliance.features.fitness.synth import Sequence, eval_set

Frames = Iterable[tuple[float, np.ndarray | None]]


# -- the naive baseline -------------------------------------------------------------------------------------
def _arm_elev(k: np.ndarray) -> float | None:
    sh, wr = mid(k, 11, 12), mean_of(k, (15, 16))
    if sh is None or wr is None:
        return None
    v = wr - sh
    return math.degrees(math.acos(max(-1.0, min(1.0, float(v[1]) / max(float(np.linalg.norm(v)), 1e-9)))))


def _sit_elev(k: np.ndarray) -> float | None:
    sh, hip, knee = mid(k, 11, 12), mid(k, 23, 24), mid(k, 25, 26)
    if sh is None or hip is None or knee is None:
        return None
    side = 1.0 if knee[0] > hip[0] else -1.0
    return math.degrees(math.atan2(hip[1] - sh[1], (sh[0] - hip[0]) * -side))


def _lift(k: np.ndarray) -> float | None:
    sh, wr, t = mid(k, 11, 12), mean_of(k, (15, 16)), torso_length(k)
    return None if sh is None or wr is None or t is None else 1.0 - (sh[1] - wr[1]) / (ARM_REACH * t)


def _hip_up(k: np.ndarray) -> float | None:
    hip, t = mid(k, 23, 24), torso_length(k)
    return None if hip is None or t is None else -float(hip[1]) / t


def _squat(k: np.ndarray) -> float | None:
    hip, knee, ankle = mid(k, 23, 24), mid(k, 25, 26), mid(k, 27, 28)
    if hip is None or knee is None or ankle is None or ankle[1] - knee[1] < 1e-6:
        return None
    return -float(knee[1] - hip[1]) / float(ankle[1] - knee[1])


#: (signal, threshold or None = the signal's running mean): a rep is each upward crossing.
NAIVE: dict[str, tuple[Callable[[np.ndarray], float | None], float | None]] = {
    "sit_up": (_sit_elev, 55.0),
    "pull_up": (_lift, 0.45),
    "push_up": (lambda k: (lambda e: None if e is None else 180.0 - e)(joint_angle(k, ((11, 13, 15), (12, 14, 16)))),
                40.0),
    "squat": (_squat, -0.7),
    "jumping_jack": (_arm_elev, 70.0),
    "rope_skip": (_hip_up, None),
}


def naive_count(exercise: str, frames: Frames) -> int:
    fn, thr = NAIVE[exercise]
    n, above, mean = 0, None, None
    for _ts, k in frames:
        if k is None:
            continue
        v = fn(np.asarray(k, dtype=np.float64))
        if v is None:
            continue
        mean = v if mean is None else 0.97 * mean + 0.03 * v
        t = mean if thr is None else thr
        now = v > t
        if above is False and now:
            n += 1
        above = now
    return n


# -- scoring -------------------------------------------------------------------------------------------------
def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """rows: {count, truth, called: [reason...], true: [reason...], naive?}."""
    n = len(rows)
    errs = [abs(r["count"] - r["truth"]) for r in rows]
    matched = called = true = 0
    for r in rows:
        for code in set(r["called"]) | set(r["true"]):
            c, t = r["called"].count(code), r["true"].count(code)
            matched += min(c, t)
            called += c
            true += t
    out: dict[str, Any] = {
        "sequences": n,
        "mae": round(float(np.mean(errs)), 3) if n else None,
        "off_by_one": round(sum(e == 1 for e in errs) / n, 3) if n else None,
        "exact": round(sum(e == 0 for e in errs) / n, 3) if n else None,
        "invalid_precision": round(matched / called, 3) if called else None,
        "invalid_recall": round(matched / true, 3) if true else None,
    }
    if rows and "naive" in rows[0]:
        nm = float(np.mean([abs(r["naive"] - r["truth"]) for r in rows]))
        out["baseline_mae"] = round(nm, 3)
        out["baseline_mae_ratio"] = round(nm / out["mae"], 1) if out["mae"] else None
    return out


def run_synthetic(seed: int, per_exercise: int, baseline: bool) -> dict[str, Any]:
    seqs: list[Sequence] = eval_set(seed=seed, per_exercise=per_exercise)
    by_ex: dict[str, list[dict[str, Any]]] = {e: [] for e in EXERCISES}
    for s in seqs:
        c = make_counter(s.exercise)
        for ts, k in s.frames:
            c.update(ts, k)
        row: dict[str, Any] = {
            "count": c.count, "truth": s.count,
            "called": [r.reason for r in c.reps if r.reason], "true": [r.reason for r in s.truth if r.reason],
        }
        if baseline:
            row["naive"] = naive_count(s.exercise, s.frames)
        by_ex[s.exercise].append(row)
    return {e: score(rows) for e, rows in by_ex.items()}


# -- saved clips ----------------------------------------------------------------------------------------------
def default_clips_dir() -> Path | None:
    data = Path(os.environ.get("CLASSROOM_DATA_DIR", "/var/lib/classroom"))
    d = data / "fitness" / "clips"
    return d if d.is_dir() else None


def run_clips(clips: Path, baseline: bool) -> dict[str, Any]:
    from appliance.features.fitness.clips import read_clip  # the pose stack loads only when clips are scored
    from models.pose import PoseEstimator, PoseTracker

    by_ex: dict[str, list[dict[str, Any]]] = {}
    estimator = PoseEstimator(backend="litert", threads=2, max_people=4)
    for meta_path in sorted(clips.glob("*/clip.json")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        video = meta_path.parent / "clip.mkv"
        ex = meta["exercise"]
        if ex not in EXERCISES or not video.is_file():
            print(f"skip {meta_path.parent.name}: {ex!r} or no clip.mkv", file=sys.stderr)
            continue
        tracker = PoseTracker(estimator)
        # The daemon's own station logic picks the student (hips inside the region, kept while they stay).
        station = Station("clip", "clip", "", ex, [(float(x), float(y)) for x, y in meta["region"]])
        counter = None
        frames: list[tuple[float, np.ndarray | None]] = []
        t0 = time.perf_counter()
        for ts, rgb in read_clip(video):
            h, w = rgb.shape[:2]
            if counter is None:
                bar = meta.get("bar_y")
                counter = make_counter(ex, bar_y=None if bar is None else float(bar) * h)
            person = assign([station], tracker.update(rgb, ts), w, h, ts).get("clip")
            k = None if person is None else np.asarray(person.keypoints, dtype=np.float64)
            counter.update(ts, k)
            frames.append((ts, k))
        if counter is None:
            continue
        row: dict[str, Any] = {"count": counter.count, "truth": int(meta["observed_count"]), "called": [],
                               "true": []}
        if baseline:
            row["naive"] = naive_count(ex, frames)
        by_ex.setdefault(ex, []).append(row)
        print(f"{meta_path.parent.name}: {ex} counted {counter.count}, teacher {row['truth']} "
              f"({len(frames)} frames, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    out = {e: score(rows) for e, rows in by_ex.items()}
    for v in out.values():  # teachers record counts only
        v.pop("invalid_precision", None)
        v.pop("invalid_recall", None)
    return out


def make_demo_clips(folder: Path) -> Path:
    """The demo's puppet videos as school clips: rendered here from a real photo, ground truth as the teacher's count.

    Not footage of children: a paper-doll cut from opencv-doc's messi5.jpg (see appliance/demo_media). They
    check the whole chain (PyAV → BlazePose → tracker → station → counter) where no real clips exist yet.
    """
    from appliance.demo_media import Segment, render_exercise_video

    rest = Segment("stand", 2.0)
    plans: dict[str, tuple[str, tuple[Segment, ...]]] = {}
    for n, tempo in ((4, 2.8), (6, 2.4), (8, 2.0)):
        deep, shallow = Segment("squat", tempo), Segment("squat", tempo, depth=0.3)
        plans[f"demo-squat-{n}"] = ("squat", (rest, *([deep] * (n - 1)), shallow, deep, rest))
    for n, tempo in ((6, 1.4), (10, 1.2), (14, 1.0)):
        plans[f"demo-jack-{n}"] = ("jumping_jack", (rest, *([Segment("jack", tempo)] * n), rest))
    for clip_id, (exercise, plan) in plans.items():
        d = folder / clip_id
        d.mkdir(parents=True, exist_ok=True)
        truth = render_exercise_video(d / "clip.mkv", seed=7, fps=15, plan=plan)
        (d / "clip.json").write_text(json.dumps({
            "exercise": exercise, "observed_count": truth["counts"][exercise], "bar_y": None,
            "region": [[0.1, 0.0], [0.9, 0.0], [0.9, 1.0], [0.1, 1.0]], "fps": 15,
            "source": "rendered demo puppet (appliance/demo_media), not real footage"}), encoding="utf-8")
    return folder


def table(title: str, res: dict[str, Any]) -> str:
    cols = ["sequences", "mae", "exact", "off_by_one", "invalid_precision", "invalid_recall", "baseline_mae",
            "baseline_mae_ratio"]
    cols = [c for c in cols if any(c in v for v in res.values())]
    lines = [title, "exercise      " + " ".join(f"{c[:12]:>12}" for c in cols)]
    for ex, v in res.items():
        lines.append(f"{ex:<13} " + " ".join(f"{'-' if v.get(c) is None else v.get(c):>12}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--seed", type=int, default=2014)
    ap.add_argument("--per-exercise", type=int, default=20)
    ap.add_argument("--clips", type=Path, default=None, help="folder of saved clips (default: the daemon's)")
    ap.add_argument("--baseline", action="store_true", help="also score a naive threshold counter")
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--demo-clips", action="store_true",
                    help="also render the demo puppet's videos (6 clips) and score them through the real pose models")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    synthetic = None if args.no_synthetic else run_synthetic(args.seed, args.per_exercise, args.baseline)
    if synthetic:
        print(table("synthetic evaluation set", synthetic))
    clips_dir = args.clips or default_clips_dir()
    clips = None
    if clips_dir is not None:
        clips = run_clips(clips_dir, args.baseline)
        print(table(f"saved clips ({clips_dir})", clips))
    demo = None
    if args.demo_clips:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            demo = run_clips(make_demo_clips(Path(tmp)), args.baseline)
        print(table("rendered demo clips (puppet from a real photo, through the real pose models)", demo))
    print(f"reasons checked: {json.dumps(REASONS_BY_EXERCISE, ensure_ascii=False)}; {time.perf_counter() - t0:.1f} s")
    print(json.dumps({"synthetic": synthetic, "clips": clips, "demo_clips": demo}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
