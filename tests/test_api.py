"""API behaviours that the kiosk and TUI rely on, against a real daemon on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from appliance.config import load_raw
from appliance.daemon import Daemon
from appliance.demo import DemoOptions, demo_config, prepare_demo

from conftest import free_port


@contextlib.asynccontextmanager
async def running(tmp_path: Path, allow_faults: bool = True) -> AsyncIterator[tuple[Daemon, str, aiohttp.ClientSession]]:
    """A real daemon on a free port with the demo's simulated devices, healthy before the test starts."""
    port = free_port()
    raw = demo_config(tmp_path, port)
    prepare_demo(DemoOptions(port, tmp_path))
    raw["debug"]["allow_fault_injection"] = allow_faults
    daemon = Daemon(load_raw(raw, source="test", environ={}))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.wait_for(daemon.ready.wait(), 15)
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(url + "/api/health") as r:
                    if (await r.json())["status"] == "ok":
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("daemon never became healthy")
            yield daemon, url, http
    finally:
        stop.set()
        assert await task == 0


async def test_websocket_streams_hello_and_panel_events(tmp_path: Path) -> None:
    async with running(tmp_path) as (daemon, url, http), http.ws_connect(url + "/api/events") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello == {"topic": "hello", "boot_id": daemon.boot_id, "version": hello["version"]}
        async with http.post(url + "/api/panel/volume", json={"level": 33}) as r:
            assert r.status == 200, await r.text()
        seen: list[dict] = []
        for _ in range(50):
            seen.append(await ws.receive_json(timeout=5))
            if any(m["topic"] == "panel.command_result" for m in seen):
                break
        result = next(m for m in seen if m["topic"] == "panel.command_result")
        assert result["ok"] is True
        # the refreshed status reaches the kiosk no later than the command's result
        assert any(m["topic"] == "panel.status" and m["volume"] == 33 for m in seen), seen


async def test_panel_validation_and_audit(tmp_path: Path) -> None:
    async with running(tmp_path) as (daemon, url, http):
        async with http.get(url + "/api/panel") as r:
            panel = await r.json()
        assert panel["connected"] is True
        assert [i["id"] for i in panel["inputs"]] == ["hdmi1", "hdmi2", "pc"]
        assert panel["inputs"][1]["label"] == "实物展台"
        async with http.post(url + "/api/panel/volume", json={"level": panel["max_volume"] + 1}) as r:
            assert r.status == 400
            assert "max_volume" in (await r.json())["error"]
        async with http.post(url + "/api/panel/input", json={"source": "dvi"}) as r:
            assert r.status == 400
        async with http.post(url + "/api/panel/power", data=b"not json") as r:
            assert r.status == 400
        async with http.post(url + "/api/panel/power", json={"on": False}) as r:
            assert r.status == 200
        async with http.get(url + "/api/panel") as r:
            assert (await r.json())["power"] == "off"
        async with http.post(url + "/api/components/nope/selftest") as r:
            assert r.status == 404 and "nope" in (await r.json())["error"]
        async with http.post(url + "/api/components/panel/selftest") as r:
            result = await r.json()
            assert result["ok"] is True, result
        async with http.get(url + "/api/config") as r:
            rows = {row["key"]: row for row in (await r.json())["rows"]}
        assert rows["drivers.panel.backend"] == {"key": "drivers.panel.backend", "value": "simulator", "source": "test"}
        assert rows["logging.level"]["source"] == "default"
        assert rows["features.panel_control.inputs"]["value"] == ["hdmi1", "hdmi2", "pc"]
        async with http.get(url + "/api/logs?n=5") as r:
            assert len((await r.json())["lines"]) == 5
        assert daemon.store is not None
        audit = daemon.store.call(lambda db: list(db["audit_log"].rows))
        assert any(a["action"] == "panel.power" and "off" in a["detail"] for a in audit)


async def test_fault_injection_is_off_unless_configured(tmp_path: Path) -> None:
    async with running(tmp_path, allow_faults=False) as (_daemon, url, http):
        async with http.post(url + "/api/components/panel/fault") as r:
            assert r.status == 403
            assert "allow_fault_injection" in json.loads(await r.text())["error"]


async def test_unknown_api_path_answers_json(tmp_path: Path) -> None:
    async with running(tmp_path) as (_daemon, url, http), http.get(url + "/api/nothing-here") as r:
        assert r.status == 404
        assert "no such endpoint" in (await r.json())["error"]
