"""Pen homework: students write on printed sheets with dot-matrix pens; results the moment the last pen lifts.

The feature consumes only :class:`PenStroke`, :class:`PenStatus` and :class:`ScannedSheet` from the bus.
Each stroke is routed to its answer box on the loop (a few comparisons); a box is read (marks by
geometry, digits and words by the on-device recognizer, in an executor) as soon as the student moves
on to another box, submits or goes idle, so when the last pen lifts only a box or two per student is
left to read. Doubtful readings go to the teacher's review queue with no score. Scores and the
county's records are written in one store transaction; ink stays on the box.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from appliance.component import ComponentContext
from appliance.config.schema import HomeworkFeatureConfig
from appliance.events import PenPasswordAttempt, PenStatus, PenStroke, ScannedSheet
from appliance.features.base import Feature, FeatureError, FeatureInfo, TileState
from appliance.features.homework import persist
from appliance.features.homework.assignments import Assignment, Sheet
from appliance.features.homework.events import HwProgress, HwResults
from appliance.features.homework.grading import Answer
from appliance.features.homework.question_bank import load_bank
from appliance.features.homework.reading import RecognizerSlot, default_recognizer, read_answer, resolve
from appliance.features.homework.roster import HwStudent, load_roster, normalise_pen
from appliance.features.homework.routing import route
from appliance.features.homework.template import Template, load_templates
from models.handwriting import Recognizer

BUNDLED_TEMPLATES = Path(__file__).with_name("templates")
HEARTBEAT_S = 2.0
IDLE_CHECK_S = 0.5
READ_AFTER_PAUSE_S = 4.0  # a box whose writer paused this long is read already (it may be the last one)
KEEP_CLOSED = 3  # collected assignments kept in memory for late offline uploads; older ones load from the store


class HomeworkError(FeatureError):
    """A refusal of this feature's API (status and one clear sentence)."""


