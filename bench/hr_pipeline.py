"""Heart rate to the kiosk: sample-to-screen latency and CPU for a whole class of bands.

Measured: the daemon as its own process with 60 simulated bands at 4 Hz (Polar adverts and standard
service data through bleak's own types, GATT notifications for two bands), Smart PE running a lesson,
and this script as the kiosk: a WebSocket client on /api/events timing each wall tile on arrival
against the moment its reading was taken. CPU is the daemon process's own (it includes the simulator,
so the figure is conservative); the simulator alone is measured too, so the pipeline's own share is
reported beside it. Floor: a loop that only parses the same adverts at the same rate.

Run: .venv/bin/python bench/hr_pipeline.py [--bands 60] [--rate-hz 4] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from appliance.features.smart_pe.roster import seed_demo_class
from appliance.store import Store
from drivers.heart_rate import HeartRateSimulator
from drivers.heart_rate.vendors import parse_advertisement, polar
from sync.servers import free_port

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def floor_parse_only(bands: int, rate_hz: float, seconds: float) -> tuple[float, float]:
    """CPU share and p99 latency (ms) of parsing the same adverts at the same rate, nothing else."""
    adverts = []
    for i in range(bands):
        data = polar.encode(120 + i % 40, True, False, i % 8)
        adv = AdvertisementData(f"Polar H10 {i:08X}", {polar.COMPANY_ID: data}, {}, [], None, -60, ())
        adverts.append((BLEDevice(f"A0:9E:1A:00:00:{i:02X}", adv.local_name, None), adv))
    interval = 1.0 / (bands * rate_hz)
    lat: list[float] = []
    cpu0, start = time.process_time(), time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        device, adv = adverts[n % bands]
        t0 = time.perf_counter()
        parse_advertisement(device, adv)
        lat.append((time.perf_counter() - t0) * 1000)
        n += 1
        time.sleep(max(0.0, start + n * interval - time.monotonic()))
    return (time.process_time() - cpu0) / (time.monotonic() - start), pct(lat, 0.99)


def simulator_only(bands: int, rate_hz: float, seconds: float) -> float:
    """CPU share of the band simulator alone (adverts built and delivered to a callback that does nothing).

    The daemon figure includes the simulator, which a real box does not run; subtracting this gives the
    pipeline's own share.
    """
    from bleak import BleakScanner

    sim = HeartRateSimulator(bands=bands, rate_hz=rate_hz, seed=7, gatt_bands=0)

    async def run() -> float:
        scanner = BleakScanner(lambda _d, _a: None, backend=sim.scanner_backend())
        await scanner.start()
        await asyncio.sleep(1.0)
        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        share = (time.process_time() - cpu0) / (time.monotonic() - t0)
        await scanner.stop()
        return share

    return asyncio.run(run())


async def measure(url: str, pid: int, warmup: float, seconds: float) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(url + "/api/pe/bands") as r:
                    if r.status == 200 and (await r.json())["adapter"].get("bands_seen", 0) > 0:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        async with http.post(url + "/api/pe/lesson/start") as r:
            assert r.status == 200, await r.text()
        async with http.ws_connect(url + "/api/events", max_msg_size=0) as ws:
            start = time.monotonic()
            cpu0 = wall0 = None
            updates = 0
            while (elapsed := time.monotonic() - start) < warmup + seconds:
                msg = await ws.receive_json(timeout=5)
                now = time.time()
                if elapsed < warmup or msg.get("topic") != "pe.wall":
                    continue
                if cpu0 is None:
                    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
                updates += 1
                latencies += [(now - tile["t"]) * 1000 for tile in msg["tiles"] if tile.get("t")]
            share = (cpu_seconds(pid) - (cpu0 or 0)) / (time.monotonic() - (wall0 or start))
    return latencies, share, updates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bands", type=int, default=60)
    ap.add_argument("--rate-hz", type=float, default=4.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    args = ap.parse_args()
    floor_cpu, floor_p99 = floor_parse_only(args.bands, args.rate_hz, min(10.0, args.seconds))
    sim_cpu = simulator_only(args.bands, args.rate_hz, min(10.0, args.seconds))
    with tempfile.TemporaryDirectory(prefix="hrbench-") as tmp:
        data = Path(tmp)
        band_ids = [b.band_id for b in HeartRateSimulator(bands=args.bands, seed=7).bands]
        store = Store(data / "classroom.db")
        store.call(lambda db: seed_demo_class(db, band_ids, students=args.bands))
        store.close()
        port = free_port()
        (data / "classroom.toml").write_text(
            f'schema_version = 1\n[device]\ndata_dir = "{data}"\n[api]\nport = {port}\n[logging]\nlevel = "WARNING"\n'
            f'[drivers.heart_rate]\nbackend = "simulator"\nbands = {args.bands}\nrate_hz = {args.rate_hz}\n'
            f"time_scale = 1\nseed = 7\n[features.smart_pe]\nenabled = true\n[features.panel_control]\nenabled = false\n"
        )
        with open(data / "daemon.log", "wb") as log:  # the child keeps its own copy of the fd
            daemon = subprocess.Popen(
                [sys.executable, "-m", "appliance.cli", "run", "--config", str(data / "classroom.toml")],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        try:
            lat, share, updates = asyncio.run(measure(f"http://127.0.0.1:{port}", daemon.pid, args.warmup, args.seconds))
        finally:
            daemon.terminate()
            daemon.wait(timeout=20)
    result = {
        "bench": "hr_pipeline",
        "bands": args.bands,
        "rate_hz": args.rate_hz,
        "samples_per_s": args.bands * args.rate_hz,
        "tiles_measured": len(lat),
        "wall_updates": updates,
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(pct(lat, 0.99), 1),
        "cpu_share_of_one_core": round(share, 4),
        "simulator_only_cpu_share": round(sim_cpu, 4),
        "pipeline_cpu_share_excl_simulator": round(max(0.0, share - sim_cpu), 4),
        "floor_parse_only_cpu_share": round(floor_cpu, 4),
        "floor_parse_only_p99_ms": round(floor_p99, 3),
        "cpu_ratio_vs_floor": round(share / floor_cpu, 1) if floor_cpu else None,
        "note": "cpu_share_of_one_core is the whole daemon including the band simulator (conservative); "
                "wall updates are coalesced every 100 ms",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
