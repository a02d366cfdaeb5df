"""The technician TUI's Cameras tab (8): playground cameras and fitness stations, driven with Textual's Pilot.

Against a small stand-in for the daemon's HTTP API (``GET /api/fitness/state`` and ``fitness.camera`` events on
``/api/events``, as docs/api.md "Fitness counting" describes them), and against a real daemon (``classroom run``)
with one camera from an FFmpeg test source.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
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

from conftest import ROOT, free_port, get_json, wait_for

SIZE = (160, 40)
LINE_GLYPHS = re.compile("[\u2500-\u259f]")


async def until(pilot: Pilot, predicate: Callable[[], object], within: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or predicate}")
        await pilot.pause(0.1)


def cell(app: TechnicianApp, table: str, row: str, column: str) -> str:
    value = app.query_one(table, DataTable).get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def rows(app: TechnicianApp, table: str = "#cameras-table") -> list[str]:
    return [str(key.value) for key in app.query_one(table, DataTable).rows]


def static_text(app: TechnicianApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def camera(cam: str, **kw: Any) -> dict[str, Any]:
    row = {"camera": cam, "name": cam, "state": "live", "fps_in": 15.0, "fps_analysed": 7.5, "infer_ms": 42.0,
           "dropped": 0, "people": 1, "width": 768, "height": 576, "error": None, "snapshot": False}
    row.update(kw)
    return row


@dataclass
class FakeDaemon:
    """The part of docs/api.md the Cameras tab uses; ``status`` 404 = fitness counting not configured."""

    url: str = ""
    cameras: list[dict[str, Any]] = field(default_factory=list)
    stations: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    sockets: set[web.WebSocketResponse] = field(default_factory=set)
    calls: int = 0

    async def send(self, event: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            await ws.send_json({"ts": time.time(), **event})


@pytest.fixture
async def fake() -> AsyncIterator[FakeDaemon]:
    daemon = FakeDaemon()

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "components": {}, "boot_id": "b0", "version": "0",
                                  "config_errors": []})

    async def state(request: web.Request) -> web.Response:
        daemon.calls += 1
        if daemon.status != 200:
            return web.json_response({"error": "not found"}, status=daemon.status)
        return web.json_response({"cameras": daemon.cameras, "stations": daemon.stations, "class_id": "5-1",
                                  "classes": ["5-1"], "students": [], "exercises": [], "term": "2026-autumn",
                                  "test_seconds": 60, "countdown_s": 3, "clips": True})

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
    api.router.add_get("/api/fitness/state", state)
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


def playground(daemon: FakeDaemon) -> None:
    """Two cameras, one of them reconnecting; three stations, one on a camera the box does not have."""
    daemon.cameras = [
        camera("mats", name="垫子区", people=2, dropped=14, infer_ms=212.0),
        camera("bar", name="单杠区", state="reconnecting", fps_in=0.0, fps_analysed=0.0, infer_ms=None, people=0,
               width=None, height=None, error="rtsp://10.0.0.9/stream: connection refused"),
    ]
    daemon.stations = [
        {"station_id": "mat-1", "camera": "mats", "name": "1号垫", "exercise": "sit_up", "region": [],
         "bar_y": None, "student_id": "s12", "label": "12号", "present": True,
         "session": {"session_id": "x", "mode": "test", "state": "running", "count": 23}},
        {"station_id": "bar-1", "camera": "bar", "name": "1号单杠", "exercise": "pull_up", "region": [],
         "bar_y": 0.2, "student_id": None, "label": None, "present": False, "session": None},
        {"station_id": "old-1", "camera": "lawn", "name": "旧", "exercise": "squat", "region": [],
         "bar_y": None, "student_id": None, "label": None, "present": False, "session": None},
    ]


@pytest.mark.parametrize("plain", [False, True], ids=["colour", "plain"])
async def test_cameras_tab_lists_cameras_and_stations(fake: FakeDaemon, artifacts_dir: Path, plain: bool) -> None:
    playground(fake)
    app = TechnicianApp(fake.url, plain=plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        assert app.query_one("#tabs", TabbedContent).active == "cameras"
        assert app.focused is app.query_one("#cameras-table")
        await until(pilot, lambda: app.query_one("#cameras-table").display and len(rows(app)) == 2, what="2 cameras")
        assert rows(app) == ["bar", "mats"]
        assert cell(app, "#cameras-table", "mats", "name") == "垫子区"
        assert cell(app, "#cameras-table", "mats", "state") == "live"
        assert cell(app, "#cameras-table", "bar", "state") == "reconnecting"
        assert cell(app, "#cameras-table", "mats", "fps_in") == "15.0"
        assert cell(app, "#cameras-table", "mats", "fps_analysed") == "7.5"
        assert cell(app, "#cameras-table", "mats", "dropped") == "14"
        assert cell(app, "#cameras-table", "mats", "infer_ms") == "212 ms"
        assert cell(app, "#cameras-table", "bar", "infer_ms") == "-"
        assert cell(app, "#cameras-table", "mats", "people") == "2"
        assert cell(app, "#cameras-table", "mats", "size") == "768x576"
        assert cell(app, "#cameras-table", "bar", "size") == "-"
        assert "connection refused" in cell(app, "#cameras-table", "bar", "error")
        assert cell(app, "#cameras-table", "mats", "error") == "-"
        assert re.fullmatch(r"\d+\.\d s ago", cell(app, "#cameras-table", "mats", "report"))
        header = static_text(app, "#cameras-summary")
        assert "2 configured" in header and "live: 1/2" in header and "people in view: 2" in header
        assert "Needs attention: 单杠区 (reconnecting)" in header

        # the stations, each with its camera
        assert rows(app, "#stations-table") == ["bar-1", "old-1", "mat-1"]  # by camera id, then station
        assert cell(app, "#stations-table", "mat-1", "camera") == "垫子区 [mats]"
        assert cell(app, "#stations-table", "bar-1", "camera") == "单杠区 [bar] reconnecting"
        assert cell(app, "#stations-table", "old-1", "camera") == "lawn (no such camera)"
        assert cell(app, "#stations-table", "mat-1", "student") == "12号"
        assert cell(app, "#stations-table", "mat-1", "present") == "yes"
        assert cell(app, "#stations-table", "mat-1", "session") == "running test count 23"
        assert cell(app, "#stations-table", "bar-1", "session") == "-"
        assert "Stations (3)" in static_text(app, "#stations-title")
        assert not app.query_one("#banner").display

        # a fitness.camera event updates its row at once
        await until(pilot, lambda: app.events_state == "live", what="event socket")
        await fake.send({"topic": "fitness.camera", **camera("bar", name="单杠区", fps_in=14.8, people=1)})
        await until(pilot, lambda: cell(app, "#cameras-table", "bar", "state") == "live", what="camera back")
        assert cell(app, "#cameras-table", "bar", "fps_in") == "14.8"
        assert cell(app, "#cameras-table", "bar", "error") == "-"
        await until(pilot, lambda: "live: 2/2" in static_text(app, "#cameras-summary"), what="header")
        await pilot.pause(0.2)
        if plain:
            svg = app.export_screenshot()
            assert not LINE_GLYPHS.findall(svg), sorted(set(LINE_GLYPHS.findall(svg)))
        else:
            app.save_screenshot("tui-cameras.svg", str(artifacts_dir))

        # the command palette knows the tab
        await pilot.press("1")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="palette")
        await pilot.press(*"show cameras")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.query_one("#tabs", TabbedContent).active == "cameras", what="palette cmd")


async def test_cameras_tab_when_fitness_is_not_configured(fake: FakeDaemon) -> None:
    fake.status = 404
    app = TechnicianApp(fake.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await until(pilot, lambda: "not configured" in static_text(app, "#cameras-summary"), within=10,
                    what="not-configured note")
        assert app.cameras_configured is False
        assert not app.query_one("#cameras-table").display
        assert not app.query_one("#stations-table").display
        assert not app.query_one("#banner").display  # a 404 here is not "daemon unreachable"

        # camera reports every 2 s from 8 cameras: at most 2 redraws a second
        await pilot.pause(0.6)
        before = app.cameras_renders
        started = time.monotonic()
        for i in range(40):
            app._on_event({"topic": "fitness.camera", **camera(f"cam-{i % 8}")})
        elapsed = time.monotonic() - started
        assert len(app.cameras) == 8
        await pilot.pause(0.1)
        assert app.cameras_renders - before <= 2 + int(elapsed / 0.5)


async def test_client_reads_fitness_state(fake: FakeDaemon) -> None:
    playground(fake)
    fake.cameras.append({"name": "no id"})  # dropped
    async with DaemonClient(fake.url) as client:
        state = await client.fitness_state()
    assert [c["camera"] for c in state["cameras"]] == ["mats", "bar"]
    assert [s["station_id"] for s in state["stations"]] == ["mat-1", "bar-1", "old-1"]
    assert state["class_id"] == "5-1" and state["term"] == "2026-autumn"


# --------------------------------------------------------------------------------------------- real daemon
@pytest.fixture(scope="module")
def camera_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``classroom run`` with one camera from an FFmpeg test source and one station on it."""
    data_dir = tmp_path_factory.mktemp("cameras")
    port = free_port()
    config = data_dir / "classroom.toml"
    config.write_text(
        f"schema_version = 1\n[device]\ndata_dir = '{data_dir}'\n[api]\nport = {port}\n"
        "[[drivers.cameras.sources]]\nid = 'field'\nname = '操场东'\nurl = 'lavfi:testsrc2=size=320x240:rate=10'\n"
        "[features.fitness]\nenabled = true\nmax_fps = 2.0\n"
        "[[features.fitness.stations]]\nid = 'jump-1'\nname = '跳绳1'\ncamera = 'field'\nexercise = 'rope_skip'\n"
        "region = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]\n",
        encoding="utf-8")
    log = open(data_dir / "daemon.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    url = f"http://127.0.0.1:{port}"

    def live() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited: {(data_dir / 'daemon.log').read_text()[-3000:]}")
        cams = get_json(url + "/api/fitness/state", timeout=10)["cameras"]
        return any(c["camera"] == "field" and c["state"] == "live" for c in cams)

    try:
        wait_for(live, timeout=90, interval=0.5)
        yield url
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_cameras_tab_on_a_real_daemon(camera_daemon: str, artifacts_dir: Path) -> None:
    app = TechnicianApp(camera_daemon, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await until(pilot, lambda: app.query_one("#cameras-table").display and "field" in rows(app), within=30,
                    what="the camera")
        assert cell(app, "#cameras-table", "field", "name") == "操场东"
        await until(pilot, lambda: cell(app, "#cameras-table", "field", "state") == "live", within=30, what="live")
        await until(pilot, lambda: cell(app, "#cameras-table", "field", "size") == "320x240", within=30,
                    what="the picture size")
        assert rows(app, "#stations-table") == ["jump-1"]
        assert cell(app, "#stations-table", "jump-1", "camera") == "操场东 [field]"
        assert cell(app, "#stations-table", "jump-1", "exercise") == "rope_skip"
        # fitness.camera events (and the 2 s refresh) keep the row fresh
        await until(pilot, lambda: app.events_state == "live", what="event socket")
        received = dict(app._camera_received_mono)
        await until(pilot, lambda: app._camera_received_mono.get("field", 0) > received.get("field", 0), within=15,
                    what="a newer camera report")
        assert re.fullmatch(r"\d+\.\d s ago", cell(app, "#cameras-table", "field", "report"))
