"""Tests for the rule-based exercise prescription."""

from __future__ import annotations

from datetime import date

import pytest

from appliance.fitness import prescribe

TESTED = date(2025, 3, 3)

# 五年级女 (hand-scored from the annex tables):
#   BMI 18.0 正常 100 (lost 0); 肺活量 1050 = 60 (w15, lost 6); 50m 11.1 = 60 (w20, lost 8);
#   坐位体前屈 13.0 = 80 (w10, lost 2); 跳绳 58 = 60 (w10, lost 4); 仰卧起坐 18 = 60 (w20, lost 8);
#   50×8 143 s = 60 (w10, lost 4).
GRADE5_F = {
    "bmi": 18.0,
    "vital_capacity": 1050,
    "run_50m": 11.1,
    "sit_and_reach": 13.0,
    "rope_skip_1min": 58,
    "sit_up_1min": 18,
    "shuttle_50mx8": 143,
}


def test_orders_by_lost_points_top_three() -> None:
    p = prescribe("female", 5, GRADE5_F, tested_on=TESTED)
    assert [a.item for a in p.advice] == ["run_50m", "sit_up_1min", "vital_capacity"]
    assert [a.lost_points for a in p.advice] == [8.0, 8.0, 6.0]
    assert all(2 <= len(a.exercises_zh) <= 4 for a in p.advice)


def test_reasons_and_targets_contain_numbers() -> None:
    p = prescribe("female", 5, GRADE5_F, tested_on=TESTED)
    run = p.advice[0]
    assert "11.1秒" in run.reason_zh and "60分" in run.reason_zh and "20%" in run.reason_zh
    assert "8" in run.reason_zh
    # Next level above 60 is 62: 表1-6 女生 五年级 62分 = 10.9 s.
    assert "62分" in run.target and "10.9秒" in run.target
    situp = p.advice[1]
    assert "18次" in situp.reason_zh
    assert "20次" in situp.target  # 仰卧起坐（小学）五年级女 62分 = 20


def test_retest_date_default_and_parameter() -> None:
    assert prescribe("female", 5, GRADE5_F, tested_on=TESTED).retest_on == date(2025, 4, 14)
    p = prescribe("female", 5, GRADE5_F, tested_on=TESTED, retest_weeks=4)
    assert p.retest_on == date(2025, 3, 31)
    assert "2025-03-31" in p.summary_zh
    with pytest.raises(ValueError):
        prescribe("female", 5, GRADE5_F, tested_on=TESTED, retest_weeks=0)


def test_obese_gets_low_impact_advice_first() -> None:
    # 五年级女 BMI 24.0 ≥ 23.0 → 肥胖 (60 points, lost 6): weight advice comes first even though
    # 50m and sit-ups lose more, and the run advice switches to low-impact exercises.
    p = prescribe("female", 5, {**GRADE5_F, "bmi": 24.0}, tested_on=TESTED)
    assert p.bmi_category == "肥胖"
    assert p.advice[0].item == "bmi"
    assert "24.0" in p.advice[0].reason_zh and "肥胖" in p.advice[0].reason_zh
    run = next(a for a in p.advice if a.item == "run_50m")
    assert "低冲击" in run.reason_zh
    assert not any("加速跑" in e for e in run.exercises_zh)
    assert p.summary_zh.startswith("体重属于肥胖范围")


def test_full_marks_gives_no_advice() -> None:
    values = {"bmi": 16.0, "vital_capacity": 1700, "run_50m": 10.2, "sit_and_reach": 16.1, "rope_skip_1min": 109}
    p = prescribe("male", 1, values, tested_on=TESTED)
    assert p.advice == ()
    assert "满分" in p.summary_zh


def test_young_children_get_short_sets() -> None:
    values = {"bmi": 16.0, "vital_capacity": 1700, "run_50m": 10.2, "sit_and_reach": 16.1, "rope_skip_1min": 20}
    p = prescribe("male", 1, values, tested_on=TESTED)
    assert p.advice[0].item == "rope_skip_1min"
    assert any("30秒" in e for e in p.advice[0].exercises_zh)
