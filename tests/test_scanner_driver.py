"""The scanner driver on a temporary folder: complete files become one event per page, exactly once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from appliance.bus import Bus
from appliance.component import ComponentContext
from appliance.config.schema import ScannerFolderConfig
from appliance.events import ScannedSheet
from drivers.scanner import ScannerDriver

POLL_S = 0.2
SETTLE_S = 0.4


class Harness:
    def __init__(self, driver: ScannerDriver) -> None:
        self.driver = driver
        self.bus = Bus()
        self.states: list[tuple[str, str | None]] = []
        self.ctx = ComponentContext("scanner", self.bus, None, None, lambda s, r: self.states.append((s, r)),
                                    ready_on_heartbeat=False)
        self.events: list[ScannedSheet] = []
        self._sub = self.bus.subscribe(ScannedSheet, maxsize=1000, name="test")

    async def _collect(self) -> None:
        async for ev in self._sub:
            self.events.append(ev)


@asynccontextmanager
async def running(folder: Path, grace_s: float = 0.6) -> AsyncIterator[Harness]:
    h = Harness(ScannerDriver(ScannerFolderConfig(folder=folder, poll_s=POLL_S), settle_s=SETTLE_S,
                              unreadable_grace_s=grace_s))
    tasks = [asyncio.create_task(h.driver.run(h.ctx)), asyncio.create_task(h._collect())]
    try:
        yield h
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        h._sub.close()


async def wait_until(predicate: Callable[[], Any], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.05)


def png_bytes() -> bytes:
    img = np.full((60, 80), 255, np.uint8)
    cv2.rectangle(img, (10, 10), (30, 30), 0, -1)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def pdf_bytes(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 30, 30, style="F")
    return bytes(pdf.output())


async def test_new_file_is_published_once_and_remembered_across_restarts(tmp_path: Path) -> None:
    (tmp_path / "sheet-001.png").write_bytes(png_bytes())
    async with running(tmp_path) as h:
        await wait_until(lambda: h.events, 5, "the sheet's event")
        await wait_until(lambda: h.ctx.state == "ok", 2, "the driver to report ok")
        await asyncio.sleep(4 * POLL_S)
    assert [(Path(e.path).name, e.page_index) for e in h.events] == [("sheet-001.png", 0)]
    assert await asyncio.to_thread(Path(h.events[0].path).exists), "the file stays where the event says it is"
    async with running(tmp_path) as h2:  # a restart: nothing new, nothing repeated
        await wait_until(lambda: h2.ctx.state == "ok", 3, "the restarted driver")
        await asyncio.sleep(SETTLE_S + 4 * POLL_S)
        assert h2.events == []
        (tmp_path / "sheet-002.png").write_bytes(png_bytes())
        await wait_until(lambda: h2.events, 5, "the second sheet")
    assert [Path(e.path).name for e in h2.events] == ["sheet-002.png"]


async def test_half_written_file_waits_until_its_size_settles(tmp_path: Path) -> None:
    data = pdf_bytes(2)
    path = tmp_path / "batch.pdf"
    async with running(tmp_path, grace_s=5.0) as h:
        await wait_until(lambda: h.ctx.state == "ok", 3, "the driver")
        chunks = [data[i:i + len(data) // 8 + 1] for i in range(0, len(data), len(data) // 8 + 1)]
        for chunk in chunks:  # a slow scanner: a chunk every 0.15 s, faster than the settle time
            await asyncio.to_thread(append, path, chunk)
            await asyncio.sleep(0.15)
            assert h.events == [], "published while the scanner was still writing"
        await wait_until(lambda: len(h.events) == 2, 5, "both pages")
    assert [e.page_index for e in h.events] == [0, 1]
    assert not (tmp_path / "rejected").exists()


async def test_garbage_is_moved_aside_with_one_log_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "scan.png").write_bytes(b"\x89PNG not really an image" * 10)
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / ".hidden.png").write_bytes(b"ignored: hidden files are the writer's business")
    with caplog.at_level(logging.WARNING, logger="component.scanner"):
        async with running(tmp_path, grace_s=0.5) as h:
            await wait_until(lambda: not (tmp_path / "scan.png").exists(), 6, "the garbage file to move")
            await wait_until(lambda: not (tmp_path / "notes.txt").exists(), 3, "the text file to move")
            await asyncio.sleep(4 * POLL_S)
    assert sorted(p.name for p in (tmp_path / "rejected").iterdir()) == ["notes.txt", "scan.png"]
    assert h.events == []
    assert (tmp_path / ".hidden.png").exists()
    lines = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(lines) == 2 and any("scan.png" in line for line in lines), lines


async def test_missing_folder_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "not" / "yet" / "there"
    async with running(folder) as h:
        await wait_until(lambda: h.ctx.state == "ok", 3, "the driver")
        assert folder.is_dir()


async def test_unusable_folder_is_degraded_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    async with running(blocker / "scans") as h:
        await wait_until(lambda: h.ctx.state == "degraded", 3, "degraded state")
        assert any(r and "unusable" in r for _, r in h.states)
        # fix the problem: the driver recovers on its own
        blocker.unlink()
        await wait_until(lambda: h.ctx.state == "ok", 5, "recovery")
