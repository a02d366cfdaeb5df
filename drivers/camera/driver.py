"""The camera driver: playground cameras (RTSP, HTTP MJPEG, USB, files, test sources) as newest-frame bus events.

Above it, the fitness feature sees only :class:`~appliance.events.CameraFrame` (RGB, read-only) and
:class:`~appliance.events.CameraStatus`; whether a camera, a file or the simulator is underneath is invisible.

Rules, as for every driver on an unattended box:

* one reader thread per camera, because PyAV blocks; a dead camera never stops the others;
* newest frame wins: a thread hands its frame to the event loop through a one-slot mailbox and wakes the loop
  with ``call_soon_threadsafe`` only when the slot was empty, so the loop never holds more than one frame per
  camera. A frame decoded before the previous one was published replaces it and counts as ``dropped``. Pose
  analysis is slower than the camera; analysing stale frames would only add latency. (A consumer should
  keep only the newest frame of its own queue too: ``maxsize=1``, or drain it and keep the last.)
* a lost camera (open error, read error, end of a live stream, or no picture for ``stall_timeout_s``) is
  reopened with exponential backoff up to ``reconnect_max_s``; FFmpeg's interrupt callback (PyAV's
  ``timeout``) bounds every open and read, and a reader that is still stuck well past those bounds is
  abandoned for a fresh one;
* each failure is logged once per change of state or error, in one line naming the camera and its URL
  *without* the password; undecodable (torn) frames cost one rate-limited line and are skipped;
* a video file is paced at its own frame rate when ``realtime`` (as if live), loops when ``loop``, and
  otherwise ends in state "ended" without reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import av.container
import av.error

from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import CamerasConfig, CameraSourceConfig
from appliance.events import CameraFrame, CameraState, CameraStatus
from drivers.backoff import Backoff
from drivers.camera.source import (
    OpenSpec,
    SourceError,
    build_spec,
    describe_error,
    is_permanent,
    open_source,
    redact_url,
    scrub,
)
from drivers.ratelimit import RateLimitedLog

STATUS_EVERY_S = 2.0
TICK_S = 0.25
FPS_WINDOW_S = 2.0
STOP_JOIN_S = 1.5  # how long stopping waits for reader threads before leaving them to exit on their own
STUCK_SLACK_S = 5.0  # beyond FFmpeg's own timeouts, before a silent reader thread is given up on
STABLE_S = 10.0  # live at least this long: the next loss starts the backoff from its short delay again
BEHIND_RESYNC_S = 1.0  # a paced file this far behind its clock (slow box) restarts its clock, never bursts
MAX_GAP_S = 2.0  # a paced file whose next frame is further away than this has a hole in its timestamps
BACKOFF_INITIAL_S = 1.0


class _Lost(Exception):
    """The source stopped delivering; the message is safe to log."""


class CameraReader:
    """One camera: a reader thread that opens, decodes and reconnects, and the loop-side end of its mailbox.

    Counters and state are written by the thread and read by the loop; ``_lock`` guards the mailbox and the
    counters that are read together. The bus is touched only on the loop.
    """

    def __init__(self, source: CameraSourceConfig, config: CamerasConfig) -> None:
        self.source = source
        self.config = config
        self.id = source.id
        self.public_url = redact_url(source.url)
        self.state: CameraState = "connecting"
        self.error: str | None = None
        self.frames = 0
        self.dropped = 0
        self.reconnects = 0
        self.undecodable = 0
        self.abandoned = 0
        self.width: int | None = None
        self.height: int | None = None
        self.codec: str | None = None
        self.live_since: float | None = None
        self._lock = threading.Lock()
        self._slot: CameraFrame | None = None
        self._scheduled = False
        self._recent: deque[float] = deque(maxlen=1024)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deadline = math.inf  # monotonic time by which the thread must have come back from FFmpeg
        self._loop: asyncio.AbstractEventLoop | None = None
        self._publish: Callable[[CameraFrame], None] | None = None
        self._on_change: Callable[[CameraReader], None] | None = None
        self._log = logging.getLogger(f"component.cameras.{source.id}")
        self._noted = False

    # -- loop side --------------------------------------------------------------------------------------
    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        publish: Callable[[CameraFrame], None],
        on_change: Callable[[CameraReader], None],
        log: logging.Logger,
    ) -> None:
        """Start (or, after :meth:`stop`, restart) the reader thread; callbacks run on ``loop``."""
        self._loop, self._publish, self._on_change, self._log = loop, publish, on_change, log
        self._spawn()

    def _spawn(self) -> None:
        stop = threading.Event()
        with self._lock:
            self._stop = stop
            self._slot = None
            self._scheduled = False
            self._deadline = math.inf
        self._thread = threading.Thread(target=self._main, args=(stop,), name=f"camera-{self.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to close its container and end; it notices within one frame or one FFmpeg timeout."""
        self._stop.set()
        self._publish = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def check_stuck(self, now: float) -> bool:
        """Give up on a thread that FFmpeg has held far past its timeouts, and start a fresh one."""
        if not self.alive or now <= self._deadline:
            return False
        stuck_for = now - self._deadline + STUCK_SLACK_S
        self._stop.set()  # the old thread exits on its own if FFmpeg ever returns; its frames are ignored
        self.abandoned += 1
        self._log.warning("camera %s (%s): reader stuck in FFmpeg for %.0f s; starting a new one",
                          self.id, self.public_url, stuck_for)
        self.state, self.error = "reconnecting", f"reader stuck for {stuck_for:.0f} s"
        self._spawn()
        return True

    def _flush(self) -> None:
        """On the loop: publish the frame in the mailbox (the newest one)."""
        with self._lock:
            frame, self._slot = self._slot, None
            self._scheduled = False
        publish = self._publish
        if frame is not None and publish is not None:
            publish(frame)

    def _changed(self) -> None:
        if self._on_change is not None and self._publish is not None:
            self._on_change(self)

    def fps(self, now: float | None = None) -> float:
        """Frames decoded per second over the last :data:`FPS_WINDOW_S`."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = [t for t in self._recent if t >= now - FPS_WINDOW_S]
        if len(times) < 2:
            return 0.0
        if self.live_since is not None and now - self.live_since >= FPS_WINDOW_S:
            return len(times) / FPS_WINDOW_S
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def status(self) -> CameraStatus:
        with self._lock:
            frames, dropped = self.frames, self.dropped
        return CameraStatus(
            camera=self.id,
            name=self.source.name or self.id,
            source=self.public_url,
            state=self.state,
            fps=round(self.fps(), 2),
            frames=frames,
            dropped=dropped,
            reconnects=self.reconnects,
            width=self.width,
            height=self.height,
            codec=self.codec,
            error=self.error,
        )

    # -- thread side ------------------------------------------------------------------------------------
    def _main(self, stop: threading.Event) -> None:
        backoff = Backoff(BACKOFF_INITIAL_S, self.config.reconnect_max_s)
        open_s, stall_s = self.config.open_timeout_s, self.config.stall_timeout_s
        malformed = RateLimitedLog(self._log)
        while not stop.is_set():
            spec: OpenSpec | None = None
            container: av.container.InputContainer | None = None
            try:
                # Built at every attempt, so a credential installed while the camera was failing is used.
                spec = build_spec(self.source, open_s, stall_s)
                if spec.note and not self._noted:
                    self._noted = True
                    self._log.warning("camera %s: %s", self.id, spec.note)
                # The http probe and av.open each get open_s (FFmpeg's interrupt callback bounds the latter).
                self._expect(2 * open_s + STUCK_SLACK_S)
                container = open_source(spec, open_s, stall_s)
                if stop.is_set():
                    return
                outcome = self._read(container, spec, stop, backoff, malformed)
            except Exception as exc:  # anything from FFmpeg or the network: never the end of the thread
                if stop.is_set():
                    return
                self._close(container)
                self._lost(stop, spec, exc, backoff)
                continue
            finally:
                self._close(container)
            if outcome == "ended":
                self._set_state(stop, "ended", None)
                stop.wait()
                return
            if outcome == "stopped":
                return
            # "reopen": a looping file whose container cannot seek

    def _close(self, container: av.container.InputContainer | None) -> None:
        """Close once (closing twice is harmless in PyAV); a broken connection must not end the reader."""
        self._expect(math.inf)
        if container is None:
            return
        try:
            container.close()
        except Exception as exc:
            self._log.debug("camera %s: closing failed: %s", self.id, exc)

    def _lost(self, stop: threading.Event, spec: OpenSpec | None, exc: Exception, backoff: Backoff) -> None:
        """Report a failure (once per change) and wait before the next attempt."""
        secrets = spec.secrets if spec is not None else ()
        if isinstance(exc, _Lost):
            message, permanent = str(exc), False
        elif spec is None:
            message, permanent = scrub(f"{type(exc).__name__}: {exc}", secrets), True
        else:
            message, permanent = describe_error(exc, spec), is_permanent(exc, spec)
        if self.live_since is not None and time.monotonic() - self.live_since >= STABLE_S:
            backoff.reset()  # it worked for a while: a new failure, retried soon
        self.live_since = None
        delay = self.config.reconnect_max_s if permanent else backoff.next()
        state: CameraState = "failed" if permanent else "reconnecting"
        self._set_state(stop, state, message, f"retrying in {delay:.0f} s")
        self._expect(delay + STUCK_SLACK_S)
        stop.wait(delay)

    def _read(
        self,
        container: av.container.InputContainer,
        spec: OpenSpec,
        stop: threading.Event,
        backoff: Backoff,
        malformed: RateLimitedLog,
    ) -> str:
        """Decode until the source ends or fails; returns "ended", "stopped" or "reopen", or raises."""
        stall_s = self.config.stall_timeout_s
        stream = container.streams.video[0]
        codec = stream.codec_context
        if codec.name == "mjpeg":
            # Each JPEG stands alone: a torn one is rejected whole (FFmpeg would otherwise hand out a
            # half-grey picture without a word), and the next one decodes cleanly.
            codec.options = {"err_detect": "explode"}
        self.codec = codec.name
        pace = spec.kind in ("file", "lavfi") and self.source.realtime
        clock: tuple[float, float] | None = None  # (monotonic, pts_s) that pacing counts from
        last_picture = time.monotonic()
        while True:
            try:
                for packet in container.demux(stream):
                    if stop.is_set():
                        return "stopped"
                    self._expect(stall_s + STUCK_SLACK_S)
                    try:
                        frames = packet.decode()
                    except av.error.FFmpegError as exc:
                        self.undecodable += 1
                        malformed.warning("undecodable", f"camera {self.id} ({spec.public_url}): undecodable "
                                          f"frame skipped ({describe_error(exc, spec)})")
                        frames = []
                    for frame in frames:
                        now = time.monotonic()
                        pts_s = frame.time
                        if pace and pts_s is not None:
                            if clock is None or pts_s < clock[1]:
                                clock = (now, pts_s)  # first frame, or the file looped
                            due = clock[0] + (pts_s - clock[1])
                            if due - now > MAX_GAP_S:
                                clock = (now, pts_s)  # a hole in the file's timestamps: do not sit in it
                            elif due > now:
                                self._expect(due - now + STUCK_SLACK_S)
                                if stop.wait(due - now):
                                    return "stopped"
                                now = time.monotonic()
                            elif now - due > BEHIND_RESYNC_S:
                                clock = (now, pts_s)
                        image = frame.to_ndarray(format="rgb24")
                        image.flags.writeable = False
                        self._push(stop, image, now, pts_s, backoff)
                        last_picture = now
                    if not frames and time.monotonic() - last_picture > stall_s:
                        raise _Lost(f"no picture for {stall_s:g} s (data arrives but does not decode)")
            except av.error.ExitError:
                raise _Lost(f"no data from the camera for {stall_s:g} s") from None
            except av.error.FFmpegError as exc:
                raise _Lost(f"read failed: {describe_error(exc, spec)}") from None
            if stop.is_set():
                return "stopped"
            if spec.live:
                raise _Lost("the camera closed the stream")
            if not self.source.loop:
                return "ended"
            try:
                container.seek(0)
                codec.flush_buffers()
            except av.error.FFmpegError:
                return "reopen"
            clock = None
            last_picture = time.monotonic()

    def _push(self, stop: threading.Event, image: Any, captured: float, pts_s: float | None, backoff: Backoff) -> None:
        """Put a frame in the one-slot mailbox, replacing (and counting) an unpublished one."""
        height, width = image.shape[0], image.shape[1]
        went_live = False
        with self._lock:
            if stop is not self._stop:
                return  # an abandoned thread that FFmpeg finally let go of
            self.frames += 1
            frame = CameraFrame(camera=self.id, seq=self.frames, width=width, height=height, image=image,
                                captured=captured, pts_s=pts_s)
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self._recent.append(captured)
            schedule = not self._scheduled
            self._scheduled = True
            if self.state != "live" or (width, height) != (self.width, self.height):
                went_live = True
        if went_live:
            self.width, self.height = width, height
            if self.state != "live":
                if self.state in ("reconnecting", "failed") and self.frames > 1:
                    self.reconnects += 1
                self.live_since = captured
            self._set_state(stop, "live", None, f"{width}x{height} {self.codec}")
        if schedule:
            self._call_soon(self._flush)

    def _set_state(self, stop: threading.Event, state: CameraState, error: str | None, how: str = "") -> None:
        """Record a state change, log it in one line and publish a status from the loop."""
        if stop is not self._stop or (state, error) == (self.state, self.error):
            return
        previous, self.state, self.error = self.state, state, error
        where = f"camera {self.id} ({self.public_url})"
        if state == "live":
            again = f" again after {self.reconnects} reconnect{'s' if self.reconnects != 1 else ''}" \
                if previous in ("reconnecting", "failed") and self.reconnects else ""
            self._log.info("%s: live%s, %s", where, again, how)
        elif state == "ended":
            self._log.info("%s: end of the video (loop is off): not reconnecting", where)
        else:
            self._log.warning("%s: %s: %s; %s", where, state, error, how)
        self._call_soon(self._changed)

    def _call_soon(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:
            pass  # the loop is closed: the daemon is stopping

    def _expect(self, within_s: float) -> None:
        self._deadline = time.monotonic() + within_s


class CameraDriver(Component):
    """Reads every configured camera and keeps their health on the bus."""

    name = "cameras"
    kind = "driver"
    heartbeat_timeout_s = 20.0
    ready_on_heartbeat = False

    def __init__(self, config: CamerasConfig) -> None:
        self.config = config
        self.readers: dict[str, CameraReader] = {s.id: CameraReader(s, config) for s in config.sources}
        self._reason: str | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        loop = asyncio.get_running_loop()

        def changed(reader: CameraReader) -> None:
            ctx.bus.publish(reader.status())
            self._update_state(ctx)

        for reader in self.readers.values():
            ctx.log.info("camera %s: opening %s", reader.id, reader.public_url)
            reader.start(loop, ctx.bus.publish, changed, ctx.log)
        try:
            next_status = loop.time()
            while True:
                ctx.heartbeat()
                now = time.monotonic()
                for reader in self.readers.values():
                    if reader.check_stuck(now):
                        ctx.bus.publish(reader.status())
                self._update_state(ctx)
                if loop.time() >= next_status:
                    for reader in self.readers.values():
                        ctx.bus.publish(reader.status())
                    next_status = loop.time() + STATUS_EVERY_S
                await asyncio.sleep(TICK_S)
        finally:
            await self._stop_readers(ctx)

    async def _stop_readers(self, ctx: ComponentContext) -> None:
        """Stop every reader; each closes its own container. Threads FFmpeg still holds are left to end alone."""
        for reader in self.readers.values():
            reader.stop()
        deadline = time.monotonic() + STOP_JOIN_S
        # Threads cannot be awaited; polling keeps the loop free for the rest of the daemon's shutdown.
        while any(r.alive for r in self.readers.values()) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        for reader in self.readers.values():
            if reader.alive:
                ctx.log.warning("camera %s: reader still inside FFmpeg; it ends by itself within %.0f s",
                                reader.id, self.config.open_timeout_s + self.config.stall_timeout_s)

    def _update_state(self, ctx: ComponentContext) -> None:
        """ok when every camera delivers (or a video ended), degraded with the reasons otherwise."""
        readers = list(self.readers.values())
        problems = [f"camera {r.id} {r.state}: {r.error}" for r in readers if r.state in ("reconnecting", "failed")]
        if problems:
            reason = "; ".join(problems)
            if ctx.state != "degraded" or reason != self._reason:
                ctx.degraded(reason)
            self._reason = reason
        elif all(r.state in ("live", "ended") for r in readers):
            self._reason = None
            if ctx.state != "ok":
                ctx.ok()

    def status(self, camera: str) -> CameraStatus:
        return self.readers[camera].status()

    # -- self test --------------------------------------------------------------------------------------
    async def self_test(self) -> SelfTestResult:
        """Each camera's state, rate and size; ok only when every camera delivers pictures."""
        parts: list[str] = []
        data: dict[str, Any] = {}
        for reader in self.readers.values():
            st = reader.status()
            size = f" {st.width}x{st.height}" if st.width else ""
            line = f"{st.camera}: {st.state}"
            line += f" {st.fps:.1f} fps{size}" if st.state == "live" else (f" ({st.error})" if st.error else "")
            parts.append(line)
            data[st.camera] = {
                "state": st.state, "source": st.source, "fps": st.fps, "frames": st.frames, "dropped": st.dropped,
                "reconnects": st.reconnects, "width": st.width, "height": st.height, "codec": st.codec,
                "error": st.error, "undecodable": reader.undecodable,
            }
        ok = all(r.state == "live" for r in self.readers.values())
        return SelfTestResult(ok, "; ".join(parts), data)


__all__ = ["CameraDriver", "CameraReader", "SourceError"]
