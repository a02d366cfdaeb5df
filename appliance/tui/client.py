"""A small typed async client for the daemon's local HTTP API (docs/api.md).

The technician TUI talks to the daemon only through this module. Every call has a timeout, and every
failure is raised as :class:`DaemonError` with one sentence a technician can act on, e.g.
``daemon not reachable at http://127.0.0.1:8765: connection refused``.
"""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import AsyncIterator
from typing import Any, Literal, Required, TypedDict, cast

import aiohttp

DEFAULT_URL = "http://127.0.0.1:8765"

ComponentStateName = Literal["starting", "ok", "degraded", "failed"]
OverallStatus = Literal["ok", "degraded", "failed", "safe_mode"]


class ComponentInfo(TypedDict):
    state: str
    kind: str
    restarts: int
    last_error: str | None


class Health(TypedDict):
    status: str
    components: dict[str, ComponentInfo]
    boot_id: str
    version: str
    config_errors: list[str]


class ConfigRow(TypedDict):
    key: str
    value: Any
    source: str


class ConfigInfo(TypedDict):
    path: str | None
    notes: list[str]
    rows: list[ConfigRow]
    errors: list[str]


class LogLine(TypedDict):
    ts: float
    level: str
    logger: str
    message: str


class SelfTest(TypedDict):
    ok: bool
    detail: str
    data: dict[str, Any]


class SyncInfo(TypedDict, total=False):
    """``GET /api/sync``: ``configured`` always; the rest once the sync link has reported (``sync.status``)."""

    configured: Required[bool]
    state: str  # "online" | "offline" | "connecting"
    broker: str
    protocol: str
    epoch: str
    last_seq: int
    pending: int
    acked: int
    dead_letter: int
    oldest_pending_age_s: float | None
    pending_bytes: int
    quota_state: str  # "ok" | "warning" | "full"
    inflight_batches: int
    throttled: bool
    last_ack_at: float | None
    last_error: str | None
    ts: float


class PeBand(TypedDict, total=False):
    """One heart-rate band the adapter hears; ``last_seen_s`` is its age at the report's ``ts``."""

    band_id: Required[str]
    rssi: int | None
    battery: int | None
    battery_low: bool | None
    last_seen_s: float | None
    source: str  # "ble_broadcast" | "ble_gatt"


class PeAdapter(TypedDict, total=False):
    """The heart-rate radio's health (``hr.adapter`` events and ``GET /api/pe/bands``)."""

    adapter: str
    state: str  # "scanning" | "restarting" | "unavailable" | "stopped"
    bands_seen: int
    last_advert_age_s: float | None
    scanner_restarts: int
    detail: str | None
    bands: list[PeBand]
    ts: float
    ant_state: str  # "off" | "starting" | "scanning" | "unavailable"
    ant_detail: str | None


class PeBandsInfo(TypedDict):
    """``GET /api/pe/bands``: ``adapter`` is None until the heart-rate driver has reported once."""

    adapter: PeAdapter | None
    roster_problems: list[str]


class PenInfo(TypedDict, total=False):
    """One dot-matrix pen's link health (``pen.status`` events and ``GET /api/homework/pens``)."""

    pen_id: Required[str]
    transport: str  # "ble" | "serial" | "simulator"
    connected: bool
    battery: int | None  # percent
    strokes: int  # strokes received this session
    lost_events: int  # events the pen's counter says never arrived
    counter_gaps: int  # how many gaps those came in
    offline_notes_pending: int | None  # notes stored in the pen, not yet uploaded
    last_seen: float | None  # unix time
    detail: str | None
    ts: float
    label: str | None  # the student holding it, when the daemon says so


class PensInfo(TypedDict):
    """``GET /api/homework/pens``."""

    pens: list[PenInfo]
    problems: list[str]


class HomeworkStudent(TypedDict):
    student_id: str
    label: str
    pen_id: str | None


class HomeworkRoster(TypedDict):
    """``GET /api/homework/roster``: the current class (or ``class_id``), with each student's pen."""

    class_id: str | None
    classes: list[str]
    students: list[HomeworkStudent]
    unassigned_pens: list[str]


class CameraInfo(TypedDict, total=False):
    """One playground camera's health (``fitness.camera`` events and ``GET /api/fitness/state``)."""

    camera: Required[str]
    name: str
    state: str  # "connecting" | "live" | "reconnecting" | "ended" | "failed" | "absent"
    fps_in: float | None  # frames decoded per second
    fps_analysed: float | None  # frames the pose model looked at per second
    infer_ms: float | None  # pose inference time per frame
    dropped: int | None  # decoded frames replaced by a newer one before the analysis took them
    people: int | None
    width: int | None
    height: int | None
    error: str | None
    snapshot: bool


class StationInfo(TypedDict, total=False):
    """A fitness station: a region of one camera's picture where one exercise is counted."""

    station_id: Required[str]
    camera: str
    name: str
    exercise: str
    student_id: str | None
    label: str | None
    present: bool
    session: dict[str, Any] | None


