"""Fit ``calibration.json``: the map from the recognizer's evidence to "probability this reading is right".

    .venv/bin/python -m models.handwriting.calibrate          # ~6 minutes on 2 cores

Deterministic. One calibration per box kind (``digits``: class numbers and digit boxes; ``number``: numeric
answers, with decimals, fractions and negatives) and per reading length (one character, or several, where a
missed decimal point or fraction slash hides), because each changes what goes wrong; each is tightened on
its own, so the guarantee below holds for every kind of reading, not just on average.
The calibration sets are generated, never the evaluation data: pen digits and numbers written into answer
boxes (:mod:`models.handwriting.synth`), half of them degraded the way scans and photos are (low resolution,
blur, fat or faint ink, noise), plus ink that is not an answer (scribbles, digits crossed out with an X)
whose every reading counts as wrong. The model is a logistic regression with an L2 penalty over
:data:`models.handwriting.ocr.FEATURES` (fitted on the readings :func:`~models.handwriting.ocr.rule_cap`
does not already send to review); its bias is then lowered until, on this set, answers with
confidence >= 0.9 are wrong less than 1 time in 400, which leaves a factor of two for the shift from
generated to real ink. ``bench/digits_eval.py`` measures what that gives on real ink.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np

from models.handwriting import Box, Expect
from models.handwriting.ocr import CALIBRATION, FEATURES, MODES, STRATA, OcrRecognizer, rule_cap, stratum
from models.handwriting.render import render_strokes
from models.handwriting.synth import scribble, write_digits

Sample = tuple[np.ndarray, str | None, Expect]  # image, the true answer (None: no answer is right), expect


def _scan_like(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    g = grey
    h, w = g.shape
    f = float(rng.uniform(0.2, 0.6))
    g = cv2.resize(cv2.resize(g, (max(int(w * f), 8), max(int(h * f), 8)), interpolation=cv2.INTER_AREA), (w, h),
                   interpolation=cv2.INTER_CUBIC)
    if rng.random() < 0.4:
        g = cv2.GaussianBlur(g, (3, 3), 0)
    if rng.random() < 0.3:
        g = cv2.erode(g, np.ones((3, 3), np.uint8))
    paper = float(rng.uniform(200, 250))
    ink = float(rng.uniform(0, 90))
    g = ink + (g.astype(np.float32) / 255.0) * (paper - ink)
    g = g + rng.normal(0, float(rng.uniform(2, 10)), g.shape)
    return np.clip(g, 0, 255).astype(np.uint8)


def _answer(rng: np.random.Generator, expect: Expect) -> str | None:
    """A true answer in the mix each box kind sees; None for ink that is no answer."""
    r = rng.random()
    if expect == "digits":  # class numbers (学号) and digit-only boxes
        if r < 0.6:
            return str(int(rng.integers(10)))
        if r < 0.9:
            return str(int(rng.integers(10, 10000)))
        return None
    # numeric answers: mostly whole numbers, then decimals, a few fractions and negatives
    if r < 0.3:
        return str(int(rng.integers(10)))
    if r < 0.6:
        return str(int(rng.integers(10, 10000)))
    if r < 0.83:
        return f"{int(rng.integers(0, 100))}.{int(rng.integers(1, 10))}"
    if r < 0.86:
        return f"{int(rng.integers(1, 10))}/{int(rng.integers(2, 13))}"
    if r < 0.9:
        return f"-{int(rng.integers(1, 100))}"
    return None


def make_calibration_set(n: int, seed: int, expect: Expect = "digits") -> list[Sample]:
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for i in range(n):
        box: Box = (0.0, 0.0, float(rng.uniform(20, 60)), float(rng.uniform(9, 14)))
        truth = _answer(rng, expect)
        if truth is not None:
            strokes = write_digits(truth, box, rng, jitter=float(rng.uniform(0.02, 0.08)))
        elif rng.random() < 0.6:  # a scribble: ink that is no number at all
            strokes = scribble(box, rng, n=int(rng.integers(8, 40)))
        else:  # a digit crossed out with a firm X (what pupils do instead of erasing)
            strokes = write_digits(str(int(rng.integers(10))), box, rng)
            xs = [x for s in strokes for x, _ in s]
            ys = [y for s in strokes for _, y in s]
            x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
            strokes.append([(x0 - 1, y1 + 0.5), (x1 + 1, y0 - 0.5)])
            strokes.append([(x0 - 1, y0 - 0.5), (x1 + 1, y1 + 0.5)])
        px = float(rng.uniform(6, 12))
        pen = float(rng.uniform(0.3, 1.0))
        grey = render_strokes(strokes, box, px_per_mm=px, pen_mm=pen)
        if i % 2:
            grey = _scan_like(grey, rng)
        out.append((grey, truth, expect))
    return out


def collect(rec: OcrRecognizer, samples: list[Sample]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per stratum: evidence vectors, whether each reading is right, and the review cap the rules put on it."""
    rows: dict[str, tuple[list[np.ndarray], list[float], list[float]]] = {}
    for grey, truth, expect in samples:
        ev = rec.evidence(grey, expect)
        if not ev.text:
            continue  # "" is never graded: it is confidence 0 by construction
        xs, ys, caps = rows.setdefault(stratum(expect, ev.text), ([], [], []))
        xs.append(ev.vector())
        ys.append(float(truth is not None and ev.text == truth))
        cap = rule_cap(ev)
        caps.append(1.0 if cap is None else cap)
    return {k: (np.array(x), np.array(y), np.array(c)) for k, (x, y, c) in rows.items()}


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50) -> np.ndarray:
    """Newton's method on the penalised log-likelihood (the bias is not penalised)."""
    w = np.zeros(x.shape[1])
    pen = np.full(x.shape[1], l2)
    pen[0] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + pen * w * len(y)
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen * len(y) + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


