"""Teacher tap to panel acknowledgement: the daemon's full path against raw MDC on the same serial line.

Baseline: a bare pyserial loop writing one MDC volume command and reading its ACK from the simulated
panel. Measured: POST /api/panel/volume through the API, the panel feature, the bus, the driver and
the same serial line, answered after the driver has re-read the panel's state. Both talk to one
PanelSimulator on a pty (simulated device latency 10 ms). The ratio is the daemon's overhead.

Run: .venv/bin/python bench/panel_roundtrip.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import serial

from appliance.config import load_raw
from appliance.daemon import Daemon
from appliance.demo import demo_config
from appliance.logs import setup_logging
from drivers.panel import PanelSimulator, mdc

VOLUME = 0x12


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def baseline(path: str, n: int) -> list[float]:
    times = []
    with serial.Serial(path, 9600, timeout=1.0) as port:
        decoder = mdc.FrameDecoder()
        for i in range(n):
            start = time.perf_counter()
            port.write(mdc.encode_command(VOLUME, 0, bytes([i % 50])))
            replies: list[mdc.Reply] = []
            while not replies:
                chunk = port.read(port.in_waiting or 1)
                if not chunk:
                    raise RuntimeError("simulator did not answer")
                replies = decoder.feed(chunk)
            times.append(time.perf_counter() - start)
    return times


async def through_daemon(path: str, n: int, data_dir: Path) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    raw = demo_config(data_dir, port)
    # the same simulated panel, reached as a real serial device; no polling to disturb the timing
    raw["drivers"]["panel"] = {"backend": "serial", "port": path, "poll_interval_s": 300}
    raw["logging"] = {"level": "WARNING"}
    daemon = Daemon(load_raw(raw, source="bench", environ={}), log_buffer=setup_logging("WARNING"))
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(stop))
    await asyncio.wait_for(daemon.ready.wait(), 15)
    url = f"http://127.0.0.1:{port}"
    times = []
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                async with http.get(url + "/api/health") as r:
                    if (await r.json())["status"] == "ok":
                        break
                await asyncio.sleep(0.1)
            for i in range(n):
                start = time.perf_counter()
                async with http.post(url + "/api/panel/volume", json={"level": i % 50}) as r:
                    body = await r.json()
                    if r.status != 200:
                        raise RuntimeError(body)
                times.append(time.perf_counter() - start)
    finally:
        stop.set()
        await task
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    with PanelSimulator(display_id=0) as sim, tempfile.TemporaryDirectory() as tmp:
        base = baseline(sim.path, args.n)
        full = asyncio.run(through_daemon(sim.path, args.n, Path(tmp)))
    result = {
        "bench": "panel_roundtrip",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "n": args.n,
        "baseline_raw_mdc_p50_ms": round(statistics.median(base) * 1000, 2),
        "baseline_raw_mdc_p95_ms": round(pct(base, 0.95) * 1000, 2),
        "daemon_api_p50_ms": round(statistics.median(full) * 1000, 2),
        "daemon_api_p95_ms": round(pct(full, 0.95) * 1000, 2),
        "ratio_p50": round(statistics.median(full) / statistics.median(base), 2),
        "note": "daemon path includes a status re-read (second MDC exchange) before answering",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
