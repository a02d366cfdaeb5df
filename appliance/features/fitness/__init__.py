"""Fitness counting: playground cameras → pose → per-station rule-checked counters → the 2014 standard.

The feature consumes only :class:`CameraFrame` and :class:`CameraStatus` from the bus. Each camera's
newest frame goes through the pose models in that camera's own worker thread; the tracked people
are matched to the stations drawn on that camera, and the person at a station with a running
session feeds the session's counter. A finished test is scored against the national standard and
filed in the student's archive, with the county's record, in one store transaction. Frames never
leave the box: the kiosk on the box itself may fetch a snapshot; everyone else gets skeletons.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from appliance.component import ComponentContext
from appliance.config.schema import CameraSourceConfig, FitnessFeatureConfig
from appliance.events import CameraFrame, CameraStatus
from appliance.features.base import Feature, FeatureError, FeatureInfo, TileState
from appliance.features.fitness import persist
from appliance.features.fitness.analysis import CameraAnalyzer, Tracker
from appliance.features.fitness.events import FitnessCamera, FitnessLive, FitnessResult
from appliance.features.fitness.sessions import Session
from appliance.features.fitness.stations import EXERCISES, Station, assign
from appliance.features.fitness.terms import grade_of, term_of
from appliance.features.smart_pe.roster import Student, class_ids, load_roster

log = logging.getLogger("classroom.fitness")

TICK_S = 0.25
LIVE_MIN_INTERVAL_S = 0.125  # at most 8 skeleton updates a second per camera to the kiosk
STATS_EVERY_S = 2.0


class FitnessError(FeatureError):
    """A refusal of this feature's API (status and one clear sentence)."""


def default_tracker_factory(config: FitnessFeatureConfig) -> Callable[[], Tracker]:
    """Pose models are imported here, lazily: a box without them still runs stations and hand entries."""

    def make() -> Tracker:
        from models.pose import PoseEstimator, PoseTracker

        estimator = PoseEstimator(backend=config.backend, threads=config.threads, max_people=config.max_people)
        estimator.warm_up()
        return PoseTracker(estimator)

    return make


