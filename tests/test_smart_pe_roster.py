"""Rosters: one kit of bands for many classes, swaps inside a class, CSV import that is all or nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from appliance.bus import Bus
from appliance.config.schema import SmartPeFeatureConfig
from appliance.features.smart_pe import SmartPe
from appliance.features.smart_pe.roster import (
    SCHEMA,
    RosterImportError,
    assign_band,
    load_roster,
    parse_roster_csv,
    seed_demo_class,
)
from appliance.store import _REGISTRY, Store
from appliance.supervisor import Supervisor
from sync.outbox import Outbox

GOOD = """class_id,student_id,label,sex,birth_year,hrmax,resting_hr,band_id
7-1,s-101,1号,男,2014,,72,a0:9e:1a:00:00:01
7-1,s-102,2号,female,2014,205,,A0:9E:1A:00:00:02
7-2,s-201,1号,f,2013,,,A0:9E:1A:00:00:01
"""


def test_migration_v2_keeps_assignments(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # a box still on the first Smart PE schema
        conn.executescript(SCHEMA)
        conn.execute("CREATE TABLE schema_migrations (owner TEXT, version INTEGER, applied_at REAL, description TEXT,"
                     " PRIMARY KEY (owner, version))")
        conn.execute("INSERT INTO schema_migrations VALUES ('smart_pe', 1, 0, '')")
        conn.execute("INSERT INTO pe_students VALUES ('s1', '7-2', '1号', 'male', 2014, NULL, NULL)")
        conn.execute("INSERT INTO pe_bands (band_id, student_id) VALUES ('B1', 's1')")
    assert ("smart_pe", 2) in _REGISTRY
    store = Store(path)
    try:
        assert [(s.student_id, s.class_id, s.band_id) for s in store.call(load_roster)] == [("s1", "7-2", "B1")]
    finally:
        store.close()


def test_one_kit_many_classes_and_swaps_stay_inside_a_class(tmp_path: Path) -> None:
    store = Store(tmp_path / "classroom.db")
    try:
        store.call(lambda db: seed_demo_class(db, ["B1", "B2"], students=2, class_id="7-1"))
        store.call(lambda db: seed_demo_class(db, ["B1", "B2"], students=2, class_id="7-2"))
        roster = store.call(load_roster)
        assert [(s.class_id, s.band_id) for s in roster] == [("7-1", "B1"), ("7-1", "B2"), ("7-2", "B1"), ("7-2", "B2")]
        swapped = store.call(lambda db: assign_band(db, "B2", "pe-7-1-01"))
        assert swapped == "pe-7-1-02"
        bands = {s.student_id: s.band_id for s in store.call(load_roster)}
        assert bands == {"pe-7-1-01": "B2", "pe-7-1-02": "B1", "pe-7-2-01": "B1", "pe-7-2-02": "B2"}
    finally:
        store.close()


def test_parse_roster_csv_accepts_chinese_and_english_values() -> None:
    rows = parse_roster_csv("\ufeff" + GOOD, 2026)
    assert [(s.student_id, s.sex, s.hrmax_measured, s.resting_hr, band) for s, band in rows] == [
        ("s-101", "male", None, 72, "A0:9E:1A:00:00:01"),
        ("s-102", "female", 205, None, "A0:9E:1A:00:00:02"),
        ("s-201", "female", None, None, "A0:9E:1A:00:00:01"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("class_id,student_id,label,sex\n", "missing column(s) birth_year"),
        ("class_id,student_id,label,sex,birth_year,name\n", "unknown column(s) name"),
        ("class_id,student_id,label,sex,birth_year\n", "no students"),
        ("class_id,student_id,label,sex,birth_year\n7-1,s1,张三,男,2014\n", "line 2, label"),
        ("class_id,student_id,label,sex,birth_year\n7-1,s1,1号,x,2014\n", "line 2, sex"),
        ("class_id,student_id,label,sex,birth_year\n7-1,s1,1号,男,1990\n", "line 2, birth_year"),
        ("class_id,student_id,label,sex,birth_year,hrmax\n7-1,s1,1号,男,2014,99\n", "line 2, hrmax"),
        ("class_id,student_id,label,sex,birth_year\n7-1,s1,1号,男,2014\n7-1,s1,2号,男,2014\n", "line 3, student_id"),
        ("class_id,student_id,label,sex,birth_year,band_id\n7-1,s1,1号,男,2014,b\n7-1,s2,2号,男,2014,B\n",
         "line 3, band_id"),
    ],
)
def test_parse_roster_csv_names_line_and_column(text: str, needle: str) -> None:
    with pytest.raises(RosterImportError) as err:
        parse_roster_csv(text, 2026)
    assert any(needle in p for p in err.value.problems), err.value.problems


@pytest.fixture
async def pe(tmp_path: Path) -> AsyncIterator[tuple[SmartPe, Store, TestClient]]:
    store = Store(tmp_path / "classroom.db")
    supervisor = Supervisor(Bus(), store=store, outbox=Outbox(store, "boot-test"))
    feature = SmartPe(SmartPeFeatureConfig(enabled=True, timetable=[  # type: ignore[list-item]
        {"days": ["mon"], "start": "09:50", "class_id": "7-2"}]), tmp_path)
    feature.now = lambda: datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # Monday, before PE
    supervisor.add(feature)
    await supervisor.start()
    app = web.Application()
    feature.add_routes(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for _ in range(100):
            if feature._ctx is not None:
                break
            await asyncio.sleep(0.02)
        yield feature, store, client
    finally:
        await client.close()
        await supervisor.stop()
        store.close()


async def test_import_over_the_api_then_pick_a_class(pe: tuple[SmartPe, Store, TestClient]) -> None:
    feature, store, client = pe
    bad = "class_id,student_id,label,sex,birth_year\n7-1,s1,1号,男,2014\n7-1,s2,李四,女,2014\n"
    r = await client.post("/api/pe/roster/import", data=bad.encode(), headers={"Content-Type": "text/csv"})
    body = await r.json()
    assert r.status == 400 and "nothing was imported" in body["error"] and "line 3, label" in body["problems"][0]
    assert store.db.execute("SELECT COUNT(*) FROM pe_students").fetchone()[0] == 0
    r = await client.post("/api/pe/roster/import", data=b"\xff\xfe", headers={"Content-Type": "text/csv"})
    assert r.status == 400 and "UTF-8" in (await r.json())["error"]

    r = await client.post("/api/pe/roster/import?by=tech", data=GOOD.encode(), headers={"Content-Type": "text/csv"})
    assert (await r.json()) == {"ok": True, "classes": 2, "created": 3, "updated": 0, "bands": 3}
    r = await client.post("/api/pe/roster/import", data=GOOD.encode(), headers={"Content-Type": "text/csv"})
    assert (await r.json())["updated"] == 3  # importing the same file again changes nothing
    assert store.db.execute("SELECT actor FROM audit_log WHERE action = 'pe.roster.import'").fetchone()[0] == "tech"

    roster = await (await client.get("/api/pe/roster")).json()
    # Monday 08:00, PE for 7-2 at 09:50: the roster page is about 7-2 until someone picks another class
    assert roster["classes"] == ["7-1", "7-2"] and roster["class_id"] == "7-2"
    assert [s["student_id"] for s in roster["students"]] == ["s-201"]
    assert roster["next_slot"]["class_id"] == "7-2" and roster["next_slot"]["starts_at"].endswith("09:50+08:00")
    assert (await client.post("/api/pe/roster/class", json={"class_id": "9-9"})).status == 404
    assert (await client.post("/api/pe/roster/class", json={"class_id": "7-1"})).status == 200
    roster = await (await client.get("/api/pe/roster")).json()
    assert roster["class_id"] == "7-1" and len(roster["students"]) == 2
    assert roster["students"][1]["hrmax"] == 205 and roster["students"][1]["hrmax_source"] == "measured"
    assert (await client.get("/api/pe/roster?class_id=nope")).status == 404

    r = await client.post("/api/pe/lesson/start", json={"class_id": "7-2"})
    assert r.status == 200
    assert feature.lesson_view()["class_id"] == "7-2" and len(feature.lesson_view()["tiles"]) == 1
    assert (await client.post("/api/pe/roster/class", json={"class_id": "7-1"})).status == 409
    assert (await client.post("/api/pe/lesson/stop", json={"by": "teacher"})).status == 200


async def test_cli_import_reports_problems_by_line(pe: tuple[SmartPe, Store, TestClient], tmp_path: Path) -> None:
    _feature, store, client = pe
    url = str(client.make_url("/"))
    bad = tmp_path / "bad.csv"
    bad.write_text("class_id,student_id,label,sex,birth_year\n7-1,s1,1号,男,2014\n7-1,s2,2号,?,2014\n", "utf-8")
    good = tmp_path / "good.csv"
    good.write_text(GOOD, "utf-8")

    async def cli(*argv: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "appliance.cli", "pe-roster", "import", *argv, "--url", url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode()

    code, out = await cli(str(bad))
    assert code == 2 and f"{bad}: line 3, sex" in out and "nothing was imported" in out
    code, out = await cli(str(good))
    assert code == 0 and "3 new and 0 updated students in 2 class(es), 3 band(s)" in out
    assert store.db.execute("SELECT COUNT(*) FROM pe_bands").fetchone()[0] == 3
    code, out = await cli(str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv" in out
