"""国家学生体质健康标准（2014年修订）: the tables as data, and the scoring rules.

Why data and not code: the standard is a set of published tables (教体艺〔2014〕5号 annex), and a
teacher must be able to check every number against the paper copy. The tables live in
``data/gb_2014.toml`` with the transcription each one was read from; this module only loads,
validates and looks them up.

Scoring rules (from the annex):

* An item score is the highest level (100, 95, …, 10) whose threshold the result reaches, 0 below
  the 10-point threshold. For the runs (50 m, 50 m×8, 800 m, 1000 m) "reaches" means the time is
  *at most* the threshold; for everything else the result is *at least* the threshold. Some
  cells are blank in the annex (引体向上: 78, 74, 70, 66, 62 points); no result earns those levels.
* BMI is scored by ranges: 正常 100, 低体重 and 超重 80, 肥胖 60. BMI is rounded to one decimal
  (half up) first, as the tables are written with one decimal and leave 0.1 gaps between ranges.
* 标准分 = Σ item score × weight / 100; 附加分 from the bonus tables; 总分 = 标准分 + 附加分.
  等级: 优秀 ≥ 90.0, 良好 80.0–89.9, 及格 60.0–79.9, 不及格 ≤ 59.9.

Tables the standard defines but the data file does not carry (see ``[[not_encoded]]`` there)
raise :class:`TableNotEncodedError` (a ``ValueError``) instead of guessing.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

LEVELS: tuple[int, ...] = (100, 95, 90, 85, 80, 78, 76, 74, 72, 70, 68, 66, 64, 62, 60, 50, 40, 30, 20, 10)

ITEMS: tuple[str, ...] = (
    "bmi",
    "vital_capacity",
    "run_50m",
    "sit_and_reach",
    "rope_skip_1min",
    "sit_up_1min",
    "shuttle_50mx8",
    "standing_long_jump",
    "pull_up",
    "run_800m",
    "run_1000m",
)

ITEM_LABELS_ZH: dict[str, str] = {
    "bmi": "体重指数（BMI）",
    "vital_capacity": "肺活量",
    "run_50m": "50米跑",
    "sit_and_reach": "坐位体前屈",
    "rope_skip_1min": "1分钟跳绳",
    "sit_up_1min": "1分钟仰卧起坐",
    "shuttle_50mx8": "50米×8往返跑",
    "standing_long_jump": "立定跳远",
    "pull_up": "引体向上",
    "run_800m": "800米跑",
    "run_1000m": "1000米跑",
}

ITEM_UNITS_ZH: dict[str, str] = {
    "bmi": "千克/米²",
    "vital_capacity": "毫升",
    "run_50m": "秒",
    "sit_and_reach": "厘米",
    "rope_skip_1min": "次",
    "sit_up_1min": "次",
    "shuttle_50mx8": "秒",
    "standing_long_jump": "厘米",
    "pull_up": "次",
    "run_800m": "秒",
    "run_1000m": "秒",
}

_LOWER_IS_BETTER = frozenset({"run_50m", "shuttle_50mx8", "run_800m", "run_1000m"})
SEXES: tuple[str, ...] = ("male", "female")
GRADES: tuple[int, ...] = tuple(range(1, 13))

_SEX_ZH = {"male": "男生", "female": "女生"}
_GRADE_ZH = {
    1: "一年级",
    2: "二年级",
    3: "三年级",
    4: "四年级",
    5: "五年级",
    6: "六年级",
    7: "初一",
    8: "初二",
    9: "初三",
    10: "高一",
    11: "高二",
    12: "高三",
}

#: Which item the standard tests for which sex and grades (annex 二、单项指标与权重). Used to tell
#: "not tested at this grade" (a caller error) from "tested but not encoded" (a data gap).
_APPLICABLE: dict[str, dict[str, frozenset[int]]] = {
    "bmi": {"male": frozenset(GRADES), "female": frozenset(GRADES)},
    "vital_capacity": {"male": frozenset(GRADES), "female": frozenset(GRADES)},
    "run_50m": {"male": frozenset(GRADES), "female": frozenset(GRADES)},
    "sit_and_reach": {"male": frozenset(GRADES), "female": frozenset(GRADES)},
    "rope_skip_1min": {"male": frozenset(range(1, 7)), "female": frozenset(range(1, 7))},
    "sit_up_1min": {"male": frozenset(range(3, 7)), "female": frozenset(range(3, 13))},
    "shuttle_50mx8": {"male": frozenset({5, 6}), "female": frozenset({5, 6})},
    "standing_long_jump": {"male": frozenset(range(7, 13)), "female": frozenset(range(7, 13))},
    "pull_up": {"male": frozenset(range(7, 13)), "female": frozenset()},
    "run_800m": {"male": frozenset(), "female": frozenset(range(7, 13))},
    "run_1000m": {"male": frozenset(range(7, 13)), "female": frozenset()},
}

DEFAULT_DATA = "gb_2014.toml"

#: Marks a cell the official table leaves blank (e.g. 引体向上 78/74/70/66/62 points).
BLANK = "-"


class StandardDataError(ValueError):
    """The data file is malformed; the message names the offending table."""


class TableNotEncodedError(ValueError):
    """The standard tests this item here, but the data file does not carry its table."""


def lower_is_better(item: str) -> bool:
    """True for the timed runs, where a smaller number is a better result."""
    _check_item(item)
    return item in _LOWER_IS_BETTER


def grade_label_zh(grade: int) -> str:
    """一年级 … 高三, for messages shown to teachers."""
    return _GRADE_ZH.get(grade, f"{grade}年级")


def sex_label_zh(sex: str) -> str:
    return _SEX_ZH.get(sex, sex)


@dataclass(frozen=True)
class ItemTable:
    """One single-item scoring table: 20 thresholds, best level first."""

    item: str
    sex: str
    grade: int
    thresholds: tuple[float, ...]
    official_table: str
    source: str
    #: Levels the official table leaves blank ("-" in the data file; e.g. 引体向上 78/74/70/66/62):
    #: no result earns them. Their threshold is stored as the next higher level's, so ``score``
    #: returns that higher level first and ``threshold_for`` names what is needed to pass them.
    blank_levels: frozenset[int] = frozenset()

    def score(self, value: float) -> int:
        lower = self.item in _LOWER_IS_BETTER
        for level, threshold in zip(LEVELS, self.thresholds, strict=True):
            if level in self.blank_levels:
                continue
            if (value <= threshold) if lower else (value >= threshold):
                return level
        return 0

    def threshold_for(self, level: int) -> float:
        return self.thresholds[LEVELS.index(level)]


@dataclass(frozen=True)
class BmiTable:
    """BMI ranges for one sex and grade (表1-1 / 表1-2)."""

    sex: str
    grade: int
    normal: tuple[float, float]
    underweight_max: float
    overweight: tuple[float, float]
    obese_min: float
    official_table: str
    source: str

    def category(self, bmi: float) -> str:
        v = round_bmi(bmi)
        if v <= self.underweight_max:
            return "低体重"
        if v <= self.normal[1]:
            return "正常"
        if v <= self.overweight[1]:
            return "超重"
        return "肥胖"


BMI_CATEGORY_SCORE: dict[str, int] = {"正常": 100, "低体重": 80, "超重": 80, "肥胖": 60}
BMI_CATEGORY_EN: dict[str, str] = {"正常": "normal", "低体重": "underweight", "超重": "overweight", "肥胖": "obese"}


@dataclass(frozen=True)
class BonusTable:
    """加分 table: point ``i+1`` needs ``extra[i]`` beyond the 100-point threshold."""

    item: str
    sexes: frozenset[str]
    grades: frozenset[int]
    extra: tuple[float, ...]
    source: str

    def points(self, beyond: float) -> int:
        earned = 0
        for i, need in enumerate(self.extra):
            if beyond >= need:
                earned = i + 1
        return earned


@dataclass(frozen=True)
class Band:
    """A weight band (e.g. 小学三、四年级): item → weight in percent."""

    name: str
    grades: frozenset[int]
    sex: str | None
    weights: Mapping[str, int]


@dataclass(frozen=True)
class Standard:
    """The parsed, validated data file."""

    version: str
    source: str
    path: str
    tables: Mapping[tuple[str, str, int], ItemTable]
    bmi: Mapping[tuple[str, int], BmiTable]
    bonus: tuple[BonusTable, ...]
    bands: tuple[Band, ...]
    not_encoded: Mapping[tuple[str, str, int], str] = field(default_factory=dict)

    def band_for(self, sex: str, grade: int) -> Band:
        for band in self.bands:
            if grade in band.grades and (band.sex is None or band.sex == sex):
                return band
        raise ValueError(f"No weight band for {sex} grade {grade} in {self.path}.")

    def bonus_for(self, item: str, sex: str, grade: int) -> BonusTable | None:
        for b in self.bonus:
            if b.item == item and sex in b.sexes and grade in b.grades:
                return b
        return None


def round_bmi(bmi: float) -> float:
    """Round half up to one decimal, the precision of the BMI tables."""
    return float(Decimal(repr(bmi)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def bmi_from(height_cm: float, weight_kg: float) -> float:
    """BMI = 体重(千克) / 身高²(米²), rounded to one decimal."""
    if height_cm <= 0 or weight_kg <= 0:
        raise ValueError("Height and weight must be positive to compute BMI.")
    metres = height_cm / 100.0
    return round_bmi(weight_kg / (metres * metres))


# --------------------------------------------------------------------------- loading


def _err(where: str, msg: str) -> StandardDataError:
    return StandardDataError(f"fitness data, {where}: {msg}")


def _parse(raw: Mapping[str, Any], path: str) -> Standard:
    version = raw.get("version")
    source = raw.get("source")
    if not isinstance(version, str) or not isinstance(source, str) or not source.strip():
        raise _err(path, "needs a string `version` and a non-empty `source`.")
    levels = tuple(raw.get("levels", ()))
    if levels != LEVELS:
        raise _err(path, f"`levels` must be {list(LEVELS)}.")

    tables: dict[tuple[str, str, int], ItemTable] = {}
    for entry in raw.get("table", []):
        name = f"table {entry.get('item')}/{entry.get('sex')}/grade {entry.get('grade')}"
        item, sex, grade = entry.get("item"), entry.get("sex"), entry.get("grade")
        if item not in ITEMS or item == "bmi":
            raise _err(name, f"unknown item {item!r}.")
        if sex not in SEXES or grade not in GRADES:
            raise _err(name, "sex must be male/female and grade 1–12.")
        if grade not in _APPLICABLE[item][sex]:
            raise _err(name, "the standard does not test this item for this sex and grade.")
        th = entry.get("thresholds")
        if not isinstance(th, list) or len(th) != len(LEVELS):
            raise _err(
                name, f"needs exactly {len(LEVELS)} thresholds, got {len(th) if isinstance(th, list) else th!r}."
            )
        if not all((isinstance(x, int | float) and not isinstance(x, bool)) or x == BLANK for x in th):
            raise _err(name, f"thresholds must be numbers (or {BLANK!r} for a cell the official table leaves blank).")
        if th[0] == BLANK or th[-1] == BLANK:
            raise _err(name, "the 100- and 10-point cells cannot be blank.")
        blank = frozenset(level for level, x in zip(LEVELS, th, strict=True) if x == BLANK)
        # A blank level takes the threshold of the level above it (reaching it earns the higher score).
        filled: list[float] = []
        for x in th:
            filled.append(filled[-1] if x == BLANK else float(x))
        lower = item in _LOWER_IS_BETTER
        given = [x for x in th if x != BLANK]
        for a, b in itertools.pairwise(given):
            if (a >= b) if lower else (a <= b):
                direction = "rise" if lower else "fall"
                raise _err(name, f"thresholds must strictly {direction} from 100 to 10 points ({a} then {b}).")
        if not entry.get("source"):
            raise _err(name, "needs a `source`.")
        key = (item, sex, grade)
        if key in tables:
            raise _err(name, "appears twice.")
        tables[key] = ItemTable(
            item, sex, grade, tuple(filled), str(entry.get("official_table", "")), str(entry["source"]), blank
        )

    bmi: dict[tuple[str, int], BmiTable] = {}
    for entry in raw.get("bmi", []):
        sex, grade = entry.get("sex"), entry.get("grade")
        name = f"bmi {sex}/grade {grade}"
        if sex not in SEXES or grade not in GRADES:
            raise _err(name, "sex must be male/female and grade 1–12.")
        try:
            lo, hi = (float(x) for x in entry["normal"])
            olo, ohi = (float(x) for x in entry["overweight"])
            under, obese = float(entry["underweight_max"]), float(entry["obese_min"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _err(
                name, f"needs normal=[lo, hi], overweight=[lo, hi], underweight_max, obese_min ({exc})."
            ) from exc
        if not (under < lo <= hi < olo <= ohi < obese):
            raise _err(name, "ranges must go 低体重 < 正常 < 超重 < 肥胖 without overlap.")
        if (sex, grade) in bmi:
            raise _err(name, "appears twice.")
        bmi[(sex, grade)] = BmiTable(
            sex,
            grade,
            (lo, hi),
            under,
            (olo, ohi),
            obese,
            str(entry.get("official_table", "")),
            str(entry.get("source", "")),
        )

    bonus: list[BonusTable] = []
    for entry in raw.get("bonus", []):
        name = f"bonus {entry.get('item')}"
        extra = entry.get("extra")
        if entry.get("item") not in ITEMS or not isinstance(extra, list) or not extra:
            raise _err(name, "needs a known item and a non-empty `extra` list.")
        if any(b <= a for a, b in itertools.pairwise(extra)) or extra[0] <= 0:
            raise _err(name, "`extra` must be positive and strictly increasing.")
        bonus.append(
            BonusTable(
                entry["item"],
                frozenset(entry.get("sexes", SEXES)),
                frozenset(entry.get("grades", ())),
                tuple(float(x) for x in extra),
                str(entry.get("source", "")),
            )
        )

    bands: list[Band] = []
    for band_name, entry in dict(raw.get("weights", {})).items():
        weights = {k: int(v) for k, v in entry.items() if k not in ("grades", "sex")}
        unknown = set(weights) - set(ITEMS)
        if unknown:
            raise _err(f"weights.{band_name}", f"unknown items {sorted(unknown)}.")
        if sum(weights.values()) != 100:
            raise _err(f"weights.{band_name}", f"weights sum to {sum(weights.values())}, not 100.")
        bands.append(Band(band_name, frozenset(entry.get("grades", ())), entry.get("sex"), weights))

    not_encoded: dict[tuple[str, str, int], str] = {}
    for entry in raw.get("not_encoded", []):
        for sex in entry.get("sexes", ()):
            for grade in entry.get("grades", ()):
                key = (entry.get("item"), sex, grade)
                if key in tables:
                    raise _err(f"not_encoded {key}", "is listed as not encoded but has a table.")
                not_encoded[key] = str(entry.get("reason", ""))

    std = Standard(str(version), source, path, tables, bmi, tuple(bonus), tuple(bands), not_encoded)
    # Completeness: every tested combination is either a table or an explained gap.
    for item, by_sex in _APPLICABLE.items():
        for sex, grades in by_sex.items():
            for grade in grades:
                present = (sex, grade) in bmi if item == "bmi" else (item, sex, grade) in tables
                if not present and (item, sex, grade) not in not_encoded:
                    raise _err(
                        f"table {item}/{sex}/grade {grade}",
                        "missing: add the table or list it under [[not_encoded]] with a reason.",
                    )
    for sex in SEXES:
        for grade in GRADES:
            band = std.band_for(sex, grade)
            for item in band.weights:
                if grade not in _APPLICABLE[item][sex]:
                    raise _err(f"weights.{band.name}", f"{item} is not tested for {sex} grade {grade}.")
    return std


def load_standard(path: str | Path | None = None) -> Standard:
    """Load and validate a data file (the bundled 2014 tables by default). Cached per path."""
    if path is None:
        ref = resources.files("appliance.fitness") / "data" / DEFAULT_DATA
        return _load_cached(str(ref))
    return _load_cached(str(Path(path).resolve()))


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Standard:
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise StandardDataError(f"fitness data, {path}: not valid TOML ({exc}).") from exc
    return _parse(raw, path)


# --------------------------------------------------------------------------- scoring


def _check_item(item: str) -> None:
    if item not in ITEMS:
        raise ValueError(f"Unknown fitness item {item!r}; known items: {', '.join(ITEMS)}.")


def _check(item: str, sex: str, grade: int) -> None:
    _check_item(item)
    if sex not in SEXES:
        raise ValueError(f"Unknown sex {sex!r}; use 'male' or 'female'.")
    if isinstance(grade, bool) or not isinstance(grade, int) or grade not in GRADES:
        raise ValueError(f"Grade must be an integer 1–12 (一年级 … 高三), got {grade!r}.")
    if grade not in _APPLICABLE[item][sex]:
        raise ValueError(
            f"{ITEM_LABELS_ZH[item]} ({item}) is not tested for {sex_label_zh(sex)} in "
            f"{grade_label_zh(grade)} under the 2014 standard."
        )


def _not_encoded(std: Standard, item: str, sex: str, grade: int) -> TableNotEncodedError:
    reason = std.not_encoded.get((item, sex, grade), "no table in the data file")
    return TableNotEncodedError(
        f"Table not encoded: {ITEM_LABELS_ZH[item]} ({item}) for {sex_label_zh(sex)} "
        f"{grade_label_zh(grade)} is part of the 2014 standard but not in {Path(std.path).name} ({reason})."
    )


def item_table(item: str, sex: str, grade: int, *, standard: Standard | None = None) -> ItemTable:
    """The single-item table, or a clear ValueError (untested / not encoded)."""
    _check(item, sex, grade)
    if item == "bmi":
        raise ValueError("BMI is scored by ranges; use bmi_table().")
    std = standard or load_standard()
    table = std.tables.get((item, sex, grade))
    if table is None:
        raise _not_encoded(std, item, sex, grade)
    return table


def bmi_table(sex: str, grade: int, *, standard: Standard | None = None) -> BmiTable:
    _check("bmi", sex, grade)
    std = standard or load_standard()
    table = std.bmi.get((sex, grade))
    if table is None:
        raise _not_encoded(std, "bmi", sex, grade)
    return table


def bmi_category(sex: str, grade: int, bmi: float, *, standard: Standard | None = None) -> str:
    """正常 / 低体重 / 超重 / 肥胖 for this sex and grade."""
    return bmi_table(sex, grade, standard=standard).category(bmi)


def score_item(item: str, sex: str, grade: int, value: float, *, standard: Standard | None = None) -> int:
    """Single-item score (0–100) from the official table."""
    if item == "bmi":
        return BMI_CATEGORY_SCORE[bmi_category(sex, grade, value, standard=standard)]
    return item_table(item, sex, grade, standard=standard).score(value)


def bonus_points(item: str, sex: str, grade: int, value: float, *, standard: Standard | None = None) -> int:
    """附加分 for a result beyond the 100-point threshold (0 if none or not a bonus item here)."""
    _check(item, sex, grade)
    std = standard or load_standard()
    is_bonus_item = (grade <= 6 and item == "rope_skip_1min") or (
        grade >= 7 and item in {"pull_up", "sit_up_1min", "run_1000m", "run_800m"}
    )
    if not is_bonus_item:
        return 0
    bonus = std.bonus_for(item, sex, grade)
    if bonus is None:
        raise TableNotEncodedError(
            f"Table not encoded: the bonus (加分) table for {ITEM_LABELS_ZH[item]} ({item}), "
            f"{sex_label_zh(sex)} {grade_label_zh(grade)}, is not in {Path(std.path).name}."
        )
    top = item_table(item, sex, grade, standard=std).thresholds[0]
    beyond = (top - value) if item in _LOWER_IS_BETTER else (value - top)
    # Counts and seconds are whole numbers in the tables; tolerate float noise from callers.
    return bonus.points(round(beyond, 6))


def items_for(sex: str, grade: int, *, standard: Standard | None = None) -> list[tuple[str, int]]:
    """The grade band's items with their weights (percent), in the order of the annex."""
    _check("bmi", sex, grade)
    std = standard or load_standard()
    return list(std.band_for(sex, grade).weights.items())


