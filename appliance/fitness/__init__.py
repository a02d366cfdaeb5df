"""国家学生体质健康标准（2014年修订）: scoring tables, totals and exercise prescriptions.

The tables are data (``data/gb_2014.toml``, each with its source); see ``standard`` for the rules
and ``prescription`` for the explainable, rule-based training advice built on top of them.
"""

from appliance.fitness.prescription import Advice, Prescription, prescribe
from appliance.fitness.standard import (
    GRADES,
    ITEM_LABELS_ZH,
    ITEM_UNITS_ZH,
    ITEMS,
    LEVELS,
    SEXES,
    ItemResult,
    Standard,
    StandardDataError,
    TableNotEncodedError,
    TotalScore,
    bmi_category,
    bmi_from,
    bonus_points,
    items_for,
    load_standard,
    lower_is_better,
    rating_for,
    score_item,
    total_score,
)

__all__ = [
    "GRADES",
    "ITEMS",
    "ITEM_LABELS_ZH",
    "ITEM_UNITS_ZH",
    "LEVELS",
    "SEXES",
    "Advice",
    "ItemResult",
    "Prescription",
    "Standard",
    "StandardDataError",
    "TableNotEncodedError",
    "TotalScore",
    "bmi_category",
    "bmi_from",
    "bonus_points",
    "items_for",
    "load_standard",
    "lower_is_better",
    "prescribe",
    "rating_for",
    "score_item",
    "total_score",
]
