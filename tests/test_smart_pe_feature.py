"""Smart PE end to end in-process: real Store, Bus, Supervisor and outbox, synthetic heart-rate samples."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from appliance.bus import Bus
from appliance.config.schema import SmartPeFeatureConfig
from appliance.events import HeartRateSample, PeAlertChanged, PeWallUpdate
from appliance.features.smart_pe import SmartPe
from appliance.features.smart_pe.roster import seed_demo_class
from appliance.store import Store
from appliance.supervisor import Supervisor
from sync.outbox import Outbox

BANDS = [f"band-{i}" for i in range(6)]
T0 = 1_700_000_000.0


@pytest.fixture
async def pe(tmp_path: Path) -> AsyncIterator[tuple[SmartPe, Bus, Store, TestClient]]:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_demo_class(db, BANDS, students=8))  # students 7 and 8 have no band
    bus = Bus()
    supervisor = Supervisor(bus, store=store, outbox=Outbox(store, "boot-test"))
    feature = SmartPe(SmartPeFeatureConfig(enabled=True), tmp_path, hr_present=True)
    supervisor.add(feature)
    await supervisor.start()
    app = web.Application()
    feature.add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for _ in range(100):
            if len(feature._roster) == 8:
                break
            await asyncio.sleep(0.02)
        yield feature, bus, store, client
    finally:
        await client.close()
        await supervisor.stop()
        store.close()


async def feed(bus: Bus, start: int, seconds: int, silent: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Band 0 races at 205 bpm (critical), the others work at 150; two samples a second."""
    for s in range(start, start + seconds):
        for half in (0.0, 0.5):
            for i, band in enumerate(BANDS):
                if band in silent:
                    continue
                bus.publish(HeartRateSample(band_id=band, time=T0 + s + half, bpm=205 if i == 0 else 150,
                                            contact=True, battery=80))
        await asyncio.sleep(0.002)


