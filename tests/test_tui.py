"""The technician TUI, driven with Textual's Pilot against the real demo daemon over its HTTP API."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static, TabbedContent

from appliance.tui.app import AsciiFilter, TechnicianApp, plain_from_env
from appliance.tui.client import DaemonClient, DaemonUnreachable

from conftest import DemoProcess, free_port

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
        for key in ("t", "R", "r", "2", "3", "4", "l", "1"):
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
        first = demo.wait_healthy(timeout=30)
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
            second = demo.wait_healthy(timeout=30)
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
        for key in ("1", "2", "3", "4"):
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
