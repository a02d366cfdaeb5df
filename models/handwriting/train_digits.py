"""Rebuild ``digits_mlp.npz``, the second-opinion digit classifier, from generated digits only.

    .venv/bin/python -m models.handwriting.train_digits            # ~13 minutes on 2 cores

Deterministic (fixed seeds). The training set is :mod:`models.handwriting.synth` pen digits drawn at many
resolutions and pen widths, some blurred, thinned, thickened or low-resolution like a scan, plus the Debian
DejaVu / WenQuanYi fonts for printed-looking digits, all with elastic distortions. The temperature is fitted
on a separate, more distorted generated set, so the classifier's probabilities are not those of a model
grading its own homework. Nothing here reads the evaluation data (``digits.png``, the pen simulator).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import cv2
import numpy as np

from models.handwriting.digits import WEIGHTS, forward, ink_map, normalize_glyph
from models.handwriting.render import render_strokes
from models.handwriting.synth import digit_strokes

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/wqy"))


def _fonts() -> list[Path]:
    out: list[Path] = []
    for d in FONT_DIRS:
        out.extend(p for p in sorted(d.glob("*.tt[fc]")) if "Math" not in p.name and "ExtraLight" not in p.name)
    return out


def _degrade(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scanner and camera defects: low resolution, blur, thin or fat ink, noise."""
    g = grey
    r = rng.random()
    if r < 0.3:  # captured small, like a 20x20 cell, then upscaled
        h, w = g.shape
        f = float(rng.uniform(0.15, 0.4))
        small = cv2.resize(g, (max(int(w * f), 4), max(int(h * f), 4)), interpolation=cv2.INTER_AREA)
        g = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    elif r < 0.5:
        k = int(rng.choice([3, 5]))
        g = cv2.GaussianBlur(g, (k, k), 0)
    r = rng.random()
    if r < 0.2:
        g = cv2.erode(g, np.ones((3, 3), np.uint8))  # thicker ink (erode on dark-on-light)
    elif r < 0.35:
        g = cv2.dilate(g, np.ones((2, 2), np.uint8))
    if rng.random() < 0.4:
        g = np.clip(g.astype(np.float32) + rng.normal(0, float(rng.uniform(3, 15)), g.shape), 0, 255).astype(np.uint8)
    return g


def _stroke_sample(d: int, rng: np.random.Generator) -> np.ndarray:
    height = 7.0
    strokes = digit_strokes(str(d), rng, (1.0, 1.0), height, jitter=float(rng.uniform(0.02, 0.06)))
    px = float(rng.uniform(3.0, 12.0))
    pen = height * float(rng.uniform(0.04, 0.2))  # fine gel pen to a blunt pencil, relative to the digit
    grey = render_strokes(strokes, (0.0, 0.0, height * 0.9 + 2.5, height + 2.5), px_per_mm=px, pen_mm=pen)
    return normalize_glyph(ink_map(_degrade(grey, rng)))


def _font_sample(d: int, rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), int(rng.integers(24, 64)))
    img = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(img).text((20, 10), str(d), fill=0, font=font)
    g = np.asarray(img)
    ang = float(rng.normal(0, 6))
    shear = float(rng.normal(0.1, 0.15))
    m = cv2.getRotationMatrix2D((50, 50), ang, 1.0)
    m[0, 1] += shear
    g = cv2.warpAffine(g, m, (100, 100), borderValue=255)
    return normalize_glyph(ink_map(_degrade(g, rng)))


def _elastic(x: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, x.shape).astype(np.float32), (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, x.shape).astype(np.float32), (0, 0), sigma) * alpha
    yy, xx = np.mgrid[0: x.shape[0], 0: x.shape[1]].astype(np.float32)
    return cv2.remap(x, xx + dx, yy + dy, cv2.INTER_LINEAR, borderValue=0.0)


