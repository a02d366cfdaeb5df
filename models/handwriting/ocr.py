"""The answer-box recognizer: PP-OCR recognition (rapidocr's bundled model) + a digit second opinion + calibration.

How a box is read (all blocking CPU work; the homework feature calls it from an executor):

1. Ink: pen strokes are rendered (:mod:`models.handwriting.render`); a scanned crop is used as is. The ink map
   ignores paper tone and specks; an empty box is "" with confidence 0 (the feature decides what blank means).
2. Two renderings of the line (as written, and with the ink thickened) go through the network in one batch
   and are decoded over what the box may hold (:mod:`models.handwriting.decode`).
3. For ``digits``/``number`` the ink is cut into glyphs and each digit is classified by a small perceptron
   trained only on generated digits (:mod:`models.handwriting.digits`): a model with a different view of the
   same ink. Where glyphs and characters line up, the two distributions are multiplied per character.
4. Calibration: a logistic model over those signals (OCR probability, agreement between renderings,
   agreement with the second opinion, mass on characters outside the allowed set, segmentation) maps them to
   the probability that the reading is right. It is fitted on generated ink only
   (``python -m models.handwriting.calibrate``) and checked on held-out real handwriting by
   ``bench/digits_eval.py``. ``text`` answers have no second opinion and no handwriting to calibrate on, so
   their confidence is capped under the review threshold (see :meth:`OcrRecognizer._text_confidence`).

Thread-safe: the onnxruntime session and the numpy weights are only read. Construction loads the model and
runs one warm-up box (about a second), so build it once at start-up, off the event loop.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.handwriting import Box, Expect, Recognition, Stroke
from models.handwriting.decode import Decoded, Decoder
from models.handwriting.digits import DigitClassifier, ink_map, normalize_glyph, segment_glyphs
from models.handwriting.rec_model import RecModel, prepare_line
from models.handwriting.render import PEN_MM, PX_PER_MM, render_strokes

CALIBRATION = Path(__file__).with_name("calibration.json")
MIN_INK_PIXELS = 12  # fewer dark pixels than this is paper, dust or a stray dot
FEATURES = (
    "bias", "ocr_logit", "thick_logit", "agree_render", "other_max", "seg_ok",
    "mlp_logit", "mlp_agree", "comb_logit", "n_chars", "slash", "slash_or_one", "slanted_one", "inner_one",
)
MODES: tuple[Expect, ...] = ("digits", "number")  # one calibration each: what a box may hold changes what can go wrong
STRATA = ("single", "multi")  # one character, or several (where a missed "." or "/" hides)


def stratum(expect: Expect, text: str) -> str:
    """The calibration a reading falls under, e.g. ``number/multi``."""
    return f"{'number' if expect == 'number' else 'digits'}/{'single' if len(text) == 1 else 'multi'}"


CALIBRATIONS = tuple(f"{m}/{s}" for m in MODES for s in STRATA)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass
class Evidence:
    """Everything the calibrator looks at for one box, kept for the bench and for tests."""

    text: str
    ocr: Decoded | None
    thick: Decoded | None
    glyph_probs: list[np.ndarray] = field(default_factory=list)  # MLP distribution per digit glyph
    seg_ok: bool = False
    combined: list[np.ndarray] = field(default_factory=list)  # per character, over the alphabet
    ink_pixels: int = 0
    stray_punctuation: bool = False  # the ink has a dot or dash glyph the reading does not account for
    one_slant: float = 0.0  # degrees from vertical of the most slanted glyph read as "1" (number boxes)
    slash_like: bool = False  # a straight stroke leaning like "/" (number boxes)

    def vector(self) -> np.ndarray:
        ocr, thick = self.ocr, self.thick
        if ocr is None or not ocr.text:
            return np.zeros(len(FEATURES), np.float64)
        agree = thick is not None and thick.text == ocr.text
        mlp_min = 0.0
        mlp_agree = 0.0
        if self.seg_ok and self.glyph_probs:
            digit_chars = [c for c in ocr.text if c.isdigit()]
            picks = [float(p[int(c)]) for p, c in zip(self.glyph_probs, digit_chars, strict=True)]
            mlp_min = min(picks)
            mlp_agree = float(all(int(p.argmax()) == int(c) for p, c in zip(self.glyph_probs, digit_chars, strict=True)))
        comb_min = min((float(d.max()) for d in self.combined), default=ocr.min_prob)
        # a handwritten "/" and a slanted "1" are the same stroke: "3/4" and "314" need the teacher's eye
        slash_or_one = 0.0
        if "/" in ocr.alphabet:
            one, slash = ocr.alphabet.index("1"), ocr.alphabet.index("/")
            for ch, d in zip(ocr.text, ocr.dists, strict=True):
                if ch in "1/":
                    slash_or_one = max(slash_or_one, float(d[slash] if ch == "1" else d[one]))
        return np.array([
            1.0,
            _logit(ocr.min_prob),
            _logit(thick.min_prob) if agree and thick is not None else -4.0,
            float(agree),
            max(ocr.other, default=0.0),
            float(self.seg_ok),
            _logit(mlp_min) if self.seg_ok else 0.0,
            mlp_agree,
            _logit(comb_min),
            float(len(ocr.text)),
            float("/" in ocr.text),
            slash_or_one,
            float(np.clip((self.one_slant - 15.0) / 30.0, 0.0, 1.0)),
            # "3/4" written inline is read "314" more often than not: a 1 between digits in a number box
            float("/" in ocr.alphabet and re.search(r"\d1\d", ocr.text) is not None),
        ])


class OcrRecognizer:
    """Implements :class:`models.handwriting.Recognizer` on rapidocr's recognition model.

    ``recognize_strokes`` and ``recognize_image`` return a :class:`Recognition` whose ``confidence`` is
    calibrated for ``digits`` and ``number`` (see the module docstring); ``raw_image`` is the uncalibrated
    baseline the bench compares against.
    """

    engine = "rapidocr-rec+digit-mlp"

    def __init__(
        self,
        model: RecModel | None = None,
        classifier: DigitClassifier | None = None,
        calibration: Path = CALIBRATION,
        warm_up: bool = True,
        text_max_confidence: float = 0.85,
    ) -> None:
        self.model = model or RecModel()
        self.decoder = Decoder(self.model.charset)
        self.classifier = classifier or DigitClassifier()
        self.weights: dict[str, np.ndarray] = {}
        data = json.loads(calibration.read_text()) if calibration.exists() else {}
        for key in CALIBRATIONS:
            w = data.get("weights", {}).get(key)
            if w is not None and set(w) == set(FEATURES):
                self.weights[key] = np.array([float(w[f]) for f in FEATURES])
            else:  # uncalibrated: the raw OCR probability, damped, so nothing passes review by accident
                self.weights[key] = np.zeros(len(FEATURES))
                self.weights[key][FEATURES.index("ocr_logit")] = 0.2
        self.engine = f"{self.model.name}+digit-mlp"
        self.text_max_confidence = text_max_confidence
        if warm_up:
            self.recognize_image(np.full((40, 120), 255, np.uint8), "digits")
            probe = render_strokes([[(2.0, 1.0), (2.0, 7.0)]], (0.0, 0.0, 12.0, 8.0))
            self.recognize_image(probe, "digits")

    # -- the Recognizer protocol ---------------------------------------------------------------------------
    def recognize_strokes(self, strokes: list[Stroke], box_mm: Box, expect: Expect) -> Recognition:
        """Render the box's ink (mm on the page) at 10 px/mm with a 0.5 mm pen and read it."""
        image = render_strokes(strokes, box_mm, PX_PER_MM, PEN_MM)
        return self.recognize_image(image, expect)

    def recognize_image(self, image: object, expect: Expect) -> Recognition:
        grey = _as_grey(image)
        evidence = self.evidence(grey, expect)
        if evidence.ocr is None or not evidence.text:
            return Recognition("", 0.0, (), self.engine)
        if expect == "text":
            conf = self._text_confidence(evidence)
        else:
            conf = self._calibrated(evidence, expect)
        return Recognition(evidence.text, conf, self._alternatives(evidence, conf), self.engine)

    # -- the pieces ----------------------------------------------------------------------------------------
    def evidence(self, grey: np.ndarray, expect: Expect) -> Evidence:
        """Run both renderings and the second opinion; no calibration yet."""
        ink = ink_map(grey)
        ink_pixels = int((ink > 0.25).sum())
        if ink_pixels < MIN_INK_PIXELS:
            return Evidence("", None, None, ink_pixels=ink_pixels)
        glyphs = segment_glyphs(ink)
        kept = ink
        if expect != "text":  # drop specks the segmenter judged noise, so the network does not read them
            kept = np.zeros_like(ink)  # (not for words: a Chinese character's dot strokes are small pieces)
            for g in glyphs:
                kept[g.y0: g.y1, g.x0: g.x1] = np.maximum(kept[g.y0: g.y1, g.x0: g.x1], g.ink)
        plain = prepare_line(kept)
        thick = prepare_line(kept, thicken=1)
        if plain is None or thick is None:
            return Evidence("", None, None, ink_pixels=ink_pixels)
        probs = self.model.run([plain.data, thick.data])
        ocr = self.decoder.constrained(probs[0], expect)
        alt = self.decoder.constrained(probs[1], expect)
        ev = Evidence(ocr.text, ocr, alt, ink_pixels=ink_pixels)
        if expect == "text" or not ocr.text:
            return ev
        # second opinion: glyphs must line up with the characters (digits by the MLP, '.' and '-' by shape)
        kinds = {"dot": ".", "dash": "-"}
        pattern = "".join(kinds.get(g.kind, "d") for g in glyphs)
        wanted = "".join(c if c in ".-" else "d" for c in ocr.text)
        ev.stray_punctuation = pattern.count(".") > wanted.count(".") or pattern.count("-") > wanted.count("-")
        if pattern == wanted and "/" not in ocr.text:
            digit_glyphs = [g for g in glyphs if g.kind == "glyph"]
            batch = np.stack([normalize_glyph(g.ink) for g in digit_glyphs])
            ev.glyph_probs = list(self.classifier.predict_proba(batch))
            ev.seg_ok = True
            if expect == "number":
                digit_chars = [c for c in ocr.text if c.isdigit()]
                ev.one_slant = max((_slant(g.ink) for g, c in zip(digit_glyphs, digit_chars, strict=True) if c == "1"),
                                   default=0.0)
        if expect == "number":  # per connected piece: a slash leaning into its neighbours merges with them
            n, labels = cv2.connectedComponents((kept > 0.25).astype(np.uint8), connectivity=8)
            big = [i for i in range(1, n) if int((labels == i).sum()) >= 20]
            ev.slash_like = any(_slash_like((labels == i).astype(np.float32)) for i in big)
        ev.combined = self._combine(ocr, ev.glyph_probs if ev.seg_ok else [])
        return ev

    @staticmethod
    def _combine(ocr: Decoded, glyph_probs: list[np.ndarray]) -> list[np.ndarray]:
        """Per character: the OCR's distribution times the perceptron's (digits only), renormalised."""
        out: list[np.ndarray] = []
        it = iter(glyph_probs)
        for ch, dist in zip(ocr.text, ocr.dists, strict=True):
            d = dist.astype(np.float64).copy()
            if ch.isdigit() and glyph_probs:
                mlp = next(it).astype(np.float64)
                d[:10] = d[:10] * (0.02 + mlp)  # a floor, so one model's certainty cannot veto outright
            out.append(d / d.sum())
        return out

    def _calibrated(self, ev: Evidence, expect: Expect) -> float:
        z = float(ev.vector() @ self.weights[stratum(expect, ev.text)])
        conf = 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))
        cap = rule_cap(ev)
        return conf if cap is None else min(conf, cap)

    def _text_confidence(self, ev: Evidence) -> float:
        """Short words have no second model and no handwriting to calibrate on, so their confidence is the
        OCR's own (both renderings must agree) capped at ``text_max_confidence``: below the feature's usual 0.9,
        so a teacher confirms every word until a calibration on real handwritten answers says otherwise."""
        ocr, thick = ev.ocr, ev.thick
        if ocr is None or thick is None or not ocr.text:
            return 0.0
        agree = thick.text == ocr.text
        base = ocr.min_prob * (thick.min_prob if agree else 0.5)
        return float(min(base, self.text_max_confidence))

    def _alternatives(self, ev: Evidence, conf: float) -> tuple[tuple[str, float], ...]:
        """Readings that differ in one character (the likeliest second choices), with rough shares of the
        remaining probability; for the review queue's "did you mean" buttons, not for grading."""
        ocr = ev.ocr
        if ocr is None or not ocr.alphabet:
            return ()
        dists = ev.combined or list(ocr.dists)
        cands: list[tuple[str, float]] = []
        for i, d in enumerate(dists):
            order = np.argsort(d)[::-1]
            for k in order[1:3]:
                alt = ocr.alphabet[int(k)]
                if float(d[k]) < 0.01:
                    continue
                text = ocr.text[:i] + alt + ocr.text[i + 1:]
                cands.append((text, float(d[k]) / max(float(d.max()), 1e-9)))
        if ev.thick is not None and ev.thick.text and ev.thick.text != ocr.text:
            cands.append((ev.thick.text, 0.5))
        total = sum(s for _, s in cands) or 1.0
        seen: set[str] = {ocr.text}
        out: list[tuple[str, float]] = []
        for text, share in sorted(cands, key=lambda c: -c[1]):
            if text in seen:
                continue
            seen.add(text)
            out.append((text, round((1.0 - conf) * share / total, 4)))
        return tuple(out[:3])

    def raw_image(self, image: object) -> Recognition:
        """The baseline: the same network, unconstrained greedy decoding and its mean character probability
        (what rapidocr reports), no second opinion, no calibration."""
        grey = _as_grey(image)
        ink = ink_map(grey)
        line = prepare_line(ink)
        if line is None:
            return Recognition("", 0.0, (), self.model.name)
        d = self.decoder.free(self.model.run([line.data])[0])
        score = float(np.mean(d.char_probs)) if d.char_probs else 0.0
        return Recognition(d.text, score, (), self.model.name)


