"""The technician TUI, driven with Textual's Pilot against the real demo daemon over its HTTP API."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static, TabbedContent

from appliance.tui.app import AsciiFilter, TechnicianApp, _human_bytes, _human_duration, plain_from_env
from appliance.tui.client import DaemonClient, DaemonUnreachable

from conftest import DemoProcess, free_port, get_json

SIZE = (120, 40)
LINE_GLYPHS = re.compile("[\u2500-\u259f]")


async def until(pilot: Pilot, predicate: Callable[[], object], within: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or predicate}")
        await pilot.pause(0.1)


def cell(app: TechnicianApp, table_id: str, row: str, column: str) -> str:
    value = app.query_one(table_id, DataTable).get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def has_row(app: TechnicianApp, table_id: str, row: str) -> bool:
    return any(key.value == row for key in app.query_one(table_id, DataTable).rows)


def static_text(app: TechnicianApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def select_component(pilot: Pilot, app: TechnicianApp, table_id: str, name: str) -> None:
    """Move the cursor to ``name`` with the arrow keys, as a technician would."""
    table = app.query_one(table_id, DataTable)
    table.focus()
    await pilot.press("home")
    for _ in range(table.get_row_index(name)):
        await pilot.press("down")
    await pilot.pause()
    assert app._current_component() == name


async def test_components_config_selftest_and_log(demo_daemon: DemoProcess, artifacts_dir: Path) -> None:
    app = TechnicianApp(demo_daemon.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        # 1 Components: "panel" is listed and ok; the header line shows the overall status.
        await until(pilot, lambda: has_row(app, "#components-table", "panel")
                    and cell(app, "#components-table", "panel", "state") == "ok", what="panel ok")
        assert cell(app, "#components-table", "panel", "kind") == "driver"
        assert "3 components" in static_text(app, "#status") or "components" in static_text(app, "#status")
        assert not app.query_one("#banner").display
        await until(pilot, lambda: app.events_state == "live", what="event socket")
        await pilot.pause(0.3)
        app.save_screenshot("tui-components.svg", str(artifacts_dir))

        # The command palette stays available and knows the app's own commands.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="palette")
        await pilot.press(*"show configuration")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.query_one("#tabs", TabbedContent).active == "config", what="palette cmd")
        await pilot.press("1")

        # 3 Configuration: effective rows with where each value came from.
        await pilot.press("3")
        assert app.query_one("#tabs", TabbedContent).active == "config"
        table = app.query_one("#config-table", DataTable)
        await until(pilot, lambda: table.row_count > 0, what="config rows")
        sources = {cell(app, "#config-table", str(key.value), "source") for key in table.rows}
        assert "default" in sources
        assert all(s == "default" or s == "built-in demo" or s.startswith(("file:", "env:")) for s in sources)
        assert cell(app, "#config-table", "api.port", "value") == str(demo_daemon.port)
        await pilot.pause(0.2)
        app.save_screenshot("tui-config.svg", str(artifacts_dir))

        # 4 Self-test of "panel", selected with the keyboard, run with t.
        await pilot.press("4")
        assert app.query_one("#tabs", TabbedContent).active == "selftest"
        await select_component(pilot, app, "#selftest-table", "panel")
        await pilot.press("t")
        await until(pilot, lambda: "panel" in app.selftest_results, within=30, what="self-test result")
        assert app.selftest_results["panel"]["ok"] is True
        result = static_text(app, "#selftest-result")
        assert "Self-test of panel" in result and " OK " in result
        assert cell(app, "#selftest-table", "panel", "last_test") == "OK"
        await pilot.pause(0.2)
        app.save_screenshot("tui-selftest.svg", str(artifacts_dir))

        # 2 Log: seeded from GET /api/logs and followed live; the level filter cycles with l.
        await pilot.press("2")
        log_view = app.query_one("#log-view", RichLog)
        await until(pilot, lambda: len(log_view.lines) > 0 and app.log_view_text().strip(), what="log lines")
        assert app.log_lines
        assert "self-test of panel" in app.log_view_text().lower() or any(
            "panel" in line["message"] for line in app.log_lines)
        await pilot.press("l")  # INFO and above
        await pilot.press("l")  # WARNING and above
        await pilot.pause()
        assert "WARNING and above" in static_text(app, "#log-filter")
        assert " INFO " not in app.log_view_text()
        await pilot.press("l", "l")  # back to all levels
        await pilot.pause(0.2)
        assert "all levels" in static_text(app, "#log-filter")
        app.save_screenshot("tui-log.svg", str(artifacts_dir))

        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_closed_port_shows_banner_and_keeps_running(artifacts_dir: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    app = TechnicianApp(url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        banner = app.query_one("#banner", Static)
        await until(pilot, lambda: banner.display, within=10, what="banner")
        text = static_text(app, "#banner")
        assert f"daemon not reachable at {url}: connection refused" in text
        assert "UNREACHABLE" in static_text(app, "#status")
        # Every key still works without a daemon; nothing crashes.
        for key in ("t", "R", "r", "2", "3", "4", "5", "6", "l", "1"):
            await pilot.press(key)
        await pilot.pause(2.5)  # at least one more retry round
        assert app.is_running and banner.display
        assert "reconnecting" in app.events_state or app.events_state == "connecting"
        app.save_screenshot("tui-unreachable.svg", str(artifacts_dir))


async def test_survives_daemon_restart_and_restarts_a_component(tmp_path: Path) -> None:
    port = free_port()
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    demo = DemoProcess(port, tmp_path / "a", seconds=120)
    try:
        first = demo.wait_healthy(timeout=60)
        app = TechnicianApp(demo.url)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.events_state == "live" and has_row(app, "#components-table",
                                                                               "panel_control"),
                        what="connected")
            assert app.boot_id == first["boot_id"]

            # R asks first; n cancels, y restarts.
            await select_component(pilot, app, "#components-table", "panel_control")
            before = int(cell(app, "#components-table", "panel_control", "restarts"))
            await pilot.press("R")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="confirm")
            await pilot.press("n")
            await pilot.pause(0.5)
            assert app.screen.__class__.__name__ != "ConfirmScreen"
            assert not any("panel_control" in line["message"] and "restart" in line["message"]
                           for line in app.log_lines)
            await pilot.press("R")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen", what="confirm")
            await pilot.press("y")

            def restarted() -> bool:  # the daemon logs it and/or notes it on the component
                return (int(cell(app, "#components-table", "panel_control", "restarts")) > before
                        or "restart" in cell(app, "#components-table", "panel_control", "last_error")
                        or any("panel_control" in line["message"] and "restart" in line["message"]
                               for line in app.log_lines))

            await until(pilot, restarted, what="restart seen")
            await until(pilot, lambda: cell(app, "#components-table", "panel_control", "state") == "ok",
                        what="panel_control ok again")

            # The daemon goes away: banner; it comes back (new boot id): banner gone, events live again.
            demo.stop()
            await until(pilot, lambda: app.query_one("#banner").display, within=15, what="banner")
            demo = DemoProcess(port, tmp_path / "b", seconds=120)
            second = demo.wait_healthy(timeout=60)
            await until(pilot, lambda: not app.query_one("#banner").display and app.events_state == "live"
                        and app.boot_id == second["boot_id"], within=30, what="reconnected")
            assert second["boot_id"] != first["boot_id"]
            assert "daemon restarted" in app.log_view_text() or any(
                "daemon restarted" in line["message"] for line in app.log_lines)
    finally:
        demo.stop()


async def test_plain_mode_draws_no_line_graphics() -> None:
    app = TechnicianApp(f"http://127.0.0.1:{free_port()}", plain=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#banner").display, within=10, what="banner")
        for key in ("1", "2", "3", "4", "5", "6"):
            await pilot.press(key)
            await pilot.pause(0.1)
            svg = app.export_screenshot()
            assert not LINE_GLYPHS.findall(svg), f"tab {key}: {sorted(set(LINE_GLYPHS.findall(svg)))}"


def test_plain_from_env_and_ascii_filter() -> None:
    assert plain_from_env({"CLASSROOM_TUI_PLAIN": "1"})
    assert plain_from_env({"TERM": "linux"})
    assert not plain_from_env({"TERM": "linux", "CLASSROOM_TUI_PLAIN": "0"})
    assert not plain_from_env({"TERM": "xterm-256color"})
    table = AsciiFilter.TABLE
    assert "┌─┬┐│╭╮━╸▔▁█".translate(table) == "+-++|++--  #"


async def test_client_errors_are_one_clear_sentence() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with DaemonClient(url, timeout=2.0) as client:
        with pytest.raises(DaemonUnreachable, match=r"daemon not reachable at .*: connection refused"):
            await client.health()


@pytest.mark.parametrize("plain", [False, True], ids=["colour", "plain"])
async def test_sync_tab_shows_the_link_and_outbox(demo_daemon: DemoProcess, artifacts_dir: Path,
                                                  plain: bool) -> None:
    app = TechnicianApp(demo_daemon.url, plain=plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        assert app.query_one("#tabs", TabbedContent).active == "sync"
        table = app.query_one("#sync-table", DataTable)

        def drained() -> bool:  # the demo sends ~300 records at start-up, then a few every few seconds
            return bool(app.sync_info and app.sync_info.get("state") == "online" and table.display
                        and cell(app, "#sync-table", "pending", "value") == "0"
                        and int(cell(app, "#sync-table", "acked", "value")) > 0)

        await until(pilot, drained, within=30, what="sync online with nothing pending")
        header = static_text(app, "#sync-link")
        assert "ONLINE" in header and "mqtt://" in header and "Last error: none" in header
        assert cell(app, "#sync-table", "quota_state", "value") == "ok"
        assert cell(app, "#sync-table", "throttled", "value") == "no"
        assert cell(app, "#sync-table", "dead_letter", "value") == "0"
        assert cell(app, "#sync-table", "last_ack", "value").endswith(")") and " ago " in cell(
            app, "#sync-table", "last_ack", "value")

        # The same figures as GET /api/sync. Records keep arriving, so compare until one answer and the
        # screen agree (both follow the link's report every ~2 s).
        deadline = time.monotonic() + 20
        while True:
            api = await asyncio.to_thread(get_json, demo_daemon.url + "/api/sync")
            shown = (cell(app, "#sync-table", "epoch", "value"), cell(app, "#sync-table", "last_seq", "value"))
            if shown == (api["epoch"], str(api["last_seq"])):
                break
            assert time.monotonic() < deadline, f"TUI shows {shown}, GET /api/sync says {api}"
            await pilot.pause(0.2)
        assert api["configured"] is True and api["state"] == "online"
        assert api["broker"] in static_text(app, "#sync-link")
        await pilot.pause(0.2)
        if plain:
            svg = app.export_screenshot()
            assert not LINE_GLYPHS.findall(svg), sorted(set(LINE_GLYPHS.findall(svg)))
        else:
            app.save_screenshot("tui-sync.svg", str(artifacts_dir))


class EventsOnlyApp(TechnicianApp):
    """Never calls GET /api/sync: whatever the Sync tab shows came from "sync.status" events."""

    def refresh_sync(self) -> None:  # type: ignore[override]
        return None


async def test_sync_tab_follows_sync_status_events(demo_daemon: DemoProcess) -> None:
    app = EventsOnlyApp(demo_daemon.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.query_one("#sync-table").display, within=15, what="a sync.status event")
        assert app.sync_info is not None and app.sync_info["configured"] is True
        first_ts = app.sync_info["ts"]
        assert cell(app, "#sync-table", "epoch", "value") == app.sync_info["epoch"]
        await until(pilot, lambda: app.sync_info is not None and app.sync_info["ts"] > first_ts, within=10,
                    what="the next sync.status event")
        assert "ONLINE" in static_text(app, "#sync-link") or "CONNECTING" in static_text(app, "#sync-link")


async def test_sync_tab_when_sync_is_not_configured() -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "components": {}, "boot_id": "b0", "version": "0",
                                  "config_errors": []})

    async def sync(request: web.Request) -> web.Response:
        return web.json_response({"configured": False})

    api = web.Application()
    api.router.add_get("/api/health", health)
    api.router.add_get("/api/sync", sync)
    runner = web.AppRunner(api)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        app = TechnicianApp(f"http://127.0.0.1:{port}", plain=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: "not configured" in static_text(app, "#sync-link"), within=10,
                        what="not-configured note")
            assert ("Sync not configured ([sync] enabled = false): results are kept in the local outbox"
                    in static_text(app, "#sync-link"))
            assert not app.query_one("#sync-table").display
    finally:
        await runner.cleanup()


def pe_rows(app: TechnicianApp) -> list[str]:
    return [str(key.value) for key in app.query_one("#pe-table", DataTable).rows]


@pytest.mark.parametrize("plain", [False, True], ids=["colour", "plain"])
async def test_pe_bands_tab_lists_the_bands(demo_daemon: DemoProcess, artifacts_dir: Path, plain: bool) -> None:
    app = TechnicianApp(demo_daemon.url, plain=plain)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        assert app.query_one("#tabs", TabbedContent).active == "pe"
        assert app.focused is app.query_one("#pe-table")
        table = app.query_one("#pe-table", DataTable)

        def listed() -> bool:  # the demo runs 45 simulated bands
            return (table.display and table.row_count >= 40
                    and " SCANNING " in static_text(app, "#pe-adapter"))

        await until(pilot, listed, within=30, what=">= 40 bands and the adapter scanning")
        rows = pe_rows(app)
        assert rows == sorted(rows)
        sources = {cell(app, "#pe-table", row, "source") for row in rows}
        assert "GATT" in sources and sources <= {"GATT", "broadcast"}
        for row in rows:
            rssi = cell(app, "#pe-table", row, "rssi")  # a GATT link may report none
            assert rssi == "-" or rssi.lstrip("-").isdigit(), rssi
            battery = cell(app, "#pe-table", row, "battery")
            assert battery in ("-", "low") or re.fullmatch(r"\d+ %( low)?", battery), battery
            assert re.fullmatch(r"\d+\.\d s ago", cell(app, "#pe-table", row, "last_seen"))
        header = static_text(app, "#pe-adapter")
        assert "Heart-rate adapter hci0" in header and "scanner restarts: 0" in header
        assert "last advert:" in header

        # The same bands as GET /api/pe/bands.
        api = await asyncio.to_thread(get_json, demo_daemon.url + "/api/pe/bands")
        assert set(rows) == {b["band_id"] for b in api["adapter"]["bands"]}
        # Roster problems move with the lesson (a band falls silent): the tab catches up with the API's answer.
        await until(pilot, lambda: app.pe_problems == get_json(demo_daemon.url + "/api/pe/bands")["roster_problems"],
                    within=15, what="the roster problems the API reports")
        problems = app.query_one("#pe-problems", Static)
        assert problems.display == bool(app.pe_problems)
        await pilot.pause(0.2)
        if plain:
            svg = app.export_screenshot()
            assert not LINE_GLYPHS.findall(svg), sorted(set(LINE_GLYPHS.findall(svg)))
        else:
            app.save_screenshot("tui-pe-bands.svg", str(artifacts_dir))

        # The command palette knows the tab.
        await pilot.press("1")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette", what="palette")
        await pilot.press(*"show pe bands")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.query_one("#tabs", TabbedContent).active == "pe", what="palette cmd")


class PeEventsOnlyApp(TechnicianApp):
    """Never calls GET /api/pe/bands: whatever the PE bands tab shows came from "hr.adapter" events."""

    def refresh_pe(self) -> None:  # type: ignore[override]
        return None


async def test_pe_bands_tab_follows_hr_adapter_events(demo_daemon: DemoProcess) -> None:
    app = PeEventsOnlyApp(demo_daemon.url, plain=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await until(pilot, lambda: app.query_one("#pe-table").display and app.pe_adapter is not None,
                    within=15, what="an hr.adapter event")
        assert app.pe_adapter is not None
        first_ts = app.pe_adapter["ts"]
        assert len(pe_rows(app)) == len(app.pe_adapter["bands"])
        await until(pilot, lambda: app.pe_adapter is not None and app.pe_adapter["ts"] > first_ts, within=10,
                    what="the next hr.adapter event")
        assert "SCANNING" in static_text(app, "#pe-adapter")


async def test_pe_bands_tab_when_smart_pe_is_not_configured() -> None:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "components": {}, "boot_id": "b0", "version": "0",
                                  "config_errors": []})

    api = web.Application()
    api.router.add_get("/api/health", health)  # no /api/pe/bands: aiohttp answers 404
    runner = web.AppRunner(api)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        app = TechnicianApp(f"http://127.0.0.1:{port}", plain=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await until(pilot, lambda: "not configured" in static_text(app, "#pe-adapter"), within=10,
                        what="not-configured note")
            assert "Smart PE not configured on this box" in static_text(app, "#pe-adapter")
            assert app.pe_configured is False
            assert not app.query_one("#pe-table").display
            assert not app.query_one("#banner").display  # a 404 here is not "daemon unreachable"

            # A burst of hr.adapter events redraws the tab at most twice a second.
            await pilot.pause(0.6)
            before = app.pe_renders
            started = time.monotonic()
            for i in range(20):
                app._on_event({"topic": "hr.adapter", "adapter": "hci0", "state": "scanning", "bands_seen": 0,
                               "last_advert_age_s": 0.0, "scanner_restarts": 0, "detail": None, "bands": [],
                               "ts": 1000.0 + i})
            elapsed = time.monotonic() - started
            await pilot.pause(0.1)
            assert app.pe_renders - before <= 2 + int(elapsed / 0.5)
            await pilot.pause(0.6)
            assert app.pe_adapter is not None and app.pe_adapter["ts"] == 1019.0
            assert app.pe_renders > before
    finally:
        await runner.cleanup()


def test_human_sizes_and_ages() -> None:
    assert _human_bytes(308) == "308 B"
    assert _human_bytes(12602) == "12.3 KB (12602 bytes)"
    assert _human_bytes(5 * 2**20) == "5.0 MB (5242880 bytes)"
    assert _human_duration(3.4) == "3 s"
    assert _human_duration(125) == "2 min 5 s"
    assert _human_duration(3 * 3600 + 120) == "3 h 2 min"
