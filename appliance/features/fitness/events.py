"""The fitness feature's live events for the kiosk and the TUI (``/api/events``).

Skeletons, counts and camera figures only: the frames themselves stay in the daemon
(:class:`appliance.events.CameraFrame` is refused by the API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from appliance.events import Event


@dataclass(frozen=True, kw_only=True)
class FitnessLive(Event):
    """One camera's people (33 keypoints as image fractions) and its stations' live sessions."""

    topic: ClassVar[str] = "fitness.live"
    camera: str
    width: int
    height: int
    people: list[dict[str, Any]]
    stations: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class FitnessResult(Event):
    """A session finished (or a teacher corrected its count): the RESULT object of the API."""

    topic: ClassVar[str] = "fitness.result"
    result: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.result, "topic": self.topic, "ts": self.ts}


@dataclass(frozen=True, kw_only=True)
class FitnessCamera(Event):
    """A camera's analysis figures for the technician: the CAMERA object of the API."""

    topic: ClassVar[str] = "fitness.camera"
    camera: str
    stats: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {**self.stats, "camera": self.camera, "topic": self.topic, "ts": self.ts}
