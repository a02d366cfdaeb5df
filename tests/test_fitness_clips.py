"""Saved clips: the ring buffer stays bounded, a clip replays what was buffered, saving is all-or-nothing."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from appliance.features.fitness import clips as clips_mod
from appliance.features.fitness.clips import ClipBuffer, delete_older_than, list_clips, read_clip, save_clip

META = {"station_id": "rope-1", "exercise": "rope_skip", "observed_count": 42, "camera": "mats",
        "region": [[0.1, 0.2], [0.9, 0.2], [0.9, 0.95], [0.1, 0.95]], "bar_y": None, "note": "two misses"}


def pictures(n: int, size: str = "320x240") -> list[np.ndarray]:
    """Real, changing pictures from FFmpeg's test source (JPEG behaves on them as on a camera's)."""
    out: list[np.ndarray] = []
    with av.open(f"testsrc2=size={size}:rate=15", format="lavfi") as src:
        for frame in src.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) >= n:
                break
    return out


def filled(n: int = 30, fps: float = 15.0, size: str = "320x240") -> tuple[ClipBuffer, list[np.ndarray], list[float]]:
    buf = ClipBuffer(seconds=20, max_fps=fps, camera="mats")
    imgs = pictures(n, size)
    start = time.monotonic() - n / fps
    stamps = [start + i / fps + (0.004 if i % 3 == 1 else 0.0) for i in range(n)]  # a little camera jitter
    for img, ts in zip(imgs, stamps, strict=True):
        buf.add(img, ts)
    assert len(buf) == n and buf.skipped == 0
    return buf, imgs, stamps


def test_clip_round_trip(tmp_path: Path) -> None:
    buf, imgs, stamps = filled(30)
    path = save_clip(buf, tmp_path, META)
    assert path.parent == tmp_path and (path / "clip.mkv").is_file() and (path / "clip.json").is_file()

    replay = list(read_clip(path))
    assert len(replay) == 30
    for (t, img), ts, original in zip(replay, stamps, imgs, strict=True):
        assert abs(t - (ts - stamps[0])) < 0.0015  # millisecond clock in the file
        assert img.shape == original.shape and img.dtype == np.uint8
        diff = np.abs(img.astype(np.int16) - original.astype(np.int16))
        assert diff.mean() < 3.0, diff.mean()  # JPEG at quality 80
    assert [t for t, _ in read_clip(path / "clip.mkv")] == [t for t, _ in replay]

    # the buffered JPEGs were muxed as they are, not encoded a second time
    with av.open(str(path / "clip.mkv")) as c:
        assert c.streams.video[0].codec_context.name == "mjpeg"
        muxed = [bytes(p) for p in c.demux(video=0) if p.size]
    assert muxed == [f.jpeg for f in buf.snapshot()]

    meta = json.loads((path / "clip.json").read_text())
    for key, value in META.items():
        assert meta[key] == value
    assert meta["clip_id"] == path.name and "rope-1" in path.name
    assert meta["frames"] == 30 and meta["width"] == 320 and meta["height"] == 240
    assert meta["fps"] == pytest.approx(15.0, rel=0.02)
    assert meta["duration_s"] == pytest.approx(2.0, abs=0.05)
    recorded = datetime.fromisoformat(meta["recorded_at"])
    assert abs(recorded.timestamp() - (time.time() - 2.0)) < 5

    [info] = list_clips(tmp_path)
    assert (info.clip_id, info.station_id, info.observed_count, info.frames) == (path.name, "rope-1", 42, 30)
    assert info.video == path / "clip.mkv" and info.meta["note"] == "two misses"


def test_save_last_seconds_and_refusals(tmp_path: Path) -> None:
    buf, _, _ = filled(30)
    path = save_clip(buf, tmp_path, {**META, "observed_count": 3}, seconds=1.0)
    assert 14 <= len(list(read_clip(path))) <= 16
    with pytest.raises(ValueError, match="observed_count"):
        save_clip(buf, tmp_path, {"station_id": "rope-1"})
    with pytest.raises(ValueError, match="observed_count"):
        save_clip(buf, tmp_path, {**META, "observed_count": True})
    with pytest.raises(ValueError, match="region"):
        save_clip(buf, tmp_path, {**META, "region": [[0.1, 1.5]]})
    with pytest.raises(ValueError, match="no frames"):
        save_clip(ClipBuffer(), tmp_path, META)
    assert len(list_clips(tmp_path)) == 1


def test_ring_buffer_is_bounded_in_time_frames_and_bytes() -> None:
    imgs = pictures(20, "640x480")
    buf = ClipBuffer(seconds=2.0, max_fps=15)
    t0 = 1000.0
    for i in range(300):  # a 30 fps camera for 10 s
        buf.add(imgs[i % 20], t0 + i / 30)
    assert buf.skipped == 150  # every other frame skipped before encoding
    frames = buf.snapshot()
    assert len(frames) <= buf.max_frames and len(buf) == len(frames)
    assert frames[-1].ts - frames[0].ts <= 2.0 and buf.duration_s == pytest.approx(2.0, abs=0.1)
    per_frame = buf.nbytes / len(frames)
    assert per_frame < 80_000, per_frame  # ~20 s × 15 fps × this is the whole budget
    # a tight byte budget wins over the time window
    small = ClipBuffer(seconds=20, max_fps=15, max_bytes=int(per_frame * 5))
    for i in range(60):
        small.add(imgs[i % 20], t0 + i / 15)
    assert small.nbytes <= int(per_frame * 5) + 10_000 and len(small) <= 6


def test_ring_buffer_from_several_threads() -> None:
    imgs = pictures(8)
    buf = ClipBuffer(seconds=1.0, max_fps=15)
    clock = iter(1000.0 + i / 60 for i in range(100_000))
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(120):
                with lock:
                    ts = next(clock)
                buf.add(imgs[i % 8], ts)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ts = [f.ts for f in buf.snapshot()]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert ts[-1] - ts[0] <= 1.0 and len(ts) <= buf.max_frames
    assert buf.nbytes == sum(len(f.jpeg) for f in buf.snapshot())


def test_a_failed_save_leaves_no_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf, _, _ = filled(10)

    def broken(path: Path, frames: object, frame_s: float) -> None:
        path.write_bytes(b"\x1a\x45\xdf\xa3 half a matroska header")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clips_mod, "_write_video", broken)
    with pytest.raises(OSError, match="No space"):
        save_clip(buf, tmp_path, META)
    assert list(tmp_path.iterdir()) == []
    assert list_clips(tmp_path) == []


def test_a_clip_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    buf, _, _ = filled(45)
    seen_partial: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for entry in tmp_path.iterdir():
                if entry.name.startswith("."):
                    continue
                names = {p.name for p in entry.iterdir()} if entry.is_dir() else set()
                if names != {"clip.mkv", "clip.json"}:
                    seen_partial.append(f"{entry.name}: {sorted(names)}")
            for info in list_clips(tmp_path):
                if info.observed_count != 42:
                    seen_partial.append(info.clip_id)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(5):
            save_clip(buf, tmp_path, META)
    finally:
        done.set()
        watcher.join()
    assert not seen_partial
    assert len(list_clips(tmp_path)) == 5
    # what a power cut mid-save leaves (a hidden temporary folder) is never listed, and is cleaned up later
    crashed = tmp_path / ".tmp-20250101-000000-rope-1-abcdef"
    crashed.mkdir()
    (crashed / "clip.mkv").write_bytes(b"partial")
    assert len(list_clips(tmp_path)) == 5
    delete_older_than(tmp_path, 365)
    assert crashed.exists()  # might still be being written
    old = time.time() - 2 * 3600
    os.utime(crashed, (old, old))
    delete_older_than(tmp_path, 365)
    assert not crashed.exists() and len(list_clips(tmp_path)) == 5


def test_old_clips_are_pruned(tmp_path: Path) -> None:
    buf, _, _ = filled(5)
    keep = save_clip(buf, tmp_path, META)
    old = save_clip(buf, tmp_path, {**META, "recorded_at": (datetime.now().astimezone() - timedelta(days=400)).isoformat()})
    broken = save_clip(buf, tmp_path, META)
    (broken / "clip.json").write_text("{not json")
    long_ago = time.time() - 500 * 86400
    for p in [broken, *broken.iterdir()]:
        os.utime(p, (long_ago, long_ago))
    assert {c.clip_id for c in list_clips(tmp_path)} == {keep.name, old.name}  # unreadable metadata: not a clip

    deleted = delete_older_than(tmp_path, 365)
    assert sorted(deleted) == sorted([old.name, broken.name])
    assert [c.clip_id for c in list_clips(tmp_path)] == [keep.name]
    assert delete_older_than(tmp_path, 365) == []
    assert delete_older_than(tmp_path / "missing", 1) == []
