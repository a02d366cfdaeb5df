"""Rule-based exercise prescription (运动处方) from a physical-fitness test.

Why rule-based: a teacher or parent must be able to see *why* an item was picked. The rule is
"where does the student lose most weighted points": for each item of the grade band,
``lost_points = weight × (100 − score) / 100``; the three largest losses get advice, each with the
numbers that led to it, the next level's threshold as a concrete target, and 2–4 exercises.
Safety first: a student whose BMI is 肥胖 gets the weight advice first, and high-impact items
(rope, runs, jumps) get their low-impact variant, to spare knees and ankles.

The advice texts are data (``ADVICE_ZH``) so PE teachers can review and edit them in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from appliance.fitness.standard import (
    ITEM_LABELS_ZH,
    ITEM_UNITS_ZH,
    LEVELS,
    Standard,
    TableNotEncodedError,
    bmi_category,
    bmi_table,
    item_table,
    load_standard,
    lower_is_better,
    total_score,
)

DEFAULT_RETEST_WEEKS = 6
TOP_N = 3

#: Per item: ``normal`` and (for high-impact items) ``low_impact`` exercise lists; ``young`` is
#: used for grades 1–2 where sets are shorter. Each list holds 2–4 concrete exercises.
ADVICE_ZH: dict[str, dict[str, list[str]]] = {
    "bmi": {
        "normal": [
            "每天累计60分钟中等强度活动（快走、骑车、游戏），分几次完成也可以",
            "少喝含糖饮料，每天屏幕时间不超过2小时",
            "每周称重1次，记录在同一时间（早饭前）",
        ],
        "low_impact": [
            "快走或骑自行车：每周5天，每次30–40分钟，以微微出汗、能说话为度",
            "游泳或水中行走：每周2次，每次30分钟，对膝踝冲击小",
            "少喝含糖饮料、少吃油炸零食，晚饭后散步15分钟",
            "体重较大时暂不做大量跳跃练习，先把快走坚持4周",
        ],
    },
    "vital_capacity": {
        "normal": [
            "慢跑或跳绳等有氧活动：每周4次，每次20分钟",
            "吹气球或深呼吸练习：每天2组×10次深吸慢呼",
            "游泳（有条件时）：每周1–2次，每次30分钟",
        ],
        "low_impact": [
            "快走：每周5次，每次30分钟",
            "深呼吸练习：每天2组×10次，吸气4秒、呼气6秒",
            "游泳或水中行走：每周1–2次，每次30分钟",
        ],
    },
    "run_50m": {
        "normal": [
            "高抬腿原地跑：每天3组×20秒，组间休息1分钟",
            "20–30米加速跑：每周3次，每次6组，走回起点休息",
            "听口令起跑反应练习：每次5组",
        ],
        "low_impact": [
            "原地快速摆臂：每天3组×20秒",
            "小步快走冲刺：每周3次，每次6组×20米",
            "坐姿快速踏步：每天3组×15秒",
        ],
        "young": [
            "追逐跑游戏（如老鹰捉小鸡）：每周3次，每次10分钟",
            "15米加速跑：每次5组，走回起点休息",
        ],
    },
    "sit_and_reach": {
        "normal": [
            "坐姿体前屈静态拉伸：每天2组×30秒，不要弹振",
            "站立弓步压腿：每侧2组×20秒",
            "仰卧抱膝放松腰背：每天2组×20秒",
        ],
    },
    "rope_skip_1min": {
        "normal": [
            "跳绳：每天3组×1分钟，组间休息1分钟",
            "并脚连续跳（不用绳）：每天2组×30次，练节奏",
            "每周计时测1次1分钟跳绳，记下次数",
        ],
        "low_impact": [
            "无绳模拟跳（脚尖轻点地、手腕摇动）：每天3组×30秒",
            "原地踏步摇绳节奏练习：每天2组×1分钟",
            "体重回落后再逐步改为真绳跳，每次不超过3组",
        ],
        "young": [
            "跳绳：每天3组×30秒，组间休息1分钟",
            "单摇慢跳数数：每天2组×20次，先求连贯",
        ],
    },
    "sit_up_1min": {
        "normal": [
            "仰卧起坐：每天3组×15次，动作完整",
            "卷腹：每天2组×15次",
            "平板支撑：每天3组×20秒",
        ],
    },
    "shuttle_50mx8": {
        "normal": [
            "折返跑练习：每周3次，每次4组×(25米×4)，组间休息2分钟",
            "慢跑：每周3次，每次15分钟",
            "转身技术练习：每次10次，降低重心、一步转身",
        ],
        "low_impact": [
            "快走间歇：每周3次，每次快走1分钟+慢走1分钟×8",
            "骑自行车：每周2次，每次20分钟",
        ],
    },
    "standing_long_jump": {
        "normal": [
            "立定跳远摆臂起跳：每周3次，每次3组×5跳",
            "深蹲：每天3组×12次",
            "蛙跳：每周2次，每次3组×5次（落地屈膝缓冲）",
        ],
        "low_impact": [
            "徒手深蹲：每天3组×10次",
            "提踵：每天3组×15次",
            "体重回落后再练连续跳跃",
        ],
    },
    "pull_up": {
        "normal": [
            "斜身引体（低单杠）：每天3组×8次",
            "单杠悬垂：每天3组×20秒",
            "离心引体（跳上后慢放5秒）：每周3次，每次3组×3次",
        ],
    },
    "run_800m": {
        "normal": [
            "匀速慢跑：每周3次，每次20分钟",
            "400米间歇跑：每周1次，4组，组间走2分钟",
            "每2周测1次800米，记录时间",
        ],
        "low_impact": [
            "快走：每周4次，每次30分钟",
            "骑自行车或游泳：每周2次，每次30分钟",
            "体重回落后改为走跑交替：跑1分钟+走2分钟×6",
        ],
    },
    "run_1000m": {
        "normal": [
            "匀速慢跑：每周3次，每次20–25分钟",
            "400米间歇跑：每周1次，5组，组间走2分钟",
            "每2周测1次1000米，记录时间",
        ],
        "low_impact": [
            "快走：每周4次，每次30分钟",
            "骑自行车或游泳：每周2次，每次30分钟",
            "体重回落后改为走跑交替：跑1分钟+走2分钟×6",
        ],
    },
}

HIGH_IMPACT = frozenset({"rope_skip_1min", "run_50m", "shuttle_50mx8", "standing_long_jump", "run_800m", "run_1000m"})


@dataclass(frozen=True)
class Advice:
    """Advice for one item, with the numbers that justify it."""

    item: str
    score: int
    weight: int
    lost_points: float
    reason_zh: str
    exercises_zh: tuple[str, ...]
    target: str


@dataclass(frozen=True)
class Prescription:
    advice: tuple[Advice, ...]
    tested_on: date
    retest_on: date
    summary_zh: str
    bmi_category: str | None


def format_value(item: str, value: float) -> str:
    """Human form: 800/1000 m as m'ss\", 50×8 as seconds, others with their unit."""
    if item in ("run_800m", "run_1000m"):
        total = round(value)
        return f"{total // 60}'{total % 60:02d}\""
    if item in ("run_50m", "bmi", "sit_and_reach"):
        return f"{value:.1f}{ITEM_UNITS_ZH[item]}"
    return f"{value:g}{ITEM_UNITS_ZH[item]}"


