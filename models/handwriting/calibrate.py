"""Fit ``calibration.json``: the map from the recognizer's evidence to "probability this reading is right".

    .venv/bin/python -m models.handwriting.calibrate          # ~3 minutes on 2 cores

Deterministic. The calibration set is generated, never the evaluation data: pen digits and numbers written
into answer boxes (:mod:`models.handwriting.synth`), half of them degraded the way scans and photos are
(low resolution, blur, fat or faint ink, noise), plus ink that is not an answer (scribbles, digits crossed out
with an X) whose every reading counts as wrong. The model is a logistic
regression with an L2 penalty over :data:`models.handwriting.ocr.FEATURES`; its bias is then lowered until,
on this set, answers with confidence >= 0.9 are wrong less than 1 time in 400, which leaves a factor of two
for the shift from generated to real ink. ``bench/digits_eval.py`` measures what that gives on real ink.
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
from models.handwriting.ocr import CALIBRATION, FEATURES, OcrRecognizer
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


def make_calibration_set(n: int, seed: int) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for i in range(n):
        box: Box = (0.0, 0.0, float(rng.uniform(20, 60)), float(rng.uniform(9, 14)))
        r = rng.random()
        expect: Expect = "digits"
        truth: str | None
        if r < 0.55:
            truth = str(int(rng.integers(10)))
        elif r < 0.76:
            truth = str(int(rng.integers(10, 10000)))
        elif r < 0.88:
            truth = f"{int(rng.integers(0, 100))}.{int(rng.integers(1, 10))}"
            expect = "number"
        else:
            truth = None
        if truth is not None:
            strokes = write_digits(truth, box, rng, jitter=float(rng.uniform(0.02, 0.08)))
        else:
            if rng.random() < 0.6:  # a scribble: ink that is no number at all
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


def collect(rec: OcrRecognizer, samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for grey, truth, expect in samples:
        ev = rec.evidence(grey, expect)
        if not ev.text:
            continue  # "" is never graded: it is confidence 0 by construction
        xs.append(ev.vector())
        ys.append(float(truth is not None and ev.text == truth))
    return np.array(xs), np.array(ys)


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


def tighten(x: np.ndarray, y: np.ndarray, w: np.ndarray, threshold: float = 0.9, target: float = 0.0025) -> np.ndarray:
    """Lower the bias until accepted-and-wrong (confidence >= threshold, reading wrong) is under ``target``."""
    w = w.copy()
    for _ in range(400):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        wrong_unflagged = float(((p >= threshold) & (y < 0.5)).mean())
        if wrong_unflagged < target:
            break
        w[0] -= 0.05
    return w


def report(x: np.ndarray, y: np.ndarray, w: np.ndarray, threshold: float = 0.9) -> dict[str, float]:
    p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
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
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--out", type=Path, default=CALIBRATION)
    args = ap.parse_args(argv)
    t0 = time.time()
    rec = OcrRecognizer(calibration=Path("/nonexistent"), warm_up=False)
    x, y = collect(rec, make_calibration_set(args.n, seed=20240901))
    xv, yv = collect(rec, make_calibration_set(args.n // 3, seed=20240902))
    w = tighten(x, y, fit_logistic(x, y))
    fit = report(x, y, w)
    held = report(xv, yv, w)
    print(f"fitted on {len(y)} generated readings in {time.time() - t0:.0f} s")
    print("fit set:", json.dumps(fit))
    print("held-out generated:", json.dumps(held))
    args.out.write_text(json.dumps({
        "weights": {f: round(float(v), 6) for f, v in zip(FEATURES, w, strict=True)},
        "fitted_on": f"{len(y)} generated readings (models.handwriting.calibrate, seed 20240901)",
        "fit": fit,
        "held_out_generated": held,
    }, indent=2) + "\n")
    if not math.isfinite(float(np.abs(w).sum())):
        raise SystemExit("calibration diverged")


if __name__ == "__main__":
    main()
