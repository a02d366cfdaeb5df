"""A simulated IP camera: a real ``multipart/x-mixed-replace`` MJPEG stream over HTTP, as cheap cameras serve.

Tests and demos go through the same wire path as a playground camera (TCP, HTTP headers, the ``mpjpeg``
demuxer, the JPEG decoder), so what they prove holds for a real one. It can also misbehave on request the
way cameras do: go away (:meth:`stop`), come back on the same port (:meth:`start` again), and send a frame
cut in half (:meth:`tear_next_frame`), as happens when a camera's encoder buffer overflows.

Frames come from a video file or an FFmpeg lavfi graph, decoded and JPEG-encoded once with PyAV at start,
then served in a loop at the source's frame rate.

Run one by hand: ``python -m drivers.camera.simulator --port 8081 /usr/share/doc/opencv-doc/examples/data/vtest.avi``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fractions
import logging

import av
from aiohttp import web

log = logging.getLogger(__name__)

DEFAULT_SOURCE = "lavfi:testsrc2=size=320x240:rate=15"


def load_jpeg_frames(source: str, max_frames: int = 150) -> tuple[list[bytes], float]:
    """Blocking: up to ``max_frames`` JPEG pictures of ``source`` (a file or ``lavfi:<graph>``) and its frame rate.

    An MJPEG source is passed through untouched; anything else is encoded with FFmpeg's ``mjpeg`` encoder.
    """
    if source.startswith("lavfi:"):
        container = av.open(source[len("lavfi:"):], format="lavfi")
    else:
        container = av.open(source)
    jpegs: list[bytes] = []
    with container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 15)
        if stream.codec_context.name == "mjpeg":
            for packet in container.demux(stream):
                if packet.size:
                    jpegs.append(bytes(packet))
                if len(jpegs) >= max_frames:
                    break
            return jpegs, rate
        encoder: av.VideoCodecContext | None = None
        for frame in container.decode(stream):
            if encoder is None:
                encoder = av.CodecContext.create("mjpeg", "w")
                assert encoder is not None
                encoder.width, encoder.height = frame.width, frame.height
                encoder.pix_fmt = "yuvj420p"
                encoder.time_base = fractions.Fraction(1, max(1, round(rate)))
            for packet in encoder.encode(frame.reformat(format="yuvj420p")):
                jpegs.append(bytes(packet))
            if len(jpegs) >= max_frames:
                break
    if not jpegs:
        raise ValueError(f"{source} gave no pictures")
    return jpegs, rate


class MjpegCameraSimulator:
    """An HTTP MJPEG camera on ``host:port`` serving ``path``; ``url`` is what a driver opens."""

    def __init__(
        self,
        source: str = DEFAULT_SOURCE,
        *,
        fps: float | None = None,
        max_frames: int = 150,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/video.mjpg",
        username: str | None = None,
        password: str | None = None,
        boundary: str = "frame",
    ) -> None:
        self.source = source
        self.fps = fps
        self.max_frames = max_frames
        self.host = host
        self.port = port
        self.path = path
        self.username = username
        self.password = password
        self.boundary = boundary
        self.jpegs: list[bytes] = []
        self.frames_sent = 0
        self.torn_sent = 0
        self.connections = 0
        self.refused = 0
        self._tear = 0
        self.frozen = False  # True: connections stay open but nothing is sent (a camera whose encoder hung)
        self._runner: web.AppRunner | None = None
        self._streams: dict[int, asyncio.BaseTransport] = {}

    @property
    def url(self) -> str:
        """The stream URL, with the user name (never the password) when the camera wants one."""
        user = f"{self.username}@" if self.username else ""
        return f"http://{user}{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Start serving (again, on the same port after :meth:`stop`)."""
        if self._runner is not None:
            return
        if not self.jpegs:
            self.jpegs, rate = await asyncio.to_thread(load_jpeg_frames, self.source, self.max_frames)
            self.fps = self.fps or rate
        app = web.Application()
        app.router.add_get(self.path, self._stream)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Go away like an unplugged camera: every open stream is cut and new connections are refused."""
        runner, self._runner = self._runner, None
        for transport in list(self._streams.values()):
            transport.close()
        if runner is not None:
            await runner.cleanup()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def tear_next_frame(self, count: int = 1) -> None:
        """The next ``count`` frames are sent cut in half (with a Content-Length that matches what is sent)."""
        self._tear += count

    async def __aenter__(self) -> MjpegCameraSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _authorised(self, request: web.Request) -> bool:
        if self.password is None:
            return True
        expected = base64.b64encode(f"{self.username or ''}:{self.password}".encode()).decode()
        return request.headers.get("Authorization", "") == f"Basic {expected}"

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            self.refused += 1
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="camera"'})
        self.connections += 1
        response = web.StreamResponse(
            headers={
                "Content-Type": f"multipart/x-mixed-replace;boundary={self.boundary}",
                "Cache-Control": "no-cache",
                "Connection": "close",
            }
        )
        await response.prepare(request)
        if request.transport is not None:
            self._streams[id(request)] = request.transport
        loop = asyncio.get_running_loop()
        period = 1.0 / (self.fps or 15.0)
        due = loop.time()
        index = 0
        try:
            while self._runner is not None:
                if self.frozen:
                    await asyncio.sleep(0.05)
                    due = loop.time()
                    continue
                jpeg = self.jpegs[index % len(self.jpegs)]
                index += 1
                if self._tear > 0:
                    self._tear -= 1
                    self.torn_sent += 1
                    jpeg = jpeg[: len(jpeg) // 2]
                head = f"--{self.boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                await response.write(head.encode() + jpeg + b"\r\n")
                self.frames_sent += 1
                due += period
                await asyncio.sleep(max(0.0, due - loop.time()))
        except (ConnectionError, RuntimeError):
            pass  # the client went away, or stop() cut the connection
        finally:
            self._streams.pop(id(request), None)
        return response


async def _serve_forever(args: argparse.Namespace) -> None:
    sim = MjpegCameraSimulator(args.source, port=args.port, host=args.host, max_frames=args.frames)
    await sim.start()
    print(f"serving {args.source} as {sim.url} at {sim.fps:g} fps ({len(sim.jpegs)} pictures in a loop)")
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("source", nargs="?", default=DEFAULT_SOURCE, help="a video file or lavfi:<graph>")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--frames", type=int, default=300, help="pictures to loop over")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(parser.parse_args()))


if __name__ == "__main__":
    main()
