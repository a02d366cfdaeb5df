"""The daemon's local HTTP API and kiosk page (aiohttp: one async stack for JSON, WebSocket and files).

It works in safe mode too: when the configuration is broken the kiosk and TUI must still be able to
say what is wrong, so nothing here assumes a supervisor or a store exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.resources
import json
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import WSCloseCode, WSMsgType, web

from appliance import __version__
from appliance.bus import Bus
from appliance.config import LoadedConfig, effective
from appliance.events import CameraFrame, DeviceAlert, Event, SyncStatus
from appliance.features.base import Feature, FeatureInfo
from appliance.logs import LogBuffer
from appliance.supervisor import Supervisor

log = logging.getLogger(__name__)

STATE_RANK = {"ready": 0, "degraded": 1, "failed": 2}
HIGH_RATE_TOPICS = frozenset({"hr.sample", "pen.stroke"})


@dataclass
class ApiContext:
    bus: Bus
    boot_id: str
    log_buffer: LogBuffer
    catalog: list[FeatureInfo]
    supervisor: Supervisor | None = None
    loaded: LoadedConfig | None = None
    config_errors: list[str] = field(default_factory=list)
    features: dict[str, Feature] = field(default_factory=dict)
    alerts: dict[str, DeviceAlert] = field(default_factory=dict)

    @property
    def safe_mode(self) -> bool:
        return bool(self.config_errors)

    @property
    def allow_fault_injection(self) -> bool:
        return bool(self.loaded and self.loaded.config.debug.allow_fault_injection)


CTX = web.AppKey("ctx", ApiContext)
SOCKETS = web.AppKey("sockets", weakref.WeakSet[web.WebSocketResponse])


def static_dir() -> Path:
    return Path(str(importlib.resources.files("kiosk_ui") / "static"))


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every /api/ error is JSON with one clear sentence, as docs/api.md promises; nothing leaks a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.content_type == "application/json" or exc.status < 400:
            raise
        message = f"{request.method} {request.path}: {exc.reason.lower()}"
        if exc.status == 404:
            message += " (feature not configured, or no such endpoint)"
        return web.json_response({"error": message}, status=exc.status)
    except Exception:
        log.exception("API handler for %s %s crashed", request.method, request.path)
        return web.json_response({"error": "internal error; see the daemon log"}, status=500)


def create_app(ctx: ApiContext) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app[CTX] = ctx
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_no_stale_assets)
    r = app.router
    r.add_get("/", _index)
    r.add_get("/api/health", _health)
    r.add_get("/api/status", _status)
    r.add_get("/api/features", _features)
    r.add_get("/api/sync", _sync)
    r.add_get("/api/config", _config)
    r.add_get("/api/logs", _logs)
    r.add_get("/api/events", _events)
    r.add_post("/api/components/{name}/selftest", _selftest)
    r.add_post("/api/components/{name}/restart", _restart)
    r.add_post("/api/components/{name}/fault", _fault)
    for feature in ctx.features.values():
        feature.add_routes(app)
    r.add_static("/static/", static_dir(), append_version=False)
    app.cleanup_ctx.append(_track_alerts)
    return app


async def _close_sockets(app: web.Application) -> None:
    """Kiosks keep a WebSocket open for ever; close them or a stop waits for systemd's kill timeout."""
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"daemon stopping")


async def _no_stale_assets(request: web.Request, response: web.StreamResponse) -> None:
    """After an update the kiosk must load the new JS/CSS, not Chromium's cached copy (revalidation is cheap)."""
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


async def _track_alerts(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]

    async def consume() -> None:
        with ctx.bus.subscribe(DeviceAlert, name="api-alerts") as sub:
            async for alert in sub:
                if alert.active:
                    ctx.alerts[alert.source] = alert
                else:
                    ctx.alerts.pop(alert.source, None)

    task = asyncio.create_task(consume())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- pages and status ---------------------------------------------------------------------------------
async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_dir() / "index.html", headers={"Cache-Control": "no-cache"})


def _health_body(ctx: ApiContext) -> dict[str, Any]:
    if ctx.safe_mode or ctx.supervisor is None:
        status, components = "safe_mode", {}
    else:
        status, components = ctx.supervisor.overall(), ctx.supervisor.status()
    return {
        "status": status,
        "components": components,
        "boot_id": ctx.boot_id,
        "version": __version__,
        "config_errors": ctx.config_errors,
    }


async def _health(request: web.Request) -> web.Response:
    return web.json_response(_health_body(request.app[CTX]))


