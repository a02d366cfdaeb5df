"""AlertEngine: hold times, critical by bpm, acknowledgement with audit, no duplicates, clearing."""

from __future__ import annotations

from pathlib import Path

from appliance.config.schema import SmartPeFeatureConfig
from appliance.features.smart_pe.alerts import AlertEngine, audit_acknowledgement
from appliance.store import Store

T0 = 5_000.0
CFG = SmartPeFeatureConfig(enabled=True)  # high 0.90 for 30 s, critical 0.95 or > 200 for 10 s, signal 15 s


def engine(hrmax: int = 200) -> AlertEngine:
    e = AlertEngine(CFG, "L")
    e.watch("s1", "1号", hrmax, T0)
    return e


def run(e: AlertEngine, start: float, seconds: int, bpm: int, contact: bool | None = True) -> list:
    changes = []
    for i in range(seconds):
        changes += e.observe("s1", T0 + start + i, bpm, contact)
        changes += e.check_signal(T0 + start + i)
    return changes


def test_high_needs_its_hold_time() -> None:
    e = engine()
    assert run(e, 0, 30, 181) == []  # 90.5 % for 29 s of lesson clock
    changes = run(e, 30, 1, 181)  # now held 30 s
    assert [(a.kind, a.state) for a in changes] == [("high", "active")]
    assert e.worst_for("s1") == "high"


def test_dip_below_threshold_restarts_the_hold() -> None:
    e = engine()
    run(e, 0, 20, 185)
    run(e, 20, 1, 150)
    assert run(e, 21, 29, 185) == []


def test_critical_above_200_bpm_even_below_95_percent() -> None:
    e = engine(hrmax=215)  # 201 bpm is only 93 % of HRmax
    assert [a.kind for a in run(e, 0, 10, 201)] == []
    changes = run(e, 10, 1, 201)
    assert [(a.kind, a.state) for a in changes] == [("critical", "active")]
    assert e.worst_for("s1") == "critical"


def test_no_duplicates_while_open_and_clearing() -> None:
    e = engine()
    changes = run(e, 0, 120, 196)  # 98 %: critical after 10 s, high after 30 s, then held for long
    assert sorted(a.kind for a in changes) == ["critical", "high"]
    assert len(e.active()) == 2 and e.active()[0].kind == "critical"
    cleared = run(e, 120, 1, 120)
    assert sorted((a.kind, a.state) for a in cleared) == [("critical", "cleared"), ("high", "cleared")]
    # ended before anyone looked: both stay on the banner until the teacher taps them
    assert [(a.kind, a.state, a.needs_ack) for a in e.active()] == [("critical", "cleared", True), ("high", "cleared", True)]
    assert len(e.recent()) == 2 and e.count_by_student["s1"] == 2
    for a in e.active():
        seen = e.acknowledge(a.alert_id, "王老师", T0 + 130)
        assert seen.state == "cleared" and seen.acknowledged_by == "王老师" and not seen.needs_ack
    assert e.active() == [] and run(e, 121, 5, 120) == []


def test_signal_alert_that_recovers_needs_no_tap() -> None:
    e = engine()
    raised = run(e, 0, 17, 150, contact=False)
    assert [(a.kind, a.state) for a in raised] == [("signal", "active")] and raised[0].needs_ack
    back = run(e, 17, 1, 150)
    assert [(a.kind, a.state, a.needs_ack) for a in back] == [("signal", "cleared", False)]
    assert e.active() == []


def test_acknowledge_keeps_it_open_and_is_audited(tmp_path: Path) -> None:
    e = engine()
    alert = run(e, 0, 11, 205)[0]
    acked = e.acknowledge(alert.alert_id, "王老师", T0 + 12)
    assert acked.state == "acknowledged" and acked.acknowledged_by == "王老师" and acked.acknowledged_at == T0 + 12
    assert run(e, 12, 5, 205) == []  # still critical: no new alert while acknowledged
    assert e.acknowledge(alert.alert_id, "other", T0 + 20) is acked  # second ack changes nothing
    assert [(a.kind, a.state) for a in run(e, 17, 1, 100)] == [("critical", "cleared")]
    store = Store(tmp_path / "t.db")
    try:
        store.call(lambda db: audit_acknowledgement(db, acked))
        row = store.db.execute("SELECT actor, action, detail FROM audit_log").fetchone()
    finally:
        store.close()
    assert row[0] == "王老师" and row[1] == "pe.alert.ack" and alert.alert_id in row[2]


def test_signal_lost_and_no_contact_on_the_lesson_clock() -> None:
    e = engine()
    run(e, 0, 5, 120)
    assert e.check_signal(T0 + 19) == []  # last good sample at T0+4: 15 s is not more than 15 s
    lost = e.check_signal(T0 + 19.5)
    assert [(a.kind, a.state) for a in lost] == [("signal", "active")]
    assert e.check_signal(T0 + 30) == []  # no storm
    back = e.observe("s1", T0 + 31, 120, True)
    assert [(a.kind, a.state) for a in back] == [("signal", "cleared")]
    # a band off the skin keeps sending, but counts as no signal
    assert run(e, 32, 16, 60, contact=False)[-1].kind == "signal"


def test_unwatch_closes_open_alerts() -> None:
    e = engine()
    run(e, 0, 11, 205)
    closed = e.unwatch("s1", T0 + 12)
    assert [(a.kind, a.state) for a in closed] == [("critical", "cleared")]
    assert e.observe("s1", T0 + 13, 205, True) == []
