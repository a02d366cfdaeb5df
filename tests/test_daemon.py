"""The daemon as a technician meets it: the demo's health, crash recovery, safe mode and systemd."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, DemoProcess, free_port, get_json, post_json, wait_for


def test_demo_acceptance(tmp_path: Path) -> None:
    """classroom demo --seconds 40: healthy within 20 s; a crashed component restarts, the rest stay ok."""
    port = free_port()
    demo = DemoProcess(port, tmp_path, seconds=40)
    started = time.monotonic()
    try:
        health = demo.wait_healthy(timeout=60)
        assert time.monotonic() - started < 20
        assert health["status"] == "ok"
        assert {"panel", "panel_control", "system"} <= set(health["components"])
        assert all(c["state"] == "ok" for c in health["components"].values())

        for victim in ("panel_control", "panel"):
            before = get_json(demo.url + "/api/health")["components"]
            status, body = post_json(f"{demo.url}/api/components/{victim}/fault")
            assert status == 200, body
            after = wait_for(
                lambda v=victim, b=before: (h := get_json(demo.url + "/api/health"))["components"][v]["restarts"]
                > b[v]["restarts"] and h["components"][v]["state"] == "ok" and h,
                timeout=15,
            )
            assert "fault injected" in after["components"][victim]["last_error"]
            for name, comp in after["components"].items():
                if name != victim:
                    assert comp["state"] == "ok", (name, comp)
                    assert comp["restarts"] == before[name]["restarts"], name
        assert wait_for(lambda: get_json(demo.url + "/api/health")["status"] == "ok", timeout=10)
        # the panel still works end to end after its driver was restarted
        status, body = post_json(demo.url + "/api/panel/input", {"source": "hdmi2"})
        assert (status, body) == (200, {"ok": True})
        assert get_json(demo.url + "/api/panel")["input_source"] == "hdmi2"
        # --seconds stops it cleanly by itself
        assert demo.proc.wait(timeout=45) == 0
    finally:
        demo.stop()
    assert "kiosk at http://127.0.0.1:" in demo.log_path.read_text()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classroom.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--config", str(config)],
        cwd=ROOT, env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=20)
    return out.decode()


def test_bad_config_starts_safe_mode_with_api(tmp_path: Path) -> None:
    port = free_port()
    config = _write(tmp_path, f"schema_version = 1\n[api]\nport = {port}\n[device]\nidd = 'x'\n[drivers.panel]\nbackend = 'serial'\n")
    proc = _run(config)
    try:
        health = wait_for(lambda: get_json(f"http://127.0.0.1:{port}/api/health"), timeout=15)
        assert health["status"] == "safe_mode"
        assert health["components"] == {}
        errors = health["config_errors"]
        assert any(e.startswith("device.idd: unknown key") for e in errors)
        assert any(e.startswith("drivers.panel.port: required key missing") for e in errors)
        tiles = get_json(f"http://127.0.0.1:{port}/api/features")
        assert tiles and all(t["state"] == "unavailable" for t in tiles)
        status = get_json(f"http://127.0.0.1:{port}/api/status")
        assert status["safe_mode"] is True and status["config_errors"] == errors
        code, _body = post_json(f"http://127.0.0.1:{port}/api/panel/power", {"on": True})
        assert code == 404  # nothing but the API runs in safe mode
    finally:
        out = _stop(proc)
    assert "SAFE MODE" in out


def test_missing_serial_port_degrades_but_daemon_runs(tmp_path: Path) -> None:
    """One dead device never takes the daemon down: the panel is retried, the rest is ok."""
    port = free_port()
    config = _write(
        tmp_path,
        f"schema_version = 1\n[device]\ndata_dir = '{tmp_path}'\n[api]\nport = {port}\n"
        "[drivers.panel]\nbackend = 'serial'\nport = '/dev/ttyNOPE9'\n",
    )
    proc = _run(config)
    try:
        health = wait_for(
            lambda: (h := get_json(f"http://127.0.0.1:{port}/api/health"))["components"].get("panel", {}).get("state")
            == "degraded" and h,
            timeout=15,
        )
        assert health["status"] == "degraded"
        assert "/dev/ttyNOPE9" in (health["components"]["panel"]["last_error"] or "")
        assert health["components"]["system"]["state"] == "ok"
        tiles = {t["id"]: t for t in get_json(f"http://127.0.0.1:{port}/api/features")}
        assert tiles["panel_control"]["state"] == "degraded"
        assert tiles["smart_pe"]["state"] == "unconfigured"
    finally:
        _stop(proc)


def test_systemd_ready_and_watchdog(tmp_path: Path) -> None:
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(15)
    port = free_port()
    config = _write(tmp_path, f"schema_version = 1\n[device]\ndata_dir = '{tmp_path}'\n[api]\nport = {port}\n")
    proc = _run(config, {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "2000000"})
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            any("READY=1" in m for m in messages) and sum("WATCHDOG=1" in m for m in messages) >= 2
        ):
            messages.append(sock.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in messages), messages
        assert sum(m == "WATCHDOG=1" for m in messages) >= 2, messages
    finally:
        _stop(proc)
        sock.close()


async def test_stop_is_prompt_with_a_kiosk_websocket_open(tmp_path: Path) -> None:
    """systemd restarts must not wait for the kill timeout because a kiosk holds a WebSocket."""
    import asyncio

    import aiohttp

    demo = DemoProcess(free_port(), tmp_path)
    try:
        await asyncio.to_thread(demo.wait_healthy, 30)
        async with aiohttp.ClientSession() as http, http.ws_connect(demo.url + "/api/events") as ws:
            assert (await ws.receive_json(timeout=5))["topic"] == "hello"
            started = time.monotonic()
            demo.proc.send_signal(2)
            returncode = await asyncio.to_thread(demo.proc.wait, 10)
            assert returncode == 0
            assert time.monotonic() - started < 5
    finally:
        demo.stop()


def test_every_driver_section_has_a_plugin() -> None:
    """A new [drivers.X] section without a DRIVER_PLUGINS entry would be validated and then silently ignored."""
    from appliance.config.schema import DriversConfig
    from appliance.daemon import DRIVER_PLUGINS

    assert set(DRIVER_PLUGINS) == set(DriversConfig.model_fields)