# --------------------------------------------------------------------------- total


def rating_for(total: float) -> tuple[str, str]:
    """等级 from 学年总分: 优秀 ≥ 90.0, 良好 80.0–89.9, 及格 60.0–79.9, 不及格 ≤ 59.9."""
    if total >= 90:
        return "优秀", "excellent"
    if total >= 80:
        return "良好", "good"
    if total >= 60:
        return "及格", "pass"
    return "不及格", "fail"


@dataclass(frozen=True)
class ItemResult:
    item: str
    value: float
    score: int
    weight: int
    weighted: float
    bonus: int


@dataclass(frozen=True)
class TotalScore:
    """学年总分 for one student.

    ``missing`` lists band items with no value; ``not_encoded`` lists items whose table this build
    does not carry. Either makes ``complete`` False: ``standard``/``total`` then only add up what was
    scored and ``rating``/``rating_en`` are 未完成/incomplete, so a partial result is never shown as
    a (falsely low) 不及格.
    """

    sex: str
    grade: int
    items: tuple[ItemResult, ...]
    standard: float
    bonus: int
    total: float
    rating: str
    rating_en: str
    missing: tuple[str, ...]
    not_encoded: tuple[str, ...]
    complete: bool


def _money(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def total_score(sex: str, grade: int, values: Mapping[str, float], *, standard: Standard | None = None) -> TotalScore:
    """Weighted 标准分, 附加分 and 等级 for the student's grade band."""
    std = standard or load_standard()
    band = items_for(sex, grade, standard=std)
    unexpected = set(values) - {item for item, _ in band}
    if unexpected:
        raise ValueError(
            f"Not items of the {grade_label_zh(grade)} {sex_label_zh(sex)} test: {', '.join(sorted(unexpected))}."
        )
    results: list[ItemResult] = []
    missing: list[str] = []
    gaps: list[str] = []
    std_sum = Decimal(0)
    bonus_sum = 0
    for item, weight in band:
        if item not in values:
            missing.append(item)
            continue
        value = float(values[item])
        try:
            score = score_item(item, sex, grade, value, standard=std)
            bonus = bonus_points(item, sex, grade, value, standard=std) if score == 100 else 0
        except TableNotEncodedError:
            gaps.append(item)
            continue
        weighted = Decimal(score) * Decimal(weight) / Decimal(100)
        std_sum += weighted
        bonus_sum += bonus
        results.append(ItemResult(item, value, score, weight, _money(weighted), bonus))
    bonus_sum = min(bonus_sum, 20)  # 附加分满分为20分
    complete = not missing and not gaps
    total = _money(std_sum + bonus_sum)
    rating, rating_en = rating_for(total) if complete else ("未完成", "incomplete")
    return TotalScore(
        sex,
        grade,
        tuple(results),
        _money(std_sum),
        bonus_sum,
        total,
        rating,
        rating_en,
        tuple(missing),
        tuple(gaps),
        complete,
    )
