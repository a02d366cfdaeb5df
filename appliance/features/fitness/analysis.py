"""Per-camera analysis: always the newest frame, one pose pass at a time, in a worker thread.

The camera driver publishes every decoded frame; this keeps only the latest per camera. While the
pose models work on one frame, newer ones replace each other in the one-frame slot and are counted
as dropped: the counters always see the present, never a queue of stale pictures. Each camera has
its own thread and its own models (LiteRT interpreters are not shared between threads).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from appliance.events import CameraFrame, CameraStatus

log = logging.getLogger("classroom.fitness")


class Tracker(Protocol):
    def update(self, image_rgb: np.ndarray, ts: float) -> Sequence[Any]: ...


class FrameSink(Protocol):
    def add(self, image_rgb: np.ndarray, ts: float) -> None: ...


@dataclass
class CameraStats:
    frames_in: int = 0
    analysed: int = 0
    dropped: int = 0  # frames replaced in the slot before the models took them
    infer_ms: float = 0.0  # moving average of a whole pose pass
    people: int = 0
    fps_analysed: float = 0.0
    _window: list[float] = field(default_factory=list)

    def analysed_one(self, infer_s: float, people: int) -> None:
        now = time.monotonic()
        self.analysed += 1
        self.people = people
        ms = infer_s * 1000
        self.infer_ms = ms if self.analysed == 1 else 0.8 * self.infer_ms + 0.2 * ms
        self._window.append(now)
        while self._window and now - self._window[0] > 3.0:
            self._window.pop(0)
        span = self._window[-1] - self._window[0] if len(self._window) > 1 else 0.0
        self.fps_analysed = (len(self._window) - 1) / span if span > 0 else 0.0


class CameraAnalyzer:
    """Owns one camera's slot, worker thread and tracker; calls ``on_poses`` on the loop after each pass."""

    def __init__(
        self, camera: str, tracker_factory: Callable[[], Tracker], max_fps: float,
        on_poses: Callable[[CameraFrame, Sequence[Any]], None], clip_sink: FrameSink | None = None,
        idle_fps: float | None = None, busy: Callable[[], bool] | None = None,
    ) -> None:
        self.camera = camera
        self._tracker_factory = tracker_factory
        self._tracker: Tracker | None = None
        self.min_interval = 1.0 / max_fps
        # While nobody is being counted on this camera, a slower pace is enough for presence and skeletons.
        self.idle_interval = 1.0 / idle_fps if idle_fps else self.min_interval
        self.busy = busy or (lambda: True)
        self.on_poses = on_poses
        self.clip_sink = clip_sink
        self.stats = CameraStats()
        self.status: CameraStatus | None = None
        self.latest: CameraFrame | None = None  # the newest frame, analysed or not (snapshots use it)
        self._pending: CameraFrame | None = None
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pose-{camera}")
        self.error: str | None = None

    def offer(self, frame: CameraFrame) -> None:
        self.stats.frames_in += 1
        self.latest = frame
        if self._pending is not None:
            self.stats.dropped += 1
        self._pending = frame
        self._wake.set()

    def _analyse(self, frame: CameraFrame) -> tuple[Sequence[Any], float]:
        if self._tracker is None:
            self._tracker = self._tracker_factory()
        started = time.perf_counter()
        poses = self._tracker.update(frame.image, frame.captured)
        took = time.perf_counter() - started
        if self.clip_sink is not None:
            self.clip_sink.add(frame.image, frame.captured)
        return poses, took

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        last_start = 0.0
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                interval = self.min_interval if self.busy() else max(self.min_interval, self.idle_interval)
                wait = last_start + interval - time.monotonic()
                if wait > 0:  # over the pace: let newer frames replace this one meanwhile
                    await asyncio.sleep(wait)
                frame, self._pending = self._pending, None
                if frame is None:
                    continue
                last_start = time.monotonic()
                try:
                    poses, took = await loop.run_in_executor(self._executor, self._analyse, frame)
                except Exception as exc:  # a bad frame or a model error: say it once, keep the camera going
                    if self.error != repr(exc):
                        log.error("fitness: pose analysis failed on camera %s: %r", self.camera, exc)
                    self.error = repr(exc)
                    await asyncio.sleep(1.0)
                    continue
                self.error = None
                self.stats.analysed_one(took, len(poses))
                self.on_poses(frame, poses)
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def to_json(self) -> dict[str, Any]:
        st = self.status
        return {"camera": self.camera, "name": st.name if st else self.camera,
                "state": st.state if st else "absent", "fps_in": round(st.fps, 1) if st else 0.0,
                "fps_analysed": round(self.stats.fps_analysed, 1), "infer_ms": round(self.stats.infer_ms, 1),
                "dropped": self.stats.dropped + (st.dropped if st else 0), "people": self.stats.people,
                "width": st.width if st else None, "height": st.height if st else None,
                "error": self.error or (st.error if st else None)}
