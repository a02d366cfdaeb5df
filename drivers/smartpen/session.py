"""One connected Neo pen, whatever carries its bytes (a BLE link or a serial gateway): the protocol's state.

On connect the session introduces itself (VersionRequest), reads the pen's settings (battery, password
lock), and once the pen is unlocked asks for real-time data and pulls the pen's stored notes
(:mod:`drivers.smartpen.offline`). Real-time events become strokes in :mod:`drivers.smartpen.strokes`.
Battery is refreshed from the settings response every minute and from low-battery events; the pen is
asked for stored notes again a minute after each upload, or 5 s after one that found strokes (a stroke
begun before the pen started streaming is stored, not streamed, and may land after the upload ran).

Passwords: a pen with a password set answers the settings request with ``locked``. The session then
waits. It sends a password only when :meth:`NeoPenSession.submit_password` is called, exactly once per call,
and never again on its own: not after a wrong answer, not on a timer, not after a reconnect (it does not
keep the password). A Neo pen erases itself after ``max_retries`` wrong passwords, so an automatic retry
loop could wipe a child's homework; the tries left are in :attr:`PenStatus.detail` for the teacher.
"""

from __future__ import annotations

from typing import Literal

from appliance.events import PenStatus, PenStroke
from drivers.smartpen import neo
from drivers.smartpen.offline import STEP_TIMEOUT_S, OfflineSync
from drivers.smartpen.strokes import PEN_UP_TIMEOUT_S, StrokeAssembler
from drivers.smartpen.vendors import PenSession, SessionIO

HANDSHAKE_RETRY_S = 3.0
HANDSHAKE_ATTEMPTS = 3
SETTINGS_EVERY_S = 60.0
# Look for stored notes again this long after the last upload ended: a stroke begun while the pen was not
# streaming (just before the handshake finished, or while the link flapped) is stored after the upload ran.
# Sooner after an upload that found strokes, since that is when a stroke in progress is likeliest.
OFFLINE_RECHECK_S = 60.0
OFFLINE_RECHECK_SOON_S = 5.0
# A password attempt the pen never answered stops blocking the next explicit attempt after this long.
PASSWORD_ANSWER_S = 10.0
MAX_PASSWORD_BYTES = 16

SessionState = Literal["handshake", "locked", "ready", "wiped", "disconnected"]


