"""Tests for the 2014 国家学生体质健康标准 tables and scoring.

Expected numbers are quoted from the annex tables (cited per test), not computed from the data
file, so a transcription or lookup error makes these fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appliance.fitness import (
    ITEM_LABELS_ZH,
    ITEMS,
    LEVELS,
    StandardDataError,
    TableNotEncodedError,
    bmi_category,
    bonus_points,
    items_for,
    load_standard,
    lower_is_better,
    rating_for,
    score_item,
    total_score,
)
from appliance.fitness import standard as std_mod

DATA = Path(std_mod.__file__).parent / "data" / "gb_2014.toml"


# --- official rows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "sex", "grade", "value", "expected"),
    [
        # 表1-3 男生肺活量 一年级: 100=1700, 80=1300, 60=700, 10=500
        ("vital_capacity", "male", 1, 1700, 100),
        ("vital_capacity", "male", 1, 1300, 80),
        ("vital_capacity", "male", 1, 700, 60),
        ("vital_capacity", "male", 1, 500, 10),
        # 表1-4 女生肺活量 六年级: 100=2500, 80=2100, 60=1200, 10=1050
        ("vital_capacity", "female", 6, 2500, 100),
        ("vital_capacity", "female", 6, 2100, 80),
        ("vital_capacity", "female", 6, 1200, 60),
        ("vital_capacity", "female", 6, 1050, 10),
        # 表1-3 高中男生肺活量 高三: 100=4940, 80=4200, 60=3000, 10=2250
        ("vital_capacity", "male", 12, 4940, 100),
        ("vital_capacity", "male", 12, 4200, 80),
        ("vital_capacity", "male", 12, 3000, 60),
        ("vital_capacity", "male", 12, 2250, 10),
        # 表1-7 男生坐位体前屈 四年级: 100=16.4, 80=9.8, 60=-2.2, 10=-7.2
        ("sit_and_reach", "male", 4, 16.4, 100),
        ("sit_and_reach", "male", 4, 9.8, 80),
        ("sit_and_reach", "male", 4, -2.2, 60),
        ("sit_and_reach", "male", 4, -7.2, 10),
        # 表1-8 女生坐位体前屈 一年级: 100=18.6, 80=13.4, 60=2.4, 10=-1.6
        ("sit_and_reach", "female", 1, 18.6, 100),
        ("sit_and_reach", "female", 1, 13.4, 80),
        ("sit_and_reach", "female", 1, 2.4, 60),
        ("sit_and_reach", "female", 1, -1.6, 10),
        # 表1-9 男生一分钟跳绳 一年级: 100=109, 80=87, 60=17, 10=2; 六年级 100=157, 60=65
        ("rope_skip_1min", "male", 1, 109, 100),
        ("rope_skip_1min", "male", 1, 87, 80),
        ("rope_skip_1min", "male", 1, 17, 60),
        ("rope_skip_1min", "male", 1, 2, 10),
        ("rope_skip_1min", "male", 6, 157, 100),
        ("rope_skip_1min", "male", 6, 65, 60),
        # 女生一分钟跳绳 二年级: 100=127, 80=97, 60=27
        ("rope_skip_1min", "female", 2, 127, 100),
        ("rope_skip_1min", "female", 2, 97, 80),
        ("rope_skip_1min", "female", 2, 27, 60),
        # 一分钟仰卧起坐（小学）三年级男 100=48, 60=16; 女 100=46
        ("sit_up_1min", "male", 3, 48, 100),
        ("sit_up_1min", "male", 3, 16, 60),
        ("sit_up_1min", "female", 3, 46, 100),
        # 表1-4 女生肺活量 高一: 100=3150, 80=2750, 60=1750, 10=1550; 高三 100=3350, 60=1950, 10=1750
        ("vital_capacity", "female", 10, 3150, 100),
        ("vital_capacity", "female", 10, 2750, 80),
        ("vital_capacity", "female", 10, 1750, 60),
        ("vital_capacity", "female", 10, 1550, 10),
        ("vital_capacity", "female", 12, 3350, 100),
        ("vital_capacity", "female", 12, 1950, 60),
        ("vital_capacity", "female", 12, 1750, 10),
        # 表1-7 男生坐位体前屈 高一: 100=23.6, 80=15.0, 60=1.0, 10=-4.0; 高三 100=24.6, 60=3.2, 10=-1.8
        ("sit_and_reach", "male", 10, 23.6, 100),
        ("sit_and_reach", "male", 10, 15.0, 80),
        ("sit_and_reach", "male", 10, 1.0, 60),
        ("sit_and_reach", "male", 10, -4.0, 10),
        ("sit_and_reach", "male", 12, 24.6, 100),
        ("sit_and_reach", "male", 12, 3.2, 60),
        ("sit_and_reach", "male", 12, -1.8, 10),
        # 男生立定跳远 高一: 100=260, 80=235, 60=195, 10=170; 高二 100=265, 60=200, 10=175
        ("standing_long_jump", "male", 10, 260, 100),
        ("standing_long_jump", "male", 10, 235, 80),
        ("standing_long_jump", "male", 10, 195, 60),
        ("standing_long_jump", "male", 10, 170, 10),
        ("standing_long_jump", "male", 11, 265, 100),
        ("standing_long_jump", "male", 11, 200, 60),
        ("standing_long_jump", "male", 11, 175, 10),
        # 男生引体向上 高一: 100=16, 80=12, 76=11, 60=7, 10=2; 高三 100=18, 60=9, 10=4
        ("pull_up", "male", 10, 16, 100),
        ("pull_up", "male", 10, 12, 80),
        ("pull_up", "male", 10, 11, 76),
        ("pull_up", "male", 10, 7, 60),
        ("pull_up", "male", 10, 2, 10),
        ("pull_up", "male", 12, 18, 100),
        ("pull_up", "male", 12, 9, 60),
        ("pull_up", "male", 12, 4, 10),
        # 女生一分钟仰卧起坐（中学）高一: 100=53, 80=43, 60=23, 10=13; 高三 100=55, 60=25, 10=15
        ("sit_up_1min", "female", 10, 53, 100),
        ("sit_up_1min", "female", 10, 43, 80),
        ("sit_up_1min", "female", 10, 23, 60),
        ("sit_up_1min", "female", 10, 13, 10),
        ("sit_up_1min", "female", 12, 55, 100),
        ("sit_up_1min", "female", 12, 25, 60),
        ("sit_up_1min", "female", 12, 15, 10),
        # 表1-3/表1-4 肺活量 初二: 男 100=3940, 80=3200, 60=2000, 10=1450; 女 100=2900, 80=2500, 60=1500, 10=1300
        ("vital_capacity", "male", 8, 3940, 100),
        ("vital_capacity", "male", 8, 3200, 80),
        ("vital_capacity", "male", 8, 2000, 60),
        ("vital_capacity", "male", 8, 1450, 10),
        ("vital_capacity", "female", 8, 2900, 100),
        ("vital_capacity", "female", 8, 2500, 80),
        ("vital_capacity", "female", 8, 1500, 60),
        ("vital_capacity", "female", 8, 1300, 10),
        # 表1-7/表1-8 坐位体前屈 初二: 男 100=19.6, 80=11.6, 60=-1.4, 10=-7.4; 女 100=22.7, 80=15.9, 60=2.9, 10=-1.1
        ("sit_and_reach", "male", 8, 19.6, 100),
        ("sit_and_reach", "male", 8, 11.6, 80),
        ("sit_and_reach", "male", 8, -1.4, 60),
        ("sit_and_reach", "male", 8, -7.4, 10),
        ("sit_and_reach", "female", 8, 22.7, 100),
        ("sit_and_reach", "female", 8, 15.9, 80),
        ("sit_and_reach", "female", 8, 2.9, 60),
        ("sit_and_reach", "female", 8, -1.1, 10),
        # 立定跳远 初二: 男 100=240, 80=210, 60=170, 10=145; 女 100=200, 80=174, 60=144, 10=119
        ("standing_long_jump", "male", 8, 240, 100),
        ("standing_long_jump", "male", 8, 210, 80),
        ("standing_long_jump", "male", 8, 170, 60),
        ("standing_long_jump", "male", 8, 145, 10),
        ("standing_long_jump", "female", 8, 200, 100),
        ("standing_long_jump", "female", 8, 174, 80),
        ("standing_long_jump", "female", 8, 144, 60),
        ("standing_long_jump", "female", 8, 119, 10),
    ],
)
def test_official_rows_higher_is_better(item: str, sex: str, grade: int, value: float, expected: int) -> None:
    assert score_item(item, sex, grade, value) == expected


@pytest.mark.parametrize(
    ("item", "sex", "grade", "value", "expected"),
    [
        # 表1-5 男生50米跑 一年级: 100=10.2, 80=10.6, 60=12.6, 10=13.6
        ("run_50m", "male", 1, 10.2, 100),
        ("run_50m", "male", 1, 10.6, 80),
        ("run_50m", "male", 1, 12.6, 60),
        ("run_50m", "male", 1, 13.6, 10),
        # 表1-5 男生50米跑 初一: 100=7.8, 80=8.2, 60=10.2, 10=11.2; 高三 100=6.8, 60=9.2
        ("run_50m", "male", 7, 7.8, 100),
        ("run_50m", "male", 7, 8.2, 80),
        ("run_50m", "male", 7, 10.2, 60),
        ("run_50m", "male", 7, 11.2, 10),
        ("run_50m", "male", 12, 6.8, 100),
        ("run_50m", "male", 12, 9.2, 60),
        # 表1-6 女生50米跑 一年级: 100=11.0, 80=11.8, 60=13.8, 10=14.8
        ("run_50m", "female", 1, 11.0, 100),
        ("run_50m", "female", 1, 11.8, 80),
        ("run_50m", "female", 1, 13.8, 60),
        ("run_50m", "female", 1, 14.8, 10),
        # 表1-6 女生50米跑 高一: 100=7.8, 80=8.6, 72=9.4, 60=10.6, 10=11.6; 高二 74=9.1, 70=9.5; 高三 100=7.6, 10=11.4
        ("run_50m", "female", 10, 7.8, 100),
        ("run_50m", "female", 10, 8.6, 80),
        ("run_50m", "female", 10, 9.4, 72),
        ("run_50m", "female", 10, 10.6, 60),
        ("run_50m", "female", 10, 11.6, 10),
        ("run_50m", "female", 11, 9.1, 74),
        ("run_50m", "female", 11, 9.5, 70),
        ("run_50m", "female", 12, 7.6, 100),
        ("run_50m", "female", 12, 11.4, 10),
        # 表1-6 女生50米跑 初二: 100=8.0, 80=8.8, 60=10.8, 10=11.8
        ("run_50m", "female", 8, 8.0, 100),
        ("run_50m", "female", 8, 8.8, 80),
        ("run_50m", "female", 8, 10.8, 60),
        ("run_50m", "female", 8, 11.8, 10),
        # 50米×8往返跑 五年级男 100=1'36"(96 s), 60=2'18"(138 s), 10=2'38"(158 s)
        ("shuttle_50mx8", "male", 5, 96, 100),
        ("shuttle_50mx8", "male", 5, 138, 60),
        ("shuttle_50mx8", "male", 5, 158, 10),
    ],
)
def test_official_rows_lower_is_better(item: str, sex: str, grade: int, value: float, expected: int) -> None:
    assert lower_is_better(item)
    assert score_item(item, sex, grade, value) == expected


def test_boundaries_both_directions() -> None:
    # Higher is better: exactly at 80 (1300 ml) is 80, 1 ml short drops to 78 (1240).
    assert score_item("vital_capacity", "male", 1, 1299) == 78
    assert score_item("vital_capacity", "male", 1, 1240) == 78
    assert score_item("vital_capacity", "male", 1, 1239) == 76
    # Lower is better: 10.6 s is 80, 10.7 s is 78 (threshold 10.8), 10.61 s is still 78.
    assert score_item("run_50m", "male", 1, 10.61) == 78
    assert score_item("run_50m", "male", 1, 10.7) == 78
    assert score_item("run_50m", "male", 1, 10.5) == 85
    # Faster than the 100-point time is still 100.
    assert score_item("run_50m", "male", 1, 8.0) == 100


def test_zero_below_lowest_level() -> None:
    assert score_item("vital_capacity", "male", 1, 499) == 0
    assert score_item("rope_skip_1min", "male", 1, 1) == 0
    assert score_item("run_50m", "male", 1, 13.7) == 0  # 10 points needs 13.6 s
    assert score_item("sit_and_reach", "male", 4, -7.3) == 0


def test_bmi_ranges() -> None:
    # 表1-1 男生 一年级: 正常 13.5~18.1, 低体重 ≤13.4, 超重 18.2~20.3, 肥胖 ≥20.4
    assert score_item("bmi", "male", 1, 13.5) == 100
    assert score_item("bmi", "male", 1, 18.1) == 100
    assert score_item("bmi", "male", 1, 13.4) == 80
    assert score_item("bmi", "male", 1, 18.2) == 80
    assert score_item("bmi", "male", 1, 20.3) == 80
    assert score_item("bmi", "male", 1, 20.4) == 60
    # Rounded to one decimal first: 18.14 -> 18.1 (正常), 18.15 -> 18.2 (超重).
    assert bmi_category("male", 1, 18.14) == "正常"
    assert bmi_category("male", 1, 18.15) == "超重"
    # 表1-2 女生 初一: 正常 14.8~21.7, 超重 21.8~24.4, 肥胖 ≥24.5
    assert bmi_category("female", 7, 21.7) == "正常"
    assert bmi_category("female", 7, 24.4) == "超重"
    assert bmi_category("female", 7, 24.5) == "肥胖"
    # 表1-1 男生 高三: 低体重 ≤17.2, 肥胖 ≥27.4
    assert bmi_category("male", 12, 17.2) == "低体重"
    assert bmi_category("male", 12, 27.4) == "肥胖"


def test_rope_bonus_rows() -> None:
    # 加分指标 1分钟跳绳: 2 extra reps per point, 20 points at +40. 一年级男 100 = 109.
    assert bonus_points("rope_skip_1min", "male", 1, 109) == 0
    assert bonus_points("rope_skip_1min", "male", 1, 110) == 0
    assert bonus_points("rope_skip_1min", "male", 1, 111) == 1
    assert bonus_points("rope_skip_1min", "male", 1, 129) == 10
    assert bonus_points("rope_skip_1min", "male", 1, 149) == 20
    assert bonus_points("rope_skip_1min", "male", 1, 200) == 20
    assert bonus_points("rope_skip_1min", "female", 6, 166 + 7) == 3


def test_items_for_weights() -> None:
    assert items_for("male", 1) == [
        ("bmi", 15),
        ("vital_capacity", 15),
        ("run_50m", 20),
        ("sit_and_reach", 30),
        ("rope_skip_1min", 20),
    ]
    assert dict(items_for("female", 4))["sit_up_1min"] == 10
    assert dict(items_for("female", 5))["shuttle_50mx8"] == 10
    assert dict(items_for("male", 8)) == {
        "bmi": 15,
        "vital_capacity": 15,
        "run_50m": 20,
        "sit_and_reach": 10,
        "standing_long_jump": 10,
        "pull_up": 10,
        "run_1000m": 20,
    }
    assert dict(items_for("female", 11))["run_800m"] == 20
    assert set(ITEM_LABELS_ZH) == set(ITEMS)
    assert ITEM_LABELS_ZH["rope_skip_1min"] == "1分钟跳绳"


# --- totals (hand computed) ----------------------------------------------------------------


def test_total_grades_1_2() -> None:
    # 一年级男: BMI 16.0 正常 100×15% = 15; 肺活量 1300 = 80 → 12; 50m 10.6 = 80 → 16;
    # 坐位体前屈 11.0 = 80 → 24; 跳绳 87 = 80 → 16. 标准分 83.0, 良好.
    t = total_score(
        "male", 1, {"bmi": 16.0, "vital_capacity": 1300, "run_50m": 10.6, "sit_and_reach": 11.0, "rope_skip_1min": 87}
    )
    assert t.complete and t.standard == 83.0 and t.bonus == 0 and t.total == 83.0
    assert (t.rating, t.rating_en) == ("良好", "good")


def test_total_grades_3_4_with_bonus() -> None:
    # 三年级女: BMI 16.0 → 15; 肺活量 1100 = 70 → 10.5; 50m 10.0 = 80 → 16; 坐位体前屈 13.2 = 80 → 16;
    # 跳绳 149 = 100 → 20, +10 reps over 139 → 5 bonus; 仰卧起坐 36 = 80 → 8. 85.5 + 5 = 90.5 优秀.
    t = total_score(
        "female",
        3,
        {
            "bmi": 16.0,
            "vital_capacity": 1100,
            "run_50m": 10.0,
            "sit_and_reach": 13.2,
            "rope_skip_1min": 149,
            "sit_up_1min": 36,
        },
    )
    assert t.standard == 85.5 and t.bonus == 5 and t.total == 90.5
    assert t.rating == "优秀"


def test_total_grades_5_6() -> None:
    # 六年级男: BMI 22.0 超重 80 → 12; 肺活量 2000 = 70 → 10.5; 50m 9.0 = 76 → 15.2;
    # 坐位体前屈 9.0 = 80 → 8; 跳绳 100 = 70 → 7; 仰卧起坐 39 = 80 → 16; 50×8 102 s = 80 → 8. = 76.7 及格.
    t = total_score(
        "male",
        6,
        {
            "bmi": 22.0,
            "vital_capacity": 2000,
            "run_50m": 9.0,
            "sit_and_reach": 9.0,
            "rope_skip_1min": 100,
            "sit_up_1min": 39,
            "shuttle_50mx8": 102,
        },
    )
    assert t.standard == 76.7 and t.total == 76.7 and t.rating == "及格"
    assert {r.item: r.score for r in t.items}["run_50m"] == 76


def test_missing_items_mark_incomplete() -> None:
    t = total_score("male", 1, {"bmi": 16.0, "run_50m": 10.6})
    assert not t.complete and t.missing == ("vital_capacity", "sit_and_reach", "rope_skip_1min")
    assert t.rating == "未完成" and t.rating_en == "incomplete"
    assert t.standard == 31.0


def test_secondary_tables_not_encoded_are_reported() -> None:
    with pytest.raises(TableNotEncodedError, match="Table not encoded"):
        score_item("run_1000m", "male", 7, 240)
    with pytest.raises(TableNotEncodedError, match="Table not encoded"):
        score_item("pull_up", "male", 8, 10)
    with pytest.raises(TableNotEncodedError, match="Table not encoded"):
        score_item("standing_long_jump", "female", 11, 180)
    # The 高中 引体向上 table is encoded, its 加分 table is not: a 100-point result cannot be totalled.
    with pytest.raises(TableNotEncodedError, match="bonus"):
        bonus_points("pull_up", "male", 10, 20)
    t = total_score("male", 10, {"bmi": 20.0, "run_50m": 7.5, "vital_capacity": 3800, "pull_up": 16})
    assert "pull_up" in t.not_encoded and not t.complete
    t = total_score("male", 10, {"bmi": 20.0, "run_50m": 7.5, "vital_capacity": 3800, "pull_up": 10})
    assert "pull_up" not in t.not_encoded and t.items[-1].score == 72


def test_grade_8_tables_encoded_and_grade_7_9_still_reported() -> None:
    # 初二: 肺活量, 女50米, 坐位体前屈, 立定跳远 are encoded (two agreeing copies); 初一 is not, and 初三
    # only for 坐位体前屈 and 立定跳远 (the 山东潍坊 calculator has no 肺活量 / 50米).
    std = load_standard()
    for item, sex, unencoded in (
        ("vital_capacity", "male", (7, 9)),
        ("vital_capacity", "female", (7, 9)),
        ("run_50m", "female", (7, 9)),
        ("sit_and_reach", "male", (7,)),
        ("sit_and_reach", "female", (7,)),
        ("standing_long_jump", "male", (7,)),
        ("standing_long_jump", "female", (7,)),
    ):
        assert (item, sex, 8) in std.tables and (item, sex, 8) not in std.not_encoded
        for grade in unencoded:
            assert (item, sex, grade) in std.not_encoded
            with pytest.raises(TableNotEncodedError, match="Table not encoded"):
                score_item(item, sex, grade, 1)
    # Between levels: 初二男 肺活量 3199 ml is 78 (3080), 初二女 50m 8.9 s is 78 (9.0).
    assert score_item("vital_capacity", "male", 8, 3199) == 78
    assert score_item("run_50m", "female", 8, 8.9) == 78
    assert score_item("standing_long_jump", "female", 8, 118) == 0


def test_pull_up_blank_cells() -> None:
    # 男生引体向上 (中学): the annex leaves 78, 74, 70, 66 and 62 points blank. 高一: 12 → 80, 11 → 76,
    # 10 → 72, 9 → 68, 8 → 64, 7 → 60; no count scores a blank level.
    table = load_standard().tables[("pull_up", "male", 10)]
    assert table.blank_levels == {78, 74, 70, 66, 62}
    scores = {n: score_item("pull_up", "male", 10, n) for n in range(0, 20)}
    assert [scores[n] for n in (12, 11, 10, 9, 8, 7, 6)] == [80, 76, 72, 68, 64, 60, 50]
    assert not set(scores.values()) & {78, 74, 70, 66, 62}
    assert scores[1] == 0 and scores[20 - 1] == 100
    # Next target for 76 points is the 80-point count; the blank 78 level reports the same count.
    assert table.threshold_for(80) == 12 and table.threshold_for(78) == 12


def test_blank_cell_rules(tmp_path: Path) -> None:
    text = DATA.read_text(encoding="utf-8")
    bad = text.replace("thresholds = [16, 15, 14,", 'thresholds = ["-", 15, 14,', 1)
    path = tmp_path / "blank_top.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(StandardDataError, match=r"pull_up/male/grade 10.*cannot be blank"):
        load_standard(path)
    bad = text.replace("thresholds = [16, 15, 14,", 'thresholds = [16, "x", 14,', 1)
    path = tmp_path / "blank_bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(StandardDataError, match=r"pull_up/male/grade 10.*must be numbers"):
        load_standard(path)


@pytest.mark.parametrize(
    ("total", "zh", "en"),
    [
        (89.9, "良好", "good"),
        (90.0, "优秀", "excellent"),
        (60.0, "及格", "pass"),
        (59.9, "不及格", "fail"),
        (80.0, "良好", "good"),
        (79.9, "及格", "pass"),
    ],
)
def test_ratings(total: float, zh: str, en: str) -> None:
    assert rating_for(total) == (zh, en)


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "sex", "grade", "match"),
    [
        ("pull_up", "female", 8, "not tested"),
        ("rope_skip_1min", "male", 10, "not tested"),
        ("sit_up_1min", "male", 2, "not tested"),
        ("shuttle_50mx8", "female", 4, "not tested"),
        ("run_800m", "male", 9, "not tested"),
        ("long_jump", "male", 8, "Unknown fitness item"),
        ("run_50m", "boy", 3, "Unknown sex"),
        ("run_50m", "male", 13, "Grade must be"),
        ("run_50m", "male", 0, "Grade must be"),
    ],
)
def test_errors(item: str, sex: str, grade: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        score_item(item, sex, grade, 10)


def test_total_rejects_items_outside_band() -> None:
    with pytest.raises(ValueError, match="pull_up"):
        total_score("male", 3, {"pull_up": 5})


# --- data file validation ------------------------------------------------------------------


def test_bundled_file_is_versioned_sourced_and_cached() -> None:
    std = load_standard()
    assert std.version == "2014" and "教体艺〔2014〕5号" in std.source
    assert load_standard() is std
    assert all(t.source for t in std.tables.values())
    assert len(LEVELS) == 20


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = DATA.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_wrong_threshold_count_names_table(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "thresholds = [1700, 1600, ", "thresholds = [")
    with pytest.raises(StandardDataError, match=r"vital_capacity/male/grade 1.*20 thresholds"):
        load_standard(path)


def test_non_monotonic_names_table(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "[10.2, 10.3, 10.4", "[10.2, 10.1, 10.4")
    with pytest.raises(StandardDataError, match=r"run_50m/male/grade 1.*rise"):
        load_standard(path)


def test_missing_table_names_it(tmp_path: Path) -> None:
    path = tmp_path / "gap.toml"
    shutil.copy(DATA, path)
    text = path.read_text(encoding="utf-8")
    start = text.index('[[table]]\nitem = "sit_up_1min"\nsex = "female"\ngrade = 4')
    end = text.index("[[table]]", start + 10)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(StandardDataError, match=r"sit_up_1min/female/grade 4.*missing"):
        load_standard(path)


# --- secondary bands: weighting and bonus logic on a synthetic fixture ---------------------
# The bundled file does not carry most secondary tables (see the data file's [[not_encoded]]), so
# the 初中/高中 weighting is checked on a fixture: the bundled file with those gaps filled by
# SYNTHETIC tables (higher-is-better 100, 95, …, 5; runs 10, 11, …, 29). Not official numbers.


def _synthetic_fixture(tmp_path: Path) -> Path:
    text = DATA.read_text(encoding="utf-8")
    start = text.index("# Tested by the standard but not encoded")
    end = text.index("[[table]]")
    text = text[:start] + text[end:]
    real = load_standard()
    extra: list[str] = []
    for item, by_sex in std_mod._APPLICABLE.items():
        if item == "bmi":
            continue
        for sex, grades in by_sex.items():
            for grade in sorted(grades):
                if (item, sex, grade) in real.tables:
                    continue
                if lower_is_better(item):
                    th = [10 + i for i in range(20)]
                else:
                    th = [100 - 5 * i for i in range(20)]
                extra.append(
                    f'[[table]]\nitem = "{item}"\nsex = "{sex}"\ngrade = {grade}\n'
                    f'source = "synthetic test fixture"\nthresholds = {th}\n'
                )
    for item, sex, steps in (
        ("pull_up", "male", list(range(1, 11))),
        ("run_1000m", "male", [4, 8, 12, 16, 20, 23, 26, 29, 32, 35]),
        ("sit_up_1min", "female", list(range(1, 11))),
        ("run_800m", "female", list(range(5, 55, 5))),
    ):
        extra.append(
            f'[[bonus]]\nitem = "{item}"\nsexes = ["{sex}"]\ngrades = [7, 8, 9, 10, 11, 12]\n'
            f'extra = {steps}\nsource = "synthetic test fixture"\n'
        )
    path = tmp_path / "fixture.toml"
    path.write_text(text + "\n" + "\n".join(extra), encoding="utf-8")
    return path


def test_total_grades_7_9_fixture(tmp_path: Path) -> None:
    std = load_standard(_synthetic_fixture(tmp_path))
    # 初二男: BMI 20.0 正常 → 15; 肺活量 3200 (表1-3 初二 80分) → 12; 50m 7.9 (表1-5 初二 80分) → 16;
    # 坐位体前屈 13.7 (表1-7 初二 85分) → 8.5; 立定跳远 202 (初二 76分) → 7.6; 引体向上 103 (synthetic
    # 100分) → 10, +3 → 3 bonus (表2-3: 1 per rep); 1000m 3'48" = 228 s, 2 s faster than 初二 100分 3'50"
    # → 20, bonus 0 (表2-5 needs 4 s); then 3'42" = 222 s, 8 s faster → 2.
    values = {
        "bmi": 20.0,
        "vital_capacity": 3200,
        "run_50m": 7.9,
        "sit_and_reach": 13.7,
        "standing_long_jump": 202,
        "pull_up": 103,
        "run_1000m": 228,
    }
    t = total_score("male", 8, values, standard=std)
    assert t.complete
    assert t.standard == 89.1
    assert t.bonus == 3
    t = total_score("male", 8, {**values, "run_1000m": 222}, standard=std)
    assert t.bonus == 3 + 2 and t.total == 94.1 and t.rating == "优秀"


def test_total_grades_10_12_fixture(tmp_path: Path) -> None:
    std = load_standard(_synthetic_fixture(tmp_path))
    # 高二女: BMI 24.0 超重 (表1-2 高二 23.3~25.4) 80 → 12; 肺活量 2450 (表1-4 高二 72分) → 10.8;
    # 50m 7.9 (表1-6 高二 90分) → 18; 坐位体前屈 11.5 (表1-8 高二 70分) → 7; 立定跳远 30 (synthetic 60分) → 6;
    # 仰卧起坐 14 (高二 10分) → 1; 800m 5'30" = 330 s (slower than 高二 10分 5'28") → 0. 标准分 54.8, 不及格.
    values = {
        "bmi": 24.0,
        "vital_capacity": 2450,
        "run_50m": 7.9,
        "sit_and_reach": 11.5,
        "standing_long_jump": 30,
        "sit_up_1min": 14,
        "run_800m": 330,
    }
    t = total_score("female", 11, values, standard=std)
    assert t.complete and t.standard == 54.8 and t.bonus == 0
    assert (t.rating, t.rating_en) == ("不及格", "fail")


# --- 耐力跑 初二/高中 and 初二 女仰卧起坐: settled by a third copy (jigu1688/sporttools annex CSVs) ---


@pytest.mark.parametrize(
    ("item", "sex", "grade", "value", "expected"),
    [
        # 表1-15 男生1000米 初二: 100=3'50" (230), 80=4'15" (255), 60=5'05" (305), 10=6'45" (405)
        ("run_1000m", "male", 8, 230, 100),
        ("run_1000m", "male", 8, 255, 80),
        ("run_1000m", "male", 8, 305, 60),
        ("run_1000m", "male", 8, 405, 10),
        # 高一: 100=3'30" (210), 80=3'55" (235), 60=4'45" (285), 40=5'25" (325, the disputed cell), 10=6'25" (385)
        ("run_1000m", "male", 10, 210, 100),
        ("run_1000m", "male", 10, 235, 80),
        ("run_1000m", "male", 10, 285, 60),
        ("run_1000m", "male", 10, 325, 40),
        ("run_1000m", "male", 10, 326, 30),
        ("run_1000m", "male", 10, 385, 10),
        # 高二: 100=3'25" (205), 80=3'50" (230), 60=4'40" (280), 10=6'20" (380)
        ("run_1000m", "male", 11, 205, 100),
        ("run_1000m", "male", 11, 230, 80),
        ("run_1000m", "male", 11, 280, 60),
        ("run_1000m", "male", 11, 380, 10),
        # 高三: 100=3'20" (200), 80=3'45" (225), 60=4'35" (275), 10=6'15" (375)
        ("run_1000m", "male", 12, 200, 100),
        ("run_1000m", "male", 12, 225, 80),
        ("run_1000m", "male", 12, 275, 60),
        ("run_1000m", "male", 12, 375, 10),
        # 表1-16 女生800米 初二: 100=3'30" (210), 80=4'00" (240), 60=4'50" (290), 10=5'40" (340)
        ("run_800m", "female", 8, 210, 100),
        ("run_800m", "female", 8, 240, 80),
        ("run_800m", "female", 8, 290, 60),
        ("run_800m", "female", 8, 340, 10),
        # 高一: 100=3'24" (204), 95=3'30" (210, the disputed cell), 80=3'50" (230), 60=4'40" (280), 10=5'30" (330)
        ("run_800m", "female", 10, 204, 100),
        ("run_800m", "female", 10, 210, 95),
        ("run_800m", "female", 10, 230, 80),
        ("run_800m", "female", 10, 280, 60),
        ("run_800m", "female", 10, 330, 10),
        # 高二: 100=3'22" (202), 95=3'28" (208), 80=3'48" (228), 60=4'38" (278), 10=5'28" (328)
        ("run_800m", "female", 11, 202, 100),
        ("run_800m", "female", 11, 208, 95),
        ("run_800m", "female", 11, 228, 80),
        ("run_800m", "female", 11, 278, 60),
        ("run_800m", "female", 11, 328, 10),
        # 高三: 100=3'20" (200), 80=3'46" (226), 60=4'36" (276), 10=5'26" (326)
        ("run_800m", "female", 12, 200, 100),
        ("run_800m", "female", 12, 226, 80),
        ("run_800m", "female", 12, 276, 60),
        ("run_800m", "female", 12, 326, 10),
    ],
)
def test_endurance_runs_settled_by_third_copy(item: str, sex: str, grade: int, value: float, expected: int) -> None:
    assert score_item(item, sex, grade, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    # 表1-14 女生一分钟仰卧起坐 初二: 100=51, 80=41, 60=21, 10=11
    [(51, 100), (41, 80), (21, 60), (11, 10), (10, 0)],
)
def test_grade_8_sit_up_female(value: float, expected: int) -> None:
    assert score_item("sit_up_1min", "female", 8, value) == expected


def test_grade_8_bonus_rows() -> None:
    # 表2-5 男生1000米 加分 (初二, beyond 3'50" = 230 s): +1 at 4 s, +5 at 20 s, +6 at 23 s, +10 at 35 s
    assert bonus_points("run_1000m", "male", 8, 227) == 0
    assert bonus_points("run_1000m", "male", 8, 226) == 1
    assert bonus_points("run_1000m", "male", 8, 210) == 5
    assert bonus_points("run_1000m", "male", 8, 207) == 6
    assert bonus_points("run_1000m", "male", 8, 195) == 10
    assert bonus_points("run_1000m", "male", 8, 150) == 10
    # 表2-6 女生800米 加分 (初二, beyond 3'30" = 210 s): 5 s per point, +10 at 50 s
    assert bonus_points("run_800m", "female", 8, 206) == 0
    assert bonus_points("run_800m", "female", 8, 205) == 1
    assert bonus_points("run_800m", "female", 8, 185) == 5
    assert bonus_points("run_800m", "female", 8, 160) == 10
    # 高中 耐力跑 and 初二 仰卧起坐 加分 stay unencoded (one copy only / copies disagree)
    with pytest.raises(TableNotEncodedError, match="bonus"):
        bonus_points("run_1000m", "male", 10, 200)
    with pytest.raises(TableNotEncodedError, match="bonus"):
        bonus_points("sit_up_1min", "female", 8, 60)
    std = load_standard()
    for item, sex in (("run_1000m", "male"), ("run_800m", "female"), ("sit_up_1min", "female")):
        assert (item, sex, 7) in std.not_encoded
        assert (item, sex, 9) in std.tables


@pytest.mark.parametrize(
    ("item", "grade", "value", "expected"),
    [
        # 表1-8 女生坐位体前屈 高一: 100=24.2, 80=17.4, 60=4.4, 10=0.4; 高二 100=24.8, 60=5.0; 高三 80=18.5, 10=1.5
        ("sit_and_reach", 10, 24.2, 100),
        ("sit_and_reach", 10, 17.4, 80),
        ("sit_and_reach", 10, 4.4, 60),
        ("sit_and_reach", 10, 0.4, 10),
        ("sit_and_reach", 11, 24.8, 100),
        ("sit_and_reach", 11, 5.0, 60),
        ("sit_and_reach", 12, 18.5, 80),
        ("sit_and_reach", 12, 1.5, 10),
        # 表1-12 女生立定跳远 高一: 100=204, 80=178, 60=148, 50=143, 10=123; 高三 100=206, 80=180, 60=150, 10=125
        ("standing_long_jump", 10, 204, 100),
        ("standing_long_jump", 10, 178, 80),
        ("standing_long_jump", 10, 148, 60),
        ("standing_long_jump", 10, 143, 50),
        ("standing_long_jump", 10, 123, 10),
        ("standing_long_jump", 12, 206, 100),
        ("standing_long_jump", 12, 180, 80),
        ("standing_long_jump", 12, 150, 60),
        ("standing_long_jump", 12, 125, 10),
    ],
)
def test_senior_female_flexibility_and_jump(item: str, grade: int, value: float, expected: int) -> None:
    assert score_item(item, "female", grade, value) == expected


# --- 初三 (grade 9): jigu1688/sporttools annex CSVs and the 山东潍坊中考 calculator agree cell by cell ---


@pytest.mark.parametrize(
    ("item", "sex", "value", "expected"),
    [
        # 表1-7 男生坐位体前屈 初三: 100=21.6, 80=13.8, 60=-0.2, 10=-6.2
        ("sit_and_reach", "male", 21.6, 100),
        ("sit_and_reach", "male", 13.8, 80),
        ("sit_and_reach", "male", -0.2, 60),
        ("sit_and_reach", "male", -6.2, 10),
        ("sit_and_reach", "male", -6.3, 0),
        # 表1-8 女生坐位体前屈 初三: 100=23.5, 80=16.7, 60=3.7, 10=-0.3
        ("sit_and_reach", "female", 23.5, 100),
        ("sit_and_reach", "female", 16.7, 80),
        ("sit_and_reach", "female", 3.7, 60),
        ("sit_and_reach", "female", -0.3, 10),
        # 表1-11 男生立定跳远 初三: 100=250, 80=225, 60=185, 10=160
        ("standing_long_jump", "male", 250, 100),
        ("standing_long_jump", "male", 225, 80),
        ("standing_long_jump", "male", 185, 60),
        ("standing_long_jump", "male", 160, 10),
        ("standing_long_jump", "male", 159, 0),
        # 表1-12 女生立定跳远 初三: 100=202, 80=176, 60=146, 10=121
        ("standing_long_jump", "female", 202, 100),
        ("standing_long_jump", "female", 176, 80),
        ("standing_long_jump", "female", 146, 60),
        ("standing_long_jump", "female", 121, 10),
        # 表1-14 女生一分钟仰卧起坐 初三: 100=52, 80=42, 60=22, 10=12
        ("sit_up_1min", "female", 52, 100),
        ("sit_up_1min", "female", 42, 80),
        ("sit_up_1min", "female", 22, 60),
        ("sit_up_1min", "female", 12, 10),
        ("sit_up_1min", "female", 11, 0),
        # 表1-15 男生1000米 初三: 100=3'40" (220), 80=4'05" (245), 60=4'55" (295), 10=6'35" (395)
        ("run_1000m", "male", 220, 100),
        ("run_1000m", "male", 245, 80),
        ("run_1000m", "male", 295, 60),
        ("run_1000m", "male", 395, 10),
        ("run_1000m", "male", 396, 0),
        # 表1-16 女生800米 初三: 100=3'25" (205), 80=3'55" (235), 60=4'45" (285), 10=5'35" (335)
        ("run_800m", "female", 205, 100),
        ("run_800m", "female", 235, 80),
        ("run_800m", "female", 285, 60),
        ("run_800m", "female", 335, 10),
    ],
)
def test_grade_9_rows(item: str, sex: str, value: float, expected: int) -> None:
    assert score_item(item, sex, 9, value) == expected


def test_grade_9_bonus_rows() -> None:
    # 表2-4 女生仰卧起坐 加分 (初三, beyond 52): +2 → 1, +4 → 2, +6 → 3, +7 → 4, +13 → 10
    assert bonus_points("sit_up_1min", "female", 9, 53) == 0
    assert bonus_points("sit_up_1min", "female", 9, 54) == 1
    assert bonus_points("sit_up_1min", "female", 9, 56) == 2
    assert bonus_points("sit_up_1min", "female", 9, 58) == 3
    assert bonus_points("sit_up_1min", "female", 9, 59) == 4
    assert bonus_points("sit_up_1min", "female", 9, 65) == 10
    assert bonus_points("sit_up_1min", "female", 9, 80) == 10
    # 表2-5 男生1000米 加分 (初三, beyond 3'40" = 220 s): +1 at 4 s, +5 at 20 s, +6 at 23 s, +10 at 35 s
    assert bonus_points("run_1000m", "male", 9, 217) == 0
    assert bonus_points("run_1000m", "male", 9, 216) == 1
    assert bonus_points("run_1000m", "male", 9, 200) == 5
    assert bonus_points("run_1000m", "male", 9, 197) == 6
    assert bonus_points("run_1000m", "male", 9, 185) == 10
    # 表2-6 女生800米 加分 (初三, beyond 3'25" = 205 s): 5 s per point, +10 at 50 s
    assert bonus_points("run_800m", "female", 9, 201) == 0
    assert bonus_points("run_800m", "female", 9, 200) == 1
    assert bonus_points("run_800m", "female", 9, 180) == 5
    assert bonus_points("run_800m", "female", 9, 155) == 10
    # 初三 引体向上: the two copies disagree at 78/76/74/72, so the base table (and its bonus) cannot be scored.
    std = load_standard()
    assert ("pull_up", "male", 9) in std.not_encoded
    with pytest.raises(TableNotEncodedError, match="Table not encoded"):
        bonus_points("pull_up", "male", 9, 20)
    # 初一 and 高中 加分 stay unencoded (one copy only).
    with pytest.raises(TableNotEncodedError, match="bonus"):
        bonus_points("run_800m", "female", 10, 190)


def test_grade_9_total_female(tmp_path: Path) -> None:
    # 初三女 on the bundled tables where encoded, synthetic 肺活量/50米 (see _synthetic_fixture): BMI 20.0 正常 → 15;
    # 肺活量 80 (synthetic 80分) → 12; 50m 14 (synthetic 80分) → 16; 坐位体前屈 16.7 (80分) → 8;
    # 立定跳远 176 (80分) → 8; 仰卧起坐 56 = 100 → 10, +4 → 2 bonus; 800m 235 s (80分) → 16. 85.0 + 2 = 87.0 良好.
    std = load_standard(_synthetic_fixture(tmp_path))
    t = total_score(
        "female",
        9,
        {
            "bmi": 20.0,
            "vital_capacity": 80,
            "run_50m": 14,
            "sit_and_reach": 16.7,
            "standing_long_jump": 176,
            "sit_up_1min": 56,
            "run_800m": 235,
        },
        standard=std,
    )
    assert t.complete and t.standard == 85.0 and t.bonus == 2 and t.total == 87.0
    assert t.rating == "良好"