def _target(item: str, sex: str, grade: int, score: int, std: Standard) -> str:
    if item == "bmi":
        t = bmi_table(sex, grade, standard=std)
        return f"BMI回到正常范围 {t.normal[0]:.1f}–{t.normal[1]:.1f}（正常为100分）"
    table = item_table(item, sex, grade, standard=std)
    higher = [lv for lv in LEVELS if lv > score]
    if not higher:
        return "保持现有水平"
    nxt = higher[-1]
    threshold = table.threshold_for(nxt)
    label = ITEM_LABELS_ZH[item]
    if lower_is_better(item):
        return f"下一档{nxt}分：{label}达到 {format_value(item, threshold)} 以内"
    return f"下一档{nxt}分：{label}达到 {format_value(item, threshold)}"


def prescribe(
    sex: str,
    grade: int,
    values: Mapping[str, float],
    *,
    tested_on: date,
    retest_weeks: int = DEFAULT_RETEST_WEEKS,
    top_n: int = TOP_N,
    standard: Standard | None = None,
) -> Prescription:
    """Top ``top_n`` items by lost weighted points, each with reason, exercises and target."""
    if retest_weeks < 1:
        raise ValueError("retest_weeks must be at least 1.")
    std = standard or load_standard()
    result = total_score(sex, grade, values, standard=std)
    category: str | None = None
    if "bmi" in values:
        category = bmi_category(sex, grade, values["bmi"], standard=std)
    obese = category == "肥胖"
    young = grade <= 2

    candidates: list[Advice] = []
    for r in result.items:
        lost = r.weight * (100 - r.score) / 100
        if lost <= 0:
            continue
        label = ITEM_LABELS_ZH[r.item]
        if r.item == "bmi":
            reason = f"BMI {r.value:.1f} 属于{category}，得{r.score}分（权重{r.weight}%），比满分少{lost:g}个标准分。"
        else:
            reason = (
                f"{label}成绩 {format_value(r.item, r.value)}，得{r.score}分（权重{r.weight}%），"
                f"比满分少{lost:g}个标准分。"
            )
        texts = ADVICE_ZH[r.item]
        if obese and r.item in HIGH_IMPACT | {"bmi", "vital_capacity"} and "low_impact" in texts:
            exercises = texts["low_impact"]
            if r.item != "bmi":
                reason += "体重偏高，先做低冲击练习以保护膝踝。"
        elif young and "young" in texts:
            exercises = texts["young"]
        else:
            exercises = texts["normal"]
        try:
            target = _target(r.item, sex, grade, r.score, std)
        except TableNotEncodedError:
            target = "（该项评分表未收录，无法给出下一档目标）"
        candidates.append(Advice(r.item, r.score, r.weight, round(lost, 2), reason, tuple(exercises[:4]), target))

    candidates.sort(key=lambda a: (-a.lost_points, a.item))
    chosen = candidates[:top_n]
    if obese:
        bmi_advice = [a for a in candidates if a.item == "bmi"]
        chosen = bmi_advice + [a for a in chosen if a.item != "bmi"][: max(top_n - len(bmi_advice), 0)]

    retest_on = tested_on + timedelta(weeks=retest_weeks)
    if chosen:
        focus = "、".join(ITEM_LABELS_ZH[a.item] for a in chosen)
        lost_total = sum(a.lost_points for a in chosen)
        summary = (
            f"本次重点练习：{focus}（共少{lost_total:g}个标准分）。{retest_weeks}周后（{retest_on.isoformat()}）复测。"
        )
    else:
        summary = f"各项均已满分，保持锻炼。{retest_weeks}周后（{retest_on.isoformat()}）复测。"
    if obese:
        summary = "体重属于肥胖范围，先从低冲击运动和饮食习惯做起。" + summary
    if not result.complete:
        gaps = [ITEM_LABELS_ZH[i] for i in (*result.missing, *result.not_encoded)]
        summary += f"未评分项目：{'、'.join(gaps)}。"
    return Prescription(tuple(chosen), tested_on, retest_on, summary, category)
