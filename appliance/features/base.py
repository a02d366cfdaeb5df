"""What every classroom feature provides: a home-screen tile, a component to supervise, routes.

Features consume typed events from the bus and never import a driver (import-linter checks it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
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


class FeatureError(Exception):
    """An API-level refusal: the status code and one clear sentence for the kiosk (each feature subclasses it)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Handler = Callable[[web.Request], Awaitable[Any]]


def json_endpoint(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A feature's endpoint: a :class:`FeatureError` becomes ``{"error"}`` with its status, anything else not
    already a response becomes JSON with Chinese left readable."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            result = await fn(request)
        except FeatureError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        return result if isinstance(result, web.StreamResponse) else web.json_response(
            result, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    return handler


async def json_body(request: web.Request, *keys: str) -> dict[str, Any]:
    """The request's JSON object (empty without a body); ``keys`` must be non-empty strings in it."""
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError:
        raise FeatureError(400, "body must be JSON") from None
    if not isinstance(data, dict):
        raise FeatureError(400, f"body must be an object with string fields {', '.join(keys)}" if keys
                           else "body must be a JSON object")
    if any(not isinstance(data.get(k), str) or not data[k] for k in keys):
        raise FeatureError(400, f"body must be an object with string fields {', '.join(keys)}")
    return data


def actor(data: dict[str, Any], default: str = "teacher") -> str:
    """Who did it, for the audit trail: the body's ``by`` (cut to 64 characters), else ``default``."""
    by = data.get("by")
    return by[:64] if isinstance(by, str) and by else default