def make_set(n: int, seed: int, font_share: float = 0.15, elastic: float = 0.9,
             alpha: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` generated glyphs (n, 28, 28) with labels, classes balanced."""
    rng = np.random.default_rng(seed)
    fonts = _fonts()
    xs = np.zeros((n, 28, 28), np.float32)
    ys = np.arange(n) % 10
    rng.shuffle(ys)
    for i, d in enumerate(ys):
        if fonts and rng.random() < font_share:
            g = _font_sample(int(d), rng, fonts)
        else:
            g = _stroke_sample(int(d), rng)
        if rng.random() < elastic:
            g = _elastic(g, rng, alpha, 4.0)
        xs[i] = g
    return xs, ys.astype(np.int64)


def train(x: np.ndarray, y: np.ndarray, seed: int = 0, hidden: int = 800, epochs: int = 30,
          lr: float = 1e-3, batch: int = 128, smoothing: float = 0.05) -> dict[str, np.ndarray]:
    """Adam on cross-entropy with label smoothing and dropout; returns the weight arrays."""
    rng = np.random.default_rng(seed)
    n, d = len(x), x[0].size
    xf = x.reshape(n, d)
    params = {
        "w1": (rng.normal(0, math.sqrt(2 / d), (d, hidden))).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": (rng.normal(0, math.sqrt(2 / hidden), (hidden, 10))).astype(np.float32),
        "b2": np.zeros(10, np.float32),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    step = 0
    target = np.full((n, 10), smoothing / 10, np.float32)
    target[np.arange(n), y] += 1 - smoothing
    for epoch in range(epochs):
        order = rng.permutation(n)
        rate = lr * (0.5 * (1 + math.cos(math.pi * epoch / epochs)))
        for s in range(0, n, batch):
            idx = order[s: s + batch]
            xb, tb = xf[idx], target[idx]
            h_pre = xb @ params["w1"] + params["b1"]
            h = np.maximum(h_pre, 0)
            keep = (rng.random(h.shape) > 0.3).astype(np.float32) / 0.7
            hd = h * keep
            z = hd @ params["w2"] + params["b2"]
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            gz = (p - tb) / len(idx)
            grads = {"w2": hd.T @ gz, "b2": gz.sum(0)}
            gh = (gz @ params["w2"].T) * keep * (h_pre > 0)
            grads["w1"] = xb.T @ gh + 1e-5 * params["w1"]
            grads["b1"] = gh.sum(0)
            step += 1
            for k in params:
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                mh = m[k] / (1 - 0.9**step)
                vh = v[k] / (1 - 0.999**step)
                params[k] -= (rate * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
    return params


def fit_temperature(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises negative log-likelihood on a held-out generated set."""
    best_t, best = 1.0, float("inf")
    xf = x.reshape(len(x), -1)
    for t in np.linspace(0.2, 4.0, 39):
        p = forward(xf, params["w1"], params["b1"], params["w2"], params["b2"], float(t))
        nll = float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean())
        if nll < best:
            best_t, best = float(t), nll
    return best_t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=90000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    t0 = time.time()
    x, y = make_set(args.n, seed=1)
    xv, yv = make_set(args.n // 10, seed=2, elastic=1.0, alpha=12.0)
    print(f"generated {len(x)} + {len(xv)} glyphs in {time.time() - t0:.0f} s", flush=True)
    params = train(x, y, epochs=args.epochs)
    temperature = fit_temperature(params, xv, yv)
    pv = forward(xv.reshape(len(xv), -1), params["w1"], params["b1"], params["w2"], params["b2"], temperature)
    print(f"trained in {time.time() - t0:.0f} s; held-out generated accuracy {(pv.argmax(1) == yv).mean():.4f}, "
          f"temperature {temperature:.2f}")
    half = {k: v.astype(np.float16) for k, v in params.items()}
    np.savez_compressed(args.out, w1=half["w1"], b1=half["b1"], w2=half["w2"], b2=half["b2"],
                        temperature=np.float32(temperature))


if __name__ == "__main__":
    main()
