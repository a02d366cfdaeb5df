"""Watches the box itself: disk space for the store, and event-loop lag.

A full disk is the classic silent killer of edge boxes (recordings fill it, then SQLite cannot commit);
the technician should see it on the kiosk's status bar days before it bites.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path

from appliance.component import Component, ComponentContext, OutboxFull, SelfTestResult
from appliance.events import DeviceAlert

WARN_FREE_FRACTION = 0.10
HEALTH_RECORD_EVERY_S = 900.0
CRITICAL_FREE_BYTES = 200 * 1024 * 1024


class SystemMonitor(Component):
    name = "system"
    kind = "service"
    heartbeat_timeout_s = 30.0

    def __init__(self, data_dir: Path, interval_s: float = 2.0) -> None:
        self.data_dir = data_dir
        self.interval_s = interval_s
        self.max_lag_s = 0.0
        self.started = time.monotonic()

    def _disk(self) -> tuple[int, int]:
        usage = shutil.disk_usage(self.data_dir)
        return usage.free, usage.total

    async def run(self, ctx: ComponentContext) -> None:
        alerted = False
        last_record = 0.0
        while True:
            if ctx.outbox is not None and time.monotonic() - last_record >= HEALTH_RECORD_EVERY_S:
                # The county's "device health" page: telemetry, the first thing to give way on a full box.
                free, total = await ctx.run_blocking(self._disk)
                with contextlib.suppress(OutboxFull):
                    await ctx.outbox.append("device.health", {
                        "uptime_s": round(time.monotonic() - self.started), "disk_free_bytes": free,
                        "disk_total_bytes": total, "max_loop_lag_ms": round(self.max_lag_s * 1000),
                    })
                last_record = time.monotonic()
            free, total = await ctx.run_blocking(self._disk)
            problem = None
            if free < CRITICAL_FREE_BYTES:
                problem = f"disk almost full: {free // 2**20} MB free on {self.data_dir}"
            elif free / total < WARN_FREE_FRACTION:
                problem = f"disk low: {100 * free / total:.0f}% free on {self.data_dir}"
            if problem and not alerted:
                ctx.bus.publish(DeviceAlert(source="disk", severity="warning", message=problem))
                ctx.degraded(problem)
                alerted = True
            elif not problem and alerted:
                ctx.bus.publish(DeviceAlert(source="disk", severity="info", message="disk space ok", active=False))
                ctx.ok()
                alerted = False
            ctx.heartbeat()
            before = time.monotonic()
            await asyncio.sleep(self.interval_s)
            self.max_lag_s = max(self.max_lag_s, time.monotonic() - before - self.interval_s)

    async def self_test(self) -> SelfTestResult:
        free, total = self._disk()
        return SelfTestResult(
            ok=free >= CRITICAL_FREE_BYTES,
            detail=f"{free // 2**20} MB free of {total // 2**20} MB; worst event-loop lag {self.max_lag_s * 1000:.0f} ms",
            data={"free_bytes": free, "total_bytes": total, "max_loop_lag_s": self.max_lag_s},
        )
