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
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils
from aiohttp import web

from appliance.component import ComponentContext, OutboxFull
from appliance.config.schema import SmartPeFeatureConfig
from appliance.events import HeartRateAdapterStatus, HeartRateSample, PeAlertChanged, PeWallUpdate
from appliance.features.base import Feature, FeatureError, FeatureInfo, TileState, json_body, json_endpoint
from appliance.features.smart_pe.alerts import Alert, AlertEngine, audit_acknowledgement
from appliance.features.smart_pe.lesson import LessonModel, LessonStudent
from appliance.features.smart_pe.report import build_report, write_report_files
from appliance.features.smart_pe.roster import (
    RosterImportError,
    Student,
    assign_band,
    class_ids,
    import_roster,
    load_roster,
    parse_roster_csv,
    roster_problems,
)
from appliance.features.smart_pe.timetable import SlotOccurrence, next_slot, slot_at
from appliance.store import audit_row

FLUSH_S = 0.1
HEARTBEAT_S = 2.0
TIMETABLE_EVERY_S = 2.0
MAX_ROSTER_CSV_BYTES = 2 * 1024 * 1024
LESSON_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PeError(FeatureError):
    """A refusal of this feature's API (status and one clear sentence)."""


@dataclass
class _Live:
    """The lesson in progress and what the wall has already been sent."""

    lesson_id: str
    started_at: float
    class_id: str | None
    model: LessonModel
    engine: AlertEngine
    hrmax_source: dict[str, str]
    started_by: str = "teacher"
    slot: SlotOccurrence | None = None  # the timetable slot that ends this lesson by itself
    dirty: set[str] = field(default_factory=set)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent_class: dict[str, Any] = field(default_factory=dict)


