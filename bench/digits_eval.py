"""Handwritten digits: is every answer right or sent to the teacher, and how many slip through wrong?

Two held-out sets, neither ever used to train or calibrate anything:

(a) OpenCV's ``digits.png`` (Debian ``opencv-doc``): 5,000 real handwritten digits, 20x20 px, 500 per class, read
    as a digits box (``expect="digits"``, e.g. 学号) and as a numeric answer box (``expect="number"``);
    each upscaled x3 and pasted into an answer-box image the size a 200 dpi scan of an 11 x 30 mm box
    would be (grey paper, a little sensor noise, random position). Columns 0-9 of the sheet (500 cells) were
    looked at while developing (line preprocessing, the digit classifier's training recipe, the calibration
    features); columns 10-99 (4,500) never were, and are reported on their own as well.
(b) Simulated pen writing from ``drivers.smartpen.handwriting.write_text`` (another engineer's child-hand
    simulator, different glyph shapes and timing from ours), numbers 0-9999 and decimals written into
    answer boxes with seeds never used while building the recognizer, read through ``recognize_strokes`` as
    the homework feature reads numeric answers (``expect="number"``).

For each set: accuracy, the share right-or-review (right, or confidence below the threshold), wrong-and-
unflagged (wrong with confidence >= threshold), review rate, the 10x10 confusion matrix of single digits
(rows: truth, columns: reading; readings that are not one digit are counted in ``not_one_digit``), ms per
box; and the same for the baseline, raw rapidocr (its own pipeline, recognition only, on the same box
image, its score taken as the confidence), with the ratio of wrong-and-unflagged baseline/ours.

Run: .venv/bin/python bench/digits_eval.py [--limit N] [--pen N] [--threshold 0.9]
Prints progress to stderr and one JSON object on its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.handwriting import Recognition
from models.handwriting.ocr import OcrRecognizer

DIGITS_PNG = Path(os.environ.get("DIGITS_PNG", "/usr/share/doc/opencv-doc/examples/data/digits.png"))
BOX_PX = (88, 240)  # an 11 x 30 mm answer box at 8 px/mm (~200 dpi)
DEV_COLUMNS = 10  # digits.png columns looked at during design


def digit_cells(path: Path = DIGITS_PNG) -> Iterator[tuple[np.ndarray, int, int]]:
    """(20x20 cell, label, column) for all 5,000 digits: 50 rows of 100, five rows per class."""
    sheet = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if sheet is None:
        raise FileNotFoundError(f"{path} not found: apt-get install opencv-doc (or set DIGITS_PNG)")
    for r in range(50):
        for c in range(100):
            yield sheet[r * 20:(r + 1) * 20, c * 20:(c + 1) * 20], r // 5, c


def as_answer_box(cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The cell as a scanner would see it in an answer box: dark ink x3 on grey paper, placed at random."""
    ink = cv2.resize(cell, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    h, w = BOX_PX
    paper = float(rng.uniform(215, 245))
    box = np.full((h, w), paper, np.float32)
    y = int(rng.integers(4, h - ink.shape[0] - 4))
    x = int(rng.integers(6, w // 2))
    box[y:y + ink.shape[0], x:x + ink.shape[1]] = paper * (1 - 0.9 * ink)
    box += rng.normal(0, 3.0, box.shape)
    return np.clip(box, 0, 255).astype(np.uint8)


class Tally:
    """Running metrics for one reader on one set."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.n = self.right = self.review = self.wrong_unflagged = self.not_one_digit = 0
        self.confusion = np.zeros((10, 10), np.int64)
        self.seconds = 0.0

    def add(self, truth: str, rec: Recognition, seconds: float) -> None:
        self.n += 1
        self.seconds += seconds
        ok = rec.text == truth
        flagged = rec.confidence < self.threshold
        self.right += ok
        self.review += flagged
        self.wrong_unflagged += (not ok) and not flagged
        if len(truth) == 1:
            if len(rec.text) == 1 and rec.text.isdigit():
                self.confusion[int(truth), int(rec.text)] += 1
            else:
                self.not_one_digit += 1

    def result(self) -> dict[str, object]:
        n = max(self.n, 1)
        return {
            "n": self.n,
            "accuracy": round(self.right / n, 4),
            "right_or_review": round((self.n - self.wrong_unflagged) / n, 4),
            "wrong_unflagged": round(self.wrong_unflagged / n, 4),
            "wrong_unflagged_count": self.wrong_unflagged,
            "review_rate": round(self.review / n, 4),
            "ms_per_box": round(1000 * self.seconds / n, 2),
            "confusion": self.confusion.tolist(),
            "not_one_digit": self.not_one_digit,
        }


def timed(fn: Callable[[], Recognition]) -> tuple[Recognition, float]:
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


def rapidocr_baseline() -> Callable[[np.ndarray], Recognition]:
    """rapidocr's own pipeline, recognition only (the box is known), its score as the confidence."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})

    def read(grey: np.ndarray) -> Recognition:
        bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        out = engine(bgr, use_det=False, use_cls=False, use_rec=True)
        txts = getattr(out, "txts", None) or ("",)
        scores = getattr(out, "scores", None) or (0.0,)
        return Recognition(str(txts[0]).strip(), float(scores[0]), (), "rapidocr")

    read(np.full(BOX_PX, 255, np.uint8))
    return read


def summary(ours: Tally, base: Tally) -> dict[str, object]:
    o, b = ours.result(), base.result()
    return {
        "ours": o,
        "baseline_raw_rapidocr": b,
        "wrong_unflagged_baseline_over_ours": (
            round(base.wrong_unflagged / ours.wrong_unflagged, 2) if ours.wrong_unflagged else None
        ),
        "meets_goal": bool(o["right_or_review"] >= 0.99 and o["wrong_unflagged"] < 0.005),  # type: ignore[operator]
    }


def eval_digits_png(rec: OcrRecognizer, base: Callable[[np.ndarray], Recognition], threshold: float,
                    limit: int | None, modes: list[str]) -> dict[str, object]:
    """Every cell through our recognizer in each box mode and once through the baseline."""
    rng = np.random.default_rng(5000)
    keys = ("all", "dev_columns_0_9", "held_out_columns_10_99")
    ours = {(m, k): Tally(threshold) for m in modes for k in keys}
    raw = {k: Tally(threshold) for k in keys}
    cells = list(digit_cells())
    if limit:
        cells = [cells[i] for i in np.random.default_rng(1).choice(len(cells), limit, replace=False)]
    for i, (cell, label, col) in enumerate(cells):
        box = as_answer_box(cell, rng)
        split = ("all", "dev_columns_0_9" if col < DEV_COLUMNS else "held_out_columns_10_99")
        for mode in modes:
            r, t = timed(lambda box=box, mode=mode: rec.recognize_image(box, mode))  # type: ignore[misc]
            for key in split:
                ours[(mode, key)].add(str(label), r, t)
        b, t_raw = timed(lambda box=box: base(box))  # type: ignore[misc]
        for key in split:
            raw[key].add(str(label), b, t_raw)
        if i % 500 == 499:
            print(f"digits.png {i + 1}/{len(cells)}", file=sys.stderr, flush=True)
    return {f"expect_{m}": {k: summary(ours[(m, k)], raw[k]) for k in keys} for m in modes}


def eval_pen(rec: OcrRecognizer, base: Callable[[np.ndarray], Recognition], threshold: float,
             n: int) -> dict[str, object]:
    try:
        from drivers.smartpen.handwriting import write_text
    except ImportError as exc:
        return {"skipped": f"drivers.smartpen.handwriting is not available: {exc}"}
    from models.handwriting.render import render_strokes

    single = (Tally(threshold), Tally(threshold))
    multi = (Tally(threshold), Tally(threshold))
    gen = random.Random(777_001)  # never used while building or calibrating the recognizer
    for i in range(n):
        r = gen.random()  # numeric answers, read as the homework feature reads them ("number")
        if r < 0.5:
            truth = str(gen.randrange(10))
        elif r < 0.8:
            truth = str(gen.randrange(10, 10000))
        else:
            truth = f"{gen.randrange(0, 100)}.{gen.randrange(1, 10)}"
        expect = "number"
        box = (100.0, 200.0, gen.uniform(25.0, 60.0), 11.0)
        sim = write_text(truth, box, random.Random(900_000 + i))
        strokes = [[(p[0], p[1]) for p in s.points] for s in sim]
        ours, t_ours = timed(lambda: rec.recognize_strokes(strokes, box, expect))  # type: ignore[arg-type]  # noqa: B023
        img = render_strokes(strokes, box)
        raw, t_raw = timed(lambda: base(img))  # noqa: B023
        target = single if len(truth) == 1 else multi
        target[0].add(truth, ours, t_ours)
        target[1].add(truth, raw, t_raw)
    return {"single_digits": summary(*single), "numbers": summary(*multi)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="a random subset of digits.png (default: all 5,000)")
    ap.add_argument("--pen", type=int, default=1000, help="simulated pen answers")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--modes", default="digits,number", help="box kinds to read digits.png as")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rec = OcrRecognizer()
    construct_s = time.perf_counter() - t0
    base = rapidocr_baseline()
    out: dict[str, object] = {
        "bench": "digits_eval",
        "threshold": args.threshold,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
                   f"{platform.python_version()}",
        "engine": rec.engine,
        "construct_s": round(construct_s, 2),
    }
    try:
        out["digits_png"] = eval_digits_png(rec, base, args.threshold, args.limit, args.modes.split(","))
    except FileNotFoundError as exc:
        out["digits_png"] = {"skipped": str(exc)}
    out["pen_simulated"] = eval_pen(rec, base, args.threshold, args.pen)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
