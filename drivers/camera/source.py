"""Turning a configured camera URL into an open PyAV container, with the FFmpeg options each kind needs.

A camera URL in ``classroom.toml`` never holds a password: the password of camera ``<id>`` is credential
``camera-<id>`` and is put into the URL only here, at open time. Everything that leaves this module for a
log line or the bus uses :func:`redact_url` (and :func:`scrub` for error text), so the password cannot leak
through an FFmpeg error message that quotes the URL it failed on.

Kinds, and why each gets its options:

* ``rtsp://``: TCP transport by default (school Wi-Fi loses UDP), a socket timeout so a camera that stops
  answering fails the read instead of hanging it (``timeout`` in FFmpeg >= 5, ``stimeout`` before), and
  video only, so an audio track is never set up.
* ``http(s)://``: an MJPEG camera answers ``multipart/x-mixed-replace``, read with the ``mpjpeg`` demuxer; a
  source that is not multipart (an MP4 over HTTP) is opened again with auto-detection.
* ``/dev/videoN``: ``v4l2`` with the configured size and rate, and MJPEG asked from the camera (USB 2 cannot
  carry raw 1080p at 15 fps); a device that has no MJPEG mode is opened again without asking for it.
* ``lavfi:<graph>``: an FFmpeg test source, for demos and tests.
* anything else is a video file.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

import av
import av.container

from appliance.config.schema import CameraSourceConfig
from appliance.config.secrets import MissingSecret, read_secret

SourceKind = Literal["rtsp", "http", "v4l2", "lavfi", "file"]

# libavformat 59 (FFmpeg 5.0) renamed the RTSP socket timeout from "stimeout" to "timeout".
_AVFORMAT_MAJOR = av.library_versions.get("libavformat", (0, 0, 0))[0]
RTSP_TIMEOUT_OPTION = "timeout" if _AVFORMAT_MAJOR >= 59 else "stimeout"


class SourceError(Exception):
    """Opening a source failed, with a message that is safe to log (no password) and says what to do.

    ``permanent`` means retrying soon will not help (a missing file, an invalid test graph, no video track):
    the driver reports "failed" and retries only slowly.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def credential_name(camera_id: str) -> str:
    """Where the password of camera ``camera_id`` lives (systemd credential or environment)."""
    return f"camera-{camera_id}"


def source_kind(url: str) -> SourceKind:
    lowered = url.lower()
    if lowered.startswith("rtsp://") or lowered.startswith("rtsps://"):
        return "rtsp"
    if lowered.startswith("http://") or lowered.startswith("https://"):
        return "http"
    if lowered.startswith("lavfi:"):
        return "lavfi"
    if lowered.startswith("/dev/video") or lowered.startswith("v4l2:"):
        return "v4l2"
    return "file"


