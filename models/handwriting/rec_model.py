"""rapidocr's PP-OCR text-line recognition network, loaded from the installed wheel and run on onnxruntime.

Why not ``rapidocr.RapidOCR()``: an answer box is already one known line, so detection and angle
classification are wasted work, and the pipeline's output (argmax text plus a mean score) throws away the
per-frame character probabilities that constrained decoding and calibration need. The weights are the
ones the ``rapidocr`` package ships in ``rapidocr/models/``; nothing is downloaded. The character list is
stored in the ONNX file's metadata (index 0 is the CTC blank, the last class is a space).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LINE_HEIGHT = 48  # the network's fixed input height
MIN_WIDTH = 64  # narrower inputs leave the CTC too few frames for two digits


class ModelNotFound(RuntimeError):
    """The rapidocr package (with its bundled recognition model) is not installed."""


def find_rec_model() -> Path:
    """The recognition ONNX file shipped inside the installed ``rapidocr`` package (newest PP-OCR version)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise ModelNotFound("the 'rapidocr' package is not installed: pip install 'rapidocr>=3.1' onnxruntime")
    models = Path(spec.origin).parent / "models"
    found = sorted(models.glob("*rec*.onnx"), key=lambda p: (("PP-OCRv" in p.name), p.name))
    if not found:
        raise ModelNotFound(f"no recognition model (*rec*.onnx) in {models}; reinstall rapidocr")
    return found[-1]


@dataclass(frozen=True)
class LineImage:
    """A crop prepared for the network: float32 (48, W) in [-1, 1], ink dark, and where its ink was found."""

    data: np.ndarray
    ink_box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the source crop


def prepare_line(ink: np.ndarray, pad: float = 0.2, thicken: int = 0) -> LineImage | None:
    """Cut the ink's bounding box (plus ``pad`` of its height all round), stretch contrast and scale to 48 px.

    ``ink`` is the 0..1 ink map of the crop (:func:`models.handwriting.digits.ink_map`); None when empty. Contrast is stretched so paper is
    white and the darkest ink black, which makes pencil and blue ink look like the printed text the network
    learned from. ``thicken`` dilates the ink by that many pixels at 48 px scale (a second rendering).
    """
    ys, xs = np.nonzero(ink > 0.25)
    if len(ys) == 0:
        return None
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    h = y1 - y0
    m = round(h * pad) + 2
    crop = 1.0 - ink[y0:y1, x0:x1]  # paper 1, ink 0
    canvas = np.ones((h + 2 * m, (x1 - x0) + 2 * m), np.float32)
    canvas[m: m + h, m: m + (x1 - x0)] = crop
    scale = LINE_HEIGHT / canvas.shape[0]
    w = min(max(round(canvas.shape[1] * scale), 8), 1600)
    line = cv2.resize(canvas, (w, LINE_HEIGHT), interpolation=cv2.INTER_AREA)
    if thicken:
        k = 2 * thicken + 1
        line = cv2.erode(line, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return LineImage((line - 0.5) / 0.5, (x0, y0, x1, y1))


class RecModel:
    """One onnxruntime session on the PP-OCR recognition model. Thread-safe: ``run`` only reads the session.

    Blocking CPU work (about 5-15 ms per short line on 2 cores): call from an executor.
    """

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = path or find_rec_model()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if "character" not in meta:
            raise ModelNotFound(f"{self.path.name} carries no character list in its metadata")
        self.charset: list[str] = ["", *meta["character"].splitlines(), " "]
        self.index = {c: i for i, c in enumerate(self.charset) if i > 0}
        self.input_name = self.session.get_inputs()[0].name
        self.name = self.path.stem

    def run(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Per-frame class probabilities (T, C) for each prepared line; lines are batched at the widest.

        Narrow lines are padded with 0 (mid-grey after normalisation), as PaddleOCR pads; white padding made
        the network read a second, phantom character.
        """
        if not lines:
            return []
        width = max(MIN_WIDTH, *(ln.shape[1] for ln in lines))
        batch = np.zeros((len(lines), 3, LINE_HEIGHT, width), np.float32)
        for i, ln in enumerate(lines):
            batch[i, :, :, : ln.shape[1]] = ln
        out = self.session.run(None, {self.input_name: batch})[0]
        frames = [max(1, round(out.shape[1] * max(ln.shape[1], MIN_WIDTH) / width)) for ln in lines]
        return [np.asarray(out[i, : frames[i]], np.float32) for i in range(len(lines))]
