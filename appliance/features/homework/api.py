"""The homework feature's HTTP endpoints (docs/api.md, "Pen homework"), thin over the feature's methods."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from appliance.features.base import actor, json_body, json_endpoint
from appliance.features.homework import persist
from appliance.features.homework.errorbook import error_book
from appliance.features.homework.roster import (
    RosterImportError,
    assign_pen,
    import_roster,
    load_roster,
    parse_roster_csv,
)
from appliance.features.homework.weakness import weakness_map
from appliance.features.homework.workload import grade_band, workload_view

if TYPE_CHECKING:
    from appliance.features.homework import Homework
    from appliance.features.homework.assignments import Assignment, Sheet

MAX_CSV_BYTES = 2 * 1024 * 1024


def sheet_view(hw: Homework, a: Assignment, s: Sheet) -> dict[str, Any]:
    """One student's paper: each answer with its reading, score and evidence (pen ink, or a scanned crop)."""
    from appliance.features.homework.scanned import image_url

    answers = []
    for q in a.template.questions:
        ans = s.answers.get(q.id)
        answers.append({"question_id": q.id, "type": q.type, "given": ans.given if ans else None,
                        "confidence": ans.confidence if ans else None, "score": ans.score if ans else None,
                        "points": q.points, "correct": ans.correct if ans else None,
                        "status": ans.status if ans else ("pending" if s.ink.get(q.id) else "blank"),
                        "ink": [[list(p) for p in st] for st in s.ink.get(q.id, [])], "box_mm": list(q.box_mm),
                        "image": image_url(hw, a.assignment_id, s.student_id, q.id) if s.source == "scan" else None})
    return {"assignment_id": a.assignment_id, "student_id": s.student_id, "label": s.label, "score": s.score,
            "max_points": a.template.max_points, "state": s.state, "source": s.source, "answers": answers}


