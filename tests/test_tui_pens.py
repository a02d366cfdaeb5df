"""The technician TUI's Pens tab (7): the homework pens' link health, driven with Textual's Pilot.

Against a small stand-in for the daemon's HTTP API (``GET /api/homework/pens``, ``GET /api/homework/roster``
and ``pen.status`` events on ``/api/events``, as docs/api.md describes them), and against the real demo once
its simulated pens report (skipped, with the reason, until then).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent

from appliance.tui.app import TechnicianApp
from appliance.tui.client import DaemonClient

from conftest import DemoProcess, free_port, get_json

SIZE = (150, 40)
LINE_GLYPHS = re.compile("[\u2500-\u259f]")


async def until(pilot: Pilot, predicate: Callable[[], object], within: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or predicate}")
        await pilot.pause(0.1)


def cell(app: TechnicianApp, row: str, column: str) -> str:
    value = app.query_one("#pens-table", DataTable).get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def rows(app: TechnicianApp) -> list[str]:
    return [str(key.value) for key in app.query_one("#pens-table", DataTable).rows]


def static_text(app: TechnicianApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def pen(pen_id: str, **kw: Any) -> dict[str, Any]:
    now = time.time()
    row = {"pen_id": pen_id, "transport": "serial", "connected": True, "battery": 80, "strokes": 0, "lost_events": 0,
           "counter_gaps": 0, "offline_notes_pending": 0, "last_seen": now - 1.0, "detail": None, "ts": now}
    row.update(kw)
    return row


@dataclass
class FakeDaemon:
    """The part of docs/api.md the Pens tab uses; ``pens_status`` 404 = pen homework not configured."""

    url: str = ""
    pens: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    roster: dict[str, Any] = field(default_factory=dict)
    pens_status: int = 200
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    pens_calls: int = 0

    async def send(self, event: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            await ws.send_json({"ts": time.time(), **event})


@pytest.fixture
async def fake() -> AsyncIterator[FakeDaemon]:
    daemon = FakeDaemon()

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "components": {}, "boot_id": "b0", "version": "0",
                                  "config_errors": []})

    async def pens(request: web.Request) -> web.Response:
        daemon.pens_calls += 1
        if daemon.pens_status != 200:
            return web.json_response({"error": "not found"}, status=daemon.pens_status)
        return web.json_response({"pens": daemon.pens, "problems": daemon.problems})

    async def roster(request: web.Request) -> web.Response:
        if daemon.pens_status != 200:
            return web.json_response({"error": "not found"}, status=daemon.pens_status)
        return web.json_response(daemon.roster)

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"topic": "hello", "boot_id": "b0", "version": "0"})
        daemon.sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            daemon.sockets.discard(ws)
        return ws

    api = web.Application()
    api.router.add_get("/api/health", health)
    api.router.add_get("/api/homework/pens", pens)
    api.router.add_get("/api/homework/roster", roster)
    api.router.add_get("/api/events", events)
    runner = web.AppRunner(api)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    daemon.url = f"http://127.0.0.1:{port}"
    try:
        yield daemon
    finally:
        for ws in list(daemon.sockets):
            await ws.close()
        await runner.cleanup()


def classroom(daemon: FakeDaemon) -> None:
    """Four pens: three held (one of them lossy and low, one disconnected with notes in it), one nobody holds."""
    daemon.pens = [
        pen("9C:7B:D2:01:00:03", transport="ble", strokes=212, lost_events=7, counter_gaps=2, battery=12),
        pen("9C:7B:D2:01:00:01", strokes=340),
        pen("9c:7b:d2:01:00:02", connected=False, offline_notes_pending=2, last_seen=time.time() - 95,
            detail="no answer for 30 s: out of range or switched off"),
        pen("9C:7B:D2:01:00:09", transport="simulator", battery=None, strokes=5, last_seen=None),
    ]
    daemon.problems = ["1 支笔未分配 / pens writing but not assigned: 9C:7B:D2:01:00:09",
                       "1 支笔电量低 / pens low on battery: 3号 (12%)"]
    daemon.roster = {"class_id": "demo-4-2", "classes": ["demo-4-2"], "unassigned_pens": ["9C:7B:D2:01:00:09"],
                     "students": [{"student_id": "s1", "label": "1号", "pen_id": "9C:7B:D2:01:00:01"},
                                  {"student_id": "s2", "label": "2号", "pen_id": "9C:7B:D2:01:00:02"},
                                  {"student_id": "s3", "label": "3号", "pen_id": "9C:7B:D2:01:00:03"},
                                  {"student_id": "s4", "label": "4号", "pen_id": None}]}


@pytest.mark.parametrize("plain", [False, True], ids=["colour", "plain"])
async def test_pens_tab_lists_pens_with_their_students(fake: FakeDaemon, artifacts_dir: Path, plain: bool) -> None:
    classroom(fake)
    app = TechnicianApp(fake.url, plain=plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        assert app.query_one("#tabs", TabbedContent).active == "pens"
        assert app.focused is app.query_one("#pens-table")
        await until(pilot, lambda: app.query_one("#pens-table").display and len(rows(app)) == 4, what="4 pens")
        assert rows(app) == sorted(rows(app)) == ["9C:7B:D2:01:00:01", "9C:7B:D2:01:00:02", "9C:7B:D2:01:00:03",
                                                  "9C:7B:D2:01:00:09"]
        await until(pilot, lambda: cell(app, "9C:7B:D2:01:00:01", "student") == "1号", what="labels")
        assert cell(app, "9C:7B:D2:01:00:02", "student") == "2号"  # the pen reported its id in lower case
        assert cell(app, "9C:7B:D2:01:00:09", "student") == "(nobody)"
        assert cell(app, "9C:7B:D2:01:00:03", "transport") == "BLE"
        assert cell(app, "9C:7B:D2:01:00:01", "transport") == "gateway"
        assert cell(app, "9C:7B:D2:01:00:01", "link") == "connected"
        assert cell(app, "9C:7B:D2:01:00:02", "link") == "DISCONNECTED"
        assert cell(app, "9C:7B:D2:01:00:03", "battery") == "12 % low"
        assert cell(app, "9C:7B:D2:01:00:09", "battery") == "-"
        assert cell(app, "9C:7B:D2:01:00:03", "strokes") == "212"
        assert cell(app, "9C:7B:D2:01:00:03", "lost") == "7 / 2"
        assert cell(app, "9C:7B:D2:01:00:01", "lost") == "0 / 0"
        assert cell(app, "9C:7B:D2:01:00:02", "offline") == "2"
        assert re.fullmatch(r"\d+\.\d s ago", cell(app, "9C:7B:D2:01:00:01", "last_seen"))
        assert cell(app, "9C:7B:D2:01:00:02", "last_seen").startswith("1 min ")
        assert cell(app, "9C:7B:D2:01:00:09", "last_seen") == "never"
        assert "out of range" in cell(app, "9C:7B:D2:01:00:02", "detail")
        header = static_text(app, "#pens-summary")
        assert "4 known" in header and "connected: 3/4" in header and "lost events: 7 in 2 gaps" in header
        assert "offline notes pending: 2" in header and "class demo-4-2: 3 of 4 pens" in header
        problems = static_text(app, "#pens-problems")
        assert "Problems (2)" in problems and "pens low on battery: 3号 (12%)" in problems
        assert not app.query_one("#banner").display

        # pen.status events update a row at once (and add a pen the daemon had not listed)
        await until(pilot, lambda: app.events_state == "live", what="event socket")
        await fake.send({"topic": "pen.status", **pen("9C:7B:D2:01:00:02", strokes=3, offline_notes_pending=0,
                                                        detail=None)})
        await until(pilot, lambda: cell(app, "9C:7B:D2:01:00:02", "link") == "connected", what="reconnected pen")
        assert cell(app, "9C:7B:D2:01:00:02", "offline") == "0"
        await pilot.pause(0.2)
        if plain:
            svg = app.export_screenshot()
            assert not LINE_GLYPHS.findall(svg), sorted(set(LINE_GLYPHS.findall(svg)))
        else:
            app.save_screenshot("tui-pens.svg", str(artifacts_dir))

        # the command palette knows the tab
        await pilot.press("1")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="palette")
        await pilot.press(*"show pens")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.query_one("#tabs", TabbedContent).active == "pens", what="palette cmd")


class PensEventsOnlyApp(TechnicianApp):
    """Never calls GET /api/homework/pens: whatever the Pens tab shows came from "pen.status" events."""

    def refresh_pens(self) -> None:  # type: ignore[override]
        return None


async def test_pens_tab_follows_pen_status_events(fake: FakeDaemon) -> None:
    app = PensEventsOnlyApp(fake.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: app.events_state == "live", what="event socket")
        await fake.send({"topic": "pen.status", **pen("9C:7B:D2:01:00:05", strokes=1)})
        await until(pilot, lambda: app.query_one("#pens-table").display and rows(app) == ["9C:7B:D2:01:00:05"],
                    what="a pen from its event")
        assert cell(app, "9C:7B:D2:01:00:05", "student") == "(nobody)"  # no roster without the API
        await fake.send({"topic": "pen.status", **pen("9C:7B:D2:01:00:05", strokes=9, lost_events=1,
                                                        counter_gaps=1)})
        await until(pilot, lambda: cell(app, "9C:7B:D2:01:00:05", "strokes") == "9", what="the next report")
        assert cell(app, "9C:7B:D2:01:00:05", "lost") == "1 / 1"
        assert fake.pens_calls == 0


async def test_pens_tab_when_homework_is_not_configured(fake: FakeDaemon) -> None:
    fake.pens_status = 404
    app = TechnicianApp(fake.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: "not configured" in static_text(app, "#pens-summary"), within=10,
                    what="not-configured note")
        assert "Pen homework not configured on this box" in static_text(app, "#pens-summary")
        assert app.pens_configured is False
        assert not app.query_one("#pens-table").display
        assert not app.query_one("#banner").display  # a 404 here is not "daemon unreachable"

        # a burst of pen.status events (45 pens reporting) redraws the tab at most twice a second
        await pilot.pause(0.6)
        before = app.pens_renders
        started = time.monotonic()
        for i in range(45):
            app._on_event({"topic": "pen.status", **pen(f"9C:7B:D2:01:00:{i:02X}")})
        elapsed = time.monotonic() - started
        assert len(app.pens) == 45  # every report is taken (the next 404 forgets them again)
        await pilot.pause(0.1)
        assert app.pens_renders - before <= 2 + int(elapsed / 0.5)
        await pilot.pause(0.6)
        assert app.pens_renders > before


async def test_client_reads_pens_and_roster(fake: FakeDaemon) -> None:
    classroom(fake)
    fake.pens.append({"topic": "pen.status", "pen_id": ""})  # no id: dropped
    async with DaemonClient(fake.url) as client:
        info = await client.pens()
        roster = await client.homework_roster()
    assert [p["pen_id"] for p in info["pens"]] == [p["pen_id"] for p in fake.pens[:4]]
    assert all("topic" not in p for p in info["pens"])
    assert info["problems"] == fake.problems
    assert roster["class_id"] == "demo-4-2" and roster["students"][3]["pen_id"] is None
    assert roster["unassigned_pens"] == ["9C:7B:D2:01:00:09"]


# --------------------------------------------------------------------------------------------- real demo
def demo_pens(base: str, within_s: float = 30.0) -> list[dict[str, Any]]:
    if not any(f.get("id") == "homework" and f.get("state") == "ready" for f in get_json(base + "/api/features")):
        return []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        pens = get_json(base + "/api/homework/pens")["pens"]
        if pens:
            return list(pens)
        time.sleep(1.0)
    return []


async def test_pens_tab_on_the_demo(demo_daemon: DemoProcess) -> None:
    api = await asyncio.to_thread(demo_pens, demo_daemon.url)
    if not api:
        pytest.skip("the demo's homework pens do not report yet (no ready homework feature, or the smartpen "
                    "driver is not running in the demo)")
    app = TechnicianApp(demo_daemon.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await until(pilot, lambda: app.query_one("#pens-table").display and len(rows(app)) >= len(api),
                    within=30, what="the demo's pens")
        listed = set(rows(app))
        assert {p["pen_id"].upper() for p in api} <= listed
        roster = await asyncio.to_thread(get_json, demo_daemon.url + "/api/homework/roster")
        held = {s["pen_id"].upper(): s["label"] for s in roster["students"] if s["pen_id"]}
        await until(pilot, lambda: any(cell(app, p, "student") == held[p] for p in listed if p in held),
                    what="students by their pens")
        for p in listed:
            if p in held:
                assert cell(app, p, "student") == held[p]
