"""CTC decoding restricted to what an answer box may hold, with the per-character evidence calibration needs.

Why constrain: in a box that expects a number, the network's reading "S" or "(" is a digit it was unsure of,
not an answer. Decoding over {blank} + the allowed characters recovers the digit it meant; the probability
mass the network put on characters outside the set is kept as a warning sign ("other"), never thrown away.

Confusions are folded into a digit only where the shapes are the same stroke: O o 〇 Ｏ → 0 and l I | 丨 → 1,
plus full-width digits and punctuation. S→5, Z→2, B→8, g→9 are not folded: a pupil's S-like 5 is exactly the
case a teacher should see, so their mass counts as "other" and lowers the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.handwriting import Expect

DIGITS = "0123456789"
ALLOWED: dict[str, str] = {"digits": DIGITS, "number": DIGITS + ".-/"}
FOLDS: dict[str, str] = {
    "0": "Oo〇Ｏ０",
    "1": "lI|丨１",
    "2": "２", "3": "３", "4": "４", "5": "５", "6": "６", "7": "７", "8": "８", "9": "９",
    ".": "·。．",
    "-": "—–－一",
    "/": "／",
}


@dataclass(frozen=True)
class Decoded:
    """A greedy CTC reading with, per character, its probability, the distribution over the allowed set at its
    strongest frame, and the mass on characters outside the set there."""

    text: str
    char_probs: tuple[float, ...]
    dists: tuple[np.ndarray, ...]  # over ``alphabet`` (excluding blank), each sums to 1
    other: tuple[float, ...]
    alphabet: str

    @property
    def min_prob(self) -> float:
        return min(self.char_probs) if self.char_probs else 0.0


class Decoder:
    """Column indices for one charset, computed once; decoding is a few numpy operations per call."""

    def __init__(self, charset: list[str]) -> None:
        self.charset = charset
        self.index = {c: i for i, c in enumerate(charset) if i > 0}
        self._cols: dict[str, list[list[int]]] = {}
        for expect, alphabet in ALLOWED.items():
            cols = []
            for ch in alphabet:
                group = [self.index[c] for c in ch + FOLDS.get(ch, "") if c in self.index]
                cols.append(group)
            self._cols[expect] = cols

    def constrained(self, probs: np.ndarray, expect: Expect) -> Decoded:
        """Greedy decoding over {blank} + the characters ``expect`` allows (folded confusions included)."""
        if expect == "text":
            return self.free(probs)
        alphabet = ALLOWED[expect]
        groups = self._cols[expect]
        sub = np.stack([probs[:, 0], *[probs[:, g].sum(axis=1) for g in groups]], axis=1)
        other_mass = np.clip(1.0 - sub.sum(axis=1), 0.0, 1.0)
        best = sub.argmax(axis=1)
        text: list[str] = []
        cp: list[float] = []
        dists: list[np.ndarray] = []
        others: list[float] = []
        t, n = 0, len(best)
        while t < n:
            k = int(best[t])
            end = t
            while end + 1 < n and best[end + 1] == k:
                end += 1
            if k != 0:
                seg = sub[t: end + 1, k]
                f = t + int(seg.argmax())
                chars = sub[f, 1:]
                text.append(alphabet[k - 1])
                cp.append(float(sub[f, k]))
                dists.append(chars / max(float(chars.sum()), 1e-9))
                others.append(float(other_mass[t: end + 1].max()))
            t = end + 1
        return Decoded("".join(text), tuple(cp), tuple(dists), tuple(others), alphabet)

    def free(self, probs: np.ndarray) -> Decoded:
        """Plain greedy decoding over the whole charset (what rapidocr itself does)."""
        best = probs.argmax(axis=1)
        text: list[str] = []
        cp: list[float] = []
        prev = 0
        for t, k in enumerate(best):
            k = int(k)
            if k != prev and k != 0:
                text.append(self.charset[k])
                cp.append(float(probs[t, k]))
            prev = k
        return Decoded("".join(text).strip(), tuple(cp), (), tuple(0.0 for _ in cp), "")