class Fitness(Feature):
    name = "fitness"
    info = FeatureInfo("fitness", "体测计数", "Fitness test counting", "🏃")
    heartbeat_timeout_s = 30.0

    def __init__(
        self,
        config: FitnessFeatureConfig,
        data_dir: Path,
        cameras: Sequence[CameraSourceConfig] = (),
        timezone: str = "Asia/Shanghai",
        tracker_factory: Callable[[], Tracker] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.clips_dir = data_dir / "fitness" / "clips"
        self.cameras = {c.id: c for c in cameras}
        self.tz = ZoneInfo(timezone)
        self.tracker_factory = tracker_factory or default_tracker_factory(config)
        self._ctx: ComponentContext | None = None
        self.analyzers: dict[str, CameraAnalyzer] = {}
        self.stations: dict[str, Station] = {}
        self.sessions: dict[str, Session] = {}
        self.roster: list[Student] = []
        self.set_grades: dict[str, int] = {}
        self.class_id: str | None = None
        self.pose_error: str | None = None
        self.clip_buffers: dict[str, Any] = {}
        self._last_live: dict[str, float] = {}
        self._present: dict[str, bool] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle -------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        if ctx.store is None:
            raise RuntimeError("fitness needs the store")
        self._ctx = ctx
        seeds = [Station(s.id, s.camera, s.name or s.id, s.exercise, list(s.region), s.bar_y)
                 for s in self.config.stations]
        await ctx.store.run(lambda db: persist.seed_stations(db, seeds))
        await self.reload()
        if self.config.clips:
            from appliance.features.fitness.clips import delete_older_than

            pruned = await ctx.run_blocking(delete_older_than, self.clips_dir, float(self.config.clip_keep_days))
            if pruned:
                ctx.log.info("fitness: %d clips older than %d days deleted", len(pruned), self.config.clip_keep_days)
        self.pose_error = await self._check_models(ctx)
        analyzer_tasks = []
        for cam in self.cameras:
            analyzer = CameraAnalyzer(cam, self.tracker_factory, self.config.max_fps, self._on_poses,
                                      clip_sink=self._clip_buffer(cam), idle_fps=self.config.idle_fps,
                                      busy=partial(self.camera_busy, cam))
            self.analyzers[cam] = analyzer
            if self.pose_error is None:
                analyzer_tasks.append(asyncio.create_task(analyzer.run(), name=f"fitness-{cam}"))
        last_stats = 0.0
        try:
            with ctx.bus.subscribe(CameraFrame, CameraStatus, maxsize=64, name="fitness") as sub:
                while True:
                    ctx.heartbeat()
                    now = time.monotonic()
                    self._tick(now)
                    if now - last_stats >= STATS_EVERY_S:
                        last_stats = now
                        for cam, analyzer in self.analyzers.items():
                            ctx.bus.publish(FitnessCamera(camera=cam, stats=self.camera_json(analyzer)))
                    for task in analyzer_tasks:
                        if task.done() and not task.cancelled() and task.exception() is not None:
                            raise RuntimeError(f"camera analysis stopped: {task.exception()!r}")
                    event: Any = None
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(TICK_S):
                            event = await sub.get()
                    while event is not None:
                        self._on_event(event)
                        event = sub.queue.get_nowait() if not sub.queue.empty() else None
        finally:
            for task in analyzer_tasks + list(self._tasks):
                task.cancel()
            self.analyzers.clear()

    async def _check_models(self, ctx: ComponentContext) -> str | None:
        if not self.cameras:
            return None
        try:
            tracker = await ctx.run_blocking(self.tracker_factory)
            del tracker
            return None
        except Exception as exc:  # PoseModelsMissing names the command that fixes it
            message = f"pose models unavailable: {exc}"
            ctx.log.error("fitness: %s (stations and hand-entered results still work)", message)
            return message

    def _clip_buffer(self, camera: str) -> Any:
        if not self.config.clips:
            return None
        from appliance.features.fitness.clips import ClipBuffer

        buf = ClipBuffer(seconds=self.config.clip_seconds, max_fps=self.config.max_fps, camera=camera)
        self.clip_buffers[camera] = buf
        return buf

    async def reload(self) -> None:
        """Stations, roster and hand-set grades from the store (after start and after every change)."""
        assert self._ctx is not None and self._ctx.store is not None

        def load(db: Any) -> tuple[list[Station], list[Student], dict[str, int]]:
            return persist.load_stations(db), load_roster(db), persist.load_set_grades(db)

        stations, self.roster, self.set_grades = await self._ctx.store.run(load)
        old = self.stations
        self.stations = {s.station_id: s for s in stations}
        for sid, st in self.stations.items():
            if sid in old:
                st.track_id = old[sid].track_id
        classes = class_ids(self.roster)
        if self.class_id not in classes:
            self.class_id = classes[0] if classes else None

    def tile_detail(self) -> tuple[TileState, str | None]:
        if not self.cameras:
            return "unconfigured", "没有配置摄像头 / no cameras in [drivers.cameras]"
        if self.pose_error:
            return "degraded", self.pose_error
        bad = [a.camera for a in self.analyzers.values() if a.status is not None and a.status.state != "live"]
        if bad:
            return "degraded", f"摄像头离线 / camera not live: {', '.join(bad)}"
        return "ready", None

    # -- frames and poses --------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        analyzer = self.analyzers.get(event.camera)
        if analyzer is None:
            return
        if isinstance(event, CameraFrame):
            if self.pose_error is None:
                analyzer.offer(event)
            else:
                analyzer.latest = event  # snapshots for drawing stations still work
        elif isinstance(event, CameraStatus):
            analyzer.status = event

    def _on_poses(self, frame: CameraFrame, poses: Sequence[Any]) -> None:
        stations = [s for s in self.stations.values() if s.camera == frame.camera]
        chosen = assign(stations, poses, frame.width, frame.height, frame.captured)
        for st in stations:
            person = chosen.get(st.station_id)
            self._present[st.station_id] = person is not None
            session = self.sessions.get(st.station_id)
            if session is not None and session.state != "finished":
                session.feed(frame.captured, None if person is None else person.keypoints)
        now = time.monotonic()
        if now - self._last_live.get(frame.camera, 0.0) >= LIVE_MIN_INTERVAL_S and self._ctx is not None:
            self._last_live[frame.camera] = now
            at = {p.track_id: sid for sid, p in chosen.items()}
            w, h = max(frame.width, 1), max(frame.height, 1)
            people = [{"track_id": p.track_id, "station_id": at.get(p.track_id),
                       "kp": [[round(float(x) / w, 4), round(float(y) / h, 4), round(float(v), 2)]
                              for x, y, v in p.keypoints]} for p in poses]
            self._ctx.bus.publish(FitnessLive(
                camera=frame.camera, width=frame.width, height=frame.height, people=people,
                stations=[{"station_id": s.station_id, "present": self._present.get(s.station_id, False),
                           "session": self._session_json(s.station_id, now)} for s in stations]))

    def camera_busy(self, camera: str) -> bool:
        """A session (or its countdown) runs at a station on this camera: analyse at the full pace."""
        return any(s.state != "finished" and self.stations.get(sid) is not None
                   and self.stations[sid].camera == camera for sid, s in self.sessions.items())

    def _session_json(self, station_id: str, now: float | None = None) -> dict[str, Any] | None:
        session = self.sessions.get(station_id)
        return session.to_json(now) if session is not None else None

    def _tick(self, now: float) -> None:
        for station_id, session in list(self.sessions.items()):
            if session.tick(now):
                self._spawn(self._finish(station_id, session))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- students ----------------------------------------------------------------------------------
    def today(self) -> date:
        return datetime.now(self.tz).date()

    def student(self, student_id: str | None) -> Student | None:
        return next((s for s in self.roster if s.student_id == student_id), None)

    def student_json(self, s: Student) -> dict[str, Any]:
        grade, source = grade_of(self.set_grades.get(s.student_id), s.class_id, s.birth_year, self.today())
        return {"student_id": s.student_id, "label": s.label, "sex": s.sex, "grade": grade, "grade_source": source,
                "class_id": s.class_id}

    # -- sessions ----------------------------------------------------------------------------------
    def start(self, station_id: str, mode: str, student_id: str | None) -> Session:
        st = self.stations.get(station_id)
        if st is None:
            raise FitnessError(404, f"no station {station_id!r}")
        running = self.sessions.get(station_id)
        if running is not None and running.state != "finished":
            raise FitnessError(409, "这个站点正在计数 / a session is already running at this station; stop it first")
        if mode not in ("test", "training"):
            raise FitnessError(400, "mode must be 'test' or 'training'")
        student_id = student_id or st.student_id
        student = self.student(student_id) if student_id else None
        if student_id and student is None:
            raise FitnessError(400, f"no student {student_id!r} in the roster")
        if mode == "test" and student is None:
            raise FitnessError(400, "测试需要先选择学生 / a test needs the student at the station: pick one first")
        if self.pose_error is not None:
            raise FitnessError(503, self.pose_error)
        ex = EXERCISES[st.exercise]
        duration = float(self.config.test_seconds) if (mode == "test" and ex["timed"]) else None
        analyzer = self.analyzers.get(st.camera)
        height = analyzer.latest.height if analyzer is not None and analyzer.latest is not None else None
        bar_px = st.bar_y * height if st.bar_y is not None and height else None
        session = Session(station_id, st.exercise, mode, student_id, student.label if student else None,  # type: ignore[arg-type]
                          float(self.config.countdown_s), duration, bar_y_px=bar_px)
        self.sessions[station_id] = session
        log.info("fitness: %s %s started at %s for %s", mode, st.exercise, station_id, student_id or "-")
        return session

    async def stop(self, station_id: str) -> Session:
        session = self.sessions.get(station_id)
        if session is None or session.state == "finished":
            raise FitnessError(409, "这个站点没有正在进行的计数 / nothing is running at this station")
        if session.stop(time.monotonic()):
            await self._finish(station_id, session)
        return session

    def score(self, item: str | None, student: Student | None, value: float) -> tuple[int | None, int | None, int | None]:
        """(score, bonus, grade) for a standard item, or Nones when it cannot be scored (and why is logged)."""
        if item is None or student is None:
            return None, None, None
        from appliance.fitness import bonus_points, score_item

        grade = self.student_json(student)["grade"]
        try:
            return score_item(item, student.sex, grade, value), bonus_points(item, student.sex, grade, value), grade
        except ValueError as exc:
            log.warning("fitness: %s for %s not scored: %s", item, student.student_id, exc)
            return None, None, grade

    async def _finish(self, station_id: str, session: Session) -> None:
        assert self._ctx is not None and self._ctx.store is not None
        if session.result is not None:
            return
        student = self.student(session.student_id)
        item = EXERCISES[session.exercise]["item"] if session.is_scored_test else None
        count = session.count
        score, bonus, grade = self.score(item, student, count)
        if student is not None and grade is None:
            grade = self.student_json(student)["grade"]
        result = {"result_id": session.session_id, "station_id": station_id, "student_id": session.student_id,
                  "label": session.label, "exercise": session.exercise, "mode": "test" if item else "training",
                  "item": item if score is not None else None, "count": count, "machine_count": count,
                  "invalid": list(session.invalid), "score": score, "bonus": bonus,
                  "started_at": session.created_wall + session.countdown_s, "duration_s": round(session.elapsed_s, 1),
                  "term": term_of(self.today()), "grade": grade, "sex": student.sex if student else None,
                  "corrected_by": None}
        session.result = result
        class_id = student.class_id if student else None
        outbox = self._ctx.outbox
        try:
            await self._ctx.store.run(lambda db: persist.insert_result(db, result, class_id, outbox))
        except Exception as exc:  # the disk is full or the store is gone: say so, keep the result on screen
            self._ctx.log.error("fitness: result of %s at %s not saved: %r", session.student_id, station_id, exc)
            return
        if result["score"] is not None and student is not None:
            await self.update_prescription(student)
        self._ctx.bus.publish(FitnessResult(result=result))
        log.info("fitness: %s at %s finished: %d (%d invalid)", session.exercise, station_id, count, len(session.invalid))

    async def update_prescription(self, student: Student) -> dict[str, Any] | None:
        """Re-derive the student's prescription from this term's best results (rule-based, explainable)."""
        assert self._ctx is not None and self._ctx.store is not None
        from appliance.fitness.prescription import prescribe

        term = term_of(self.today())
        info = self.student_json(student)
        best = await self._ctx.store.run(lambda db: persist.best_measurements(db, [student.student_id], term))
        values = {item: m["value"] for item, m in best.get((student.student_id, term), {}).items()}
        if not values:
            return None
        try:
            pres = prescribe(student.sex, info["grade"], values, tested_on=self.today(),
                             retest_weeks=self.config.retest_weeks)
        except ValueError as exc:
            log.warning("fitness: no prescription for %s: %s", student.student_id, exc)
            return None
        data = _plain(pres)
        outbox = self._ctx.outbox
        await self._ctx.store.run(lambda db: persist.save_prescription(
            db, student.student_id, term, str(data.get("retest_on")), data, outbox))
        return data

    def camera_json(self, analyzer: CameraAnalyzer, snapshot: bool = False) -> dict[str, Any]:
        data = analyzer.to_json()
        cam = self.cameras.get(analyzer.camera)
        if cam is not None and cam.name:
            data["name"] = cam.name
        data["snapshot"] = snapshot
        return data

    def add_routes(self, app: web.Application) -> None:
        from appliance.features.fitness.api import add_routes

        add_routes(app, self)


def _plain(value: Any) -> Any:
    """Dataclasses, dates and tuples to JSON-ready values (the prescription as the kiosk reads it)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
