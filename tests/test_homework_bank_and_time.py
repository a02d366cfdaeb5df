"""The question bank (validated, covers the demo sheet), the weakness map and the double-reduction limits."""

from __future__ import annotations

from appliance.features.homework import BUNDLED_TEMPLATES
from appliance.features.homework.question_bank import load_bank, validate_bank
from appliance.features.homework.template import load_templates
from appliance.features.homework.weakness import GradedItem, kp_records, weakness_map
from appliance.features.homework.workload import TimeItem, grade_band, over, p90, time_records, workload_view

LIMITS = {"1-2": 0, "3-6": 60, "7-9": 90}


def test_bundled_bank_is_valid_and_covers_every_template_point() -> None:
    bank, problems = load_bank()
    assert problems == [] and len(bank.questions) >= 30
    templates, tproblems = load_templates(BUNDLED_TEMPLATES)
    assert tproblems == []
    kps = {kp for t in templates.values() for q in t.questions for kp in q.knowledge_points}
    assert bank.uncovered(kps) == []
    picks = bank.suggest(["math.g4.division", "math.g4.division", "math.g4.decimals.add"], per_kp=2)
    assert [p.knowledge_point for p in picks] == ["math.g4.division"] * 2 + ["math.g4.decimals.add"] * 2


def test_bank_validator_names_each_bad_entry() -> None:
    good, problems = validate_bank({"questions": [
        {"id": "a", "knowledge_point": "k", "prompt": "p", "answer": "1"},
        {"id": "a", "knowledge_point": "k", "prompt": "p", "answer": "1"},
        {"id": "b", "knowledge_point": "k", "prompt": "", "answer": "1", "colour": "red"},
    ], "extra": 1})
    assert [q.id for q in good] == ["a"]
    assert any("extra" in p for p in problems) and any(p.startswith("questions[2].id") for p in problems)
    assert any(p.startswith("questions[3].prompt") for p in problems)
    assert any(p.startswith("questions[3].colour") for p in problems)


def test_weakness_against_the_class_mean_and_suppressed_cells() -> None:
    items = [GradedItem(f"s{i}", "q1", 2, 0 if i < 3 else 2, ("kp.a",)) for i in range(6)]
    items += [GradedItem(f"s{i}", "q2", 4, 2 if i == 0 else 4, ("kp.b",)) for i in range(6)]
    items += [GradedItem("s0", "q3", 1, 0, ("kp.c",))]
    wm = weakness_map(items)
    rows = {r["kp"]: r for r in wm["knowledge_points"]}
    assert [r["kp"] for r in wm["knowledge_points"]] == ["kp.c", "kp.a", "kp.b"]
    assert rows["kp.a"]["error_rate"] == 0.5 and rows["kp.a"]["students_wrong"] == 3
    assert wm["class_mean_error_rate"] == round((3 + 0.5 + 1) / 13, 3)
    assert rows["kp.b"]["vs_mean"] < 0 < rows["kp.a"]["vs_mean"]
    recs = {r["kp"]: r for r in kp_records("c", "a1", "math", "2026-01-05", items)}
    assert recs["kp.a"]["suppressed"] is False and recs["kp.a"]["students"] == 6
    assert recs["kp.c"] == {"assignment_id": "a1", "class_id": "c", "subject": "math", "date": "2026-01-05",
                            "kp": "kp.c", "suppressed": True}


def test_grade_bands_and_limits() -> None:
    assert grade_band(1, LIMITS) == ("1-2", 0) and grade_band(4, LIMITS) == ("3-6", 60)
    assert grade_band(8, LIMITS) == ("7-9", 90) and grade_band(11, LIMITS) == (None, None)
    assert over(1, 0) and not over(0, 0) and over(61, 60) and not over(60, 60) and not over(500, None)
    assert p90([float(i) for i in range(1, 11)]) == 9.0 and p90([]) == 0.0


def test_workload_and_time_records() -> None:
    items = [TimeItem(f"s{i}", "2026-01-05", "math", 40 * 60 + i * 60, 50 * 60) for i in range(6)]
    items += [TimeItem("s0", "2026-01-05", "chinese", 30 * 60, 35 * 60)]  # s0: 70 min that day in all
    items += [TimeItem("s1", "2026-01-04", "math", 20 * 60, 20 * 60)]
    labels = {f"s{i}": f"{i + 1}号" for i in range(7)}
    view = workload_view(items, ["2026-01-04", "2026-01-05"], "2026-01-05", 60, labels)
    day = view["days"][1]
    assert day["students"] == 6 and day["students_over_limit"] == 1 and day["over_limit"] is False
    students = {s["label"]: s for s in view["students"]}
    assert students["1号"]["today_active_minutes"] == 70 and students["1号"]["over_limit"] is True
    assert students["7号"]["today_active_minutes"] == 0
    assert {s["subject"] for s in view["by_subject"]} == {"math", "chinese"}
    recs = time_records("c", 4, LIMITS, items)
    math = next(r for r in recs if r["subject"] == "math" and r["date"] == "2026-01-05")
    assert math["students"] == 6 and math["limit_minutes"] == 60 and math["students_over_limit"] == 1
    assert math["mean_minutes"] == 42.5 and math["day_mean_minutes"] == 47.5
    assert all(r["suppressed"] for r in recs if r["subject"] == "chinese" or r["date"] == "2026-01-04")
