"""Fitness in-process: real Store, Bus, Supervisor and outbox; camera frames published as the driver would.

The pose model is replaced by a scripted tracker that returns the keypoints of the synthetic motion
generator for each frame (the real model runs in tests/test_fitness_pipeline.py): station assignment,
newest-frame analysis, sessions and their clock, scoring against the standard, the archive, the
county's records and the API are what these tests check.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from appliance.bus import Bus
from appliance.config.schema import CameraSourceConfig, FitnessFeatureConfig, FitnessStationConfig
from appliance.events import CameraFrame
from appliance.features.fitness import Fitness
from appliance.features.fitness.events import FitnessLive, FitnessResult
from appliance.features.fitness.synth import RepSpec, generate
from appliance.features.smart_pe.roster import seed_demo_class
from appliance.fitness import score_item
from appliance.store import Store
from appliance.supervisor import Supervisor
from sync.outbox import Outbox

CLASS = "5-1"  # grade 5: rope skipping and sit-ups are scored there
W, H = 1280, 720
WHOLE = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]  # left half of the picture


@dataclass
class Person:
    track_id: int
    keypoints: np.ndarray
    bbox: tuple[float, float, float, float]
    score: float = 0.9


class ScriptedTracker:
    """Stands in for PoseTracker: frame ``seq`` → the scripted people of that frame."""

    script: dict[int, list[Person]] = {}  # noqa: RUF012 - shared by the factory on purpose

    def update(self, image_rgb: np.ndarray, ts: float) -> list[Person]:
        seq = int(image_rgb[0, 0, 0]) + 256 * int(image_rgb[0, 0, 1]) + 65536 * int(image_rgb[0, 0, 2])
        return self.script.get(seq, [])


def person(track_id: int, kps: np.ndarray) -> Person:
    xs, ys = kps[:, 0], kps[:, 1]
    return Person(track_id, kps.astype(np.float32), (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())))


def frame(seq: int, captured: float) -> CameraFrame:
    img = np.zeros((8, 8, 3), np.uint8)  # the scripted tracker reads the frame number from the first pixel
    img[0, 0] = (seq % 256, (seq // 256) % 256, seq // 65536)
    img.flags.writeable = False
    return CameraFrame(camera="mats", seq=seq, width=W, height=H, image=img, captured=captured)


Rig = tuple[Fitness, Bus, Store, TestClient]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_demo_class(db, [], students=6, class_id=CLASS))
    bus = Bus()
    supervisor = Supervisor(bus, store=store, outbox=Outbox(store, "boot-test"))
    config = FitnessFeatureConfig(enabled=True, max_fps=60, countdown_s=0, test_seconds=10, stations=[
        FitnessStationConfig(id="mat-1", name="1号垫", camera="mats", exercise="squat", region=WHOLE)])
    cams = [CameraSourceConfig(id="mats", name="垫子区", url="lavfi:testsrc2")]
    ScriptedTracker.script = {}
    feature = Fitness(config, tmp_path, cameras=cams, tracker_factory=ScriptedTracker)
    supervisor.add(feature)
    await supervisor.start()
    app = web.Application()
    feature.add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await wait_until(lambda: "mat-1" in feature.stations and len(feature.roster) == 6 and feature.analyzers)
        yield feature, bus, store, client
    finally:
        await client.close()
        await supervisor.stop()
        store.close()


async def wait_until(predicate, within: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


async def play(fit: Fitness, bus: Bus, frames: list[tuple[float, np.ndarray | None]], t0: float,
               track_id: int = 1, shift_x: float = 0.0, others: list[Person] | None = None) -> None:
    """Publish one frame at a time and wait for its analysis, so none is dropped (timing is the frames' own)."""
    analyzer = fit.analyzers["mats"]
    base = max(ScriptedTracker.script, default=0) + 1
    for i, (ts, kps) in enumerate(frames):
        seq = base + i
        people = [] if kps is None else [person(track_id, kps + np.array([shift_x, 0, 0], np.float32))]
        ScriptedTracker.script[seq] = people + (others or [])
        done = analyzer.stats.analysed
        bus.publish(frame(seq, t0 + ts))
        await wait_until(lambda d=done: analyzer.stats.analysed > d)


def squats(n_valid: int, n_shallow: int, seed: int = 3) -> Any:
    reps = [RepSpec()] * n_valid + [RepSpec(reason="squat_not_deep")] * n_shallow
    return generate("squat", reps=reps, fps=15, seed=seed, scale=300, center=(320.0, 600.0), noise=0.005)


async def test_training_counts_at_the_station_and_reports_invalid_reps(rig: Rig) -> None:
    fit, bus, store, client = rig
    seq = squats(4, 1)
    r = await client.post("/api/fitness/stations/mat-1/start", json={"mode": "training"})
    assert r.status == 200, await r.text()
    session = await r.json()
    assert session["state"] in ("countdown", "running") and session["student_id"] is None
    with bus.subscribe(FitnessLive, FitnessResult, maxsize=10000, name="t") as sub:
        await play(fit, bus, seq.frames, fit.sessions["mat-1"].start_mono + 0.05)
        r = await client.post("/api/fitness/stations/mat-1/stop")
        done = await r.json()
        lives = [e for e in list(sub.queue._queue) if isinstance(e, FitnessLive)]  # type: ignore[attr-defined]
        results = [e for e in list(sub.queue._queue) if isinstance(e, FitnessResult)]  # type: ignore[attr-defined]
    assert done["state"] == "finished" and done["count"] == 4
    assert [i["reason"] for i in done["invalid"]] == ["squat_not_deep"]
    assert done["invalid"][0]["reason_zh"]
    result = done["result"]
    assert result["mode"] == "training" and result["score"] is None and result["count"] == 4
    assert results and results[-1].result["result_id"] == result["result_id"]
    # The kiosk saw the skeleton as image fractions and the station's live count.
    assert lives and lives[-1].people[0]["station_id"] == "mat-1"
    kp = lives[-1].people[0]["kp"]
    assert len(kp) == 33 and all(0 <= x <= 1 and 0 <= y <= 1 for x, y, _v in kp)
    assert any(s["session"] and s["session"]["count"] >= 1 for e in lives for s in e.stations)
    # A training session goes to the county as a LOW record, without the label.
    rows = store.call(lambda db: db.execute("SELECT kind, payload FROM outbox WHERE kind LIKE 'fitness.%'").fetchall())
    assert [k for k, _ in rows] == ["fitness.training"]
    payload = json.loads(rows[0][1])
    assert payload["count"] == 4 and payload["invalid_reps"] == 1 and "label" not in payload


async def test_person_outside_the_station_is_not_counted(rig: Rig) -> None:
    fit, bus, _store, client = rig
    seq = squats(3, 0)
    await client.post("/api/fitness/stations/mat-1/start", json={"mode": "training"})
    await play(fit, bus, seq.frames, fit.sessions["mat-1"].start_mono + 0.05, shift_x=W * 0.6)  # right half
    done = await (await client.post("/api/fitness/stations/mat-1/stop")).json()
    assert done["count"] == 0


async def test_classmate_walking_in_does_not_take_over_the_count(rig: Rig) -> None:
    fit, bus, _store, client = rig
    seq = squats(3, 0)
    other = generate("squat", reps=[RepSpec()], fps=15, seed=9, scale=420, center=(400.0, 650.0), noise=0.0)
    standing = other.frames[0][1]
    assert standing is not None
    await client.post("/api/fitness/stations/mat-1/start", json={"mode": "training"})
    t0 = fit.sessions["mat-1"].start_mono + 0.05
    await play(fit, bus, seq.frames[:5], t0)  # the student is on the mat first
    # A bigger (nearer) classmate stands still inside the region for the rest of the set.
    await play(fit, bus, seq.frames[5:], t0, others=[person(2, standing)])
    done = await (await client.post("/api/fitness/stations/mat-1/stop")).json()
    assert done["count"] == 3


async def test_timed_test_is_scored_filed_and_prescribed(rig: Rig) -> None:
    fit, bus, store, client = rig
    r = await client.post("/api/fitness/stations", json={
        "station_id": "rope-1", "camera": "mats", "name": "跳绳", "exercise": "rope_skip",
        "region": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]})
    assert r.status == 200, await r.text()
    await client.delete("/api/fitness/stations/mat-1")
    state = await (await client.get("/api/fitness/state")).json()
    student = state["students"][0]
    assert student["grade"] == 5 and student["grade_source"] == "class"
    r = await client.post("/api/fitness/stations/rope-1/start", json={"mode": "test"})
    assert r.status == 400  # a test needs a student
    r = await client.post("/api/fitness/stations/rope-1/student", json={"student_id": student["student_id"]})
    assert (await r.json())["label"] == student["label"]
    r = await client.post("/api/fitness/stations/rope-1/start", json={"mode": "test"})
    assert r.status == 200
    session = fit.sessions["rope-1"]
    assert session.duration_s == 10.0
    rope = generate("rope_skip", reps=[RepSpec()] * 12, fps=15, seed=4, scale=300, center=(320.0, 600.0),
                    noise=0.005, lead_in=1.5, tail=0.5)  # ready, standing, at the whistle
    assert rope.frames[-1][0] < 9.5
    await play(fit, bus, rope.frames, session.start_mono + 0.05)
    result = await wait_until(lambda: session.result, within=15.0)  # the 10 s timer ends the test by itself
    assert session.state == "finished" and not session.stopped_early
    assert result["mode"] == "test" and result["item"] == "rope_skip_1min" and result["count"] == 12
    assert result["score"] == score_item("rope_skip_1min", student["sex"], 5, 12)
    # The archive and the results table show the camera's count; the county got a CRITICAL score record.
    table = await (await client.get("/api/fitness/results")).json()
    row = next(r for r in table["rows"] if r["student_id"] == student["student_id"])
    assert row["items"]["rope_skip_1min"]["value"] == 12 and row["items"]["rope_skip_1min"]["source"] == "camera"
    assert row["total"]["complete"] is False and "run_50m" in row["total"]["missing"]
    archive = await (await client.get(f"/api/fitness/students/{student['student_id']}/archive")).json()
    assert archive["terms"][0]["items"]["rope_skip_1min"]["score"] == result["score"]
    assert archive["prescription"]["advice"], archive["prescription"]
    kinds = store.call(lambda db: [r[0] for r in db.execute(
        "SELECT kind FROM outbox WHERE kind LIKE 'fitness.%' ORDER BY seq").fetchall()])
    assert kinds[:2] == ["fitness.result", "fitness.prescription"]
    # The teacher counted 14: her count replaces the machine's, re-scored and audited.
    r = await client.post(f"/api/fitness/results/{result['result_id']}/correct", json={"count": 14})
    corrected = await r.json()
    assert corrected["count"] == 14 and corrected["machine_count"] == 12
    assert corrected["score"] == score_item("rope_skip_1min", student["sex"], 5, 14)
    table = await (await client.get("/api/fitness/results")).json()
    row = next(r for r in table["rows"] if r["student_id"] == student["student_id"])
    assert row["items"]["rope_skip_1min"]["value"] == 14
    audit = store.call(lambda db: db.execute("SELECT action FROM audit_log WHERE action = 'fitness.result.correct'")
                       .fetchall())
    assert len(audit) == 1


