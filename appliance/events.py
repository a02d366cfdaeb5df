"""Typed events that flow on the bus.

Features subscribe to these types and never import a driver: a driver (or its simulator) publishes
the same events, so the code above the driver cannot tell a device from a simulator.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every bus event; ``topic`` is how the kiosk and TUI route what they receive."""

    topic: ClassVar[str] = "event"
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        # Shallow on purpose: events are frozen and only serialised, and asdict's deep copy of a
        # 60-tile wall update ten times a second was the largest CPU cost on the kiosk path.
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["topic"] = self.topic
        return data


ComponentState = Literal["starting", "ok", "degraded", "failed"]


@dataclass(frozen=True, kw_only=True)
class ComponentStateChanged(Event):
    """The supervisor's view of one component changed (state, restart count or error)."""

    topic: ClassVar[str] = "component.state"
    name: str
    state: ComponentState
    restarts: int
    last_error: str | None


@dataclass(frozen=True, kw_only=True)
class LogLine(Event):
    """One formatted log record, streamed to the technician's TUI."""

    topic: ClassVar[str] = "log"
    level: str
    logger: str
    message: str


PowerState = Literal["on", "off", "unknown"]

# Logical input names shared by the panel feature and every panel driver (which maps them to its codes).
PANEL_INPUTS: dict[str, str] = {
    "hdmi1": "HDMI 1",
    "hdmi2": "HDMI 2",
    "hdmi3": "HDMI 3",
    "hdmi4": "HDMI 4",
    "dp": "DisplayPort",
    "pc": "PC",
    "dvi": "DVI",
    "av": "AV",
}


@dataclass(frozen=True, kw_only=True)
class PanelStatus(Event):
    """What the classroom's interactive panel reports about itself after a poll or a command."""

    topic: ClassVar[str] = "panel.status"
    connected: bool
    power: PowerState
    input_source: str | None
    volume: int | None
    muted: bool | None


@dataclass(frozen=True, kw_only=True)
class PanelCommand(Event):
    """A request to change the panel, published by the panel feature and executed by the panel driver."""

    topic: ClassVar[str] = "panel.command"
    request_id: str
    action: Literal["power", "input", "volume", "mute"]
    value: str | int | bool


@dataclass(frozen=True, kw_only=True)
class PanelCommandResult(Event):
    """The driver's answer to one :class:`PanelCommand` (the device's ACK/NAK, or why it failed)."""

    topic: ClassVar[str] = "panel.command_result"
    request_id: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeviceAlert(Event):
    """A hardware problem a teacher should see on the status bar (device unplugged, link down...)."""

    topic: ClassVar[str] = "device.alert"
    source: str
    severity: Literal["info", "warning", "critical"]
    message: str
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class LiveLessonChanged(Event):
    """A live dual-teacher lesson started or ended: the sync link yields the uplink while it runs."""

    topic: ClassVar[str] = "lesson.live"
    active: bool


@dataclass(frozen=True, kw_only=True)
class SyncStatus(Event):
    """The link to the county and the outbox behind it, for the kiosk's status bar and the TUI."""

    topic: ClassVar[str] = "sync.status"
    state: Literal["online", "offline", "connecting"]
    broker: str
    protocol: str
    epoch: str
    last_seq: int
    pending: int
    acked: int
    dead_letter: int
    oldest_pending_age_s: float | None
    pending_bytes: int
    quota_state: Literal["ok", "warning", "full"]
    inflight_batches: int
    throttled: bool
    last_ack_at: float | None
    last_error: str | None


HeartRateSource = Literal["ble_broadcast", "ble_gatt", "ant"]


@dataclass(frozen=True, kw_only=True)
class HeartRateSample(Event):
    """One reading from one band, whichever transport carried it (broadcast, GATT or ANT+).

    ``time`` is when the box received it (unix seconds, from the driver's clock: a simulator in a
    compressed demo lesson runs its own clock). Raw streams stay on the box; only aggregates sync.
    """

    topic: ClassVar[str] = "hr.sample"
    band_id: str
    time: float
    bpm: int
    contact: bool | None
    rr_ms: tuple[float, ...] = ()
    energy_kj: int | None = None
    battery: int | None = None
    rssi: int | None = None
    source: HeartRateSource = "ble_broadcast"


