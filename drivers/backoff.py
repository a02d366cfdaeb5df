"""Reconnect delays shared by every driver: a pulled cable, a dead adapter, a band out of range.

Doubling from ``initial_s`` to ``maximum_s`` keeps a box from hammering a device that is gone while
still noticing quickly when it is back; the ±20 % jitter keeps a class's bands (or a school's boxes
after a power cut) from all retrying in the same instant.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float = 1.0, maximum_s: float = 30.0, jitter: float = 0.2) -> None:
        if not 0 < initial_s <= maximum_s:
            raise ValueError("backoff needs 0 < initial_s <= maximum_s")
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.jitter = jitter
        self._nominal = initial_s

    @property
    def nominal_s(self) -> float:
        """The delay the next failure will wait, before jitter (for log lines)."""
        return self._nominal

    def next(self) -> float:
        """The delay to wait after one more failure; the one after that doubles."""
        delay = self._nominal * random.uniform(1 - self.jitter, 1 + self.jitter)
        self._nominal = min(self.maximum_s, self._nominal * 2)
        return min(self.maximum_s, delay)

    def reset(self) -> None:
        """The device answered: the next failure starts from the short delay again."""
        self._nominal = self.initial_s