def _conf(x: np.ndarray, w: np.ndarray, caps: np.ndarray) -> np.ndarray:
    return np.minimum(1 / (1 + np.exp(-np.clip(x @ w, -30, 30))), caps)


def tighten(x: np.ndarray, y: np.ndarray, caps: np.ndarray, w: np.ndarray, threshold: float = 0.9,
            target: float = 0.0025) -> np.ndarray:
    """Lower the bias until accepted-and-wrong (confidence >= threshold, reading wrong) is under ``target``."""
    w = w.copy()
    for _ in range(400):
        p = _conf(x, w, caps)
        wrong_unflagged = float(((p >= threshold) & (y < 0.5)).mean())
        if wrong_unflagged < target:
            break
        w[0] -= 0.05
    return w


def report(x: np.ndarray, y: np.ndarray, caps: np.ndarray, w: np.ndarray, threshold: float = 0.9) -> dict[str, float]:
    p = _conf(x, w, caps)
    acc = p >= threshold
    return {
        "n": float(len(y)),
        "accuracy": float(y.mean()),
        "review_rate": float(1 - acc.mean()),
        "wrong_unflagged": float((acc & (y < 0.5)).mean()),
        "right_or_review": float(((y > 0.5) | ~acc).mean()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="generated boxes per mode")
    ap.add_argument("--out", type=Path, default=CALIBRATION)
    args = ap.parse_args(argv)
    t0 = time.time()
    rec = OcrRecognizer(calibration=Path("/nonexistent"), warm_up=False)
    weights: dict[str, dict[str, float]] = {}
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for k, mode in enumerate(MODES):
        fit = collect(rec, make_calibration_set(args.n, seed=20240901 + 10 * k, expect=mode))
        held = collect(rec, make_calibration_set(args.n // 3, seed=20240902 + 10 * k, expect=mode))
        for part in STRATA:
            key = f"{mode}/{part}"
            x, y, caps = fit[key]
            free = caps >= 1.0  # readings the rules already send to review teach the score nothing
            w = tighten(x, y, caps, fit_logistic(x[free], y[free]))
            if not math.isfinite(float(np.abs(w).sum())):
                raise SystemExit(f"calibration of {key} diverged")
            weights[key] = {f: round(float(v), 6) for f, v in zip(FEATURES, w, strict=True)}
            xv, yv, capsv = held[key]
            summary[key] = {"fit": report(x, y, caps, w), "held_out_generated": report(xv, yv, capsv, w)}
            print(f"{key}: fit {json.dumps(summary[key]['fit'])}")
            print(f"{key}: held-out generated {json.dumps(summary[key]['held_out_generated'])}")
    print(f"calibrated in {time.time() - t0:.0f} s")
    args.out.write_text(json.dumps({
        "weights": weights,
        "fitted_on": f"{args.n} generated boxes per mode (models.handwriting.calibrate, seeds 20240901/20240911)",
        "results": summary,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