def rule_cap(ev: Evidence) -> float | None:
    """Readings that always go to review whatever the calibrated score, because the ink shows what the
    reading cannot explain and the generated calibration data has too few such cases to learn it:

    * a decimal point or minus on paper that the reading lacks ("6.3" read as "63" in a digits box);
    * in a number box, a straight stroke leaning like "/" when the reading has no "/" ("3/4" read as "314").
    """
    ocr = ev.ocr
    if ev.stray_punctuation:
        return 0.5
    if ev.slash_like and ocr is not None and "/" not in ocr.text:
        return 0.5
    return None


def _slash_like(ink: np.ndarray) -> bool:
    """A thin straight stroke (second moments 10:1 or more) leaning 25-60 degrees from the vertical (a minus,
    lying flat, is not one; most pupils' 1s lean less)."""
    m = cv2.moments((ink > 0.25).astype(np.float32))
    if m["m00"] < 1:
        return False
    a, b, c = m["mu20"], m["mu11"], m["mu02"]
    root = math.sqrt(max((a - c) ** 2 + 4 * b * b, 0.0))
    major, minor = (a + c + root) / 2, (a + c - root) / 2
    return minor > 0 and major / minor >= 10 and 25 <= _slant(ink) <= 60


def _slant(ink: np.ndarray) -> float:
    """Degrees between a glyph's principal axis and the vertical (0 for an upright stroke)."""
    m = cv2.moments((ink > 0.25).astype(np.float32))
    if m["m00"] < 1:
        return 0.0
    angle = 0.5 * math.degrees(math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"]))  # from the x axis
    return abs(90.0 - abs(angle))


def _as_grey(image: object) -> np.ndarray:
    """A uint8 grey array from grey, BGR or BGRA arrays (the scanner path passes colour crops)."""
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2GRAY if arr.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr
