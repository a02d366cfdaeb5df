"""The one configuration schema of the classroom appliance.

Every model forbids unknown keys: a typo must fail loudly at start-up, not be ignored for a term.
Descriptions here are the configuration reference in the README (``classroom config-reference``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CURRENT_SCHEMA_VERSION = 1


def known_timezone(value: str) -> str:
    """Validator body shared by every schema that names a time zone."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known IANA time zone, e.g. 'Asia/Shanghai'") from None
    return value


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceConfig(Section):
    """Who this box is. The id is pseudonymous and is what the county sees."""

    id: str = Field(
        "classroom-01",
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
        description="Device id used in MQTT topics and county records: lower-case letters, digits, '-'.",
    )
    school: str = Field("", description="School name shown on the kiosk (stays on the box).")
    classroom: str = Field("", description="Room name shown on the kiosk, e.g. '三年级二班'.")
    data_dir: Path = Field(
        Path("/var/lib/classroom"), description="Where the SQLite store and recordings live."
    )
    timezone: str = Field("Asia/Shanghai", description="IANA time zone used for the timetable.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        return known_timezone(v)


class ApiConfig(Section):
    """The local HTTP API that serves the kiosk page, the TUI and the JSON endpoints."""

    host: str = Field("127.0.0.1", description="Listen address; keep it on loopback unless a firewall guards it.")
    port: int = Field(8765, ge=1, le=65535, description="Listen port of the API and kiosk page.")


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level of the daemon.")


class SupervisorConfig(Section):
    """How hard the daemon tries to keep a crashing component alive before it marks it failed."""

    max_restarts: int = Field(5, ge=1, le=100, description="Restarts allowed within window_s before 'failed'.")
    window_s: float = Field(60.0, gt=0, description="Window in seconds for max_restarts.")
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="First restart delay; doubles each time.")
    backoff_max_s: float = Field(30.0, gt=0, le=600, description="Longest delay between restarts.")


class PanelSerialConfig(Section):
    """An interactive panel on a real RS-232 port (Samsung MDC protocol)."""

    backend: Literal["serial"]
    port: str = Field(description="Serial device, e.g. '/dev/ttyUSB0' or '/dev/serial/by-id/...'.")
    baudrate: Literal[9600, 19200, 38400, 57600, 115200] = Field(9600, description="Line speed set on the panel.")
    display_id: int = Field(0, ge=0, le=254, description="MDC display id (0 for a single panel).")
    poll_interval_s: float = Field(5.0, ge=0.2, le=300, description="How often the panel's state is read.")
    reply_timeout_s: float = Field(1.0, ge=0.05, le=10, description="How long to wait for an ACK.")


class PanelSimulatorConfig(Section):
    """A simulated panel on a pseudo-terminal that speaks the same MDC bytes as the real one."""

    backend: Literal["simulator"]
    display_id: int = Field(0, ge=0, le=254, description="MDC display id the simulator answers to.")
    poll_interval_s: float = Field(2.0, ge=0.2, le=300, description="How often the panel's state is read.")
    reply_timeout_s: float = Field(1.0, ge=0.05, le=10, description="How long to wait for an ACK.")


PanelConfig = Annotated[PanelSerialConfig | PanelSimulatorConfig, Field(discriminator="backend")]


class HeartRateBleConfig(Section):
    """Heart-rate bands over Bluetooth LE: one shared scanner reads broadcasts, a few bands over GATT."""

    backend: Literal["ble"]
    adapter: str = Field("hci0", description="BlueZ adapter used for scanning (a dedicated USB dongle helps).")
    gatt_bands: list[str] = Field(
        default_factory=list, max_length=6,
        description="Addresses of the few bands that only speak GATT (an adapter holds 3-8 connections).",
    )
    silent_restart_s: float = Field(
        30.0, ge=5, le=600, description="Restart the scanner when nothing was heard for this long during a lesson."
    )
    ant_stick: Literal["off", "auto", "antusb2", "antusb-m"] = Field(
        "off",
        description="An ANT USB stick for ANT+ chest straps (device type 120), scanned beside BLE: "
        "'auto' takes the first stick found; one stick in scan mode hears a whole class.",
    )


class HeartRateSimulatorConfig(Section):
    """A simulated class of bands that speaks the real advertisement and GATT bytes through bleak's types."""

    backend: Literal["simulator"]
    bands: int = Field(45, ge=1, le=80, description="How many students wear a band.")
    rate_hz: float = Field(1.0, gt=0, le=10, description="Readings per band per second.")
    time_scale: float = Field(1.0, ge=1, le=60, description="Demo speed-up: 20 runs a 45-minute lesson in 2.25 min.")
    seed: int = Field(7, description="Random seed, so a demo class is the same class every time.")
    silent_restart_s: float = Field(30.0, ge=5, le=600, description="As for real adapters.")
    gatt_bands: int = Field(2, ge=0, le=6, description="How many of the bands only speak GATT (the rest broadcast).")
    ant_straps: int = Field(
        0, ge=0, le=50, description="Extra simulated ANT+ straps heard through a simulated ANT USB stick."
    )


HeartRateConfig = Annotated[HeartRateBleConfig | HeartRateSimulatorConfig, Field(discriminator="backend")]


class SmartPenSerialConfig(Section):
    """Dot-matrix pens through a USB/serial gateway that relays Neo v2 frames for the whole class."""

    backend: Literal["serial"]
    port: str = Field("/dev/ttyUSB0", description="The gateway's serial device.")
    baudrate: int = Field(115200, description="Line speed the gateway is set to.")


class SmartPenBleConfig(Section):
    """Dot-matrix pens connected one by one over Bluetooth LE (Neo v2 protocol, service 0x19F1)."""

    backend: Literal["ble"]
    adapter: str = Field("hci0", description="BlueZ adapter.")
    pens: list[str] = Field(default_factory=list, max_length=8, description="Pen addresses to keep connected.")


class SmartPenSimulatorConfig(Section):
    """A simulated class of pens writing real answers through a pseudo-terminal gateway and bleak's types."""

    backend: Literal["simulator"]
    script: Path | None = Field(
        None, description="JSON plan of what each pen writes (the demo writes one); none = pens idle."
    )
    transport: Literal["serial", "ble", "both"] = Field("both", description="Which real transport path to exercise.")
    time_scale: float = Field(1.0, ge=1, le=120, description="Demo speed-up of the children's writing.")
    loss_rate: float = Field(0.002, ge=0, le=0.2, description="Share of packets lost on the way.")
    seed: int = Field(7, description="Random seed, so a demo class writes the same way every time.")
    repeat_every_s: float | None = Field(
        None, gt=0, description="Run the script again after this many seconds (the demo's endless class)."
    )


SmartPenConfig = Annotated[
    SmartPenSerialConfig | SmartPenBleConfig | SmartPenSimulatorConfig, Field(discriminator="backend")
]


class ScannerFolderConfig(Section):
    """A document scanner that saves into a folder ("scan to folder"): each new image or PDF is a sheet."""

    folder: Path = Field(Path("/var/lib/classroom/scans"), description="Where the scanner drops its files.")
    poll_s: float = Field(1.0, ge=0.2, le=60, description="How often the folder is looked at.")


class CameraSourceConfig(Section):
    """One playground camera or capture device, read through FFmpeg (PyAV)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Short id used by stations, e.g. 'mats'.")
    name: str = Field("", max_length=40, description="Shown on the kiosk and TUI, e.g. '垫子区'.")
    url: str = Field(
        min_length=1,
        description="rtsp://user@host/stream, http(s)://host/video.mjpg, /dev/video0 (V4L2), a video file, "
        "or 'lavfi:testsrc2=size=640x480:rate=15' (an FFmpeg test source). The password comes from "
        "credential 'camera-<id>' and is never written here.",
    )
    width: int | None = Field(None, ge=160, le=3840, description="Ask a V4L2 device for this width (with height).")
    height: int | None = Field(None, ge=120, le=2160, description="Ask a V4L2 device for this height (with width).")
    fps: float | None = Field(None, gt=0, le=60, description="Ask a V4L2 device for this frame rate.")
    rtsp_transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP over TCP survives school Wi-Fi better.")
    loop: bool = Field(False, description="Play a video file again from the start when it ends (demo, replay).")
    realtime: bool = Field(True, description="Read a video file at its own frame rate, as if it were live.")

    @model_validator(mode="after")
    def _size_together(self) -> CameraSourceConfig:
        if (self.width is None) != (self.height is None):
            raise ValueError("set both width and height, or neither")
        return self


class CamerasConfig(Section):
    """Cameras whose frames are analysed on this box (they never leave it)."""

    sources: list[CameraSourceConfig] = Field(min_length=1, max_length=8, description="The cameras, up to 8.")
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Give up opening a source after this long.")
    stall_timeout_s: float = Field(5.0, gt=0, le=120, description="No frame for this long: reconnect.")
    reconnect_max_s: float = Field(30.0, ge=1, le=600, description="Longest wait between reconnect attempts.")

    @model_validator(mode="after")
    def _unique_ids(self) -> CamerasConfig:
        ids = [s.id for s in self.sources]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"camera ids must be unique; {', '.join(dup)} is used twice")
        return self


class DriversConfig(Section):
    """One entry per device family; leave one out when the room does not have that device."""

    panel: PanelConfig | None = Field(None, description="Interactive panel control over RS-232.")
    heart_rate: HeartRateConfig | None = Field(None, description="Heart-rate bands for Smart PE.")
    smartpen: SmartPenConfig | None = Field(None, description="Dot-matrix pens for homework and exams.")
    scanner: ScannerFolderConfig | None = Field(None, description="A scanner for paper answer sheets.")
    cameras: CamerasConfig | None = Field(None, description="Playground cameras for fitness counting.")


PanelInput = Literal["hdmi1", "hdmi2", "hdmi3", "hdmi4", "dp", "pc", "dvi", "av"]


DEFAULT_INPUTS: tuple[PanelInput, ...] = ("hdmi1", "hdmi2", "pc")


class PanelControlFeatureConfig(Section):
    """Teacher controls for the classroom's big screen: power, input and volume from the kiosk."""

    enabled: bool = Field(True, description="Show the panel tile and accept commands.")
    max_volume: int = Field(80, ge=0, le=100, description="Highest volume the kiosk may set (protects hearing).")
    inputs: list[PanelInput] = Field(
        default_factory=lambda: list(DEFAULT_INPUTS),
        min_length=1,
        description="Inputs wired in this room, in the order the kiosk shows them.",
    )
    input_labels: dict[PanelInput, str] = Field(
        default_factory=dict, description="Friendly names, e.g. { hdmi2 = '实物展台' } for the document camera."
    )


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class PeTimetableSlot(Section):
    """One weekly PE lesson: the lesson starts and ends by itself; the teacher's buttons still work."""

    days: list[Weekday] = Field(min_length=1, description="Weekdays of this slot, e.g. ['mon', 'thu'].")
    start: str = Field(description="Start time 'HH:MM' (24-hour) in the device's time zone.")
    minutes: int | None = Field(None, ge=10, le=120, description="Length; lesson_minutes when left out.")
    class_id: str = Field(min_length=1, max_length=64, description="Roster class that has PE in this slot.")
    title: str = Field("", max_length=60, description="Shown on the kiosk, e.g. '七年级二班 体育'.")

    @field_validator("start")
    @classmethod
    def _clock_time(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("must be a 24-hour time 'HH:MM', e.g. '09:50' or '14:30'")
        return v

    def span(self, default_minutes: int) -> tuple[int, int]:
        hh, mm = (int(x) for x in self.start.split(":"))
        return hh * 60 + mm, hh * 60 + mm + (self.minutes or default_minutes)


class SmartPeFeatureConfig(Section):
    """Live heart-rate wall, safety alerts and lesson reports for PE (norms: PE standard 2022)."""

    enabled: bool = Field(False, description="Run Smart PE (needs [drivers.heart_rate]).")
    target_bpm: tuple[int, int] = Field((140, 160), description="Target band for the class average, in bpm.")
    moderate_fraction_of_hrmax: float = Field(
        0.64, gt=0.3, lt=1.0, description="Exercise density counts time at or above this share of HRmax."
    )
    zone_edges: list[float] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9], min_length=1,
        description="Zone boundaries as shares of HRmax (zones 1..N+1 on the wall).",
    )
    group_density_target: float = Field(0.75, gt=0, le=1, description="Class exercise-density norm.")
    individual_density_target: float = Field(0.50, gt=0, le=1, description="Per-student exercise-density norm.")
    high_fraction_of_hrmax: float = Field(0.90, gt=0.5, le=1.0, description="High alert: at or above this...")
    high_hold_s: float = Field(30.0, gt=0, description="...held this long.")
    critical_fraction_of_hrmax: float = Field(0.95, gt=0.5, le=1.0, description="Critical alert: at or above this...")
    critical_bpm: int = Field(200, ge=150, le=240, description="...or above this bpm...")
    critical_hold_s: float = Field(10.0, gt=0, description="...held this long.")
    signal_lost_s: float = Field(15.0, gt=0, description="No signal or no skin contact for this long: alert.")
    lesson_minutes: int = Field(45, ge=10, le=120, description="Planned lesson length, for the timetable and reports.")
    max_lesson_minutes: int = Field(
        90, ge=15, le=480, description="A lesson still running this long is ended and reported (a forgotten stop)."
    )
    timetable: list[PeTimetableSlot] = Field(
        default_factory=list,
        description="Weekly PE slots, e.g. [{ days = ['mon', 'thu'], start = '09:50', class_id = '7-2' }].",
    )

    @model_validator(mode="after")
    def _no_overlapping_slots(self) -> SmartPeFeatureConfig:
        for i, a in enumerate(self.timetable):
            if a.span(self.lesson_minutes)[1] > 24 * 60:
                raise ValueError(f"timetable slot {i} ({a.start}) runs past midnight")
            for j, b in enumerate(self.timetable[:i]):
                (a0, a1), (b0, b1) = a.span(self.lesson_minutes), b.span(self.lesson_minutes)
                if set(a.days) & set(b.days) and a0 < b1 and b0 < a1:
                    raise ValueError(
                        f"timetable slots {j} ({b.start}, class {b.class_id}) and {i} ({a.start}, class {a.class_id}) "
                        "overlap on the same day; one box runs one PE lesson at a time"
                    )
        return self


class HomeworkFeatureConfig(Section):
    """Pen and scanner homework: grades, error books, knowledge-point weakness maps, homework time (双减)."""

    enabled: bool = Field(False, description="Run pen homework (needs [drivers.smartpen] or [drivers.scanner]).")
    templates_dir: Path | None = Field(
        None, description="Folder of answer-sheet templates (*.toml); none = the bundled examples only."
    )
    review_below: float = Field(
        0.9, gt=0, le=1, description="Recognised answers with lower confidence go to the teacher's review queue."
    )
    finish_idle_s: float = Field(
        120.0, ge=5, le=3600, description="A student who has not written for this long (and has no submit tick) is done."
    )
    daily_limit_minutes: dict[str, int] = Field(
        default_factory=lambda: {"1-2": 0, "3-6": 60, "7-9": 90},
        description="Homework time limits per grade band (double reduction policy: none for grades 1-2).",
    )


Exercise = Literal["rope_skip", "sit_up", "pull_up", "push_up", "squat", "jumping_jack"]


class FitnessStationConfig(Section):
    """A place in one camera's view where one student at a time does one exercise (a mat, a bar, a lane).

    Stations drawn at the kiosk are kept in the store; these seed a box (and the demo).
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Station id, e.g. 'mat-1'.")
    name: str = Field("", max_length=40, description="Shown on the kiosk, e.g. '1号垫'.")
    camera: str = Field(description="Id of the camera in [drivers.cameras] that sees this station.")
    exercise: Exercise = Field(description="What is counted here.")
    region: list[tuple[float, float]] = Field(
        min_length=3, max_length=16,
        description="Polygon on the camera image, as fractions of width and height (0-1), e.g. "
        "[[0.1, 0.5], [0.5, 0.5], [0.5, 0.95], [0.1, 0.95]].",
    )
    bar_y: float | None = Field(
        None, ge=0, le=1, description="Pull-up bar height as a fraction of image height (found from the hang if unset)."
    )

    @field_validator("region")
    @classmethod
    def _inside_image(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if any(not (0 <= x <= 1 and 0 <= y <= 1) for x, y in v):
            raise ValueError("region points are fractions of the image: each x and y between 0 and 1")
        return v


class FitnessFeatureConfig(Section):
    """Rule-checked exercise counting from playground cameras and the national fitness standard (2014)."""

    enabled: bool = Field(False, description="Run fitness counting (needs [drivers.cameras]).")
    backend: Literal["litert", "onnxruntime"] = Field("litert", description="Runtime for the pose models.")
    threads: int = Field(2, ge=1, le=16, description="CPU threads per pose model.")
    max_people: int = Field(4, ge=1, le=8, description="People tracked per camera.")
    max_fps: float = Field(15.0, gt=0, le=60, description="Frames analysed per camera per second, at most.")
    idle_fps: float = Field(
        2.0, gt=0, le=60,
        description="Frames analysed per second on a camera with no session running (presence and skeletons "
        "for the kiosk at a low rate, so an idle playground costs little CPU).",
    )
    test_seconds: int = Field(60, ge=10, le=300, description="Length of a timed test (1-minute rope skipping, sit-ups).")
    countdown_s: int = Field(3, ge=0, le=10, description="Countdown after the start signal.")
    stations: list[FitnessStationConfig] = Field(default_factory=list, description="Stations to create at first start.")
    clips: bool = Field(
        True, description="Let teachers save short clips at a station (kept on this box only, for the school's own "
        "evaluation set)."
    )
    clip_seconds: float = Field(20.0, ge=3, le=120, description="Length of a saved clip (the last N seconds).")
    clip_keep_days: int = Field(365, ge=1, le=3650, description="Saved clips are deleted after this many days.")
    retest_weeks: int = Field(6, ge=1, le=26, description="Re-test reminder this many weeks after a prescription.")

    @model_validator(mode="after")
    def _unique_stations(self) -> FitnessFeatureConfig:
        ids = [s.id for s in self.stations]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"station ids must be unique; {', '.join(dup)} is used twice")
        return self


class FeaturesConfig(Section):
    panel_control: PanelControlFeatureConfig = Field(default_factory=PanelControlFeatureConfig)
    smart_pe: SmartPeFeatureConfig = Field(default_factory=SmartPeFeatureConfig)
    homework: HomeworkFeatureConfig = Field(default_factory=HomeworkFeatureConfig)
    fitness: FitnessFeatureConfig = Field(default_factory=FitnessFeatureConfig)


class SyncConfig(Section):
    """The uplink to the county receiver over MQTT. Records are always kept in the local outbox; this
    section decides whether and how they leave the box. The broker password is a credential
    ('mqtt-password'), never a key here."""

    enabled: bool = Field(False, description="Send outbox records to the county receiver.")
    broker_url: str = Field(
        "mqtt://127.0.0.1:1883",
        pattern=r"^mqtts?://[^/:]+(:\d+)?/?$",
        description="Broker address: mqtt://HOST:PORT, or mqtts://HOST:PORT for TLS.",
    )
    protocol: Literal["mqtt5", "mqtt311"] = Field("mqtt5", description="MQTT 5, or 3.1.1 for brokers without it.")
    username: str | None = Field(None, description="Broker user; the password comes from credential 'mqtt-password'.")
    tls_ca_file: Path | None = Field(None, description="CA bundle for mqtts:// (from provisioning).")
    tls_cert_file: Path | None = Field(None, description="Client certificate for mqtts://.")
    tls_key_file: Path | None = Field(None, description="Client key for mqtts:// (readable by the daemon only).")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keepalive.")
    batch_max_records: int = Field(200, ge=1, le=5000, description="A batch closes at this many records...")
    batch_max_bytes: int = Field(14 * 1024, ge=1024, le=1024 * 1024, description="...or this many compressed bytes...")
    batch_max_age_s: float = Field(60.0, gt=0, le=3600, description="...or when its oldest record is this old.")
    max_inflight_batches: int = Field(4, ge=1, le=64, description="Batches sent and not yet acknowledged.")
    ack_timeout_s: float = Field(30.0, gt=0, le=600, description="Resend what has no acknowledgement after this.")
    heartbeat_interval_s: float = Field(120.0, ge=1, le=3600, description="How often the box reports its queue.")
    reconnect_min_s: float = Field(1.0, gt=0, le=60, description="First reconnect delay (doubles, with jitter).")
    reconnect_max_s: float = Field(120.0, gt=0, le=3600, description="Longest reconnect delay.")
    offline_alert_after_s: float = Field(3600.0, ge=0, description="Offline this long counts as a problem.")
    live_lesson_batches_per_min: int = Field(
        2, ge=0, le=600, description="Uplink budget while a live dual-teacher lesson runs (0 = pause)."
    )
    outbox_quota_mb: float = Field(512.0, gt=0, description="Pending-records budget; warning at 70 %.")
    keep_acked_days: float = Field(7.0, ge=0, description="Acknowledged records kept this long for diagnostics.")


class DebugConfig(Section):
    allow_fault_injection: bool = Field(
        False, description="Allow POST /api/components/NAME/fault (demo and tests only)."
    )


class AppConfig(Section):
    """Root of classroom.toml."""

    schema_version: int = Field(description="Version of this file's layout; old files are migrated at load.")
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    drivers: DriversConfig = Field(default_factory=DriversConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    debug: DebugConfig = Field(default_factory=DebugConfig)

    @model_validator(mode="after")
    def _stations_see_cameras(self) -> AppConfig:
        cameras = {s.id for s in self.drivers.cameras.sources} if self.drivers.cameras else set()
        for i, station in enumerate(self.features.fitness.stations):
            if station.camera not in cameras:
                known = ", ".join(sorted(cameras)) or "none configured"
                raise ValueError(
                    f"features.fitness.stations[{i}].camera: {station.camera!r} is not a camera in "
                    f"[drivers.cameras] (cameras: {known}); add it there or fix the id"
                )
        return self