def redact_url(url: str) -> str:
    """The URL with any password removed (the user name stays: it helps a technician)."""
    if source_kind(url) not in ("rtsp", "http"):
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = urllib.parse.quote(urllib.parse.unquote(parts.username or ""), safe="")
    netloc = f"{user}@{host}" if user else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def with_password(url: str, password: str) -> str:
    """Insert ``password`` into a URL that names a user (``rtsp://admin@cam/...``)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = urllib.parse.quote(urllib.parse.unquote(parts.username), safe="")
    netloc = f"{user}:{urllib.parse.quote(password, safe='')}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Remove every form of a secret from text that may quote a URL (FFmpeg errors name the file they failed on)."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
            text = text.replace(form, "***")
    return text


@dataclass
class OpenSpec:
    """Everything :func:`open_source` needs; ``url`` may hold the password and is never logged."""

    camera: str
    kind: SourceKind
    url: str  # what FFmpeg opens (password inserted, "lavfi:" removed)
    public_url: str  # what logs and the bus show
    format: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    note: str | None = None  # a configuration hint to log once (e.g. a credential the URL cannot use)

    @property
    def live(self) -> bool:
        """A live source never ends by itself: an end of stream is a lost connection."""
        return self.kind in ("rtsp", "http", "v4l2")


def build_spec(source: CameraSourceConfig, open_timeout_s: float, read_timeout_s: float) -> OpenSpec:
    """The URL, demuxer and options for one configured source (reads its credential, if any)."""
    url = source.url.strip()
    kind = source_kind(url)
    public = redact_url(url)
    secrets: list[str] = []
    note: str | None = None
    existing = urllib.parse.urlsplit(url).password if kind in ("rtsp", "http") else None
    if existing:
        secrets.append(existing)
    if kind in ("rtsp", "http") and not existing:
        try:
            password = read_secret(credential_name(source.id))
        except MissingSecret:
            password = None
        if password:
            secrets.append(password)
            if urllib.parse.urlsplit(url).username:
                url = with_password(url, password)
            else:
                note = (f"credential {credential_name(source.id)} is set but the URL names no user; "
                        f"write it as scheme://USER@host/... to use it")
    options: dict[str, str] = {}
    fmt: str | None = None
    if kind == "rtsp":
        options = {
            "rtsp_transport": source.rtsp_transport,
            RTSP_TIMEOUT_OPTION: str(int(read_timeout_s * 1_000_000)),
            "allowed_media_types": "video",
        }
    elif kind == "http":
        # Socket I/O timeout of the http protocol, in microseconds; FFmpeg's own reconnects are off because
        # the driver reconnects (with backoff, and a status the technician can see).
        options = {"timeout": str(int(read_timeout_s * 1_000_000)), "reconnect": "0"}
    elif kind == "v4l2":
        fmt = "v4l2"
        url = url.removeprefix("v4l2:")
        public = url
        options = {"input_format": "mjpeg"}
        if source.width and source.height:
            options["video_size"] = f"{source.width}x{source.height}"
        if source.fps:
            options["framerate"] = f"{source.fps:g}"
    elif kind == "lavfi":
        fmt = "lavfi"
        url = url[len("lavfi:"):]
    return OpenSpec(source.id, kind, url, public, fmt, options, tuple(secrets), note)


def describe_error(exc: BaseException, spec: OpenSpec) -> str:
    """One short line for a log or a status, with no password (FFmpeg messages quote the URL)."""
    if isinstance(exc, SourceError):
        text = str(exc)
    elif isinstance(exc, av.error.ExitError):
        text = "timed out: the camera did not answer"
    elif isinstance(exc, av.error.FFmpegError):
        text = exc.strerror or type(exc).__name__
        if isinstance(exc, ConnectionError | av.error.TimeoutError):
            text = f"cannot connect: {text}"
        elif isinstance(exc, av.error.HTTPError):
            text = f"camera answered: {text}"
    elif isinstance(exc, OSError):
        text = exc.strerror or str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return scrub(text, spec.secrets)


def is_permanent(exc: BaseException, spec: OpenSpec) -> bool:
    """Errors that retrying in a second will not fix: a missing file, a bad test graph, a format nobody has."""
    if isinstance(exc, SourceError):
        return exc.permanent
    if spec.kind in ("file", "lavfi"):
        return isinstance(exc, av.error.FFmpegError | OSError)
    return isinstance(exc, av.error.DemuxerNotFoundError | av.error.ProtocolNotFoundError | av.error.DecoderNotFoundError)


def open_source(spec: OpenSpec, open_timeout_s: float, read_timeout_s: float) -> av.container.InputContainer:
    """Blocking: open the source and check it has a video track.

    PyAV's ``timeout`` installs FFmpeg's interrupt callback, so neither opening nor any later read can block
    longer than ``open_timeout_s`` / ``read_timeout_s``, whatever the protocol does underneath.
    """
    timeout = (open_timeout_s, read_timeout_s)
    fmt = spec.format
    options = dict(spec.options)
    if spec.kind == "http":
        # Cameras answer multipart/x-mixed-replace: name the mpjpeg demuxer rather than let FFmpeg guess from
        # the first bytes. Anything else (a snapshot URL, an MP4) fails that demuxer at once with "invalid data"
        # and is opened again with auto-detection; asking first instead would cost a second connection every
        # time, and cheap cameras serve only one or two.
        try:
            container = av.open(spec.url, mode="r", format="mpjpeg", options=options, timeout=timeout)
        except av.error.InvalidDataError:
            container = av.open(spec.url, mode="r", format=None, options=options, timeout=timeout)
    elif spec.kind == "v4l2" and "input_format" in options:
        try:
            container = av.open(spec.url, mode="r", format=fmt, options=options, timeout=timeout)
        except av.error.FFmpegError:
            # A webcam without an MJPEG mode: take whatever it offers.
            del options["input_format"]
            container = av.open(spec.url, mode="r", format=fmt, options=options, timeout=timeout)
    else:
        container = av.open(spec.url, mode="r", format=fmt, options=options, timeout=timeout)
    if not container.streams.video:
        container.close()
        raise SourceError("the source has no video track", permanent=True)
    return container