async def test_stopping_a_test_early_keeps_it_as_training(rig: Rig) -> None:
    _fit, _bus, _store, client = rig
    state = await (await client.get("/api/fitness/state")).json()
    sid = state["students"][1]["student_id"]
    await client.post("/api/fitness/stations/mat-1/student", json={"student_id": sid})
    r = await client.post("/api/fitness/stations/mat-1/start", json={"mode": "test"})
    assert r.status == 200
    r = await client.post("/api/fitness/stations/mat-1/start", json={"mode": "test"})
    assert r.status == 409
    done = await (await client.post("/api/fitness/stations/mat-1/stop")).json()
    assert done["result"]["mode"] == "training" and done["result"]["score"] is None


async def test_hand_measurements_make_a_complete_total(rig: Rig) -> None:
    fit, _bus, _store, client = rig
    state = await (await client.get("/api/fitness/state")).json()
    s = next(x for x in state["students"] if x["sex"] == "female")
    values = {"bmi": 17.0, "vital_capacity": 1900, "run_50m": 9.8, "sit_and_reach": 12.0, "rope_skip_1min": 130,
              "sit_up_1min": 38, "shuttle_50mx8": 110.0}
    for item, value in values.items():
        r = await client.post("/api/fitness/measurements", json={"student_id": s["student_id"], "item": item,
                                                                 "value": value})
        assert r.status == 200, await r.text()
    r = await client.post("/api/fitness/measurements", json={"student_id": s["student_id"], "item": "run_99m",
                                                             "value": 3})
    assert r.status == 400 and "item" in (await r.json())["error"]
    r = await client.post("/api/fitness/measurements", json={"student_id": s["student_id"], "item": "run_50m",
                                                             "value": "fast"})
    assert r.status == 400 and "value" in (await r.json())["error"]
    table = await (await client.get("/api/fitness/results")).json()
    row = next(r for r in table["rows"] if r["student_id"] == s["student_id"])
    from appliance.fitness import total_score

    expected = total_score("female", 5, values)
    assert row["total"]["complete"] is True and row["total"]["total"] == round(expected.total, 1)
    assert row["total"]["rating"] == expected.rating
    # The prescription sets a re-test date 6 weeks on; the results table reminds the teacher once it has come.
    from datetime import timedelta

    today = fit.today()
    assert row["retest_on"] == (today + timedelta(weeks=6)).isoformat() and row["retest_due"] is False
    fit.today = lambda: today + timedelta(weeks=7)  # type: ignore[method-assign]
    table = await (await client.get("/api/fitness/results")).json()
    row = next(r for r in table["rows"] if r["student_id"] == s["student_id"])
    assert row["retest_due"] is True and table["retest_due"] == 1


