"""``classroom demo``: a whole simulated classroom from one command, no config file, no hardware.

Each feature registers a scenario here: the configuration fragment that puts its devices on their
simulators. The demo is the product's front door for newcomers, so every feature must appear in it.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.config import CURRENT_SCHEMA_VERSION, load_raw
from appliance.daemon import Daemon, install_stop_signals


@dataclass(frozen=True)
class DemoScenario:
    name: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)


SCENARIOS: list[DemoScenario] = []


def register_scenario(scenario: DemoScenario) -> DemoScenario:
    SCENARIOS.append(scenario)
    return scenario


register_scenario(
    DemoScenario(
        "panel",
        "the interactive panel on a simulated RS-232 line (Samsung MDC bytes over a pseudo-terminal)",
        {
            "drivers": {"panel": {"backend": "simulator", "poll_interval_s": 2.0}},
            "features": {
                "panel_control": {"enabled": True, "inputs": ["hdmi1", "hdmi2", "pc"], "input_labels": {"hdmi2": "实物展台"}}
            },
        },
    )
)


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def demo_config(data_dir: Path, port: int) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "schema_version": CURRENT_SCHEMA_VERSION,
        "device": {
            "id": "demo-classroom",
            "school": "示范县实验小学",
            "classroom": "三年级二班",
            "data_dir": str(data_dir),
        },
        "api": {"host": "127.0.0.1", "port": port},
        "debug": {"allow_fault_injection": True},
    }
    for scenario in SCENARIOS:
        _merge(raw, scenario.config)
    return raw


async def run_demo(
    seconds: float | None, port: int, data_dir: Path, out: Callable[[str], None] = print
) -> int:
    loaded = load_raw(demo_config(data_dir, port), source="built-in demo")
    daemon = Daemon(loaded)
    stop = asyncio.Event()
    install_stop_signals(stop)
    task = asyncio.create_task(daemon.run(stop))
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        return task.result()
    out(f"Classroom Edge demo: kiosk at http://127.0.0.1:{port}/  (data in {data_dir})")
    out("Simulated: " + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS))
    out(f"Technician view: classroom tui --url http://127.0.0.1:{port}   Stop with Ctrl-C.")
    if seconds is not None:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    return await task