@dataclass(frozen=True, kw_only=True)
class HeartRateAdapterStatus(Event):
    """The heart-rate radio's health, for the technician: is the shared scanner alive, what does it hear."""

    topic: ClassVar[str] = "hr.adapter"
    adapter: str
    state: Literal["scanning", "restarting", "unavailable", "stopped"]
    bands_seen: int
    last_advert_age_s: float | None
    scanner_restarts: int
    detail: str | None = None
    bands: tuple[dict[str, Any], ...] = ()  # {"band_id", "rssi", "battery", "last_seen_s", "source"}
    # The ANT+ stick beside the BLE adapter: "off" when none is configured.
    ant_state: Literal["off", "starting", "scanning", "unavailable"] = "off"
    ant_detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class PeWallUpdate(Event):
    """The Smart PE wall's changes since the last update (at most ten a second while a lesson runs).

    Only changed tiles travel, so 60 bands at 4 Hz cost the kiosk a few small messages, not a full wall.
    ``class_figures`` is sent as ``class`` (a Python keyword cannot be a field name).
    """

    topic: ClassVar[str] = "pe.wall"
    lesson_id: str
    elapsed_s: float
    class_figures: dict[str, Any]
    tiles: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["class"] = data.pop("class_figures")
        data["tiles"] = list(self.tiles)
        return data


@dataclass(frozen=True, kw_only=True)
class PeAlertChanged(Event):
    """A Smart PE safety alert was raised, acknowledged by the teacher, or cleared."""

    topic: ClassVar[str] = "pe.alert"
    alert_id: str
    student_id: str
    label: str
    kind: Literal["high", "critical", "signal"]
    state: Literal["active", "acknowledged", "cleared"]
    message: str
    raised_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    needs_ack: bool = False  # on the banner until the teacher taps it (also after a high/critical episode ended)


PenTransport = Literal["ble", "serial", "simulator"]


@dataclass(frozen=True, kw_only=True)
class PenStroke(Event):
    """One complete stroke (pen down → dots → pen up) on one printed page, from any smart-pen transport.

    ``points`` are (x, y, force, t_ms): x and y in Ncode pattern units with the fractional parts
    applied, t_ms since ``started_at``. ``offline`` strokes were stored in the pen and uploaded later
    (their times are the pen's own clock). Ink never leaves the box; only grades do.
    """

    topic: ClassVar[str] = "pen.stroke"
    pen_id: str
    section: int
    owner: int
    note: int
    page: int
    started_at: float  # unix seconds, from the pen's timestamp
    ended_at: float
    points: tuple[tuple[float, float, int, int], ...]
    colour: int | None = None
    offline: bool = False
    lost_before: int = 0  # events the event counter says were lost just before or inside this stroke


@dataclass(frozen=True, kw_only=True)
class PenStatus(Event):
    """A pen's link health for the technician (every few seconds, and on connect/disconnect)."""

    topic: ClassVar[str] = "pen.status"
    pen_id: str
    transport: PenTransport
    connected: bool
    battery: int | None = None  # percent
    strokes: int = 0  # strokes received this session
    lost_events: int = 0  # total events missing from the event counter since connect
    counter_gaps: int = 0  # how many gaps those came in
    offline_notes_pending: int | None = None  # stored notes the pen still holds
    last_seen: float | None = None
    detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class ScannedSheet(Event):
    """A scanned page (image or one page of a PDF) that arrived in the scanner's folder."""

    topic: ClassVar[str] = "scan.sheet"
    path: str  # the file on the box (it stays there)
    page_index: int = 0  # for multi-page PDFs
    source: str = "folder"


@dataclass(frozen=True, kw_only=True)
class PenPasswordAttempt(Event):
    """A person typed a locked pen's password: the driver makes exactly one attempt with it.

    Never published by the box on its own (too many wrong tries wipe a pen). The password never
    appears in the event's JSON (the kiosk socket, logs); the outcome comes back in ``PenStatus.detail``.
    """

    topic: ClassVar[str] = "pen.password"
    pen_id: str
    password: str = field(repr=False)
    by: str = "teacher"

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "ts": self.ts, "pen_id": self.pen_id, "by": self.by}


CameraState = Literal["connecting", "live", "reconnecting", "ended", "failed"]


@dataclass(frozen=True, kw_only=True)
class CameraFrame(Event):
    """The newest decoded picture of one camera, for analysis on this box only.

    Never serialised to the kiosk or the county (the API refuses the topic): frames of minors stay here.
    ``image`` is an RGB ``numpy.ndarray`` (height, width, 3) of uint8 that no one may modify.
    """

    topic: ClassVar[str] = "camera.frame"
    camera: str
    seq: int  # frames decoded on this camera since the driver started (a gap means frames were dropped)
    width: int
    height: int
    image: Any
    captured: float  # time.monotonic() when the frame was decoded, to measure staleness
    pts_s: float | None = None  # presentation time within the source (files and replays), seconds


@dataclass(frozen=True, kw_only=True)
class CameraStatus(Event):
    """A camera's health for the technician and the kiosk (every few seconds, and on every state change)."""

    topic: ClassVar[str] = "camera.status"
    camera: str
    name: str
    source: str  # the URL with any password removed
    state: CameraState
    fps: float  # frames decoded per second over the last few seconds
    frames: int
    dropped: int  # decoded frames replaced by a newer one before the analysis took them
    reconnects: int
    width: int | None = None
    height: int | None = None
    codec: str | None = None
    error: str | None = None
