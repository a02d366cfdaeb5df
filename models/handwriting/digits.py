"""The second opinion on digits: glyph segmentation, MNIST-style normalisation and a small numpy MLP.

Why a second model: the OCR's own scores are not calibrated (it is sure of some wrong digits), and two models
that learned from different data rarely make the same mistake with confidence. This one is a 784-800-10
perceptron trained only on digits we generate ourselves (:mod:`models.handwriting.synth` strokes and the
Debian fonts), never on the evaluation sets; ``python -m models.handwriting.train_digits`` rebuilds its
weights file deterministically. Inference is two matrix products: about 0.1 ms per glyph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WEIGHTS = Path(__file__).with_name("digits_mlp.npz")
SIDE = 28
INNER = 20


def ink_map(grey: np.ndarray) -> np.ndarray:
    """0..1 ink intensity from a grey crop (dark ink on light paper), robust to grey paper and scanner gain."""
    g = grey.astype(np.float32)
    paper = float(np.percentile(g, 90))
    darkest = float(g.min())
    span = max(paper - darkest, 60.0)  # a faint box (pencil) still spans a real range; empty paper stays ~0
    ink = np.clip((paper - g) / span, 0.0, 1.0)
    ink[ink < 0.15] = 0.0  # paper texture and JPEG noise
    return ink


def normalize_glyph(ink: np.ndarray) -> np.ndarray:
    """One glyph's ink (any size) to the 28x28 MNIST layout: 20 px box, centre of mass centred, deskewed."""
    ys, xs = np.nonzero(ink > 0.2)
    out: np.ndarray = np.zeros((SIDE, SIDE), np.float32)
    if len(ys) == 0:
        return out
    crop = ink[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    scale = INNER / max(h, w)
    nh, nw = max(round(h * scale), 1), max(round(w * scale), 1)
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    y0, x0 = (SIDE - nh) // 2, (SIDE - nw) // 2
    out[y0: y0 + nh, x0: x0 + nw] = small
    m = cv2.moments(out)
    if m["m00"] > 1e-6:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
        skew = m["mu11"] / m["mu02"] if abs(m["mu02"]) > 1e-2 else 0.0
        skew = float(np.clip(skew, -1.2, 1.2))
        # shear around the centre of mass (x' = x - skew * (y - cy)), then move it to the middle
        mat = np.array([[1.0, -skew, SIDE / 2 - cx + skew * cy], [0.0, 1.0, SIDE / 2 - cy]], np.float32)
        out = cv2.warpAffine(out, mat, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderValue=0.0)
    peak = float(out.max())
    return out / peak if peak > 0 else out


@dataclass(frozen=True)
class Glyph:
    """One connected piece of ink on the line: a digit, or punctuation told apart by its shape."""

    x0: int
    y0: int
    x1: int
    y1: int
    kind: str  # "glyph", "dot", "dash"
    ink: np.ndarray  # the glyph's own ink map (others' ink removed)


def segment_glyphs(ink: np.ndarray, speck_frac: float = 0.015) -> list[Glyph]:
    """Left-to-right glyphs: connected components merged when they overlap horizontally (a two-stroke 4 or 5).

    The line height is the tallest glyph's. A small blob in the lower half of the line is a decimal point
    ("dot", kept even when tiny: a missed point turns 6.3 into 63), a flat one a minus ("dash"); other
    pieces with less than ``speck_frac`` of the largest piece's ink are paper specks and dropped.
    """
    mask = (ink > 0.25).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    comps: list[_Comp] = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area >= 3:
            comps.append(_Comp(x, y, x + w, y + h, area, [i]))
    if not comps:
        return []
    big = max(c.area for c in comps)
    large = [c for c in comps if c.area >= big * 0.15]
    line_top = min(c.y0 for c in large)
    line_h = max(max(c.y1 for c in large) - line_top, 1)

    def low_blob(c: _Comp) -> bool:
        return c.y1 - c.y0 < 0.3 * line_h and c.x1 - c.x0 < 0.35 * line_h and (c.y0 - line_top) > 0.55 * line_h

    comps = [c for c in comps if c.area >= big * speck_frac or (low_blob(c) and c.area >= 6)]
    comps.sort(key=lambda c: c.x0)
    merged: list[_Comp] = []
    for c in comps:
        if merged and not low_blob(c) and not low_blob(merged[-1]):
            p = merged[-1]
            overlap = min(p.x1, c.x1) - max(p.x0, c.x0)
            narrow = min(p.x1 - p.x0, c.x1 - c.x0)
            if overlap > 0.35 * narrow:
                p.x0, p.y0, p.x1, p.y1 = min(p.x0, c.x0), min(p.y0, c.y0), max(p.x1, c.x1), max(p.y1, c.y1)
                p.area += c.area
                p.ids += c.ids
                continue
        merged.append(c)
    out: list[Glyph] = []
    for c in merged:
        region = labels[c.y0:c.y1, c.x0:c.x1]
        own = np.where(np.isin(region, c.ids), ink[c.y0:c.y1, c.x0:c.x1], 0.0).astype(np.float32)
        w, h = c.x1 - c.x0, c.y1 - c.y0
        kind = "glyph"
        if low_blob(c):
            kind = "dot"
        elif h < 0.25 * line_h and w > 1.6 * h:
            kind = "dash"
        out.append(Glyph(c.x0, c.y0, c.x1, c.y1, kind, own))
    return out


@dataclass
class _Comp:
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    ids: list[int]


class DigitClassifier:
    """784-800-10 ReLU perceptron over normalised glyphs; weights from :data:`WEIGHTS`. Thread-safe (read-only)."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        data = np.load(path)
        self.w1 = data["w1"].astype(np.float32)
        self.b1 = data["b1"].astype(np.float32)
        self.w2 = data["w2"].astype(np.float32)
        self.b2 = data["b2"].astype(np.float32)
        self.temperature = float(data["temperature"]) if "temperature" in data else 1.0

    def predict_proba(self, glyphs: np.ndarray) -> np.ndarray:
        """(n, 28, 28) normalised glyphs to (n, 10) digit probabilities."""
        x = glyphs.reshape(len(glyphs), -1).astype(np.float32)
        return forward(x, self.w1, self.b1, self.w2, self.b2, self.temperature)


def forward(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
            temperature: float = 1.0) -> np.ndarray:
    h = np.maximum(x @ w1 + b1, 0.0)
    z = (h @ w2 + b2) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)