class SmartPe(Feature):
    name = "smart_pe"
    info = FeatureInfo("smart_pe", "智慧体育", "Smart PE", "❤️")
    heartbeat_timeout_s = 30.0

    def __init__(
        self, config: SmartPeFeatureConfig, data_dir: Path, hr_present: bool = True, timezone: str = "Asia/Shanghai"
    ) -> None:
        self.config = config
        self.reports_dir = data_dir / "reports"
        self.hr_present = hr_present
        self.tz = ZoneInfo(timezone)
        # The wall clock in the school's zone; tests replace it to stand at a given minute of the week.
        self.now: Callable[[], datetime] = lambda: datetime.now(self.tz)
        self._selected_class: str | None = None
        self._slots_handled: set[str] = set()  # timetable slots already started (or ended by the teacher)
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
        last_beat = last_timetable = 0.0
        with ctx.bus.subscribe(HeartRateSample, maxsize=8192, name="smart_pe") as sub:
            while True:
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    ctx.heartbeat()
                    last_beat = now
                if now - last_timetable >= TIMETABLE_EVERY_S:
                    last_timetable = now
                    await self.follow_timetable(self.now())
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
    def _lesson_students(self, today: date, class_id: str | None) -> tuple[list[LessonStudent], dict[str, str]]:
        students: list[LessonStudent] = []
        sources: dict[str, str] = {}
        for s in self._roster:
            if s.class_id != class_id:
                continue
            hrmax, source = s.hrmax(today)
            students.append(LessonStudent(s.student_id, s.label, s.band_id, hrmax))
            sources[s.student_id] = source
        return students, sources

    def class_roster(self, class_id: str | None = None) -> list[Student]:
        class_id = class_id or self.current_class()
        return [s for s in self._roster if s.class_id == class_id]

    def current_class(self) -> str | None:
        """The class the wall and the roster page are about: the running lesson's, the timetable's, the chosen one."""
        if self._live is not None:
            return self._live.class_id
        classes = class_ids(self._roster)
        now = self.now()
        slot = slot_at(self.config, now)
        if slot is not None and slot.class_id in classes:
            return slot.class_id
        if self._selected_class in classes:
            return self._selected_class
        upcoming = next_slot(self.config, now, within_days=0)
        if upcoming is not None and upcoming.class_id in classes:
            return upcoming.class_id
        return classes[0] if classes else None

    def select_class(self, class_id: str) -> None:
        if class_id not in class_ids(self._roster):
            raise PeError(404, f"no class {class_id!r} in the roster")
        if self._live is not None and self._live.class_id != class_id:
            raise PeError(409, "上课中不能换班 / a lesson is running; end it before switching class")
        self._selected_class = class_id

    def _silent_bands(self, students: list[Student]) -> list[str]:
        if self._clock is None:
            return []
        return [s.band_id for s in students if s.band_id
                and self._clock - self._seen.get(s.band_id, float("-inf")) > self.config.signal_lost_s]

    def problems(self, class_id: str | None = None) -> list[str]:
        students = self.class_roster(class_id)
        return roster_problems(students, self._seen, self._silent_bands(students))

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
            students, _ = self._lesson_students(date.today(), live.class_id)
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
        title = live.slot.title if live.slot else f"体育课 · {live.class_id}" if live.class_id else "体育课 · 智慧体育"
        return {"title": title, "teacher": None, "ends_at": self._ends_at(live).isoformat(timespec="seconds")}

    def _ends_at(self, live: _Live) -> datetime:
        if live.slot is not None:
            return live.slot.ends
        return datetime.fromtimestamp(live.started_at + self.config.lesson_minutes * 60, self.tz)

    async def follow_timetable(self, now: datetime) -> None:
        """Start the slot's lesson when it begins, end it when it is over, end a forgotten lesson.

        A slot is started once: if the teacher ends it early it stays ended, and a lesson the teacher
        started just before the bell for the same class is adopted (the timetable ends it).
        """
        live = self._live
        if live is not None:
            slot = slot_at(self.config, now) if live.slot is None else None
            if slot is not None and slot.class_id == live.class_id and slot.key not in self._slots_handled:
                self._slots_handled.add(slot.key)
                live.slot = slot  # started early by the teacher: the bell still ends it
            if live.slot is not None and now >= live.slot.ends:
                self._log.info("PE lesson %s: timetable slot over, ending it", live.lesson_id)
                await self.stop_lesson("timetable")
            elif now.timestamp() - live.started_at >= self.config.max_lesson_minutes * 60:
                self._log.warning(
                    "PE lesson %s ran %d minutes (features.smart_pe.max_lesson_minutes); ending it and writing the report",
                    live.lesson_id, self.config.max_lesson_minutes)
                await self.stop_lesson("auto")
            return
        slot = slot_at(self.config, now)
        if slot is None or slot.key in self._slots_handled:
            return
        self._slots_handled.add(slot.key)
        if slot.class_id not in class_ids(self._roster):
            self._log.warning(
                "timetable: class %r of the %s slot is not in the roster; no lesson started (import its roster)",
                slot.class_id, f"{slot.starts:%H:%M}")
            return
        lesson_id = await self.start_lesson("timetable", slot.class_id, slot)
        self._log.info("PE lesson %s started by the timetable for class %s", lesson_id, slot.class_id)

    async def start_lesson(
        self, actor: str = "teacher", class_id: str | None = None, slot: SlotOccurrence | None = None
    ) -> str:
        ctx = self._need_ctx()
        assert ctx.store is not None
        if self._live is not None:
            raise PeError(409, f"已在上课 / a lesson is already running ({self._live.lesson_id})")
        if class_id is not None and class_id not in class_ids(self._roster):
            raise PeError(404, f"no class {class_id!r} in the roster")
        now = self.now()
        if slot is None:  # the teacher's button inside (or just before) a slot: that slot's lesson
            slot = slot_at(self.config, now)
            if slot is not None and class_id not in (None, slot.class_id):
                slot = None
            if slot is not None:
                self._slots_handled.add(slot.key)
        class_id = class_id or (slot.class_id if slot else None) or self.current_class()
        started = time.time()
        lesson_id = f"pe-{datetime.fromtimestamp(started):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        students, sources = self._lesson_students(date.today(), class_id)
        model = LessonModel(students, self.config, start_t=self._clock)
        live = _Live(lesson_id, started, class_id, model, AlertEngine(self.config, lesson_id), sources, actor, slot)
        for s in students:
            self._watch(live, s)

        def record(db: sqlite_utils.Database) -> None:
            db.execute("INSERT INTO pe_lessons (lesson_id, class_id, started_at) VALUES (?, ?, ?)",
                       [lesson_id, class_id, started])
            audit_row(db, actor, "pe.lesson.start", f"lesson={lesson_id} class={class_id} students={len(students)}")

        await ctx.store.run(record)
        self._live = live
        self._selected_class = class_id  # after the bell the roster page stays on the class just taught
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
                for r in report["students"]:  # the wall label ("12号") stays on the box: the county needs the id only
                    record = {k: v for k, v in r.items() if k != "label"}
                    outbox.add(db, "pe.student_lesson", {"lesson_id": live.lesson_id, "class_id": live.class_id, **record})
            audit_row(db, actor, "pe.lesson.stop", f"lesson={live.lesson_id} students={k['students']}")

        await ctx.store.run(record)
        return report

    @property
    def _log(self) -> logging.Logger:
        return self._ctx.log if self._ctx is not None else logging.getLogger("classroom.smart_pe")

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
            "lesson_id": live.lesson_id, "class_id": live.class_id, "started_by": live.started_by,
            "started_at": live.started_at, "ends_at": self._ends_at(live).timestamp(), "elapsed_s": round(m.elapsed_s, 1),
            "planned_s": round(self._ends_at(live).timestamp() - live.started_at),
            "class": m.class_figures(), "zones": m.zones(),
            "tiles": [m.tile(tr, live.engine.worst_for(sid)) for sid, tr in m.tracks.items()],
        }

    # -- HTTP -------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/pe/roster", self._h(self._get_roster))
        r.add_post("/api/pe/roster/assign", self._h(self._post_assign))
        r.add_post("/api/pe/roster/class", self._h(self._post_class))
        r.add_post("/api/pe/roster/import", self._h(self._post_import))
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

    _h = staticmethod(json_endpoint)
    _body = staticmethod(json_body)

    async def _get_roster(self, request: web.Request) -> Any:
        today = date.today()
        class_id = request.query.get("class_id") or self.current_class()
        if class_id is not None and self._roster and class_id not in class_ids(self._roster):
            raise PeError(404, f"no class {class_id!r} in the roster")
        roster = self.class_roster(class_id)
        students = []
        for s in roster:
            hrmax, source = s.hrmax(today)
            students.append({"student_id": s.student_id, "label": s.label, "sex": s.sex, "birth_year": s.birth_year,
                             "hrmax": hrmax, "hrmax_source": source, "resting_hr": s.resting_hr, "band_id": s.band_id})
        assigned = {s.band_id for s in roster}
        upcoming = next_slot(self.config, self.now())
        return {"class_id": class_id, "classes": class_ids(self._roster), "students": students,
                "unassigned_bands": sorted(b for b in self._seen if b not in assigned),
                "problems": self.problems(class_id),
                "next_slot": None if upcoming is None else {
                    "class_id": upcoming.class_id, "title": upcoming.title,
                    "starts_at": upcoming.starts.isoformat(timespec="minutes"),
                    "ends_at": upcoming.ends.isoformat(timespec="minutes")}}

    async def _post_class(self, request: web.Request) -> Any:
        body = await self._body(request, "class_id")
        self.select_class(body["class_id"])
        return {"ok": True, "class_id": body["class_id"]}

    async def _post_import(self, request: web.Request) -> Any:
        """A roster CSV from the technician (``classroom pe-roster import``): all rows or none."""
        ctx = self._need_ctx()
        assert ctx.store is not None
        if request.content_length is not None and request.content_length > MAX_ROSTER_CSV_BYTES:
            raise PeError(413, f"roster file over {MAX_ROSTER_CSV_BYTES // 1024 // 1024} MB")
        raw = await request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PeError(400, "roster file must be UTF-8 CSV (save it from the spreadsheet as 'CSV UTF-8')") from None
        try:
            rows = parse_roster_csv(text, date.today().year)
        except RosterImportError as exc:
            return web.json_response({"error": str(exc), "problems": exc.problems}, status=400)
        by = request.query.get("by", "technician")
        result = await ctx.store.run(lambda db: import_roster(db, rows, by))
        self._roster = await ctx.store.run(load_roster)
        ctx.log.info("roster imported by %s: %s", by, result)
        return {"ok": True, **result}

    async def _post_assign(self, request: web.Request) -> Any:
        body = await self._body(request, "band_id", "student_id")
        swapped = await self.assign(body["band_id"], body["student_id"], str(body.get("by") or "teacher"))
        return {"ok": True, "swapped_with": swapped}

    async def _post_start(self, request: web.Request) -> Any:
        body = await self._body(request)
        class_id = body.get("class_id")
        if class_id is not None and not isinstance(class_id, str):
            raise PeError(400, "class_id must be a string")
        return {"lesson_id": await self.start_lesson(str(body.get("by") or "teacher"), class_id or None)}

    async def _post_stop(self, request: web.Request) -> Any:
        body = await self._body(request)
        report = await self.stop_lesson(str(body.get("by") or "teacher"))
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
