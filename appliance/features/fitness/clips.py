"""Short clips a teacher saves at a station, with the count they saw: the school's own evaluation set.

Counting rules are tuned on the school's playground, not only on lab videos: when a teacher disagrees with
the machine, the last seconds at that camera are saved with the teacher's count, and later replayed through
the same analysis to see whether a change helps.

* :class:`ClipBuffer` keeps the last N seconds of one camera as JPEG (not raw RGB: 20 s of 640×480 at 15 fps is
  ~275 MB raw and ~12 MB as JPEG), so it can run all lesson long on a small box. ``add`` is called for every
  analysed frame, from the camera's analysis thread; it is thread-safe and costs about a millisecond.
* :func:`save_clip` writes ``<dest>/<clip_id>/clip.mkv`` (the buffered JPEGs muxed as MJPEG without
  re-encoding, with their real timestamps, so a replay sees the camera's own timing and quality) and
  ``clip.json`` (what the teacher saw and how the station was drawn). It writes into a hidden temporary folder
  and renames it: a power cut leaves a whole clip or none, never a video without its count.
* :func:`list_clips`, :func:`read_clip` and :func:`delete_older_than` read them back and keep the disk bounded.

Clips hold pictures of minors: they stay on this box (nothing here uploads anything).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import secrets
import shutil
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

log = logging.getLogger("classroom.fitness")

VIDEO_NAME = "clip.mkv"
META_NAME = "clip.json"
TMP_PREFIX = ".tmp-"
STALE_TMP_S = 3600.0  # a temporary folder this old is what a crash left behind
TIME_BASE = Fraction(1, 1000)  # Matroska's own millisecond clock
CLIP_FORMAT = 1


@dataclass(frozen=True)
class BufferedFrame:
    """One JPEG-encoded frame and the ``time.monotonic()`` it was captured at."""

    ts: float
    jpeg: bytes
    width: int
    height: int


class ClipBuffer:
    """The last ``seconds`` of one camera, JPEG-encoded, bounded in frames and in bytes.

    Frames closer together than ~1/``max_fps`` are skipped before encoding (a 30 fps camera costs no more
    than a 15 fps one), and frames older than ``seconds`` behind the newest are dropped, as are the oldest
    ones when ``max_bytes`` would be exceeded (a 4K camera cannot blow the memory budget).
    """

    def __init__(
        self,
        seconds: float = 20.0,
        max_fps: float = 15.0,
        quality: int = 80,
        max_bytes: int | None = None,
        camera: str | None = None,
    ) -> None:
        if seconds <= 0 or max_fps <= 0:
            raise ValueError("a clip buffer needs seconds > 0 and max_fps > 0")
        self.seconds = float(seconds)
        self.max_fps = float(max_fps)
        self.quality = int(quality)
        self.camera = camera
        self.max_frames = math.ceil(self.seconds * self.max_fps) + 1
        # ~80 KB a frame: twice a 640×480 playground frame at quality 80, room for a 720p camera
        self.max_bytes = max_bytes if max_bytes is not None else self.max_frames * 80_000
        # jitter tolerance: a 15 fps camera arriving at 14.6 fps must not lose every other frame
        self._min_interval = 0.8 / self.max_fps
        self._frames: deque[BufferedFrame] = deque()
        self._bytes = 0
        self.skipped = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Bytes of JPEG held now."""
        with self._lock:
            return self._bytes

    @property
    def duration_s(self) -> float:
        with self._lock:
            return self._frames[-1].ts - self._frames[0].ts if len(self._frames) > 1 else 0.0

    def _wanted(self, ts: float) -> bool:
        last = self._frames[-1].ts if self._frames else None
        return last is None or ts - last >= self._min_interval

    def add(self, image_rgb: np.ndarray, ts: float) -> None:
        """Keep ``image_rgb`` (height × width × 3, uint8, RGB) captured at monotonic ``ts``, unless too soon.

        Frames too close to the last one kept (or older than it) are counted in ``skipped``, not encoded.
        """
        with self._lock:
            if not self._wanted(ts):
                self.skipped += 1
                return
        jpeg = encode_jpeg(image_rgb, self.quality)  # outside the lock: the slow part
        frame = BufferedFrame(ts, jpeg, int(image_rgb.shape[1]), int(image_rgb.shape[0]))
        with self._lock:
            if not self._wanted(ts):  # another thread added a frame meanwhile
                self.skipped += 1
                return
            self._frames.append(frame)
            self._bytes += len(jpeg)
            while self._frames and (
                ts - self._frames[0].ts > self.seconds
                or len(self._frames) > self.max_frames
                or (self._bytes > self.max_bytes and len(self._frames) > 1)
            ):
                self._bytes -= len(self._frames.popleft().jpeg)

    def snapshot(self, seconds: float | None = None) -> list[BufferedFrame]:
        """A copy of the buffered frames, oldest first (only the last ``seconds`` when given)."""
        with self._lock:
            frames = list(self._frames)
        if seconds is not None and frames:
            frames = [f for f in frames if frames[-1].ts - f.ts <= seconds]
        return frames

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0


