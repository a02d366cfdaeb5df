"""One log line per problem per minute, with a count of what was held back.

Every driver that parses bytes from the air or a wire (adverts, pen frames, ANT pages) meets malformed
input all day long; a line per bad packet would bury the log and wear the box's flash.
"""

from __future__ import annotations

import logging
import time

MALFORMED_LOG_EVERY_S = 60.0


class RateLimitedLog:
    """Log a problem once per key per interval, counting what was suppressed in between."""

    def __init__(self, logger: logging.Logger, every_s: float = MALFORMED_LOG_EVERY_S) -> None:
        self._log = logger
        self._every_s = every_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.total = 0

    def warning(self, key: str, message: str) -> None:
        self.total += 1
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        skipped = self._suppressed.pop(key, 0)
        self._last[key] = now
        suffix = f" ({skipped} more since the last report)" if skipped else ""
        self._log.warning("%s%s", message, suffix)