def add_routes(app: web.Application, hw: Homework) -> None:
    from appliance.features.homework import HomeworkError

    h, body = json_endpoint, json_body

    # -- templates and roster -------------------------------------------------------------------------
    async def templates(request: web.Request) -> Any:
        rows = [{"id": t.id, "title": t.title, "subject": t.subject, "grade": t.grade, "kind": t.kind,
                 "questions": len(t.questions), "max_points": t.max_points,
                 "page": ".".join(str(n) for n in t.page.key())} for t in hw.templates.values()]
        return {"templates": rows, "problems": hw.template_problems}

    async def roster(request: web.Request) -> Any:
        class_id = request.query.get("class_id") or hw.current_class()
        if class_id is not None and hw.roster and class_id not in hw.class_ids():
            raise HomeworkError(404, f"no class {class_id!r} in the homework roster")
        students = [s for s in hw.roster if s.class_id == class_id]
        held = {s.pen_id for s in students if s.pen_id}
        seen = set(hw.pens) | set(hw.unknown_pens)
        return {"class_id": class_id, "classes": hw.class_ids(),
                "students": [{"student_id": s.student_id, "label": s.label, "pen_id": s.pen_id} for s in students],
                "unassigned_pens": sorted(p for p in seen if p not in held)}

    async def roster_assign(request: web.Request) -> Any:
        data = await body(request, "pen_id", "student_id")
        store = hw._store()
        try:
            swapped = await store.run(lambda db: assign_pen(db, data["pen_id"], data["student_id"], actor(data)))
        except KeyError as exc:
            raise HomeworkError(404, str(exc.args[0])) from None
        hw.roster = await store.run(load_roster)
        by_id = {s.student_id: s for s in hw.roster}
        for a in hw.live.values():  # open sheets follow the pens at once
            for s in a.sheets.values():
                if s.student_id in by_id:
                    s.pen_id = by_id[s.student_id].pen_id
        hw.unknown_pens.pop(data["pen_id"].strip().upper(), None)
        return {"ok": True, "swapped_with": swapped}

    async def roster_import(request: web.Request) -> Any:
        store = hw._store()
        if request.content_length is not None and request.content_length > MAX_CSV_BYTES:
            raise HomeworkError(413, f"roster file over {MAX_CSV_BYTES // 2**20} MB")
        raw = await request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HomeworkError(400, "roster file must be UTF-8 CSV (save it from the spreadsheet as 'CSV UTF-8')") from None
        try:
            rows = parse_roster_csv(text)
        except RosterImportError as exc:
            return web.json_response({"error": str(exc), "problems": exc.problems}, status=400)
        by = request.query.get("by", "technician")[:64]
        result = await store.run(lambda db: import_roster(db, rows, by))
        hw.roster = await store.run(load_roster)
        hw._log.info("homework roster imported by %s: %s", by, result)
        return {"ok": True, **result}

    # -- assignments ------------------------------------------------------------------------------------
    async def open_assignment(request: web.Request) -> Any:
        data = await body(request, "template_id", "class_id")
        a = await hw.open_assignment(data["template_id"], data["class_id"], actor(data))
        return {"assignment_id": a.assignment_id}

    async def list_assignments(request: web.Request) -> Any:
        rows = await hw._store().run(persist.list_assignments)
        live = {aid: a.list_row() for aid, a in hw.live.items()}
        out = [live.pop(r["assignment_id"], r) for r in rows]
        return {"assignments": [*live.values(), *out]}

    async def close(request: web.Request) -> Any:
        data = await body(request)
        await hw.close_assignment(request.match_info["assignment_id"], actor(data))
        return {"ok": True}

    async def detail(request: web.Request) -> Any:
        return (await hw.assignment(request.match_info["assignment_id"])).view()

    async def sheet(request: web.Request) -> Any:
        a = await hw.assignment(request.match_info["assignment_id"])
        sid = request.match_info["student_id"]
        s = a.sheets.get(sid)
        if s is None:
            raise HomeworkError(404, f"student {sid!r} has no sheet in {a.assignment_id}")
        return sheet_view(hw, a, s)

    # -- class views ---------------------------------------------------------------------------------------
    async def errorbook(request: web.Request) -> Any:
        sid = request.match_info["student_id"]
        student = next((s for s in hw.roster if s.student_id == sid), None)
        if student is None:
            raise HomeworkError(404, f"no student {sid!r} in the homework roster")
        return await hw._store().run(lambda db: error_book(db, sid, student.label, hw.bank))

    async def weakness(request: web.Request) -> Any:
        class_id = request.match_info["class_id"]
        if class_id not in hw.class_ids():
            raise HomeworkError(404, f"no class {class_id!r} in the homework roster")
        aid = request.query.get("assignment_id") or None
        items = await hw._store().run(lambda db: persist.graded_items(db, class_id, aid))
        return {"class_id": class_id, "assignment_id": aid, **weakness_map(items)}

    async def workload(request: web.Request) -> Any:
        class_id = request.query.get("class_id") or hw.current_class()
        if class_id is None or class_id not in hw.class_ids():
            raise HomeworkError(404, f"no class {class_id!r} in the homework roster")
        try:
            days = int(request.query.get("days", "7"))
        except ValueError:
            days = 0
        if not 1 <= days <= 366:
            raise HomeworkError(400, "days must be a whole number from 1 to 366")
        today = datetime.now(hw.tz).date()
        first = today - timedelta(days=days - 1)
        since = datetime(first.year, first.month, first.day, tzinfo=hw.tz).timestamp()
        store = hw._store()
        items = await store.run(lambda db: persist.time_items(db, class_id, hw.tz, since))
        grade = await store.run(lambda db: persist.class_grade(db, class_id))
        band, limit = grade_band(grade, hw.config.daily_limit_minutes)
        dates = [(first + timedelta(days=i)).isoformat() for i in range(days)]
        labels = {s.student_id: s.label for s in hw.roster if s.class_id == class_id}
        return {"class_id": class_id, "grade": grade, "grade_band": band, "limit_minutes": limit,
                **workload_view(items, dates, today.isoformat(), limit, labels)}

    # -- review and override ---------------------------------------------------------------------------
    async def review_list(request: web.Request) -> Any:
        from appliance.features.homework.scanned import image_url

        rows = await hw._store().run(lambda db: db.execute(
            "SELECT r.review_id, r.assignment_id, r.student_id, r.question_id, x.given, x.confidence,"
            " x.alternatives_json, x.ink_json, a.template_json FROM hw_reviews r"
            " JOIN hw_answers x ON x.assignment_id = r.assignment_id AND x.student_id = r.student_id"
            " AND x.question_id = r.question_id JOIN hw_assignments a ON a.assignment_id = r.assignment_id"
            " WHERE r.resolved_at IS NULL ORDER BY r.review_id LIMIT 500").fetchall())
        labels = {s.student_id: s.label for s in hw.roster}
        items = []
        for rid, aid, sid, qid, given, conf, alts, ink, tjson in rows:
            q = persist.template_of(aid, tjson).question(qid)
            items.append({"review_id": rid, "assignment_id": aid, "student_id": sid, "label": labels.get(sid, sid),
                          "question_id": qid, "type": q.type, "prompt": q.prompt, "points": q.points,
                          "recognised": given, "confidence": conf, "alternatives": json.loads(alts),
                          "ink": json.loads(ink), "box_mm": list(q.box_mm),
                          "image": image_url(hw, aid, sid, qid),
                          "options": [o.label for o in q.options]})
        return {"items": items, "unfiled_scans": list(hw.unfiled_scans)}

    async def review_resolve(request: web.Request) -> Any:
        data = await body(request)
        value = data.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = f"{value:g}"
        if not isinstance(value, str):
            raise HomeworkError(400, "body must be an object with a string field value (the teacher's reading)")
        try:
            review_id = int(request.match_info["review_id"])
        except ValueError:
            raise HomeworkError(404, "review ids are numbers") from None
        score = await hw.resolve_review(review_id, value, actor(data))
        return {"ok": True, "score": score}

    async def override(request: web.Request) -> Any:
        data = await body(request, "assignment_id", "student_id", "question_id", "reason")
        score = data.get("score")
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise HomeworkError(400, "score must be a number")
        total = await hw.override(data["assignment_id"], data["student_id"], data["question_id"], float(score),
                                  data["reason"], actor(data))
        return {"ok": True, "total": total}

    async def pens(request: web.Request) -> Any:
        rows = []
        for p in sorted(hw.pens.values(), key=lambda p: p.pen_id):
            row = p.to_json()
            row.pop("topic", None)
            rows.append(row)
        return {"pens": rows, "problems": pen_problems(hw)}

    async def pen_password(request: web.Request) -> Any:
        data = await body(request, "password")
        pen_id = request.match_info["pen_id"].strip().upper()
        if pen_id not in hw.pens:
            raise HomeworkError(404, f"pen {pen_id} has not been heard on this box")
        return await hw.send_pen_password(pen_id, data["password"], actor(data))

    async def scan_crop(request: web.Request) -> Any:
        from appliance.features.homework.scanned import crop_file

        return await crop_file(hw, request)

    async def scans(request: web.Request) -> Any:
        from appliance.features.homework.scanned import upload

        return await upload(hw, request)

    r = app.router
    r.add_get("/api/homework/templates", h(templates))
    r.add_get("/api/homework/roster", h(roster))
    r.add_post("/api/homework/roster/assign", h(roster_assign))
    r.add_post("/api/homework/roster/import", h(roster_import))
    r.add_post("/api/homework/assignments", h(open_assignment))
    r.add_get("/api/homework/assignments", h(list_assignments))
    r.add_post("/api/homework/assignments/{assignment_id}/close", h(close))
    r.add_get("/api/homework/assignments/{assignment_id}", h(detail))
    r.add_get("/api/homework/assignments/{assignment_id}/students/{student_id}", h(sheet))
    r.add_get("/api/homework/students/{student_id}/errorbook", h(errorbook))
    r.add_get("/api/homework/classes/{class_id}/weakness", h(weakness))
    r.add_get("/api/homework/review", h(review_list))
    r.add_post("/api/homework/review/{review_id}", h(review_resolve))
    r.add_post("/api/homework/override", h(override))
    r.add_get("/api/homework/workload", h(workload))
    r.add_get("/api/homework/pens", h(pens))
    r.add_post("/api/homework/pens/{pen_id}/password", h(pen_password))
    r.add_post("/api/homework/scans", h(scans))
    r.add_get("/api/homework/scans/{assignment_id}/{student_id}/{question_id}.png", h(scan_crop))