def encode_jpeg(image_rgb: np.ndarray, quality: int = 80) -> bytes:
    """RGB array to JPEG bytes (OpenCV works in BGR)."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (h, w, 3), got {image_rgb.dtype} {image_rgb.shape}")
    bgr = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


@dataclass(frozen=True)
class ClipInfo:
    """A saved clip: its id (the folder name), its folder, and everything ``clip.json`` says."""

    clip_id: str
    path: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def video(self) -> Path:
        return self.path / VIDEO_NAME

    @property
    def station_id(self) -> str | None:
        return self.meta.get("station_id")

    @property
    def exercise(self) -> str | None:
        return self.meta.get("exercise")

    @property
    def observed_count(self) -> int | None:
        return self.meta.get("observed_count")

    @property
    def recorded_at(self) -> str | None:
        return self.meta.get("recorded_at")

    @property
    def duration_s(self) -> float | None:
        return self.meta.get("duration_s")

    @property
    def frames(self) -> int | None:
        return self.meta.get("frames")


def _check_meta(meta: Mapping[str, Any]) -> None:
    """Refuse a clip the evaluation could not use: no count, or a region outside the picture."""
    count = meta.get("observed_count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError("observed_count must be the teacher's count, a whole number >= 0")

    def fraction(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= float(v) <= 1.0

    region = meta.get("region")
    if region is not None and not (
        isinstance(region, list | tuple)
        and all(isinstance(p, list | tuple) and len(p) == 2 and all(fraction(c) for c in p) for p in region)
    ):
        raise ValueError("region must be a polygon of [x, y] fractions of the picture (0..1)")
    bar_y = meta.get("bar_y")
    if bar_y is not None and not fraction(bar_y):
        raise ValueError("bar_y must be a fraction of the picture height (0..1)")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:32] or "clip"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_video(path: Path, frames: list[BufferedFrame], frame_s: float) -> None:
    """Mux the JPEGs as an MJPEG track, pts in milliseconds from the first frame (no re-encoding)."""
    t0 = frames[0].ts
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_mux_stream("mjpeg", width=frames[0].width, height=frames[0].height, time_base=TIME_BASE)
        last_pts = -1
        for frame in frames:
            pts = max(round((frame.ts - t0) * 1000), last_pts + 1)
            packet = av.Packet(frame.jpeg)
            packet.pts = packet.dts = pts
            packet.duration = max(1, round(frame_s * 1000))
            packet.time_base = TIME_BASE
            packet.is_keyframe = True
            packet.stream = stream
            out.mux(packet)
            last_pts = pts
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def save_clip(
    buffer: ClipBuffer, dest_dir: Path | str, meta: Mapping[str, Any], seconds: float | None = None
) -> Path:
    """Blocking: save the buffered frames (the last ``seconds``, default all) as a clip; returns its folder.

    ``meta`` must hold ``observed_count`` (the teacher's count); it usually holds ``station_id``,
    ``exercise``, ``camera``, ``region`` (polygon as fractions) and ``bar_y``, and may hold anything else
    JSON can carry. ``frames``, ``fps``, ``duration_s``, ``width``, ``height`` and ``recorded_at`` (ISO time
    of the first frame, unless given) are filled from the frames themselves.
    """
    _check_meta(meta)
    frames = buffer.snapshot(seconds)
    if not frames:
        raise ValueError("no frames buffered at this camera")
    if len({(f.width, f.height) for f in frames}) > 1:  # the camera changed resolution: keep the last run
        size = (frames[-1].width, frames[-1].height)
        start = max(i for i, f in enumerate(frames) if (f.width, f.height) != size) + 1
        frames = frames[start:]
    intervals = [b.ts - a.ts for a, b in itertools.pairwise(frames)]
    frame_s = statistics.median(intervals) if intervals else 1.0 / buffer.max_fps
    span = frames[-1].ts - frames[0].ts
    wall_start = time.time() - (time.monotonic() - frames[0].ts)

    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    station = str(meta.get("station_id") or meta.get("station") or buffer.camera or "clip")
    stamp = datetime.fromtimestamp(wall_start).strftime("%Y%m%d-%H%M%S")
    clip_id = f"{stamp}-{_slug(station)}-{secrets.token_hex(3)}"
    record: dict[str, Any] = {"camera": buffer.camera}
    record.update(meta)
    record.update({
        "clip_id": clip_id,
        "format": CLIP_FORMAT,
        "video": VIDEO_NAME,
        "frames": len(frames),
        "fps": round((len(frames) - 1) / span, 3) if span > 0 else round(1.0 / frame_s, 3),
        "duration_s": round(span + frame_s, 3),
        "width": frames[-1].width,
        "height": frames[-1].height,
    })
    if not record.get("recorded_at"):
        record["recorded_at"] = datetime.fromtimestamp(wall_start, UTC).astimezone().isoformat(
            timespec="milliseconds")

    tmp = dest / f"{TMP_PREFIX}{clip_id}"
    final = dest / clip_id
    tmp.mkdir()
    try:
        _write_video(tmp / VIDEO_NAME, frames, frame_s)
        with open(tmp / META_NAME, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=2, default=str)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, final)  # the clip appears whole, or not at all
        _fsync_dir(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("fitness: clip %s saved (%d frames, %.1f s, observed count %s)", clip_id, len(frames),
             record["duration_s"], record.get("observed_count"))
    return final


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("fitness: clip %s has an unreadable %s (%s): skipped", folder.name, META_NAME, exc)
        return None
    return data if isinstance(data, dict) else None


def list_clips(clips_dir: Path | str) -> list[ClipInfo]:
    """Complete clips (video and metadata both present), oldest first; temporary folders are not clips."""
    root = Path(clips_dir)
    if not root.is_dir():
        return []
    clips: list[ClipInfo] = []
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir() or not (entry / VIDEO_NAME).is_file():
            continue
        meta = _read_meta(entry)
        if meta is not None:
            clips.append(ClipInfo(entry.name, entry, meta))
    clips.sort(key=lambda c: (str(c.meta.get("recorded_at") or ""), c.clip_id))
    return clips


def read_clip(path: Path | str) -> Iterator[tuple[float, np.ndarray]]:
    """Replay a clip: (seconds since its first frame, RGB frame), in order. ``path`` is the folder or the video."""
    video = Path(path)
    if video.is_dir():
        video = video / VIDEO_NAME
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        first: float | None = None
        for frame in container.decode(stream):
            t = frame.time if frame.time is not None else 0.0
            first = t if first is None else first
            yield round(t - first, 6), frame.to_ndarray(format="rgb24")


def _clip_time(folder: Path, meta: Mapping[str, Any] | None) -> float:
    """When a clip was recorded, as a Unix time: its metadata, or the file time if that is unreadable."""
    recorded = meta.get("recorded_at") if meta else None
    if isinstance(recorded, str):
        try:
            when = datetime.fromisoformat(recorded)
            if when.tzinfo is None:
                when = when.astimezone()
            return when.timestamp()
        except ValueError:
            pass
    try:
        return max(p.stat().st_mtime for p in [folder, *folder.iterdir()])
    except (OSError, ValueError):
        return time.time()


def delete_older_than(clips_dir: Path | str, days: float, now: float | None = None) -> list[str]:
    """Delete clips recorded more than ``days`` ago, and what a crash left half-written; returns deleted ids."""
    root = Path(clips_dir)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    cutoff = now - timedelta(days=days).total_seconds()
    deleted: list[str] = []
    for entry in sorted(root.iterdir()):
        if not entry.is_dir():
            continue
        if entry.name.startswith(TMP_PREFIX):
            try:
                stale = now - entry.stat().st_mtime > STALE_TMP_S
            except OSError:
                continue
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if entry.name.startswith("."):
            continue
        if _clip_time(entry, _read_meta(entry)) < cutoff:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                deleted.append(entry.name)
    if deleted:
        log.info("fitness: %d clip%s older than %g days deleted", len(deleted), "" if len(deleted) == 1 else "s", days)
    return deleted