async def test_newest_frame_is_analysed_and_stale_ones_dropped(rig: Rig) -> None:
    fit, bus, _store, _client = rig
    analyzer = fit.analyzers["mats"]
    before_drop = analyzer.stats.dropped
    seen: list[int] = []
    original = analyzer.on_poses
    analyzer.on_poses = lambda f, poses: (seen.append(f.seq), original(f, poses))  # type: ignore[assignment,func-returns-value]
    now = time.monotonic()
    for seq in range(1000, 1030):  # a burst: far faster than one analysis
        bus.publish(frame(seq, now))
    await wait_until(lambda: seen and seen[-1] == 1029)
    await asyncio.sleep(0.2)
    assert seen[-1] == 1029  # the newest frame is always analysed last
    assert len(seen) < 30 and analyzer.stats.dropped - before_drop == 30 - len(seen)


async def test_station_api_validates_and_names_the_field(rig: Rig) -> None:
    _fit, _bus, _store, client = rig
    bad = [({"camera": "nope", "exercise": "squat", "region": WHOLE}, "camera"),
           ({"camera": "mats", "exercise": "yoga", "region": WHOLE}, "exercise"),
           ({"camera": "mats", "exercise": "squat", "region": [[0, 0], [2, 0], [1, 1]]}, "region"),
           ({"camera": "mats", "exercise": "pull_up", "region": WHOLE, "bar_y": 3}, "bar_y")]
    for body, field in bad:
        r = await client.post("/api/fitness/stations", json=body)
        assert r.status == 400 and field in (await r.json())["error"]
    r = await client.get("/api/fitness/cameras/mats/snapshot.jpg")
    assert r.status == 404  # no frame yet


