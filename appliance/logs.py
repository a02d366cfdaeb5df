"""Logging for a box nobody watches: one clear line per problem, a ring buffer for the TUI's tail."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import deque
from typing import Any

from appliance.bus import Bus
from appliance.events import LogLine

FORMAT = "%(levelname)s %(name)s: %(message)s"


class LogBuffer(logging.Handler):
    """Keeps the last lines in memory and streams new ones onto the bus (thread-safe)."""

    def __init__(self, capacity: int = 1000) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bus: Bus | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, bus: Bus) -> None:
        self._loop, self._bus = loop, bus

    def detach(self) -> None:
        self._loop = self._bus = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in a log call must not break logging
            message = str(record.msg)
        line = {"ts": record.created, "level": record.levelname, "logger": record.name, "message": message}
        self.lines.append(line)
        loop, bus = self._loop, self._bus
        if loop is not None and bus is not None and not loop.is_closed():
            event = LogLine(ts=record.created, level=record.levelname, logger=record.name, message=message)
            try:
                loop.call_soon_threadsafe(bus.publish, event)
            except RuntimeError:  # loop closing during shutdown
                pass

    def tail(self, n: int) -> list[dict[str, Any]]:
        return list(self.lines)[-n:]


def setup_logging(level: str = "INFO") -> LogBuffer:
    """Configure the root logger for journald (stderr, no timestamps: journald adds them)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, LogBuffer) or getattr(h, "_classroom", False):
            root.removeHandler(h)
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(FORMAT))
    stream._classroom = True  # type: ignore[attr-defined]
    buffer = LogBuffer()
    root.addHandler(stream)
    root.addHandler(buffer)
    root.setLevel(level)
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return buffer