async def test_lesson_end_to_end(pe: tuple[SmartPe, Bus, Store, TestClient], tmp_path: Path) -> None:
    _feature, bus, store, client = pe
    r = await client.get("/api/pe/roster")
    roster = await r.json()
    assert [s["label"] for s in roster["students"]][:3] == ["1号", "2号", "3号"]
    s1 = roster["students"][0]
    assert s1["hrmax_source"] == "tanaka" and 199 <= s1["hrmax"] <= 201 and s1["band_id"] == "band-0"
    assert any("without a band" in p for p in roster["problems"])

    with bus.subscribe(PeWallUpdate, PeAlertChanged, maxsize=10000, name="test") as sub:
        r = await client.post("/api/pe/lesson/start")
        lesson_id = (await r.json())["lesson_id"]
        assert (await client.post("/api/pe/lesson/start")).status == 409
        await feed(bus, 0, 20)
        await feed(bus, 20, 20, silent={"band-5"})
        await asyncio.sleep(0.25)
        events = []
        while not sub.queue.empty():
            events.append(sub.queue.get_nowait())
    walls = [e for e in events if isinstance(e, PeWallUpdate)]
    assert walls and all(w.lesson_id == lesson_id for w in walls)
    assert len(walls) < 40, "the wall is throttled to 10 updates a second"
    tiles = {t["student_id"]: t for w in walls for t in w.tiles}
    assert tiles[s1["student_id"]]["alert"] == "critical" and tiles[s1["student_id"]]["bpm"] == 205
    assert walls[-1].to_json()["class"]["target_bpm"] == [140, 160]
    alerts = [e for e in events if isinstance(e, PeAlertChanged)]
    critical = next(a for a in alerts if a.kind == "critical")
    assert critical.student_id == s1["student_id"] and critical.raised_at == T0 + 10
    assert any(a.kind == "signal" and a.label == "6号" for a in alerts)

    r = await client.get("/api/pe/lesson")
    live = await r.json()
    assert live["lesson_id"] == lesson_id and live["elapsed_s"] == 39.5 and len(live["tiles"]) == 8
    assert {t["signal"] for t in live["tiles"]} == {"ok", "lost", "no_band"}

    r = await client.post(f"/api/pe/alerts/{critical.alert_id}/ack", json={"by": "teacher"})
    assert r.status == 200 and (await r.json()) == {"ok": True}
    r = await client.get("/api/pe/alerts")
    body = await r.json()
    acked = next(a for a in body["active"] if a["alert_id"] == critical.alert_id)
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "teacher"
    assert (await client.post("/api/pe/alerts/nope/ack", json={})).status == 404
    audit = store.db.execute("SELECT actor, detail FROM audit_log WHERE action = 'pe.alert.ack'").fetchall()
    assert audit and critical.alert_id in audit[0][1]

    # the band on 2号 belongs to 3号: one tap swaps them
    students = {s["label"]: s for s in roster["students"]}
    r = await client.post("/api/pe/roster/assign", json={"band_id": "band-1", "student_id": students["3号"]["student_id"]})
    assert (await r.json()) == {"ok": True, "swapped_with": students["2号"]["student_id"]}
    r = await client.get("/api/pe/roster")
    now = {s["label"]: s["band_id"] for s in (await r.json())["students"]}
    assert now["3号"] == "band-1" and now["2号"] == "band-2"
    assert (await client.post("/api/pe/roster/assign", json={"band_id": "x", "student_id": "nobody"})).status == 404

    r = await client.post("/api/pe/effort")
    assert (await r.json())["marked_at"] == T0 + 39.5
    await feed(bus, 40, 125, silent={"band-5"})
    await asyncio.sleep(0.2)
    r = await client.get(f"/api/pe/students/{s1['student_id']}/curve")
    curve = await r.json()
    assert curve["points"][0] == [0, 205] and len(curve["points"]) == 165 and len(curve["zone_bpm"]) == 5

    r = await client.post("/api/pe/lesson/stop")
    assert (await r.json()) == {"lesson_id": lesson_id, "report": f"/api/pe/lessons/{lesson_id}"}
    report = await (await client.get(f"/api/pe/lessons/{lesson_id}")).json()
    assert report["class"]["students"] == 6 and report["class"]["density"] > 0.9
    row1 = next(s for s in report["students"] if s["label"] == "1号")
    assert row1["peak_bpm"] == 205 and row1["alerts"] >= 1 and row1["recovery_1min"] == 0
    reports = tmp_path / "reports"
    assert (reports / f"{lesson_id}.json").is_file()
    pdf = await client.get(f"/api/pe/lessons/{lesson_id}/report.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF")
    csv_text = (await (await client.get(f"/api/pe/lessons/{lesson_id}/report.csv")).read()).decode("utf-8-sig")
    assert csv_text.count("\n") == 8 and "\nCLASS," in csv_text  # header + 6 students + class row
    assert (await client.get("/api/pe/lessons/../report.pdf")).status == 404
    lessons = await (await client.get("/api/pe/lessons")).json()
    assert lessons[0]["lesson_id"] == lesson_id and lessons[0]["students"] == 6

    kinds = store.db.execute("SELECT kind, payload FROM outbox WHERE kind LIKE 'pe.%'").fetchall()
    assert [k for k, _ in kinds].count("pe.lesson_summary") == 1
    student_records = [json.loads(p) for k, p in kinds if k == "pe.student_lesson"]
    assert len(student_records) == 6
    assert all("curve" not in p and p["student_id"].startswith("pe-") for p in student_records)
    assert (await client.get("/api/pe/lesson")).status == 200
    assert (await (await client.get("/api/pe/lesson")).json()) == {"lesson_id": None}


async def test_tile_unconfigured_without_heart_rate_driver(tmp_path: Path) -> None:
    feature = SmartPe(SmartPeFeatureConfig(enabled=True), tmp_path, hr_present=False)
    assert feature.tile_detail()[0] == "unconfigured"
    assert SmartPe(SmartPeFeatureConfig(), tmp_path).tile_detail() == ("ready", None)