class NeoPenSession(PenSession):
    """The Neo v2 protocol for one pen connection: handshake, lock, strokes, offline upload, battery."""

    def __init__(
        self,
        io: SessionIO,
        pen_up_timeout_s: float = PEN_UP_TIMEOUT_S,
        offline_step_timeout_s: float = STEP_TIMEOUT_S,
    ) -> None:
        self.io = io
        self.pen_id = io.pen_id
        self.decoder = neo.FrameDecoder()
        self.strokes = StrokeAssembler(io.pen_id, self._stroke, io.monotonic, pen_up_timeout_s)
        self.offline = OfflineSync(
            io.pen_id, self._send, self._offline_strokes, io.monotonic, io.log, offline_step_timeout_s
        )
        self.state: SessionState = "disconnected"
        self.version: neo.VersionInfo | None = None
        self.battery: int | None = None
        self.tries_left: int | None = None
        self.max_retries: int | None = None
        self.password_attempts = 0
        self.strokes_received = 0
        self.offline_strokes = 0
        self.last_seen: float | None = None
        self.detail: str | None = None
        self._password_sent_at: float | None = None
        self._handshake_sent_at = 0.0
        self._handshake_attempts = 0
        self._settings_at = 0.0
        self._problems: list[str] = []

    # -- PenSession ---------------------------------------------------------------------------------------
    def connected(self) -> None:
        self.state = "handshake"
        self.detail = None
        self.decoder.reset()
        self._handshake_attempts = 0
        self._hello()
        self._publish_status()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.last_seen = self.io.wall()
        for frame in self.decoder.feed(data):
            self._handle(frame)
        self._problems.extend(self.decoder.pop_errors())

    def tick(self) -> None:
        now = self.io.monotonic()
        self.strokes.tick()
        self.offline.tick()
        if self.state == "handshake" and now - self._handshake_sent_at > HANDSHAKE_RETRY_S:
            if self._handshake_attempts < HANDSHAKE_ATTEMPTS:
                self._hello()
            elif self.detail is None:
                self.detail = (
                    f"no answer to {HANDSHAKE_ATTEMPTS} version requests: not a Neo v2 pen, or its firmware is busy"
                )
                self._publish_status()
        elif self.state == "ready":
            if now - self._settings_at > SETTINGS_EVERY_S:
                self._settings_at = now
                self._send(neo.SettingInfoRequest())
            recheck = OFFLINE_RECHECK_SOON_S if self.offline.round_uploaded else OFFLINE_RECHECK_S
            if self.offline.state == "done" and now - self.offline.finished_at > recheck:
                self.offline.start()

    def disconnected(self, reason: str) -> None:
        self.strokes.close()
        self.decoder.reset()
        self.state = "disconnected"
        self.detail = reason
        self._password_sent_at = None
        self._publish_status()

    def status(self) -> PenStatus:
        return PenStatus(
            pen_id=self.pen_id,
            transport=self.io.transport,
            connected=self.state != "disconnected",
            battery=self.battery,
            strokes=self.strokes_received,
            lost_events=self.strokes.counter.lost_events,
            counter_gaps=self.strokes.counter.gaps,
            offline_notes_pending=self.offline.pending,
            last_seen=self.last_seen,
            detail=self._detail(),
        )

    def submit_password(self, password: str) -> str:
        """One password attempt, now, because a person asked; never repeated by the session."""
        if self.state != "locked":
            return f"pen {self.pen_id} is not asking for a password ({self.state})"
        now = self.io.monotonic()
        if self._password_sent_at is not None and now - self._password_sent_at < PASSWORD_ANSWER_S:
            return f"pen {self.pen_id} has not answered the last password yet; wait for it"
        if not password or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
            return f"a pen password is 1-{MAX_PASSWORD_BYTES} characters; nothing was sent"
        self._password_sent_at = now
        self.password_attempts += 1
        self._send(neo.PasswordRequest(password))
        left = "" if self.tries_left is None else f"; {self.tries_left} tries were left before this one"
        return f"one password attempt sent to pen {self.pen_id}{left}"

    def pop_problems(self) -> list[str]:
        problems, self._problems = self._problems, []
        return problems

    # -- frames -------------------------------------------------------------------------------------------
    def _handle(self, frame: neo.Frame) -> None:
        if self.strokes.handle(frame) or self.offline.handle(frame):
            return
        if isinstance(frame, neo.VersionInfo):
            self._version(frame)
        elif isinstance(frame, neo.SettingInfo):
            self._settings(frame)
        elif isinstance(frame, neo.PasswordResponse):
            self._password(frame)
        elif isinstance(frame, neo.OnlineDataResponse):
            if frame.result:
                self._problems.append(f"refused: the pen refused real-time data (result {frame.result})")
        elif isinstance(frame, neo.LowBattery):
            self.battery = frame.battery
        elif isinstance(frame, neo.Shutdown):
            self.detail = f"the pen is switching itself off (reason {frame.reason})"
            self._publish_status()
        else:
            self.io.log.debug("pen %s: ignored %r", self.pen_id, frame)

    def _version(self, f: neo.VersionInfo) -> None:
        if self.state != "handshake":
            return
        if f.result:
            self.detail = f"the pen refused the connection (version result {f.result})"
            self._publish_status()
            return
        self.version = f
        self._send(neo.SettingInfoRequest())

    def _settings(self, f: neo.SettingInfo) -> None:
        if f.result:
            return
        self.battery = f.battery
        self._settings_at = self.io.monotonic()
        self.max_retries = f.max_retries
        if self.state != "handshake":
            return
        if f.locked:
            self.state = "locked"
            self.tries_left = f.tries_left
            self.io.log.warning(
                "pen %s is locked with a password (%d tries left before it erases itself); "
                "waiting for someone to enter it",
                self.pen_id,
                f.tries_left,
            )
            self._publish_status()
        else:
            self._authorized()

    def _password(self, f: neo.PasswordResponse) -> None:
        self._password_sent_at = None
        if self.state != "locked":
            return
        if f.status == neo.PASSWORD_OK:
            self.io.log.info("pen %s unlocked", self.pen_id)
            self.tries_left = None
            self._authorized()
            return
        self.tries_left = f.tries_left
        self.max_retries = f.max_retries
        if f.status == neo.PASSWORD_RESET:
            self.state = "wiped"
            self.io.log.error("pen %s erased itself after too many wrong passwords", self.pen_id)
        else:
            self.io.log.warning("pen %s: wrong password (%d tries left)", self.pen_id, f.tries_left)
        self._publish_status()

    def _authorized(self) -> None:
        self.state = "ready"
        self._send(neo.OnlineDataRequest())
        self.offline.start()
        self._publish_status()

    # -- output -------------------------------------------------------------------------------------------
    def _hello(self) -> None:
        self._handshake_attempts += 1
        self._handshake_sent_at = self.io.monotonic()
        self._send(neo.VersionRequest())

    def _send(self, frame: neo.Frame) -> None:
        self.io.send(frame.encode())

    def _stroke(self, stroke: PenStroke) -> None:
        self.strokes_received += 1
        self.io.publish(stroke)

    def _offline_strokes(self, strokes: list[PenStroke]) -> None:
        self.offline_strokes += len(strokes)
        self.strokes_received += len(strokes)
        for stroke in strokes:
            self.io.publish(stroke)
        self._publish_status()

    def _publish_status(self) -> None:
        self.io.publish(self.status())

    def _detail(self) -> str | None:
        if self.state == "locked":
            tries = "unknown" if self.tries_left is None else str(self.tries_left)
            of = f" of {self.max_retries}" if self.max_retries else ""
            waiting = "; an attempt is waiting for the pen's answer" if self._password_sent_at is not None else ""
            return (
                f"locked: password needed ({tries}{of} tries left before the pen erases itself; "
                f"the box never retries on its own){waiting}"
            )
        if self.state == "wiped":
            return "the pen erased itself after too many wrong passwords; set it up again"
        if self.state == "ready" and self.offline.busy:
            pending = self.offline.pending
            return "uploading stored notes" + (f": {pending} left" if pending is not None else "")
        if self.state == "ready" and self.offline.problem:
            return f"offline upload: {self.offline.problem}"
        return self.detail
