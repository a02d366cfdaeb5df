"""The homework feature's live events for the kiosk (``/api/events``), typed like every bus event.

They live here rather than in ``appliance/events.py`` because only this feature publishes them and
nothing below the features consumes them; the API's WebSocket forwards any :class:`Event` by topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from appliance.events import Event


@dataclass(frozen=True, kw_only=True)
class HwProgress(Event):
    """A student's state, answered count or score changed (the kiosk's live class grid)."""

    topic: ClassVar[str] = "hw.progress"
    assignment_id: str
    student_id: str
    label: str
    state: str  # not_started | writing | finished
    answered: int
    score: float | None
    needs_review: int = 0


@dataclass(frozen=True, kw_only=True)
class HwResults(Event):
    """Every student with a pen is finished and read: the class's results are ready (the summary as in the API)."""

    topic: ClassVar[str] = "hw.results"
    assignment_id: str
    summary: dict[str, Any]
