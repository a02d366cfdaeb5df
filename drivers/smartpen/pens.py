"""Every pen the driver knows, across transports: one current session each, statuses, problems, passwords.

Transports (the serial gateway, BLE links) only announce "pen X connected, here is how to send to it" and
"pen X is gone"; this registry opens the vendor session, ticks it, publishes each pen's status every few
seconds, and turns the sessions' malformed-input reasons into one rate-limited log line.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from appliance.events import Event, PenStroke, PenTransport
from drivers.ratelimit import RateLimitedLog
from drivers.smartpen.neo import summarize_errors
from drivers.smartpen.vendors import PenProtocol, PenSession, SessionIO


class PenRegistry:
    """The pens' sessions, keyed by pen id; a pen that reconnects (on any transport) gets a fresh session."""

    def __init__(
        self,
        protocol: PenProtocol,
        publish: Callable[[Event], None],
        log: logging.Logger,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.protocol = protocol
        self._publish_bus = publish
        self.log = log
        self._monotonic = monotonic
        self._wall = wall
        self.sessions: dict[str, PenSession] = {}
        self.malformed = RateLimitedLog(log)
        self.stroke_times: deque[float] = deque()  # monotonic arrival of recent strokes, for the self-test

    def connect(self, pen_id: str, transport: PenTransport, send: Callable[[bytes], None]) -> PenSession:
        """A pen's link is up: a new session, which starts its handshake (so ``send`` must work already)."""
        old = self.sessions.get(pen_id)
        if old is not None and old.status().connected:
            old.disconnected(f"replaced by a new {transport} connection")
        io = SessionIO(pen_id, transport, send, self._publish, self.log, self._monotonic, self._wall)
        session = self.protocol.open_session(io)
        self.sessions[pen_id] = session
        self.log.info("pen %s connected over %s", pen_id, transport)
        session.connected()
        return session

    def disconnect(self, session: PenSession, reason: str) -> None:
        """A link went down; only the pen's current session is closed (a newer link may already exist)."""
        if self.sessions.get(session.pen_id) is session and session.status().connected:
            self.log.info("pen %s disconnected: %s", session.pen_id, reason)
            session.disconnected(reason)

    def tick(self) -> None:
        for session in list(self.sessions.values()):
            session.tick()
            problems = session.pop_problems()
            if problems:
                self.malformed.warning(
                    "malformed", f"ignored malformed input from pen {session.pen_id}: {summarize_errors(problems)}"
                )
        cutoff = self._monotonic() - 60.0
        while self.stroke_times and self.stroke_times[0] < cutoff:
            self.stroke_times.popleft()

    def publish_statuses(self) -> None:
        for session in list(self.sessions.values()):
            self._publish_bus(session.status())

    def submit_password(self, pen_id: str, password: str) -> str:
        session = self.sessions.get(pen_id.upper())
        if session is None:
            return f"pen {pen_id} is not known to this box"
        return session.submit_password(password)

    def connected(self) -> list[str]:
        return sorted(pen for pen, s in self.sessions.items() if s.status().connected)

    def _publish(self, event: Event) -> None:
        if isinstance(event, PenStroke):
            self.stroke_times.append(self._monotonic())
        self._publish_bus(event)
