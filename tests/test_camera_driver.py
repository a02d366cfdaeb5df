"""The camera driver on real PyAV: FFmpeg test sources, a real video file, and an HTTP MJPEG camera simulator.

Nothing of PyAV is mocked: frames go through FFmpeg's demuxers and decoders, and the simulator is a real
``multipart/x-mixed-replace`` server, so the HTTP tests exercise the wire path of a playground camera.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from appliance.bus import Bus
from appliance.component import ComponentContext
from appliance.config.schema import CamerasConfig
from appliance.events import CameraFrame, CameraStatus
from drivers.camera import CameraDriver
from drivers.camera.simulator import MjpegCameraSimulator
from drivers.camera.source import build_spec, redact_url, scrub, with_password

from conftest import free_port

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
needs_vtest = pytest.mark.skipif(not VTEST.is_file(), reason="opencv-doc's vtest.avi is not installed")
FAST = {"open_timeout_s": 2.0, "stall_timeout_s": 1.5, "reconnect_max_s": 1.0}


class Harness:
    """A running driver with a bus, a context and everything it published."""

    def __init__(self, config: CamerasConfig) -> None:
        self.driver = CameraDriver(config)
        self.bus = Bus()
        self.states: list[tuple[str, str | None]] = []
        self.ctx = ComponentContext("cameras", self.bus, None, None, lambda s, r: self.states.append((s, r)),
                                    ready_on_heartbeat=False)
        self.frames: list[CameraFrame] = []
        self.statuses: list[CameraStatus] = []
        self._frame_sub = self.bus.subscribe(CameraFrame, maxsize=1, name="test-frames")
        self._status_sub = self.bus.subscribe(CameraStatus, maxsize=10_000, name="test-status")
        self.task: asyncio.Task[None] | None = None
        self._collectors: list[asyncio.Task[None]] = []

    async def _collect_frames(self) -> None:
        async for ev in self._frame_sub:
            self.frames.append(ev)

    async def _collect_statuses(self) -> None:
        async for ev in self._status_sub:
            self.statuses.append(ev)

    def start(self, collect_frames: bool = True) -> None:
        self.task = asyncio.create_task(self.driver.run(self.ctx))
        self._collectors = [asyncio.create_task(self._collect_statuses())]
        if collect_frames:
            self._collectors.append(asyncio.create_task(self._collect_frames()))

    async def stop(self) -> float:
        """Cancel the driver; returns how long it took to close its sources and join its threads."""
        started = time.monotonic()
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        took = time.monotonic() - started
        for t in self._collectors:
            t.cancel()
        await asyncio.gather(*self._collectors, return_exceptions=True)
        self._frame_sub.close()
        self._status_sub.close()
        return took

    def frames_of(self, camera: str) -> list[CameraFrame]:
        return [f for f in self.frames if f.camera == camera]

    def last_status(self, camera: str) -> CameraStatus:
        return self.driver.status(camera)


@asynccontextmanager
async def running(config: CamerasConfig, collect_frames: bool = True) -> AsyncIterator[Harness]:
    h = Harness(config)
    h.start(collect_frames)
    try:
        yield h
    finally:
        took = await h.stop()
        assert took < 2.0, f"stopping took {took:.2f} s"
        assert not any(r.alive for r in h.driver.readers.values()), "reader threads still running"


def cameras(*sources: dict[str, Any], **kw: Any) -> CamerasConfig:
    return CamerasConfig(sources=list(sources), **{**FAST, **kw})


async def wait_until(predicate: Callable[[], Any], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(0.02)


def short_copy(dest: Path, frames: int) -> Path:
    """The first ``frames`` packets of vtest.avi, remuxed without re-encoding (a short real file)."""
    with av.open(str(VTEST)) as src, av.open(str(dest), "w") as out:
        stream = src.streams.video[0]
        ostream = out.add_stream_from_template(stream)
        n = 0
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = ostream
            out.mux(packet)
            n += 1
            if n >= frames:
                break
    return dest


# -- sources ------------------------------------------------------------------------------------------
async def test_lavfi_source_delivers_frames_of_the_configured_size() -> None:
    config = cameras({"id": "mats", "name": "垫子区", "url": "lavfi:testsrc2=size=320x240:rate=25"})
    async with running(config) as h:
        await wait_until(lambda: len(h.frames) >= 10, 5, "ten frames")
        await wait_until(lambda: h.ctx.state == "ok", 2, "the driver to be ok")
        frame = h.frames[-1]
        assert (frame.camera, frame.width, frame.height) == ("mats", 320, 240)
        assert isinstance(frame.image, np.ndarray)
        assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
        assert not frame.image.flags.writeable
        with pytest.raises(ValueError):
            frame.image[0, 0, 0] = 1
        assert frame.image.std() > 10  # a real picture, not a blank buffer
        seqs = [f.seq for f in h.frames]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert 0 <= time.monotonic() - frame.captured < 1.0
        await wait_until(lambda: h.last_status("mats").fps > 15, 3, "a frame rate")
        st = h.last_status("mats")
        assert (st.state, st.width, st.height, st.name, st.error) == ("live", 320, 240, "垫子区", None)
        assert 20 <= st.fps <= 30, st.fps  # paced at the graph's rate, as if live
        result = await h.driver.self_test()
        assert result.ok and "mats: live" in result.detail
        assert any(s.state == "live" for s in h.statuses)  # published on the change, not only every 2 s


@needs_vtest
async def test_video_file_is_paced_at_its_own_frame_rate() -> None:
    async with running(cameras({"id": "yard", "url": str(VTEST)})) as h:
        await wait_until(lambda: len(h.frames) >= 1, 5, "the first frame")
        t0, n0 = time.monotonic(), h.driver.readers["yard"].frames
        await asyncio.sleep(1.5)
        rate = (h.driver.readers["yard"].frames - n0) / (time.monotonic() - t0)
        assert 8.5 <= rate <= 11.5, f"vtest.avi is 10 fps, read at {rate:.1f}"
        st = h.last_status("yard")
        assert (st.width, st.height, st.codec, st.state) == (768, 576, "msmpeg4", "live")
        pts = [f.pts_s for f in h.frames if f.pts_s is not None]
        assert pts and all(b > a for a, b in itertools.pairwise(pts))


@needs_vtest
async def test_video_file_loops_at_realtime(tmp_path: Path) -> None:
    clip = short_copy(tmp_path / "short.avi", 6)  # 0.6 s
    async with running(cameras({"id": "yard", "url": str(clip), "loop": True}), collect_frames=False) as h:
        seen: list[float] = []
        sub = h.bus.subscribe(CameraFrame, maxsize=100, name="pts")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.8:
            ev: CameraFrame = await asyncio.wait_for(sub.get(), 2)
            assert ev.pts_s is not None
            seen.append(ev.pts_s)
        sub.close()
        restarts = sum(1 for a, b in itertools.pairwise(seen) if b < a)
        assert restarts >= 2, seen
        assert 13 <= len(seen) <= 22, f"{len(seen)} frames in 1.8 s at 10 fps"
        st = h.last_status("yard")
        assert st.state == "live" and st.reconnects == 0 and st.error is None


@needs_vtest
async def test_video_file_without_loop_ends_without_reconnecting(tmp_path: Path) -> None:
    clip = short_copy(tmp_path / "short.avi", 5)
    async with running(cameras({"id": "yard", "url": str(clip), "realtime": False})) as h:
        await wait_until(lambda: h.last_status("yard").state == "ended", 5, "the video to end")
        await asyncio.sleep(0.5)
        st = h.last_status("yard")
        assert (st.state, st.frames, st.reconnects, st.error) == ("ended", 5, 0, None)
        assert h.ctx.state == "ok"  # a finished demo video is not a fault
        assert [s.state for s in h.statuses if s.state != "live"][-1] == "ended"


# -- newest frame -------------------------------------------------------------------------------------
async def test_a_slow_consumer_gets_the_newest_frame_and_drops_are_counted() -> None:
    config = cameras({"id": "mats", "url": "lavfi:testsrc2=size=320x240:rate=30"})
    async with running(config, collect_frames=False) as h:
        reader = h.driver.readers["mats"]
        published = h.bus.subscribe(CameraFrame, maxsize=10_000, name="everything")  # counts what reached the bus
        slow = h.bus.subscribe(CameraFrame, maxsize=1, name="slow-analysis")
        got: list[CameraFrame] = []
        lag: list[int] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.5:
            ev: CameraFrame = await asyncio.wait_for(slow.get(), 2)
            lag.append(reader.frames - ev.seq)  # how many newer frames exist than the one we were handed
            got.append(ev)
            time.sleep(0.12)  # noqa: ASYNC251 pose analysis on the event loop: blocks it, as a heavy consumer would
        slow.close()
        seqs = [f.seq for f in got]
        gaps = [b - a for a, b in itertools.pairwise(seqs)]
        assert all(g >= 1 for g in gaps)
        assert max(gaps) >= 3, f"expected seq jumps of ~4 frames per 120 ms, got {gaps}"
        assert max(lag) <= 1, f"the loop handed out a frame {max(lag)} frames old"
        st = h.last_status("mats")
        assert st.dropped > 0 and st.dropped == reader.dropped
        on_bus = published.queue.qsize()
        published.close()
        # every decoded frame was published or replaced, except at most the one waiting in the mailbox
        assert reader.frames - (on_bus + reader.dropped) in (0, 1)


async def test_a_reader_stuck_in_ffmpeg_is_replaced() -> None:
    async with MjpegCameraSimulator() as sim:
        sim.frozen = True  # headers, then nothing: av.open waits inside FFmpeg for the first picture
        async with running(cameras({"id": "gate", "url": sim.url}, open_timeout_s=8)) as h:
            await wait_until(lambda: sim.connections == 1, 3, "the reader to connect")
            await asyncio.sleep(0.3)
            reader = h.driver.readers["gate"]
            old_thread = reader._thread
            reader._deadline = time.monotonic() - 1  # as if FFmpeg had ignored its interrupt callback
            await wait_until(lambda: reader.abandoned == 1, 2, "the stuck reader to be given up on")
            assert reader._thread is not old_thread and reader.state == "reconnecting"
            await wait_until(lambda: sim.connections == 2, 3, "a fresh reader to connect")
            sim.frozen = False
            await wait_until(lambda: len(h.frames) > 3 and reader.state == "live", 4, "frames from the new reader")
            # the old thread got its picture too, and ended without publishing it
            await wait_until(lambda: old_thread is not None and not old_thread.is_alive(), 3, "the old thread to end")


# -- the HTTP camera ------------------------------------------------------------------------------------
async def test_http_mjpeg_camera_frames_then_outage_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with MjpegCameraSimulator() as sim:
        async with running(cameras({"id": "gate", "url": sim.url})) as h:
            await wait_until(lambda: len(h.frames) >= 5, 5, "frames over HTTP")
            st = h.last_status("gate")
            assert (st.state, st.codec, st.width, st.height, st.reconnects) == ("live", "mjpeg", 320, 240, 0)
            assert sim.connections == 1

            await sim.stop()
            await wait_until(lambda: h.last_status("gate").state == "reconnecting", 3, "the outage to be seen")
            st = h.last_status("gate")
            assert st.error and ("closed the stream" in st.error or "refused" in st.error), st.error
            await wait_until(lambda: h.ctx.state == "degraded", 1, "the driver to be degraded")
            lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "gate" in r.getMessage()]
            assert lines and sim.url in lines[0] and "retrying in" in lines[0]
            await asyncio.sleep(1.5)  # several failed attempts: one log line per change, not per attempt
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) <= 3, [r.getMessage() for r in warnings]

            n = len(h.frames)
            await sim.start()
            await wait_until(lambda: h.last_status("gate").state == "live", 4, "the camera to be live again")
            await wait_until(lambda: len(h.frames) > n + 3, 2, "frames after the outage")
            st = h.last_status("gate")
            assert (st.reconnects, st.error) == (1, None)
            assert h.ctx.state == "ok"
            assert any("live again" in r.getMessage() for r in caplog.records)


async def test_torn_jpeg_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with MjpegCameraSimulator() as sim:
        async with running(cameras({"id": "gate", "url": sim.url})) as h:
            await wait_until(lambda: len(h.frames) >= 3, 5, "frames over HTTP")
            sim.tear_next_frame()
            await wait_until(lambda: sim.torn_sent == 1, 2, "the torn frame to be sent")
            n = len(h.frames)
            await wait_until(lambda: len(h.frames) >= n + 5, 2, "frames after the torn one")
            reader = h.driver.readers["gate"]
            assert reader.undecodable == 1
            st = h.last_status("gate")
            assert (st.state, st.reconnects) == ("live", 0)
            assert sim.connections == 1  # the same connection went on
            assert [r.getMessage() for r in caplog.records if "undecodable frame skipped" in r.getMessage()]
            # frames went on from where they were: no half-grey picture was published
            for f in h.frames[-5:]:
                assert f.image[-20:, :, :].std() > 5


async def test_a_camera_that_hangs_is_reconnected_after_the_stall_timeout() -> None:
    async with MjpegCameraSimulator() as sim:
        async with running(cameras({"id": "gate", "url": sim.url}, stall_timeout_s=1.0)) as h:
            await wait_until(lambda: len(h.frames) >= 3, 5, "frames over HTTP")
            sim.frozen = True  # connection open, nothing sent: FFmpeg's read must not wait forever
            t0 = time.monotonic()
            await wait_until(lambda: h.last_status("gate").state == "reconnecting", 3, "the stall to be seen")
            assert time.monotonic() - t0 < 2.5
            assert "no data" in (h.last_status("gate").error or "")
            sim.frozen = False
            await wait_until(lambda: h.last_status("gate").state == "live", 6, "live again")
            assert h.last_status("gate").reconnects == 1


async def test_bad_sources_fail_clearly_and_do_not_affect_a_good_one(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/video.mjpg"
    config = cameras(
        {"id": "good", "url": "lavfi:testsrc2=size=160x120:rate=20"},
        {"id": "dead", "url": dead},
        {"id": "missing", "url": str(tmp_path / "nope.avi")},
        {"id": "graph", "url": "lavfi:nosuchfilter=size=10x10"},
    )
    async with running(config) as h:
        await wait_until(lambda: all(h.last_status(c).state in ("failed", "reconnecting")
                                     for c in ("dead", "missing", "graph")), 4, "three failures")
        dead_st = h.last_status("dead")
        assert dead_st.state == "reconnecting" and dead_st.error == "cannot connect: Connection refused"
        assert dead_st.source == dead
        missing = h.last_status("missing")
        assert missing.state == "failed" and "No such file" in (missing.error or "")
        assert h.last_status("graph").state == "failed" and h.last_status("graph").error
        n = len(h.frames_of("good"))
        await asyncio.sleep(0.6)
        assert len(h.frames_of("good")) >= n + 8  # 20 fps, unaffected
        assert h.last_status("good").state == "live"
        assert h.ctx.state == "degraded" and "camera dead reconnecting" in (h.states[-1][1] or "")
        result = await h.driver.self_test()
        assert not result.ok and "good: live" in result.detail and "dead: reconnecting" in result.detail
        assert result.data["missing"]["state"] == "failed"


async def test_password_comes_from_the_credential_and_never_shows(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "pa:ss/w@rd!"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("CLASSROOM_SECRET_CAMERA_GATE", password)
    async with MjpegCameraSimulator(username="admin", password=password) as sim:
        assert "pa:ss" not in sim.url
        async with running(cameras({"id": "gate", "url": sim.url})) as h:
            await wait_until(lambda: len(h.frames) >= 3, 5, "frames from a camera that wants a password")
            assert sim.connections >= 1  # authorised (FFmpeg first asks without, as browsers do: 401, then Basic)
            await sim.stop()
            await wait_until(lambda: h.last_status("gate").state == "reconnecting", 3, "the outage")
            await sim.start()
            await wait_until(lambda: h.last_status("gate").state == "live", 4, "live again")
        texts = [r.getMessage() for r in caplog.records]
        texts += [f"{s.source} {s.error}" for s in h.statuses]
        forms = {password, urllib.parse.quote(password, safe=""), "w@rd"}
        assert not [t for t in texts if any(f in t for f in forms)]
        assert all(s.source == sim.url for s in h.statuses)
        # a wrong password: refused, said clearly, still never shown
        monkeypatch.setenv("CLASSROOM_SECRET_CAMERA_GATE", "wrong-one")
        async with running(cameras({"id": "gate", "url": sim.url})) as h:
            await wait_until(lambda: h.last_status("gate").state == "reconnecting", 4, "the refusal")
            assert "401" in (h.last_status("gate").error or "") or "uthori" in (h.last_status("gate").error or "")
            assert "wrong-one" not in " ".join(r.getMessage() for r in caplog.records)


def test_urls_are_redacted_and_passwords_inserted() -> None:
    assert redact_url("rtsp://admin:secret@10.0.0.5:554/stream1") == "rtsp://admin@10.0.0.5:554/stream1"
    assert redact_url("http://cam.local/video.mjpg") == "http://cam.local/video.mjpg"
    assert redact_url("/dev/video0") == "/dev/video0"
    url = with_password("rtsp://admin@10.0.0.5/s", "p@ss:w/rd")
    assert urllib.parse.urlsplit(url).password == "p%40ss%3Aw%2Frd"
    assert redact_url(url) == "rtsp://admin@10.0.0.5/s"
    assert with_password("rtsp://10.0.0.5/s", "x") == "rtsp://10.0.0.5/s"  # no user: nothing to attach it to
    assert scrub(f"error opening '{url}'", ("p@ss:w/rd",)) == "error opening 'rtsp://admin:***@10.0.0.5/s'"


def test_open_options_per_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.config.schema import CameraSourceConfig

    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setenv("CLASSROOM_SECRET_CAMERA_GATE", "pw")
    rtsp = build_spec(CameraSourceConfig(id="gate", url="rtsp://admin@cam/s", rtsp_transport="udp"), 10, 5)
    assert rtsp.url == "rtsp://admin:pw@cam/s" and rtsp.public_url == "rtsp://admin@cam/s"
    assert rtsp.options["rtsp_transport"] == "udp" and rtsp.options["timeout"] == "5000000" and rtsp.live
    usb = build_spec(CameraSourceConfig(id="usb", url="/dev/video2", width=640, height=480, fps=15), 10, 5)
    assert usb.format == "v4l2"
    assert usb.options == {"input_format": "mjpeg", "video_size": "640x480", "framerate": "15"}
    lavfi = build_spec(CameraSourceConfig(id="t", url="lavfi:testsrc2"), 10, 5)
    assert (lavfi.format, lavfi.url, lavfi.live) == ("lavfi", "testsrc2", False)
    assert build_spec(CameraSourceConfig(id="f", url="/srv/demo.mp4"), 10, 5).format is None
