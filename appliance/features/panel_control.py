"""Teacher control of the classroom's interactive panel from the kiosk.

The feature never touches the serial port: it publishes :class:`PanelCommand` and waits for the
matching :class:`PanelCommandResult`, whichever driver (or simulator) is on the other side.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import sqlite_utils
from aiohttp import web

from appliance.component import ComponentContext, OutboxFull
from appliance.config.schema import PanelControlFeatureConfig
from appliance.events import PANEL_INPUTS, PanelCommand, PanelCommandResult, PanelStatus
from appliance.features.base import Feature, FeatureInfo, TileState
from appliance.store import audit_row

COMMAND_TIMEOUT_S = 5.0


class PanelCommandError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PanelControl(Feature):
    name = "panel_control"
    info = FeatureInfo("panel_control", "教室大屏", "Classroom display", "🖥️")
    heartbeat_timeout_s = 30.0

    def __init__(self, config: PanelControlFeatureConfig, panel_present: bool = True) -> None:
        self.config = config
        self.panel_present = panel_present
        self._ctx: ComponentContext | None = None

    @property
    def status(self) -> PanelStatus | None:
        """The bus keeps the latest status synchronously, so a GET right after a command is never stale."""
        return self._ctx.bus.last(PanelStatus) if self._ctx else None

    async def run(self, ctx: ComponentContext) -> None:
        self._ctx = ctx
        while True:
            ctx.heartbeat()
            await asyncio.sleep(2.0)

    def tile_detail(self) -> tuple[TileState, str | None]:
        if not self.panel_present:
            return "unconfigured", "no [drivers.panel] in the configuration"
        if self.status is not None and not self.status.connected:
            return "degraded", "大屏未响应 / panel not answering"
        return "ready", None

    # -- commands -----------------------------------------------------------------------------
    def _validate(self, action: str, value: Any) -> str | int | bool:
        if action == "power" and isinstance(value, bool):
            return "on" if value else "off"
        if action == "mute" and isinstance(value, bool):
            return value
        if action == "volume" and isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value <= self.config.max_volume:
                raise PanelCommandError(400, f"volume must be between 0 and {self.config.max_volume} (max_volume)")
            return value
        if action == "input" and isinstance(value, str):
            if value not in self.config.inputs:
                raise PanelCommandError(400, f"unknown input {value!r}; this room has {', '.join(self.config.inputs)}")
            return value
        raise PanelCommandError(400, f"bad value {value!r} for {action}")

    async def command(self, action: str, value: Any, actor: str = "kiosk") -> None:
        ctx = self._ctx
        if ctx is None or not self.panel_present:
            raise PanelCommandError(503, "panel control is not configured on this box")
        checked = self._validate(action, value)
        request_id = uuid.uuid4().hex
        with ctx.bus.subscribe(PanelCommandResult, name=f"panel-cmd-{request_id[:6]}") as sub:
            ctx.bus.publish(PanelCommand(request_id=request_id, action=action, value=checked))  # type: ignore[arg-type]
            deadline = time.monotonic() + COMMAND_TIMEOUT_S
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PanelCommandError(504, "大屏未响应: no answer from the panel driver in time")
                try:
                    async with asyncio.timeout(remaining):  # not wait_for: 3.11's can swallow a cancel
                        result: PanelCommandResult = await sub.get()
                except TimeoutError:
                    continue
                if result.request_id == request_id:
                    break
        if ctx.store is not None:
            detail = f"{action}={checked} ok={result.ok}" + (f" error={result.error}" if result.error else "")
            outbox = ctx.outbox

            def record(db: sqlite_utils.Database) -> None:
                # The audit row and the county's usage record commit together or not at all.
                audit_row(db, actor, "panel." + action, detail)
                if outbox is not None and result.ok:
                    try:
                        outbox.add(db, "panel.usage", {"action": action, "value": checked})
                    except OutboxFull:
                        pass  # usage statistics give way when the outbox is full; the audit row stays

            await ctx.store.run(record)
        if not result.ok:
            status = 503 if result.error and "not connected" in result.error else 502
            raise PanelCommandError(status, result.error or "panel refused the command")

    # -- HTTP ---------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/panel", self._get)
        for action, key in (("power", "on"), ("input", "source"), ("volume", "level"), ("mute", "muted")):
            app.router.add_post(f"/api/panel/{action}", self._poster(action, key))

    async def _get(self, request: web.Request) -> web.Response:
        s = self.status
        labels = self.config.input_labels
        return web.json_response(
            {
                "connected": bool(s and s.connected),
                "power": s.power if s else "unknown",
                "input_source": s.input_source if s else None,
                "volume": s.volume if s else None,
                "muted": s.muted if s else None,
                "inputs": [{"id": i, "label": labels.get(i, PANEL_INPUTS[i])} for i in self.config.inputs],
                "max_volume": self.config.max_volume,
            }
        )

    def _poster(self, action: str, key: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return web.json_response({"ok": False, "error": "body must be JSON"}, status=400)
            if not isinstance(body, dict) or key not in body:
                return web.json_response({"ok": False, "error": f"body must be an object with {key!r}"}, status=400)
            try:
                await self.command(action, body[key])
            except PanelCommandError as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
            return web.json_response({"ok": True})

        return handler
