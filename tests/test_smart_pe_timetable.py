"""The PE timetable: which slot runs when, and the feature starting and ending lessons by it."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from appliance.bus import Bus
from appliance.config.schema import SmartPeFeatureConfig
from appliance.features.smart_pe import SmartPe
from appliance.features.smart_pe.roster import seed_demo_class
from appliance.features.smart_pe.timetable import next_slot, slot_at
from appliance.store import Store
from appliance.supervisor import Supervisor
from sync.outbox import Outbox

SH = ZoneInfo("Asia/Shanghai")
TIMETABLE = [
    {"days": ["mon", "thu"], "start": "09:50", "class_id": "7-2", "title": "七年级二班 体育"},
    {"days": ["thu"], "start": "14:00", "minutes": 40, "class_id": "7-1"},
]


def at(day: int, hhmm: str) -> datetime:
    """2026-11-23 is a Monday; day 0 = Monday."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, 23 + day, hh, mm, tzinfo=SH)


def test_slot_at_respects_days_start_and_length() -> None:
    cfg = SmartPeFeatureConfig(enabled=True, timetable=TIMETABLE)  # type: ignore[arg-type]
    assert slot_at(cfg, at(0, "09:49")) is None
    mon = slot_at(cfg, at(0, "09:50"))
    assert mon is not None and mon.class_id == "7-2" and mon.ends == at(0, "10:35") and mon.title == "七年级二班 体育"
    assert slot_at(cfg, at(0, "10:35")) is None
    assert slot_at(cfg, at(1, "09:55")) is None  # Tuesday: no PE
    thu = slot_at(cfg, at(3, "14:39"))
    assert thu is not None and thu.class_id == "7-1" and thu.title == "体育课 · 7-1"
    assert slot_at(cfg, at(3, "14:40")) is None  # a 40-minute slot
    assert mon.key != slot_at(cfg, at(3, "10:00")).key  # type: ignore[union-attr]


def test_next_slot_looks_across_the_week() -> None:
    cfg = SmartPeFeatureConfig(enabled=True, timetable=TIMETABLE)  # type: ignore[arg-type]
    nxt = next_slot(cfg, at(0, "11:00"))
    assert nxt is not None and nxt.starts == at(3, "09:50")
    nxt = next_slot(cfg, at(3, "10:00"))
    assert nxt is not None and nxt.starts == at(3, "14:00") and nxt.class_id == "7-1"
    assert next_slot(SmartPeFeatureConfig(enabled=True), at(0, "08:00")) is None


@pytest.mark.parametrize(
    ("slots", "needle"),
    [
        ([{"days": ["mon"], "start": "9:50", "class_id": "a"}], "24-hour time"),
        ([{"days": ["mon"], "start": "23:50", "class_id": "a"}], "past midnight"),
        ([{"days": ["mon", "tue"], "start": "09:00", "class_id": "a"},
          {"days": ["tue"], "start": "09:30", "class_id": "b"}], "overlap"),
        ([{"days": [], "start": "09:00", "class_id": "a"}], "at least 1"),
    ],
)
def test_bad_timetables_are_refused(slots: list[dict[str, object]], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        SmartPeFeatureConfig(enabled=True, timetable=slots)  # type: ignore[arg-type]


async def test_feature_follows_the_timetable(tmp_path: Path) -> None:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_demo_class(db, ["b-1", "b-2"], students=3, class_id="7-2"))
    store.call(lambda db: seed_demo_class(db, ["b-1", "b-2"], students=2, class_id="7-1"))
    supervisor = Supervisor(Bus(), store=store, outbox=Outbox(store, "boot-test"))
    cfg = SmartPeFeatureConfig(enabled=True, timetable=TIMETABLE)  # type: ignore[arg-type]
    pe = SmartPe(cfg, tmp_path, timezone="Asia/Shanghai")
    pe.now = lambda: at(6, "03:00")  # the feature's own loop stands on a Sunday night; the test drives the clock
    supervisor.add(pe)
    await supervisor.start()
    try:
        for _ in range(100):
            if len(pe._roster) == 5:
                break
            await asyncio.sleep(0.02)
        await pe.follow_timetable(at(0, "09:49"))
        assert pe.lesson_view()["lesson_id"] is None
        await pe.follow_timetable(at(0, "09:50"))
        view = pe.lesson_view()
        assert view["class_id"] == "7-2" and view["started_by"] == "timetable" and len(view["tiles"]) == 3
        assert pe.current_lesson()["title"] == "七年级二班 体育"  # type: ignore[index]
        await pe.follow_timetable(at(0, "10:35"))  # the bell
        assert pe.lesson_view()["lesson_id"] is None
        await pe.follow_timetable(at(0, "10:34"))  # clock jitter back into the slot: not started twice
        assert pe.lesson_view()["lesson_id"] is None

        # Thursday: the teacher ends 7-1's lesson early; the timetable does not start it again
        await pe.follow_timetable(at(3, "14:00"))
        assert pe.lesson_view()["class_id"] == "7-1" and len(pe.lesson_view()["tiles"]) == 2
        await pe.stop_lesson("teacher")
        await pe.follow_timetable(at(3, "14:10"))
        assert pe.lesson_view()["lesson_id"] is None

        audit = store.db.execute(
            "SELECT actor, action, detail FROM audit_log WHERE action LIKE 'pe.lesson.%' ORDER BY id").fetchall()
        assert [(a, b) for a, b, _ in audit] == [
            ("timetable", "pe.lesson.start"), ("timetable", "pe.lesson.stop"),
            ("timetable", "pe.lesson.start"), ("teacher", "pe.lesson.stop")]
        assert "class=7-2" in audit[0][2]
        lessons = store.db.execute("SELECT class_id FROM pe_lessons ORDER BY started_at").fetchall()
        assert [c for (c,) in lessons] == ["7-2", "7-1"]
    finally:
        await supervisor.stop()
        store.close()


async def test_forgotten_lesson_is_ended_and_reported(tmp_path: Path) -> None:
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_demo_class(db, ["b-1"], students=1, class_id="7-2"))
    supervisor = Supervisor(Bus(), store=store, outbox=Outbox(store, "boot-test"))
    pe = SmartPe(SmartPeFeatureConfig(enabled=True, max_lesson_minutes=60), tmp_path)
    pe.now = lambda: at(6, "03:00")
    supervisor.add(pe)
    await supervisor.start()
    try:
        for _ in range(100):
            if pe._roster:
                break
            await asyncio.sleep(0.02)
        lesson_id = await pe.start_lesson("teacher")
        started = datetime.fromtimestamp(pe._live.started_at, SH)  # type: ignore[union-attr]
        await pe.follow_timetable(started.replace(microsecond=0) + (at(0, "10:59") - at(0, "10:00")))
        assert pe.lesson_view()["lesson_id"] == lesson_id
        await pe.follow_timetable(started + (at(0, "11:01") - at(0, "10:00")))
        assert pe.lesson_view()["lesson_id"] is None
        row = store.db.execute("SELECT ended_at FROM pe_lessons WHERE lesson_id = ?", [lesson_id]).fetchone()
        assert row[0] is not None and (tmp_path / "reports" / f"{lesson_id}.pdf").is_file()
        assert store.db.execute("SELECT actor FROM audit_log WHERE action = 'pe.lesson.stop'").fetchone()[0] == "auto"
    finally:
        await supervisor.stop()
        store.close()
