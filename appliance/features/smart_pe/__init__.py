"""Smart PE: a live heart-rate wall, safety alerts and a report against the national PE norms.

The feature only consumes :class:`HeartRateSample` from the bus, so a real BLE adapter and the demo's
simulator look the same. Samples are folded into the pure :class:`LessonModel` and :class:`AlertEngine`
(O(1) per sample); the wall gets at most ten :class:`PeWallUpdate` a second carrying only the tiles
that changed, which keeps sample-to-screen latency low for 60 bands at 4 Hz on a small CPU.
Raw heart-rate streams stay on the box; only per-lesson aggregates go to the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from aiohttp import web

from appliance.component import ComponentContext, OutboxFull
from appliance.config.schema import SmartPeFeatureConfig
from appliance.events import HeartRateAdapterStatus, HeartRateSample, PeAlertChanged, PeWallUpdate
from appliance.features.base import Feature, FeatureInfo, TileState
from appliance.features.smart_pe.alerts import Alert, AlertEngine, audit_acknowledgement
from appliance.features.smart_pe.lesson import LessonModel, LessonStudent
from appliance.features.smart_pe.report import build_report, write_report_files
from appliance.features.smart_pe.roster import Student, assign_band, load_roster, roster_problems
from appliance.store import audit_row

FLUSH_S = 0.1
HEARTBEAT_S = 2.0
LESSON_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Live:
    """The lesson in progress and what the wall has already been sent."""

    lesson_id: str
    started_at: float
    class_id: str | None
    model: LessonModel
    engine: AlertEngine
    hrmax_source: dict[str, str]
    dirty: set[str] = field(default_factory=set)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent_class: dict[str, Any] = field(default_factory=dict)


class SmartPe(Feature):
    name = "smart_pe"
    info = FeatureInfo("smart_pe", "智慧体育", "Smart PE", "❤️")
    heartbeat_timeout_s = 30.0

    def __init__(self, config: SmartPeFeatureConfig, data_dir: Path, hr_present: bool = True) -> None:
        self.config = config
        self.reports_dir = data_dir / "reports"
        self.hr_present = hr_present
        self._ctx: ComponentContext | None = None
        self._roster: list[Student] = []
        self._seen: dict[str, float] = {}  # band -> last sample time (driver clock)
        self._clock: float | None = None  # latest sample time seen from any band
        self._live: _Live | None = None
        self._last: _Live | None = None  # the finished lesson, for its curves and alerts after the bell
        self._last_flush = 0.0

    # -- life cycle -------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        if ctx.store is None:
            raise RuntimeError("Smart PE needs the store")
        self._ctx = ctx
        self._roster = await ctx.store.run(load_roster)
        last_beat = 0.0
        with ctx.bus.subscribe(HeartRateSample, maxsize=8192, name="smart_pe") as sub:
            while True:
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    ctx.heartbeat()
                    last_beat = now
                timeout = max(0.0, self._last_flush + FLUSH_S - now) if self._live else HEARTBEAT_S
                sample: HeartRateSample | None = None
                # asyncio.timeout, not wait_for: at 240 samples/s 3.11's wait_for regularly lost the
                # cancellation that shuts the feature down (a get() completing in the same loop pass).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        sample = await sub.get()
                if sample is not None:
                    self.on_sample(sample)
                    while not sub.queue.empty():  # drain what queued meanwhile: one flush for all of it
                        self.on_sample(sub.queue.get_nowait())  # type: ignore[arg-type]
                if self._live is not None and time.monotonic() - self._last_flush >= FLUSH_S:
                    self.flush()

    def on_sample(self, s: HeartRateSample) -> None:
        """Per-sample work: a few dictionary updates, nothing that scales with the class size."""
        self._seen[s.band_id] = s.time
        if self._clock is None or s.time > self._clock:
            self._clock = s.time
        live = self._live
        if live is None:
            return
        tr = live.model.ingest(s.band_id, s.time, s.bpm, s.contact, s.battery)
        if tr is None:
            return
        sid = tr.info.student_id
        live.dirty.add(sid)
        for alert in live.engine.observe(sid, s.time, s.bpm, s.contact):
            self._publish_alert(alert)

    def flush(self) -> None:
        """Send the wall what changed since the last flush (tiles, signal losses, class figures)."""
        live = self._live
        if live is None or self._ctx is None:
            return
        self._last_flush = time.monotonic()
        model = live.model
        if model.now is not None:
            for alert in live.engine.check_signal(model.now):
                live.dirty.add(alert.student_id)
                self._publish_alert(alert)
        changed: list[dict[str, Any]] = []
        for sid, tr in model.tracks.items():
            sent = live.sent.get(sid)
            if sid not in live.dirty and sent is not None and sent["signal"] == model.signal(tr):
                continue
            tile = model.tile(tr, live.engine.worst_for(sid))
            if tile != sent:
                live.sent[sid] = tile
                changed.append(tile)
        live.dirty.clear()
        figures = model.class_figures()
        if changed or figures != live.sent_class:
            live.sent_class = figures
            self._ctx.bus.publish(PeWallUpdate(lesson_id=live.lesson_id, elapsed_s=round(model.elapsed_s, 1),
                                               class_figures=figures, tiles=tuple(changed)))

    def _publish_alert(self, a: Alert) -> None:
        if self._live is not None:
            self._live.dirty.add(a.student_id)
        if self._ctx is not None:
            self._ctx.bus.publish(PeAlertChanged(**a.to_json()))

    def tile_detail(self) -> tuple[TileState, str | None]:
        if not self.hr_present:
            return "unconfigured", "no [drivers.heart_rate] in the configuration"
        if self._live is not None:
            return "ready", "上课中 / lesson running"
        return "ready", None

    # -- roster -------------------------------------------------------------------------------------
    def _lesson_students(self, today: date) -> tuple[list[LessonStudent], dict[str, str]]:
        students: list[LessonStudent] = []
        sources: dict[str, str] = {}
        for s in self._roster:
            hrmax, source = s.hrmax(today)
            students.append(LessonStudent(s.student_id, s.label, s.band_id, hrmax))
            sources[s.student_id] = source
        return students, sources

    def _silent_bands(self) -> list[str]:
        if self._clock is None:
            return []
        return [s.band_id for s in self._roster if s.band_id
                and self._clock - self._seen.get(s.band_id, float("-inf")) > self.config.signal_lost_s]

    def problems(self) -> list[str]:
        return roster_problems(self._roster, self._seen, self._silent_bands())

    async def assign(self, band_id: str, student_id: str, actor: str = "teacher") -> str | None:
        ctx = self._need_ctx()
        assert ctx.store is not None
        try:
            swapped = await ctx.store.run(lambda db: assign_band(db, band_id, student_id, actor))
        except KeyError as exc:
            raise PeError(404, str(exc.args[0])) from None
        self._roster = await ctx.store.run(load_roster)
        live = self._live
        if live is not None:  # a band fixed mid-lesson: the wall follows at once, figures so far are kept
            students, _ = self._lesson_students(date.today())
            for s in students:
                if s.student_id in (student_id, swapped):
                    live.model.add_student(s)
                    self._watch(live, s)
                    live.dirty.add(s.student_id)
        return swapped

    def _watch(self, live: _Live, s: LessonStudent) -> None:
        if s.band_id:
            live.engine.watch(s.student_id, s.label, s.hrmax, live.model.now)
        else:
            for alert in live.engine.unwatch(s.student_id, live.model.now or 0.0):
                self._publish_alert(alert)

    # -- lesson -------------------------------------------------------------------------------------
    def current_lesson(self) -> dict[str, Any] | None:
        live = self._live
        if live is None:
            return None
        ends = datetime.fromtimestamp(live.started_at + self.config.lesson_minutes * 60)
        return {"title": "体育课 · 智慧体育", "teacher": None, "ends_at": ends.isoformat(timespec="seconds")}

    async def start_lesson(self, actor: str = "teacher") -> str:
        ctx = self._need_ctx()
        assert ctx.store is not None
        if self._live is not None:
            raise PeError(409, f"已在上课 / a lesson is already running ({self._live.lesson_id})")
        started = time.time()
        lesson_id = f"pe-{datetime.fromtimestamp(started):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        students, sources = self._lesson_students(date.today())
        class_id = self._roster[0].class_id if self._roster else None
        model = LessonModel(students, self.config, start_t=self._clock)
        live = _Live(lesson_id, started, class_id, model, AlertEngine(self.config, lesson_id), sources)
        for s in students:
            self._watch(live, s)

        def record(db: sqlite_utils.Database) -> None:
            db.execute("INSERT INTO pe_lessons (lesson_id, class_id, started_at) VALUES (?, ?, ?)",
                       [lesson_id, class_id, started])
            audit_row(db, actor, "pe.lesson.start", f"lesson={lesson_id} students={len(students)}")

        await ctx.store.run(record)
        self._live = live
        self._last_flush = 0.0
        return lesson_id

    async def stop_lesson(self, actor: str = "teacher") -> dict[str, Any]:
        """End the lesson: report files, lesson rows and the county's records (one transaction)."""
        ctx = self._need_ctx()
        assert ctx.store is not None
        live = self._live
        if live is None:
            raise PeError(409, "没有进行中的课 / no lesson is running")
        self._live = None
        self._last = live
        ended = time.time()
        report = build_report(live.lesson_id, live.class_id, live.started_at, ended, live.model, live.engine,
                              live.hrmax_source)
        curves = {sid: tr.curve for sid, tr in live.model.tracks.items()}
        await ctx.run_blocking(write_report_files, self.reports_dir, report, curves)
        outbox = ctx.outbox

        def record(db: sqlite_utils.Database) -> None:
            k = report["class"]
            db.execute("UPDATE pe_lessons SET ended_at = ?, students = ?, density = ?, avg_bpm = ?, report_json = ?"
                       " WHERE lesson_id = ?",
                       [ended, k["students"], k["density"], k["avg_bpm"], _json(report), live.lesson_id])
            for r in report["students"]:
                db.execute("INSERT INTO pe_student_lessons VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [live.lesson_id, r["student_id"], r["avg_bpm"], r["peak_bpm"], r["density"],
                            _json(r["minutes_per_zone"]), r["recovery_1min"], r["recovery_2min"], r["alerts"]])
            if outbox is not None:
                summary = {"lesson_id": live.lesson_id, "class_id": live.class_id, "date": report["date"],
                           "duration_s": report["duration_s"], "norms": report["norms"], **k}
                try:
                    outbox.add(db, "pe.lesson_summary", summary)
                except OutboxFull:
                    pass  # the class summary gives way when the outbox is full; students' records never do
                for r in report["students"]:
                    outbox.add(db, "pe.student_lesson", {"lesson_id": live.lesson_id, "class_id": live.class_id, **r})
            audit_row(db, actor, "pe.lesson.stop", f"lesson={live.lesson_id} students={k['students']}")

        await ctx.store.run(record)
        return report

    def _need_ctx(self) -> ComponentContext:
        if self._ctx is None or self._ctx.store is None:
            raise PeError(503, "智慧体育未启动 / Smart PE is not running yet")
        return self._ctx

    def lesson_view(self) -> dict[str, Any]:
        live = self._live
        if live is None:
            return {"lesson_id": None}
        m = live.model
        return {
            "lesson_id": live.lesson_id, "started_at": live.started_at, "elapsed_s": round(m.elapsed_s, 1),
            "planned_s": self.config.lesson_minutes * 60, "class": m.class_figures(), "zones": m.zones(),
            "tiles": [m.tile(tr, live.engine.worst_for(sid)) for sid, tr in m.tracks.items()],
        }

    # -- HTTP -------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/pe/roster", self._h(self._get_roster))
        r.add_post("/api/pe/roster/assign", self._h(self._post_assign))
        r.add_post("/api/pe/lesson/start", self._h(self._post_start))
        r.add_post("/api/pe/lesson/stop", self._h(self._post_stop))
        r.add_get("/api/pe/lesson", self._h(self._get_lesson))
        r.add_get("/api/pe/students/{student_id}/curve", self._h(self._get_curve))
        r.add_post("/api/pe/effort", self._h(self._post_effort))
        r.add_get("/api/pe/alerts", self._h(self._get_alerts))
        r.add_post("/api/pe/alerts/{alert_id}/ack", self._h(self._post_ack))
        r.add_get("/api/pe/lessons", self._h(self._get_lessons))
        r.add_get("/api/pe/lessons/{lesson_id}", self._h(self._get_report))
        r.add_get("/api/pe/lessons/{lesson_id}/report.pdf", self._h(self._download))
        r.add_get("/api/pe/lessons/{lesson_id}/report.csv", self._h(self._download))
        r.add_get("/api/pe/bands", self._h(self._get_bands))

    @staticmethod
    def _h(fn: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = await fn(request)
            except PeError as exc:
                return web.json_response({"error": str(exc)}, status=exc.status)
            return result if isinstance(result, web.StreamResponse) else web.json_response(result)

        return handler

    @staticmethod
    async def _body(request: web.Request, *keys: str) -> dict[str, Any]:
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise PeError(400, "body must be JSON") from None
        if not isinstance(body, dict) or any(not isinstance(body.get(k), str) or not body[k] for k in keys):
            raise PeError(400, f"body must be an object with string fields {', '.join(keys)}")
        return body

    async def _get_roster(self, request: web.Request) -> Any:
        today = date.today()
        students = []
        for s in self._roster:
            hrmax, source = s.hrmax(today)
            students.append({"student_id": s.student_id, "label": s.label, "sex": s.sex, "birth_year": s.birth_year,
                             "hrmax": hrmax, "hrmax_source": source, "resting_hr": s.resting_hr, "band_id": s.band_id})
        assigned = {s.band_id for s in self._roster}
        return {"students": students, "unassigned_bands": sorted(b for b in self._seen if b not in assigned),
                "problems": self.problems()}

    async def _post_assign(self, request: web.Request) -> Any:
        body = await self._body(request, "band_id", "student_id")
        swapped = await self.assign(body["band_id"], body["student_id"], str(body.get("by") or "teacher"))
        return {"ok": True, "swapped_with": swapped}

    async def _post_start(self, request: web.Request) -> Any:
        return {"lesson_id": await self.start_lesson()}

    async def _post_stop(self, request: web.Request) -> Any:
        report = await self.stop_lesson()
        return {"lesson_id": report["lesson_id"], "report": f"/api/pe/lessons/{report['lesson_id']}"}

    async def _get_lesson(self, request: web.Request) -> Any:
        return self.lesson_view()

    async def _get_curve(self, request: web.Request) -> Any:
        lesson = self._live or self._last
        sid = request.match_info["student_id"]
        tr = lesson.model.tracks.get(sid) if lesson else None
        if tr is None:
            raise PeError(404, f"no curve for student {sid!r} (no lesson, or not in it)")
        return {"student_id": sid, "label": tr.info.label, "points": [list(p) for p in tr.curve],
                "hrmax": tr.info.hrmax, "zone_bpm": [round(b) for b in tr.zone_bpm],
                "target_bpm": list(self.config.target_bpm)}

    async def _post_effort(self, request: web.Request) -> Any:
        live = self._live
        marked = live.model.mark_effort() if live else None
        if live is None or marked is None:
            raise PeError(409, "没有进行中的课 / no lesson with heart-rate data is running")
        ctx = self._need_ctx()
        assert ctx.store is not None
        await ctx.store.audit("teacher", "pe.effort", f"lesson={live.lesson_id} at={marked}")
        return {"marked_at": marked}

    async def _get_alerts(self, request: web.Request) -> Any:
        live = self._live or self._last
        if live is None:
            return {"active": [], "recent": []}
        active = [a.to_json() for a in live.engine.active()] if live is self._live else []
        return {"active": active, "recent": [a.to_json() for a in live.engine.recent()]}

    async def _post_ack(self, request: web.Request) -> Any:
        body = await self._body(request)
        by = str(body.get("by") or "teacher")
        live = self._live
        alert_id = request.match_info["alert_id"]
        if live is None or alert_id not in live.engine.by_id:
            raise PeError(404, f"no alert {alert_id!r} in the running lesson")
        before = live.engine.by_id[alert_id]
        alert = live.engine.acknowledge(alert_id, by, live.model.now or time.time())
        if alert is not before:
            ctx = self._need_ctx()
            assert ctx.store is not None
            await ctx.store.run(lambda db: audit_acknowledgement(db, alert))
            self._publish_alert(alert)
        return {"ok": True}

    async def _get_lessons(self, request: web.Request) -> Any:
        ctx = self._need_ctx()
        assert ctx.store is not None
        rows = await ctx.store.run(lambda db: db.execute(
            "SELECT lesson_id, started_at, ended_at, students, density, avg_bpm FROM pe_lessons"
            " ORDER BY started_at DESC LIMIT 200").fetchall())
        keys = ("lesson_id", "started_at", "ended_at", "students", "density", "avg_bpm")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    async def _get_report(self, request: web.Request) -> Any:
        ctx = self._need_ctx()
        assert ctx.store is not None
        lesson_id = request.match_info["lesson_id"]
        row = await ctx.store.run(lambda db: db.execute(
            "SELECT report_json FROM pe_lessons WHERE lesson_id = ?", [lesson_id]).fetchone())
        if row is None or row[0] is None:
            raise PeError(404, f"no finished lesson {lesson_id!r}")
        return web.Response(text=row[0], content_type="application/json")

    async def _download(self, request: web.Request) -> Any:
        lesson_id = request.match_info["lesson_id"]
        suffix = request.path.rsplit(".", 1)[-1]
        path = self.reports_dir / f"{lesson_id}.{suffix}"
        if not LESSON_ID.match(lesson_id) or not path.is_file():
            raise PeError(404, f"no {suffix} report for lesson {lesson_id!r}")
        return web.FileResponse(path, headers={
            "Content-Disposition": f'attachment; filename="{lesson_id}.{suffix}"',
            "Content-Type": "application/pdf" if suffix == "pdf" else "text/csv; charset=utf-8"})

    async def _get_bands(self, request: web.Request) -> Any:
        status = self._ctx.bus.last(HeartRateAdapterStatus) if self._ctx else None
        adapter = None
        if status is not None:
            adapter = status.to_json()
            adapter.pop("topic", None)
        return {"adapter": adapter, "roster_problems": self.problems()}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