async def _status(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    device = ctx.loaded.config.device if ctx.loaded else None
    tz = ZoneInfo(device.timezone) if device is not None else None
    alerts: list[dict[str, Any]] = []
    if ctx.supervisor is not None:
        for name, comp in ctx.supervisor.status().items():
            if comp["state"] in ("degraded", "failed"):
                alerts.append(
                    {"source": name, "severity": "critical" if comp["state"] == "failed" else "warning",
                     "message": comp["last_error"] or comp["state"]}
                )
    alerts += [{"source": a.source, "severity": a.severity, "message": a.message} for a in ctx.alerts.values()]
    return web.json_response(
        {
            "time": dt.datetime.now(tz).isoformat(timespec="seconds"),
            "device": {
                "id": device.id if device else None,
                "school": device.school if device else "",
                "classroom": device.classroom if device else "",
            },
            "lesson": next((lesson for f in ctx.features.values() if (lesson := f.current_lesson())), None),
            "cloud": _cloud(ctx),
            "alerts": alerts,
            "safe_mode": ctx.safe_mode,
            "config_errors": ctx.config_errors,
            "boot_id": ctx.boot_id,
        }
    )


def _cloud(ctx: ApiContext) -> dict[str, Any]:
    if ctx.loaded is None or not ctx.loaded.config.sync.enabled:
        return {"state": "not_configured", "queued": None}
    status = ctx.bus.last(SyncStatus)
    if status is None:
        return {"state": "connecting", "queued": None}
    return {"state": status.state, "queued": status.pending}


async def _sync(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    status = ctx.bus.last(SyncStatus)
    configured = bool(ctx.loaded and ctx.loaded.config.sync.enabled)
    body: dict[str, Any] = {"configured": configured}
    if status is not None:
        body.update(status.to_json())
        body.pop("topic", None)
    return web.json_response(body)


async def _features(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    comps = ctx.supervisor.status() if ctx.supervisor else {}
    tiles = []
    for info in ctx.catalog:
        feature = ctx.features.get(info.id)
        detail: str | None
        if ctx.safe_mode:
            state, detail = "unavailable", "safe mode: configuration errors"
        elif feature is None:
            state, detail = "unconfigured", None
        else:
            state, detail = feature.tile_detail()
            comp = comps.get(feature.name)
            if comp and comp["state"] in ("degraded", "failed") and STATE_RANK.get(state, 0) < STATE_RANK[comp["state"]]:
                state, detail = comp["state"], comp["last_error"]
        tiles.append(
            {"id": info.id, "title": {"zh": info.title_zh, "en": info.title_en}, "icon": info.icon,
             "state": state, "detail": detail}
        )
    return web.json_response(tiles)


async def _config(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    loaded = ctx.loaded
    return web.json_response(
        {
            "path": str(loaded.path) if loaded and loaded.path else None,
            "notes": loaded.notes if loaded else [],
            "rows": effective(loaded) if loaded else [],
            "errors": ctx.config_errors,
        }
    )


async def _logs(request: web.Request) -> web.Response:
    try:
        n = max(1, min(1000, int(request.query.get("n", "200"))))
    except ValueError:
        return web.json_response({"error": "n must be a whole number"}, status=400)
    return web.json_response({"lines": request.app[CTX].log_buffer.tail(n)})


# -- technician operations --------------------------------------------------------------------------------
def _component_or_404(request: web.Request) -> tuple[Supervisor, str]:
    ctx = request.app[CTX]
    name = request.match_info["name"]
    if ctx.supervisor is None or name not in ctx.supervisor.components():
        raise web.HTTPNotFound(text=json.dumps({"error": f"no component named {name}"}), content_type="application/json")
    return ctx.supervisor, name


async def _selftest(request: web.Request) -> web.Response:
    sup, name = _component_or_404(request)
    try:
        result = await sup.self_test(name)
    except TimeoutError:
        result = {"ok": False, "detail": "self-test did not finish within 15 s", "data": {}}
    except Exception as exc:
        result = {"ok": False, "detail": f"self-test crashed: {type(exc).__name__}: {exc}", "data": {}}
    log.info("self-test of %s: %s", name, "ok" if result["ok"] else f"FAILED: {result['detail']}")
    return web.json_response(result)


async def _restart(request: web.Request) -> web.Response:
    sup, name = _component_or_404(request)
    log.warning("component %s restarted by technician", name)
    sup.restart(name)
    return web.json_response({"ok": True})


async def _fault(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    if not ctx.allow_fault_injection:
        return web.json_response(
            {"error": "fault injection is off; set debug.allow_fault_injection = true (demo and tests only)"},
            status=403,
        )
    sup, name = _component_or_404(request)
    log.warning("fault injected into component %s on request", name)
    sup.inject_fault(name)
    return web.json_response({"ok": True})


# -- live events ---------------------------------------------------------------------------------------
async def _events(request: web.Request) -> web.WebSocketResponse:
    ctx = request.app[CTX]
    wanted = {t for t in request.query.get("topics", "").split(",") if t}
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    await ws.send_json({"topic": "hello", "boot_id": ctx.boot_id, "version": __version__})
    # Camera frames never reach any client, even one that asks by name, and never enter the queue itself
    # (500 queued 640x480 pictures would be 450 MB).
    sub = ctx.bus.subscribe(Event, maxsize=500, name=f"ws-{request.remote}", exclude=(CameraFrame,))

    def send(event: Event) -> bool:
        # Raw high-rate streams (every heart-rate reading) only for clients that ask for them by name:
        # the kiosk shows aggregates, and a tablet on school Wi-Fi should not carry 240 messages a second.
        if wanted:
            return event.topic in wanted
        return event.topic not in HIGH_RATE_TOPICS

    async def pump() -> None:
        async for event in sub:
            if send(event):
                await ws.send_json(event.to_json())

    sender = asyncio.create_task(pump())
    try:
        async for msg in ws:  # the kiosk sends nothing; this loop ends when it goes away
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        sub.close()
    return ws
