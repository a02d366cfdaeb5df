"""What a receiver should have got from a simulated pen, read off the pen's ledger.

The simulator records every stroke as written and which of its real-time events reached the wire; these
functions turn that into the expectations a test (or the demo's acceptance check) holds the driver to:
which strokes must arrive with which points, and how many lost events the event counter can reveal.
"""

from __future__ import annotations

import itertools

from drivers.smartpen.sim_pen import SentStroke, SimPen


def expected_online(pen: SimPen) -> list[SentStroke]:
    """Real-time strokes that must arrive: at least one dot delivered (in the order written)."""
    return [s for s in pen.ledger if s.mode == "online" and any(s.delivered)]


def expected_offline(pen: SimPen) -> list[SentStroke]:
    """Stored strokes: all of them must arrive, whole, once the pen has uploaded."""
    return [s for s in pen.ledger if s.mode == "offline"]


def merged_boundaries(pen: SimPen) -> list[SentStroke]:
    """Online strokes whose start cannot be seen: the previous pen-up, this pen-down and this paper info were
    all lost, so a receiver must append them to the previous stroke. Tests with exact counts need none."""
    online = [s for s in pen.ledger if s.mode == "online"]
    return [b for a, b in itertools.pairwise(online) if a.epoch == b.epoch and not (a.up or b.down or b.paper)]


def unplaceable(pen: SimPen) -> list[SentStroke]:
    """Online strokes with delivered dots but no paper info seen yet in their connection: no page to put them on."""
    out: list[SentStroke] = []
    seen: set[int] = set()
    for s in pen.ledger:
        if s.mode != "online":
            continue
        if s.paper:
            seen.add(s.epoch)
        elif s.epoch not in seen and any(s.delivered):
            out.append(s)
    return out


def detectable_losses(pen: SimPen) -> tuple[int, int]:
    """(lost events, gaps) an event counter can reveal: per connection, misses between the first and last
    event that arrived (a loss at the very end shows only when the next event comes)."""
    lost = gaps = 0
    for _epoch, group in itertools.groupby(pen.events, key=lambda e: e[0]):
        flags = [ok for _e, ok in group]
        if True not in flags:
            continue
        first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
        inner = flags[first : last + 1]
        lost += inner.count(False)
        gaps += sum(1 for a, b in itertools.pairwise(inner) if a and not b)
    return lost, gaps