class Homework(Feature):
    name = "homework"
    info = FeatureInfo("homework", "点阵笔作业", "Pen homework & exams", "✍️")
    heartbeat_timeout_s = 30.0

    def __init__(
        self,
        config: HomeworkFeatureConfig,
        data_dir: Path,
        timezone: str = "Asia/Shanghai",
        pens_present: bool = True,
        scanner_present: bool = False,
        recognizer_factory: Callable[[], Recognizer] | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.tz = ZoneInfo(timezone)
        self.pens_present = pens_present
        self.scanner_present = scanner_present
        self.slot = RecognizerSlot(recognizer_factory or default_recognizer)
        self.templates, self.template_problems = self._load_templates()
        self.bank, self.bank_problems = load_bank()
        self._ctx: ComponentContext | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.roster: list[HwStudent] = []
        self.live: dict[str, Assignment] = {}
        self.pens: dict[str, PenStatus] = {}
        self.unfiled_scans: list[dict[str, Any]] = []  # scanned pages not matched to a student (last 50)
        self.unknown_pens: dict[str, float] = {}  # strokes from pens nobody holds: pen -> last time
        self._said: set[str] = set()  # problems already logged once
        self._sent: dict[tuple[str, str], tuple[str, int, float | None, int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._results_lock = asyncio.Lock()

    def _load_templates(self) -> tuple[dict[str, Template], list[str]]:
        templates, problems = load_templates(BUNDLED_TEMPLATES)
        if self.config.templates_dir is not None:
            if not self.config.templates_dir.is_dir():
                problems.append(f"features.homework.templates_dir: {self.config.templates_dir} is not a folder")
            else:
                extra, more = load_templates(self.config.templates_dir)
                problems.extend(more)
                pages = {t.page.key(): t.id for t in templates.values()}
                for tid, t in extra.items():
                    if pages.get(t.page.key(), tid) != tid:
                        problems.append(f"{tid}: page address {t.page.key()} is already used by "
                                        f"{pages[t.page.key()]!r}; print each sheet on its own page address")
                        continue
                    templates[tid] = t  # a school's own copy replaces the bundled example of the same id
                    pages[t.page.key()] = tid
        return templates, problems

    # -- life cycle -------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        if ctx.store is None:
            raise RuntimeError("pen homework needs the store")
        self._ctx = ctx
        for p in self.template_problems + self.bank_problems:
            ctx.log.warning("homework: %s", p)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hw-read")
        try:
            self.roster = await ctx.store.run(load_roster)
            await self._restore(ctx)
            self._spawn(self._warm_up())
            last_beat = last_idle = 0.0
            with ctx.bus.subscribe(PenStroke, PenStatus, ScannedSheet, maxsize=50000, name="homework") as sub:
                while True:
                    now = time.monotonic()
                    if now - last_beat >= HEARTBEAT_S:
                        ctx.heartbeat()
                        last_beat = now
                        self._spawn(self.flush_ink())
                    if now - last_idle >= IDLE_CHECK_S:
                        last_idle = now
                        self.check_idle(now)
                    event: Any = None
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(IDLE_CHECK_S):
                            event = await sub.get()
                    while event is not None:
                        self.on_event(event)
                        event = sub.queue.get_nowait() if not sub.queue.empty() else None
        finally:
            try:  # the box a student is writing in right now, so a restart does not lose it
                async with asyncio.timeout(2.0):
                    await self.flush_ink()
            except (Exception, asyncio.CancelledError) as exc:
                self._log.warning("homework: ink of boxes being written not saved at stop: %r", exc)
            for task in list(self._tasks):
                task.cancel()
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _restore(self, ctx: ComponentContext) -> None:
        """Open assignments survive a restart: sheets, answers and ink come back from the store."""
        assert ctx.store is not None
        labels = {s.student_id: s for s in self.roster}
        ids = await ctx.store.run(persist.open_assignment_ids)
        for aid in ids:
            a = await ctx.store.run(partial(persist.load_assignment, assignment_id=aid, labels=labels))
            if a is not None:
                self.live[a.assignment_id] = a
                for s in a.sheets.values():
                    if s.state == "writing":
                        s.last_rx = time.monotonic()  # the idle clock restarts with the daemon
        if ids:
            ctx.log.info("homework: %d open assignment(s) restored", len(ids))

    async def _warm_up(self) -> None:
        """Load the recognizer off the loop before the first box needs it (seconds, once)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self.slot.get)
        except Exception as exc:
            self.slot.error = str(exc)
            self._log.error("handwriting recognizer unavailable (%s): numeric and text answers go to review", exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("homework task failed: %r", task.exception(), exc_info=task.exception())

    def _once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._said:
            self._said.add(key)
            self._log.warning(message, *args)

    @property
    def _log(self) -> logging.Logger:
        return self._ctx.log if self._ctx is not None else logging.getLogger("classroom.homework")

    def tile_detail(self) -> tuple[TileState, str | None]:
        if not self.pens_present and not self.scanner_present:
            return "unconfigured", "no [drivers.smartpen] or [drivers.scanner] in the configuration"
        writing = sum(s.state == "writing" for a in self.live.values() for s in a.sheets.values())
        return "ready", (f"{writing} 名学生正在作答 / students writing" if writing else None)

    # -- events -----------------------------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        try:
            if isinstance(event, PenStroke):
                self.on_stroke(event)
            elif isinstance(event, PenStatus):
                self.pens[normalise_pen(event.pen_id)] = event
            elif isinstance(event, ScannedSheet):
                self._spawn(self.on_scan(event))
        except Exception:  # one bad event must not take the feature (and everyone's homework) down
            self._log.exception("homework: could not handle %s", type(event).__name__)

    def _assignment_for(self, ev: PenStroke, pen: str) -> tuple[Assignment, Sheet] | None:
        key = (ev.section, ev.owner, ev.note, ev.page)
        matches = [a for a in self.live.values() if a.template.page.key() == key]
        if not matches:
            self._once(f"page:{key}", "homework: strokes on page %s but no open assignment uses that sheet "
                       "(open one at the kiosk)", ".".join(map(str, key)))
            return None
        # newest first; an offline stroke (the pen's own store, uploaded later) goes to the assignment open at
        # the time it was written, so a pen that uploads after class still lands on the right sheet
        matches.sort(key=lambda a: a.opened_at, reverse=True)
        if ev.offline:
            earlier = [a for a in matches if a.opened_at <= ev.started_at]
            matches = earlier + [a for a in matches if a not in earlier]
        else:
            matches = [a for a in matches if a.state == "open"] or matches
        for a in matches:
            for s in a.sheets.values():
                if s.pen_id == pen:
                    return a, s
        self.unknown_pens[pen] = time.time()
        self._once(f"pen:{pen}", "homework: pen %s writes on %s but no student of class %s holds it; "
                   "assign it at the kiosk (its ink is not kept)", pen, ".".join(map(str, key)), matches[0].class_id)
        return None

    def on_stroke(self, ev: PenStroke) -> None:
        """Route one stroke to its student's sheet and answer box (cheap: runs on the loop)."""
        pen = normalise_pen(ev.pen_id)
        found = self._assignment_for(ev, pen)
        if found is None:
            return
        a, sheet = found
        if sheet.state == "finished" and (sheet.finished_by != "idle" or a.results_ready_at is not None):
            self._once(f"late:{a.assignment_id}:{sheet.student_id}", "homework: %s wrote after finishing %s (%s);"
                       " the late ink is not graded", sheet.label, a.assignment_id, sheet.finished_by)
            return
        if a.state == "closed" and sheet.state == "not_started" and not ev.offline:
            self._once(f"closed:{a.assignment_id}:{sheet.student_id}", "homework: %s started writing after %s was"
                       " collected; the ink is not graded", sheet.label, a.assignment_id)
            return
        routed = route(ev, a.template)
        a.last_stroke_at = time.time()
        sheet.last_rx = time.monotonic()
        sheet.clock.add(ev.started_at, ev.ended_at)
        if sheet.state != "writing":  # first stroke, or a student who went idle comes back
            sheet.state, sheet.finished_at, sheet.finished_by = "writing", None, None
            self._save_sheet(a, sheet)
        target = routed.target
        if target == "submit":
            self.finish(a, sheet, "submit")
            return
        if target is None:
            return
        if sheet.current is not None and sheet.current != target:
            self.schedule_read(a, sheet, sheet.current)  # the student moved on: that box is done for now
        sheet.current = target
        sheet.ink.setdefault(target, []).append(routed.points_mm)
        sheet.ink_version[target] = sheet.ink_version.get(target, 0) + 1
        sheet.dirty.add(target)
        self._progress(a, sheet)

    async def flush_ink(self) -> None:
        boxes = []
        for a in self.live.values():
            for s in a.sheets.values():
                for qid in s.dirty:
                    boxes.append((a.assignment_id, s.student_id, qid, [list(st) for st in s.ink.get(qid, [])]))
                s.dirty.clear()
        if boxes:
            await self._store().run(lambda db: persist.save_ink(db, boxes))

    def check_idle(self, now: float) -> None:
        """Finish students idle for ``finish_idle_s``; read the box of one who paused (more ink re-reads it)."""
        for a in list(self.live.values()):
            for s in a.sheets.values():
                if s.state != "writing" or s.last_rx is None:
                    continue
                if now - s.last_rx >= self.config.finish_idle_s:
                    self.finish(a, s, "idle")
                elif now - s.last_rx >= READ_AFTER_PAUSE_S and s.current is not None:
                    self.schedule_read(a, s, s.current)

    def finish(self, a: Assignment, sheet: Sheet, by: str) -> None:
        """The student is done: read what is left, blanks for untouched questions, and maybe the class's results."""
        sheet.state, sheet.finished_at, sheet.finished_by, sheet.current = "finished", time.time(), by, None
        for qid in sheet.unread():
            self.schedule_read(a, sheet, qid)
        blanks = [q for q in a.template.questions if q.id not in sheet.ink and q.id not in sheet.answers]
        for q in blanks:
            sheet.answers[q.id] = Answer(q.id, q.type, None, None, 0.0, False, "blank")
        self._progress(a, sheet)
        self._spawn(self._save_finished(a, sheet, [sheet.answers[q.id] for q in blanks]))

    async def _save_finished(self, a: Assignment, sheet: Sheet, blanks: list[Answer]) -> None:
        store = self._store()

        def write(db: Any) -> None:
            for ans in blanks:
                persist.save_answer(db, a, sheet, ans, [])
            persist.save_sheet(db, a, sheet)

        await store.run(write)
        await self.maybe_results(a)

    def _save_sheet(self, a: Assignment, sheet: Sheet) -> None:
        store = self._store()
        self._progress(a, sheet)
        self._spawn(store.run(lambda db: persist.save_sheet(db, a, sheet)))

    # -- reading ----------------------------------------------------------------------------------
    def schedule_read(self, a: Assignment, sheet: Sheet, qid: str) -> None:
        version = sheet.ink_version.get(qid)
        if version is None or sheet.read_version.get(qid) == version or sheet.inflight.get(qid) == version:
            return
        sheet.inflight[qid] = version
        a.reading += 1
        self._spawn(self._read(a, sheet, qid, version, [list(s) for s in sheet.ink[qid]]))

    async def _read(self, a: Assignment, sheet: Sheet, qid: str, version: int, strokes: list[Any]) -> None:
        q = a.template.question(qid)
        loop = asyncio.get_running_loop()
        try:
            ans = await loop.run_in_executor(self._executor, read_answer, q, strokes, self.slot,
                                             self.config.review_below)
        except Exception as exc:
            self._log.warning("homework: reading %s of %s failed (%s); it goes to review", qid, sheet.label, exc)
            ans = Answer(qid, q.type, None, None, None, None, "review", engine="error")
        finally:
            a.reading -= 1
            if sheet.inflight.get(qid) == version:
                del sheet.inflight[qid]
        if sheet.ink_version.get(qid) != version:  # the student came back to this box meanwhile
            await self.maybe_results(a)
            return
        sheet.answers[qid] = ans
        sheet.read_version[qid] = version
        self._progress(a, sheet)
        def write(db: Any) -> None:
            persist.save_answer(db, a, sheet, ans, strokes)
            persist.save_sheet(db, a, sheet)

        await self._store().run(write)
        await self.maybe_results(a)

    async def maybe_results(self, a: Assignment) -> None:
        """When the last student is finished and read: scores, county records and ``hw.results`` at once."""
        async with self._results_lock:
            if not a.all_finished():
                return
            late = [s for s in a.sheets.values() if s.state == "finished" and s.revision == 0 and not s.reported]
            if a.results_ready_at is not None:
                if late:  # an offline pen uploaded after the results: its student's score joins them
                    await self._store().run(lambda db: self._report_late(db, a, late))
                return
            ready_at = time.time()
            for s in a.sheets.values():
                if s.state == "finished":
                    s.reported = True
            ctx = self._need_ctx()
            await self._store().run(lambda db: persist.write_results(db, a, ready_at, ctx.outbox, self.tz,
                                                                     self.config.daily_limit_minutes))
            a.results_ready_at = ready_at  # only once the scores and the county's records are durable
            summary = a.summary()
            ctx.bus.publish(HwResults(assignment_id=a.assignment_id, summary=summary))
            lag = a.results_ready_at - (a.last_stroke_at or a.results_ready_at)
            ctx.log.info("homework %s: results ready %.2f s after the last stroke (%d finished, mean %s, %d to review)",
                         a.assignment_id, lag, summary["finished"], summary["mean_score"], summary["needs_review"])
        self._prune()

    def _prune(self) -> None:
        """Keep open assignments and the last few collected ones in memory (a demo runs a class every minute)."""
        done = sorted((a for a in self.live.values() if a.state == "closed" and a.results_ready_at is not None
                       and a.reading == 0), key=lambda a: a.opened_at)
        for a in done[:-KEEP_CLOSED]:
            del self.live[a.assignment_id]
            for sid in a.sheets:
                self._sent.pop((a.assignment_id, sid), None)

    def _report_late(self, db: Any, a: Assignment, late: list[Sheet]) -> None:
        ctx = self._need_ctx()
        for s in late:
            s.reported = True
            persist.save_sheet(db, a, s)
            if ctx.outbox is not None:
                ctx.outbox.add(db, "homework.score", persist.score_payload(a, s, self.tz))
        if ctx.outbox is not None:
            persist.add_aggregates(db, a, ctx.outbox, self.tz, self.config.daily_limit_minutes)

    def _progress(self, a: Assignment, s: Sheet) -> None:
        key = (a.assignment_id, s.student_id)
        now = (s.state, s.answered, s.score, s.needs_review)
        if self._sent.get(key) == now or self._ctx is None:
            return
        self._sent[key] = now
        self._ctx.bus.publish(HwProgress(assignment_id=a.assignment_id, student_id=s.student_id, label=s.label,
                                         state=s.state, answered=s.answered, score=s.score,
                                             needs_review=s.needs_review))

    # -- teacher actions ------------------------------------------------------------------------
    async def send_pen_password(self, pen_id: str, password: str, actor: str) -> dict[str, Any]:
        """One attempt with a password a person typed; the pen driver never retries it on its own.

        The answer comes back in the pen's next ``pen.status`` (``detail`` says accepted, or how many
        tries remain before the pen wipes itself). The audit records who tried, never the password.
        """
        ctx = self._need_ctx()
        ctx.bus.publish(PenPasswordAttempt(pen_id=pen_id, password=password, by=actor))
        assert ctx.store is not None
        await ctx.store.audit(actor, "homework.pen.password", f"pen={pen_id}")
        return {"ok": True, "sent": True, "pen_id": pen_id}

    def _need_ctx(self) -> ComponentContext:
        if self._ctx is None or self._ctx.store is None:
            raise HomeworkError(503, "作业功能未启动 / pen homework is not running yet")
        return self._ctx

    def _store(self) -> Any:
        store = self._need_ctx().store
        assert store is not None
        return store

    def class_ids(self) -> list[str]:
        return sorted({s.class_id for s in self.roster})

    def current_class(self) -> str | None:
        open_ = sorted((a for a in self.live.values() if a.state == "open"), key=lambda a: a.opened_at)
        if open_:
            return open_[-1].class_id
        classes = self.class_ids()
        return classes[0] if classes else None

    async def open_assignment(self, template_id: str, class_id: str, actor: str = "teacher") -> Assignment:
        store = self._store()
        t = self.templates.get(template_id)
        if t is None:
            raise HomeworkError(404, f"no template {template_id!r} (GET /api/homework/templates lists them)")
        students = [s for s in self.roster if s.class_id == class_id]
        if not students:
            raise HomeworkError(404, f"no class {class_id!r} in the homework roster (import it first)")
        for other in self.live.values():
            if other.state == "open" and other.class_id == class_id and other.template.page.key() == t.page.key():
                raise HomeworkError(409, f"该作业已在进行 / {other.assignment_id} is already open for this sheet "
                                         "and class; close it first")
        now = time.time()
        aid = f"hw-{datetime.fromtimestamp(now, self.tz):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        a = Assignment(aid, t, class_id, now, actor)
        for s in students:
            a.sheets[s.student_id] = Sheet(s.student_id, s.label, s.pen_id)
        await store.run(lambda db: persist.insert_assignment(db, a))
        self.live[aid] = a
        self._log.info("homework %s opened by %s: %s for class %s (%d students)", aid, actor, t.id, class_id,
                       len(students))
        return a

    async def close_assignment(self, aid: str, actor: str = "teacher") -> None:
        a = self.live.get(aid)
        if a is None:
            a = await self.assignment(aid)
        if a.state == "closed":
            return
        a.closed_at = time.time()
        await self._store().run(lambda db: persist.close_assignment(db, a, actor))
        self.live[aid] = a
        for s in a.sheets.values():
            if s.state == "writing":
                self.finish(a, s, "closed")
        await self.maybe_results(a)
        self._prune()

    async def assignment(self, aid: str) -> Assignment:
        a = self.live.get(aid)
        if a is not None:
            return a
        labels = {s.student_id: s for s in self.roster}
        loaded = await self._store().run(lambda db: persist.load_assignment(db, aid, labels))
        if loaded is None:
            raise HomeworkError(404, f"no assignment {aid!r}")
        return loaded

    async def set_answer(self, a: Assignment, sid: str, ans: Answer, actor: str, action: str, detail: str,
                         review_id: int | None = None, review_value: str | None = None) -> Sheet:
        """A teacher's reading or score for one answer: graded, audited and (after results) sent again."""
        sheet = a.sheets.get(sid)
        if sheet is None:
            raise HomeworkError(404, f"student {sid!r} has no sheet in {a.assignment_id}")
        sheet.answers[ans.question_id] = ans
        if a.results_ready_at is not None and sheet.state == "finished":
            sheet.revision += 1
        ctx = self._need_ctx()

        def write(db: Any) -> None:
            if review_id is not None:
                db.execute("UPDATE hw_reviews SET resolved_at = ?, resolved_by = ?, value = ? WHERE review_id = ?",
                           [time.time(), actor, review_value, review_id])
            persist.rescore(db, a, sheet, ans, ctx.outbox, self.tz, self.config.daily_limit_minutes, actor, action,
                            detail)

        await self._store().run(write)
        self._progress(a, sheet)
        return sheet

    async def resolve_review(self, review_id: int, value: str, actor: str) -> float | None:
        row = await self._store().run(lambda db: db.execute(
            "SELECT assignment_id, student_id, question_id FROM hw_reviews WHERE review_id = ? AND resolved_at IS NULL",
            [review_id]).fetchone())
        if row is None:
            raise HomeworkError(404, f"no open review item {review_id}")
        aid, sid, qid = row
        a = await self.assignment(aid)
        q = a.template.question(qid)
        try:
            ans = resolve(q, value)
        except ValueError as exc:
            raise HomeworkError(400, str(exc)) from None
        before = a.sheets[sid].answers.get(qid) if sid in a.sheets else None
        await self.set_answer(a, sid, ans, actor, "homework.review.resolve",
                              f"assignment={aid} student={sid} question={qid} read={before.given if before else None!r}"
                              f" teacher={value!r} score={ans.score}", review_id, value)
        return ans.score

    async def override(self, aid: str, sid: str, qid: str, score: float, reason: str, actor: str) -> float | None:
        a = await self.assignment(aid)
        try:
            q = a.template.question(qid)
        except KeyError:
            raise HomeworkError(404, f"no question {qid!r} in {aid}") from None
        if not 0 <= score <= q.points:
            raise HomeworkError(400, f"score must be between 0 and {q.points:g} for {qid}")
        sheet = a.sheets.get(sid)
        if sheet is None:
            raise HomeworkError(404, f"student {sid!r} has no sheet in {aid}")
        old = sheet.answers.get(qid) or Answer(qid, q.type, None, None, None, None, "blank")
        ans = dataclasses.replace(old, score=float(score), correct=score == q.points, status="overridden")
        review = await self._store().run(lambda db: db.execute(
            "SELECT review_id FROM hw_reviews WHERE assignment_id = ? AND student_id = ? AND question_id = ?"
            " AND resolved_at IS NULL", [aid, sid, qid]).fetchone())
        await self.set_answer(a, sid, ans, actor, "homework.override",
                              f"assignment={aid} student={sid} question={qid} score {old.score} -> {score:g}: {reason}",
                              review[0] if review else None, f"override {score:g}")
        return sheet.score

    # -- scanner ------------------------------------------------------------------------------------
    async def on_scan(self, ev: ScannedSheet) -> None:
        from appliance.features.homework.scanned import handle_scanned_sheet

        await handle_scanned_sheet(self, ev)

    # -- HTTP -----------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        from appliance.features.homework.api import add_routes

        add_routes(app, self)
