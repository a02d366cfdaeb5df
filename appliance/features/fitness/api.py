"""The fitness feature's HTTP endpoints (docs/api.md, "Fitness counting"), thin over the feature.

The only picture it serves is a station snapshot, and only to the kiosk on the box itself
(a loopback client): the kiosk needs the camera picture to draw a station; nobody else does.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from appliance.features.base import actor, json_body, json_endpoint
from appliance.features.fitness import persist
from appliance.features.fitness.stations import EXERCISES, Station
from appliance.features.fitness.terms import term_of

if TYPE_CHECKING:
    from appliance.features.fitness import Fitness

STATION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def is_loopback(request: web.Request) -> bool:
    try:
        return request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


def total_json(sex: str, grade: int, values: dict[str, float]) -> dict[str, Any] | None:
    from appliance.fitness import total_score

    if not values:
        return None
    try:
        t = total_score(sex, grade, values)
    except ValueError:
        return None
    return {"standard": round(float(t.standard), 1), "bonus": t.bonus, "total": round(float(t.total), 1),
            "rating": t.rating, "rating_en": t.rating_en, "missing": list(t.missing),
            "not_encoded": list(t.not_encoded), "complete": t.complete}


def add_routes(app: web.Application, fit: Fitness) -> None:
    from appliance.features.fitness import FitnessError

    h, body = json_endpoint, json_body

    def store() -> Any:
        if fit._ctx is None or fit._ctx.store is None:
            raise FitnessError(503, "fitness is starting; try again in a moment")
        return fit._ctx.store

    def station_json(st: Station) -> dict[str, Any]:
        student = fit.student(st.student_id)
        return {**st.to_json(), "label": student.label if student else None,
                "present": fit._present.get(st.station_id, False), "session": fit._session_json(st.station_id)}

    def station_or_404(request: web.Request) -> Station:
        st = fit.stations.get(request.match_info["station_id"])
        if st is None:
            raise FitnessError(404, f"no station {request.match_info['station_id']!r}")
        return st

    # -- state and pictures -----------------------------------------------------------------------------
    async def state(request: web.Request) -> Any:
        local = is_loopback(request)
        cameras = []
        for cam in fit.cameras:
            analyzer = fit.analyzers.get(cam)
            if analyzer is None:
                cameras.append({"camera": cam, "name": fit.cameras[cam].name or cam, "state": "absent",
                                "fps_in": 0.0, "fps_analysed": 0.0, "infer_ms": 0.0, "dropped": 0, "people": 0,
                                "width": None, "height": None, "error": fit.pose_error, "snapshot": False})
            else:
                data = fit.camera_json(analyzer, snapshot=local)
                if fit.pose_error and not data["error"]:
                    data["error"] = fit.pose_error
                cameras.append(data)
        class_id = request.query.get("class_id") or fit.class_id
        students = [fit.student_json(s) for s in fit.roster if s.class_id == class_id]
        return {"cameras": cameras, "stations": [station_json(s) for s in fit.stations.values()],
                "class_id": class_id, "classes": sorted({s.class_id for s in fit.roster}), "students": students,
                "exercises": [{"id": k, **v} for k, v in EXERCISES.items()], "term": term_of(fit.today()),
                "test_seconds": fit.config.test_seconds, "countdown_s": fit.config.countdown_s,
                "clips": fit.config.clips, "pose_error": fit.pose_error}

    async def snapshot(request: web.Request) -> Any:
        if not is_loopback(request):
            raise FitnessError(403, "camera pictures are shown only on the classroom's own screen")
        analyzer = fit.analyzers.get(request.match_info["camera"])
        if analyzer is None or analyzer.latest is None:
            raise FitnessError(404, "no picture from this camera yet")
        import cv2

        image = analyzer.latest.image

        def encode() -> bytes:
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            return bytes(buf)

        assert fit._ctx is not None
        data = await fit._ctx.run_blocking(encode)
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    # -- stations ------------------------------------------------------------------------------------
    async def save_station(request: web.Request) -> Any:
        data = await body(request)
        camera, exercise = data.get("camera"), data.get("exercise")
        if camera not in fit.cameras:
            raise FitnessError(400, f"camera: {camera!r} is not one of {', '.join(fit.cameras) or 'none'}")
        if exercise not in EXERCISES:
            raise FitnessError(400, f"exercise: {exercise!r} must be one of {', '.join(EXERCISES)}")
        region = data.get("region")
        try:
            points = [(float(p[0]), float(p[1])) for p in region]  # type: ignore[union-attr]
        except (TypeError, ValueError, IndexError):
            raise FitnessError(400, "region: a list of [x, y] points, fractions of the image") from None
        if not 3 <= len(points) <= 16 or any(not (0 <= x <= 1 and 0 <= y <= 1) or math.isnan(x + y) for x, y in points):
            raise FitnessError(400, "region: 3 to 16 points, each x and y between 0 and 1")
        bar_y = data.get("bar_y")
        if bar_y is not None and (not isinstance(bar_y, int | float) or not 0 <= bar_y <= 1):
            raise FitnessError(400, "bar_y: a fraction of the image height between 0 and 1, or null")
        station_id = data.get("station_id") or _new_id(fit, exercise)
        if not isinstance(station_id, str) or not STATION_ID.match(station_id):
            raise FitnessError(400, "station_id: lower-case letters, digits and '-', up to 32")
        name = str(data.get("name") or station_id)[:40]
        running = fit.sessions.get(station_id)
        if running is not None and running.state != "finished":
            raise FitnessError(409, "这个站点正在计数 / a session runs at this station; stop it first")
        old = fit.stations.get(station_id)
        st = Station(station_id, camera, name, exercise, points, bar_y, old.student_id if old else None)
        await store().run(lambda db: persist.save_station(db, st, actor(data)))
        await fit.reload()
        return station_json(fit.stations[station_id])

    async def delete_station(request: web.Request) -> Any:
        st = station_or_404(request)
        running = fit.sessions.get(st.station_id)
        if running is not None and running.state != "finished":
            raise FitnessError(409, "这个站点正在计数 / a session runs at this station; stop it first")
        await store().run(lambda db: persist.delete_station(db, st.station_id, "teacher"))
        fit.sessions.pop(st.station_id, None)
        await fit.reload()
        return {"ok": True}

    async def station_student(request: web.Request) -> Any:
        st = station_or_404(request)
        data = await body(request)
        student_id = data.get("student_id")
        if student_id is not None and fit.student(student_id) is None:
            raise FitnessError(400, f"student_id: no student {student_id!r} in the roster")
        await store().run(lambda db: persist.set_station_student(db, st.station_id, student_id))
        await fit.reload()
        return station_json(fit.stations[st.station_id])

    async def start(request: web.Request) -> Any:
        st = station_or_404(request)
        data = await body(request)
        session = fit.start(st.station_id, str(data.get("mode", "test")), data.get("student_id"))
        return session.to_json()

    async def stop(request: web.Request) -> Any:
        st = station_or_404(request)
        session = await fit.stop(st.station_id)
        return session.to_json()

    # -- results -------------------------------------------------------------------------------------
    async def correct(request: web.Request) -> Any:
        data = await body(request)
        count = data.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            raise FitnessError(400, "count: a whole number from 0 to 1000")
        result_id = request.match_info["result_id"]
        result = await store().run(lambda db: persist.load_result(db, result_id))
        if result is None:
            raise FitnessError(404, f"no result {result_id!r}")
        student = fit.student(result["student_id"])
        result["count"] = count
        if result["item"] is not None:
            score, bonus, _grade = fit.score(result["item"], student, count)
            result["score"], result["bonus"] = score, bonus
        result["corrected_by"] = actor(data)
        result["label"] = student.label if student else None
        class_id = student.class_id if student else None
        assert fit._ctx is not None
        outbox = fit._ctx.outbox
        await store().run(lambda db: persist.correct_result(db, result, class_id, actor(data), outbox))
        for session in fit.sessions.values():
            if session.result is not None and session.result["result_id"] == result_id:
                session.result = result
        if result["score"] is not None and student is not None:
            await fit.update_prescription(student)
        from appliance.features.fitness.events import FitnessResult

        fit._ctx.bus.publish(FitnessResult(result=result))
        return result

    async def measurement(request: web.Request) -> Any:
        from appliance.fitness import ITEMS, bonus_points, score_item

        data = await body(request)
        student = fit.student(data.get("student_id"))
        if student is None:
            raise FitnessError(400, f"student_id: no student {data.get('student_id')!r} in the roster")
        item, value = data.get("item"), data.get("value")
        if item not in ITEMS:
            raise FitnessError(400, f"item: {item!r} must be one of {', '.join(ITEMS)}")
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise FitnessError(400, "value: a number (seconds for the runs, cm, ml, kg/m² or a count)")
        info = fit.student_json(student)
        try:
            score = score_item(item, student.sex, info["grade"], float(value))
            bonus = bonus_points(item, student.sex, info["grade"], float(value))
        except ValueError as exc:
            raise FitnessError(400, f"{item}: {exc}") from None
        term = term_of(fit.today())
        assert fit._ctx is not None
        outbox = fit._ctx.outbox
        await store().run(lambda db: persist.add_measurement(
            db, student_id=student.student_id, term=term, grade=info["grade"], sex=student.sex,
            class_id=student.class_id, item=item, value=float(value), score=score, bonus=bonus, actor=actor(data),
            outbox=outbox))
        await fit.update_prescription(student)
        return {"ok": True, "score": score, "bonus": bonus}

    async def results(request: web.Request) -> Any:
        from appliance.fitness import ITEMS

        class_id = request.query.get("class_id") or fit.class_id
        term = request.query.get("term") or term_of(fit.today())
        students = [s for s in fit.roster if s.class_id == class_id]
        ids = [s.student_id for s in students]
        best, retests = await store().run(lambda db: (persist.best_measurements(db, ids, term),
                                                      persist.retest_dates(db, ids)))
        today = fit.today().isoformat()
        rows = []
        for s in students:
            info = fit.student_json(s)
            items = best.get((s.student_id, term), {})
            values = {k: v["value"] for k, v in items.items()}
            rows.append({"student_id": s.student_id, "label": s.label, "sex": s.sex, "grade": info["grade"],
                         "items": {k: {kk: vv for kk, vv in v.items() if kk != "grade"} for k, v in items.items()},
                         "total": total_json(s.sex, info["grade"], values),
                         "retest_on": retests.get(s.student_id),
                         "retest_due": s.student_id in retests and retests[s.student_id] <= today})
        return {"class_id": class_id, "term": term, "items": list(ITEMS), "rows": rows,
                "retest_due": sum(r["retest_due"] for r in rows)}

    async def archive(request: web.Request) -> Any:
        student = fit.student(request.match_info["student_id"])
        if student is None:
            raise FitnessError(404, "no such student")
        best, pres = await store().run(lambda db: (persist.best_measurements(db, [student.student_id]),
                                                   persist.load_prescription(db, student.student_id)))
        terms = []
        for (_sid, term), items in sorted(best.items(), key=lambda kv: _term_key(kv[0][1]), reverse=True):
            grade = max(v["grade"] for v in items.values())
            values = {k: v["value"] for k, v in items.items()}
            terms.append({"term": term, "grade": grade,
                          "items": {k: {kk: vv for kk, vv in v.items() if kk != "grade"} for k, v in items.items()},
                          "total": total_json(student.sex, grade, values)})
        return {"student_id": student.student_id, "label": student.label, "sex": student.sex,
                "grade": fit.student_json(student)["grade"], "terms": terms, "prescription": pres}

    async def student_grade(request: web.Request) -> Any:
        student = fit.student(request.match_info["student_id"])
        if student is None:
            raise FitnessError(404, "no such student")
        data = await body(request)
        grade = data.get("grade")
        if grade is not None and (not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 12):
            raise FitnessError(400, "grade: a whole number from 1 (一年级) to 12 (高三), or null to derive it again")
        await store().run(lambda db: persist.set_grade(db, student.student_id, grade, actor(data)))
        await fit.reload()
        return fit.student_json(student)

    # -- clips ---------------------------------------------------------------------------------------
    async def save_clip(request: web.Request) -> Any:
        if not fit.config.clips:
            raise FitnessError(403, "saving clips is off on this box (features.fitness.clips)")
        st = station_or_404(request)
        data = await body(request)
        observed = data.get("observed_count")
        if not isinstance(observed, int) or isinstance(observed, bool) or not 0 <= observed <= 1000:
            raise FitnessError(400, "observed_count: the count you saw, a whole number from 0 to 1000")
        buffer = fit.clip_buffers.get(st.camera)
        if buffer is None or len(buffer) == 0:
            raise FitnessError(409, "no recent frames at this camera to save")
        from appliance.features.fitness.clips import save_clip as write_clip

        analyzer = fit.analyzers.get(st.camera)
        frame = analyzer.latest if analyzer else None
        meta = {"station_id": st.station_id, "camera": st.camera, "exercise": st.exercise, "observed_count": observed,
                "region": [list(p) for p in st.region], "bar_y": st.bar_y, "note": str(data.get("note", ""))[:200],
                "machine_count": (fit.sessions[st.station_id].count if st.station_id in fit.sessions else None),
                "width": frame.width if frame else None, "height": frame.height if frame else None,
                "saved_by": actor(data), "saved_at": time.time()}
        assert fit._ctx is not None
        path = await fit._ctx.run_blocking(write_clip, buffer, fit.clips_dir, meta)
        await fit._ctx.store.run(lambda db: persist.audit_row(  # type: ignore[union-attr]
            db, actor(data), "fitness.clip.save", f"station={st.station_id} observed={observed} clip={path.name}"))
        return {"clip_id": path.name}

    async def clips(request: web.Request) -> Any:
        from appliance.features.fitness.clips import list_clips

        assert fit._ctx is not None
        infos = await fit._ctx.run_blocking(list_clips, fit.clips_dir)
        return [{"clip_id": c.clip_id, "station_id": c.station_id, "exercise": c.exercise,
                 "observed_count": c.observed_count, "recorded_at": c.recorded_at, "duration_s": c.duration_s}
                for c in infos]

    r = app.router
    r.add_get("/api/fitness/state", h(state))
    r.add_get("/api/fitness/cameras/{camera}/snapshot.jpg", h(snapshot))
    r.add_post("/api/fitness/stations", h(save_station))
    r.add_delete("/api/fitness/stations/{station_id}", h(delete_station))
    r.add_post("/api/fitness/stations/{station_id}/student", h(station_student))
    r.add_post("/api/fitness/stations/{station_id}/start", h(start))
    r.add_post("/api/fitness/stations/{station_id}/stop", h(stop))
    r.add_post("/api/fitness/stations/{station_id}/clip", h(save_clip))
    r.add_post("/api/fitness/results/{result_id}/correct", h(correct))
    r.add_post("/api/fitness/measurements", h(measurement))
    r.add_get("/api/fitness/results", h(results))
    r.add_get("/api/fitness/students/{student_id}/archive", h(archive))
    r.add_post("/api/fitness/students/{student_id}/grade", h(student_grade))
    r.add_get("/api/fitness/clips", h(clips))


def _term_key(term: str) -> tuple[int, int]:
    year, season = term.split("-", 1)
    return int(year), 0 if season == "spring" else 1


def _new_id(fit: Fitness, exercise: str) -> str:
    base = exercise.replace("_", "-")
    n = 1
    while f"{base}-{n}" in fit.stations:
        n += 1
    return f"{base}-{n}"
