"""What every classroom feature provides: a home-screen tile, a component to supervise, routes.

Features consume typed events from the bus and never import a driver (import-linter checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from aiohttp import web

from appliance.component import Component

TileState = Literal["ready", "unconfigured", "degraded", "failed", "unavailable"]


@dataclass(frozen=True)
class FeatureInfo:
    id: str
    title_zh: str
    title_en: str
    icon: str


class Feature(Component):
    kind = "feature"
    info: ClassVar[FeatureInfo]

    def add_routes(self, app: web.Application) -> None:
        """Register the feature's JSON endpoints under /api/<feature>/."""

    def current_lesson(self) -> dict[str, Any] | None:
        """A lesson this feature is running, for the status bar: {"title", "teacher", "ends_at"} or None."""
        return None

    def tile_detail(self) -> tuple[TileState, str | None]:
        """The feature's own view of whether teachers can use it now (the supervisor's state wins if worse)."""
        return "ready", None
