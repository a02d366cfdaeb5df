"""The drivers' shared reconnect backoff: doubles with jitter up to a ceiling, and starts over on success."""

from __future__ import annotations

import random

import pytest

from drivers.backoff import Backoff


def test_doubles_with_jitter_up_to_the_ceiling_and_resets() -> None:
    random.seed(1)
    b = Backoff(1.0, 30.0, jitter=0.2)
    nominal = []
    for _ in range(8):
        nominal.append(b.nominal_s)
        delay = b.next()
        assert 0.8 * nominal[-1] <= delay <= min(30.0, 1.2 * nominal[-1])
    assert nominal == [1, 2, 4, 8, 16, 30, 30, 30]
    b.reset()
    assert b.nominal_s == 1.0 and b.next() <= 1.2


def test_jitter_spreads_a_class_of_bands() -> None:
    random.seed(2)
    delays = {round(Backoff(4.0, 30.0).next(), 3) for _ in range(45)}
    assert len(delays) > 30 and min(delays) >= 3.2 and max(delays) <= 4.8


def test_rejects_a_ceiling_below_the_start() -> None:
    with pytest.raises(ValueError, match="initial_s <= maximum_s"):
        Backoff(10.0, 5.0)