LOW_BATTERY = 15
PEN_SILENT_S = 120.0


def pen_problems(hw: Homework) -> list[str]:
    """What a technician must fix, in words: pens nobody holds, pens not heard, low batteries, lossy links."""
    problems: list[str] = []
    held = {s.pen_id: s for s in hw.roster if s.pen_id}
    if hw.unknown_pens:
        problems.append(f"{len(hw.unknown_pens)} 支笔未分配 / pens writing but not assigned: "
                        f"{', '.join(sorted(hw.unknown_pens)[:10])}")
    now = time.time()
    quiet = [held[p].label for p in held if p in hw.pens and not hw.pens[p].connected]
    if quiet:
        problems.append(f"{len(quiet)} 支笔未连接 / pens disconnected: {', '.join(quiet[:10])}")
    low = [f"{held[p].label if p in held else p} ({s.battery}%)" for p, s in hw.pens.items()
           if s.battery is not None and s.battery <= LOW_BATTERY]
    if low:
        problems.append(f"{len(low)} 支笔电量低 / pens low on battery: {', '.join(low[:10])}")
    lossy = [p for p, s in hw.pens.items() if s.lost_events > 0]
    if lossy:
        problems.append(f"{len(lossy)} 支笔丢包 / pens that lost events on the way: {', '.join(sorted(lossy)[:10])}")
    stale = [p for p, s in hw.pens.items() if s.last_seen is not None and now - s.last_seen > PEN_SILENT_S
             and s.connected]
    if stale:
        problems.append(f"{len(stale)} 支笔长时间无数据 / pens silent for {PEN_SILENT_S:.0f} s: {', '.join(sorted(stale)[:10])}")
    return problems