class FitnessState(TypedDict):
    """The part of ``GET /api/fitness/state`` the technician needs: the cameras and the stations on them."""

    cameras: list[CameraInfo]
    stations: list[StationInfo]
    class_id: str | None
    term: str | None


class DaemonError(Exception):
    """Any failure talking to the daemon; ``str(exc)`` is one clear sentence."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class DaemonUnreachable(DaemonError):
    """The daemon could not be contacted at all (refused, no route, timed out)."""


def _describe_os_error(exc: BaseException) -> str:
    """Turn a connection error into a short reason ("connection refused", "timed out", ...)."""
    os_error = getattr(exc, "os_error", None)
    code = getattr(os_error, "errno", None) if os_error is not None else getattr(exc, "errno", None)
    if code == errno.ECONNREFUSED:
        return "connection refused"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to host"
    if isinstance(os_error, socket.gaierror) or isinstance(exc, socket.gaierror):
        return "host name could not be resolved"
    text = str(os_error or exc).strip()
    if "refused" in text.lower():
        return "connection refused"
    return text or type(exc).__name__


class DaemonClient:
    """Typed wrapper around the daemon API. Create and use it inside a running event loop."""

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout: float = 5.0,
                 selftest_timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.selftest_timeout = selftest_timeout
        self._session: aiohttp.ClientSession | None = None

    # ---------------------------------------------------------------- lifecycle
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(self.timeout, 3.0)),
                headers={"Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> DaemonClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- plumbing
    def _unreachable(self, exc: BaseException) -> DaemonUnreachable:
        return DaemonUnreachable(f"daemon not reachable at {self.base_url}: {_describe_os_error(exc)}")

    async def _request(self, method: str, path: str, *, limit_s: float | None = None,
                       params: dict[str, str] | None = None, body: Any = None) -> Any:
        url = self.base_url + path
        limit = limit_s if limit_s is not None else self.timeout
        try:
            async with self._get_session().request(
                method, url, params=params, json=body,
                timeout=aiohttp.ClientTimeout(total=limit, connect=min(limit, 3.0)),
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except TimeoutError as exc:
            raise DaemonUnreachable(
                f"daemon at {self.base_url} did not answer {method} {path} within {limit:g} s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise self._unreachable(exc) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise DaemonUnreachable(f"daemon at {self.base_url} closed the connection during {path}") from exc
        except aiohttp.ClientError as exc:
            raise DaemonUnreachable(f"daemon not reachable at {self.base_url}: {exc or type(exc).__name__}") \
                from exc
        except OSError as exc:
            raise self._unreachable(exc) from exc
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            if not message:
                message = f"{method} {path} failed with HTTP {status}"
            raise DaemonError(str(message), status=status)
        if data is None:
            raise DaemonError(f"daemon at {self.base_url} sent a non-JSON answer to {method} {path}",
                              status=status)
        return data

    @staticmethod
    def _expect_dict(data: Any, what: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise DaemonError(f"unexpected answer from {what}: expected a JSON object")
        return data

    # ---------------------------------------------------------------- endpoints
    async def health(self) -> Health:
        data = self._expect_dict(await self._request("GET", "/api/health"), "GET /api/health")
        data.setdefault("components", {})
        data.setdefault("config_errors", [])
        data.setdefault("boot_id", "")
        data.setdefault("version", "")
        data.setdefault("status", "unknown")
        return cast(Health, data)

    async def config(self) -> ConfigInfo:
        data = self._expect_dict(await self._request("GET", "/api/config"), "GET /api/config")
        data.setdefault("path", None)
        data.setdefault("notes", [])
        data.setdefault("rows", [])
        data.setdefault("errors", [])
        return cast(ConfigInfo, data)

    async def logs(self, n: int = 200) -> list[LogLine]:
        data = self._expect_dict(await self._request("GET", "/api/logs", params={"n": str(n)}),
                                 "GET /api/logs")
        lines = data.get("lines", [])
        return cast(list[LogLine], lines if isinstance(lines, list) else [])

    async def selftest(self, name: str) -> SelfTest:
        path = f"/api/components/{_quote(name)}/selftest"
        data = self._expect_dict(await self._request("POST", path, limit_s=self.selftest_timeout), path)
        data.setdefault("data", {})
        data.setdefault("detail", "")
        data["ok"] = bool(data.get("ok"))
        return cast(SelfTest, data)

    async def sync(self) -> SyncInfo:
        """The sync link to the county and its outbox (``GET /api/sync``)."""
        data = self._expect_dict(await self._request("GET", "/api/sync"), "GET /api/sync")
        data.pop("topic", None)
        data["configured"] = bool(data.get("configured"))
        return cast(SyncInfo, data)

    async def pe_bands(self) -> PeBandsInfo:
        """The heart-rate adapter and the bands it hears (``GET /api/pe/bands``).

        Raises :class:`DaemonError` with ``status == 404`` when Smart PE is not configured on the box.
        """
        data = self._expect_dict(await self._request("GET", "/api/pe/bands"), "GET /api/pe/bands")
        adapter = data.get("adapter")
        if not isinstance(adapter, dict):
            adapter = None
        else:
            adapter.pop("topic", None)
            bands = adapter.get("bands")
            adapter["bands"] = [b for b in bands if isinstance(b, dict)] if isinstance(bands, list) else []
        problems = data.get("roster_problems")
        return PeBandsInfo(adapter=cast(PeAdapter | None, adapter),
                           roster_problems=[str(p) for p in problems] if isinstance(problems, list) else [])

    async def pens(self) -> PensInfo:
        """The homework pens' link health (``GET /api/homework/pens``).

        Raises :class:`DaemonError` with ``status == 404`` when pen homework is not configured on the box.
        """
        data = self._expect_dict(await self._request("GET", "/api/homework/pens"), "GET /api/homework/pens")
        pens = data.get("pens")
        rows: list[PenInfo] = []
        for p in pens if isinstance(pens, list) else []:
            if isinstance(p, dict) and p.get("pen_id"):
                p.pop("topic", None)
                rows.append(cast(PenInfo, p))
        problems = data.get("problems")
        return PensInfo(pens=rows, problems=[str(p) for p in problems] if isinstance(problems, list) else [])

    async def homework_roster(self, class_id: str | None = None) -> HomeworkRoster:
        """Who holds which pen (``GET /api/homework/roster``); 404 when pen homework is not configured."""
        params = {"class_id": class_id} if class_id else None
        data = self._expect_dict(await self._request("GET", "/api/homework/roster", params=params),
                                 "GET /api/homework/roster")
        students = data.get("students")
        classes = data.get("classes")
        free = data.get("unassigned_pens")
        return HomeworkRoster(
            class_id=str(data["class_id"]) if data.get("class_id") else None,
            classes=[str(c) for c in classes] if isinstance(classes, list) else [],
            students=[HomeworkStudent(student_id=str(x.get("student_id")), label=str(x.get("label") or ""),
                                      pen_id=str(x["pen_id"]) if x.get("pen_id") else None)
                      for x in students if isinstance(x, dict)] if isinstance(students, list) else [],
            unassigned_pens=[str(p) for p in free] if isinstance(free, list) else [],
        )

    async def fitness_state(self) -> FitnessState:
        """Playground cameras and fitness stations (``GET /api/fitness/state``).

        Raises :class:`DaemonError` with ``status == 404`` when fitness counting is not configured on the box.
        """
        data = self._expect_dict(await self._request("GET", "/api/fitness/state"), "GET /api/fitness/state")
        raw_cameras = data.get("cameras")
        raw_stations = data.get("stations")
        cameras: list[CameraInfo] = []
        for c in raw_cameras if isinstance(raw_cameras, list) else []:
            if isinstance(c, dict) and c.get("camera"):
                c.pop("topic", None)
                cameras.append(cast(CameraInfo, c))
        stations: list[StationInfo] = []
        for st in raw_stations if isinstance(raw_stations, list) else []:
            if isinstance(st, dict) and st.get("station_id"):
                stations.append(cast(StationInfo, st))
        return FitnessState(cameras=cameras, stations=stations,
                            class_id=str(data["class_id"]) if data.get("class_id") else None,
                            term=str(data["term"]) if data.get("term") else None)

    async def restart(self, name: str) -> dict[str, Any]:
        path = f"/api/components/{_quote(name)}/restart"
        return self._expect_dict(await self._request("POST", path, limit_s=max(self.timeout, 15.0)), path)

    async def events(self, *, connect_timeout: float | None = None,
                     heartbeat: float = 15.0) -> AsyncIterator[dict[str, Any]]:
        """Yield live events from ``WS /api/events`` (the first is ``hello``) until the socket closes.

        Raises :class:`DaemonUnreachable` when the connection cannot be made or drops with an error;
        returns normally when the daemon closes the socket cleanly. The caller reconnects.
        """
        limit = connect_timeout if connect_timeout is not None else self.timeout
        url = self.base_url + "/api/events"
        try:
            ws = await self._get_session().ws_connect(
                url, heartbeat=heartbeat, timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=limit),
            )
        except TimeoutError as exc:
            raise DaemonUnreachable(f"daemon at {self.base_url} did not accept the event socket "
                                    f"within {limit:g} s") from exc
        except aiohttp.WSServerHandshakeError as exc:
            raise DaemonError(f"event socket refused by {self.base_url}: HTTP {exc.status}",
                              status=exc.status) from exc
        except aiohttp.ClientConnectorError as exc:
            raise self._unreachable(exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise self._unreachable(exc) from exc
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        event = json.loads(msg.data)
                    except ValueError:
                        continue
                    if isinstance(event, dict) and "topic" in event:
                        yield event
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise DaemonUnreachable(f"event socket to {self.base_url} failed: {ws.exception()}")
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                  aiohttp.WSMsgType.CLOSED):
                    break
        finally:
            await ws.close()


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
