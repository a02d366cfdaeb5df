"""LessonModel: zones, density, averages, recovery and signal loss, all on the lesson clock."""

from __future__ import annotations

from appliance.config.schema import SmartPeFeatureConfig
from appliance.features.smart_pe.lesson import LessonModel, LessonStudent

T0 = 1_000_000.0
CFG = SmartPeFeatureConfig(enabled=True)  # moderate 0.64, zones at 0.5/0.6/0.7/0.8/0.9, signal lost 15 s


def model(*students: LessonStudent) -> LessonModel:
    return LessonModel(list(students) or [LessonStudent("s1", "1号", "b1", 200)], CFG, start_t=T0)


def feed(m: LessonModel, band: str, start: float, seconds: int, bpm: int, hz: float = 1.0) -> None:
    for i in range(int(seconds * hz)):
        m.ingest(band, T0 + start + i / hz, bpm, True)


def test_zones_follow_hrmax_edges() -> None:
    m = model()
    tr = m.tracks["s1"]
    assert [tr.zone(b) for b in (90, 100, 119, 120, 150, 179, 180, 199)] == [1, 2, 2, 3, 4, 5, 6, 6]
    feed(m, "b1", 0, 10, 150)
    tile = m.tile(tr)
    assert tile["zone"] == 4 and tile["pct_hrmax"] == 0.75 and tile["signal"] == "ok"
    assert m.zones()[0] == {"zone": 1, "from_bpm_share": 0.0, "to_bpm_share": 0.5}


def test_density_counts_time_at_or_above_moderate() -> None:
    m = model()
    # HRmax 200 -> moderate at 128 bpm: 30 s at 128 (counts), 30 s at 127 (does not)
    feed(m, "b1", 0, 30, 128)
    feed(m, "b1", 30, 31, 127)
    tr = m.tracks["s1"]
    assert tr.signal_s == 60
    assert tr.moderate_s == 30
    assert tr.density == 0.5
    assert m.class_density() == 0.5
    assert tr.zone_s[2] == 60  # 127 and 128 are both zone 3 (120-140 bpm)


def test_class_density_is_pooled_over_student_seconds() -> None:
    m = model(LessonStudent("a", "1号", "ba", 200), LessonStudent("b", "2号", "bb", 200))
    for i in range(61):
        m.ingest("ba", T0 + i, 150, True)
        if i <= 20:
            m.ingest("bb", T0 + i, 100, True)
    # a: 60 s moderate; b: 20 s not moderate -> 60 / 80 pooled (individual mean would be 0.5)
    assert abs(m.class_density() - 0.75) < 1e-9


def test_average_peak_and_class_average() -> None:
    m = model(LessonStudent("a", "1号", "ba", 200), LessonStudent("b", "2号", "bb", 200))
    for i in range(21):
        m.ingest("ba", T0 + i, 140 if i < 10 else 160, True)
        m.ingest("bb", T0 + i, 150, True)
    a = m.tracks["a"]
    assert a.peak == 160
    assert a.avg_bpm is not None and abs(a.avg_bpm - 150) < 1e-9
    figures = m.class_figures()
    assert figures["avg_bpm"] == 155.0  # 160 and 150 right now
    assert figures["in_target_share"] == 1.0
    assert m.class_curve and m.class_curve[0][0] == 0


def test_curve_is_one_point_per_second() -> None:
    m = model()
    feed(m, "b1", 0, 10, 120, hz=4)
    tr = m.tracks["s1"]
    assert [t for t, _ in tr.curve] == list(range(10))


def test_recovery_60_and_120_seconds_after_mark() -> None:
    m = model()
    feed(m, "b1", 0, 30, 180)
    assert m.mark_effort() == T0 + 29
    feed(m, "b1", 30, 59, 130)  # up to T0+88: +59 s, not yet
    assert m.tracks["s1"].recoveries[0].drop(0) is None
    feed(m, "b1", 89, 31, 120)  # T0+89 = mark + 60
    feed(m, "b1", 120, 40, 100)  # T0+149 = mark + 120
    rec = m.tracks["s1"].recoveries[0]
    assert rec.drop(0) == 60
    assert rec.drop(1) == 80


def test_signal_lost_on_the_lesson_clock() -> None:
    m = model(LessonStudent("a", "1号", "ba", 200), LessonStudent("b", "2号", "bb", 200),
              LessonStudent("c", "3号", None, 200))
    m.ingest("ba", T0, 120, True)
    m.ingest("bb", T0, 120, True)
    for i in range(1, 16):
        m.ingest("bb", T0 + i, 120, True)
    assert m.signal(m.tracks["a"]) == "ok"  # 15 s is not more than 15 s
    m.ingest("bb", T0 + 15.5, 120, True)
    assert m.signal(m.tracks["a"]) == "lost"
    assert m.signal(m.tracks["c"]) == "no_band"
    m.ingest("bb", T0 + 16, 120, False)
    assert m.signal(m.tracks["b"]) == "no_contact"
    assert m.tile(m.tracks["a"])["bpm"] is None
    # a gap longer than signal_lost_s is credited nowhere
    m.ingest("ba", T0 + 40, 120, True)
    assert m.tracks["a"].signal_s == 0


def test_unknown_band_is_ignored_but_moves_the_clock() -> None:
    m = model()
    assert m.ingest("stranger", T0 + 5, 120, True) is None
    assert m.elapsed_s == 5