async def test_idle_camera_is_analysed_slowly_and_a_session_at_full_pace(rig: Rig) -> None:
    fit, bus, _store, client = rig
    analyzer = fit.analyzers["mats"]

    async def stream(seconds: float) -> int:
        before = analyzer.stats.analysed
        end = time.monotonic() + seconds
        seq = 5000 + analyzer.stats.frames_in
        while time.monotonic() < end:
            seq += 1
            bus.publish(frame(seq, time.monotonic()))
            await asyncio.sleep(1 / 30)
        return analyzer.stats.analysed - before

    idle = await stream(1.5)
    await client.post("/api/fitness/stations/mat-1/start", json={"mode": "training"})
    busy = await stream(1.5)
    assert idle <= 5, idle  # idle_fps = 2
    assert busy >= 3 * max(idle, 1), (idle, busy)


def test_only_the_box_itself_may_see_camera_pictures() -> None:
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from appliance.features.fitness.api import is_loopback

    def request_from(peer: str) -> web.Request:
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda key, default=None: (peer, 50000) if key == "peername" else default
        return make_mocked_request("GET", "/api/fitness/cameras/mats/snapshot.jpg", transport=transport)

    assert is_loopback(request_from("127.0.0.1")) and is_loopback(request_from("::1"))
    assert not is_loopback(request_from("192.168.1.23"))  # a tablet on the school Wi-Fi
    assert not is_loopback(request_from("not-an-address"))


async def test_a_grade_set_by_hand_wins_and_can_be_cleared(rig: Rig) -> None:
    _fit, _bus, store, client = rig
    state = await (await client.get("/api/fitness/state")).json()
    sid = state["students"][0]["student_id"]
    r = await client.post(f"/api/fitness/students/{sid}/grade", json={"grade": 4, "by": "王老师"})
    assert (await r.json())["grade"] == 4 and (await r.json())["grade_source"] == "set"
    r = await client.post(f"/api/fitness/students/{sid}/grade", json={"grade": 13})
    assert r.status == 400 and "grade" in (await r.json())["error"]
    r = await client.post(f"/api/fitness/students/{sid}/grade", json={"grade": None})
    assert (await r.json())["grade"] == 5 and (await r.json())["grade_source"] == "class"
    audit = store.call(lambda db: db.execute("SELECT actor FROM audit_log WHERE action = 'fitness.grade'").fetchall())
    assert [a[0] for a in audit] == ["王老师", "teacher"]
