"""The pen homework demo end to end: 45 simulated pens write the demo sheet through the real pen driver,
the real recognizer reads it, and the results, error books, weakness map, workload, review queue and the
county's records all fill in.

A separate demo process at speed 30 (the class's 18 minutes of writing pass in about 40 s), through the
pen simulator's Neo bytes, the driver, the feature, the outbox, the broker and the county receiver.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from conftest import DemoProcess, free_port, get_json, wait_for

CLASS = "demo-4-2"


@pytest.fixture(scope="module")
def hw_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    demo = DemoProcess(free_port(), tmp_path_factory.mktemp("hw-demo"), seconds=300,
                       extra_args=("--lesson-speed", "30"))
    try:
        demo.wait_healthy(timeout=60)
        yield demo
    finally:
        assert demo.stop() == 0, demo.log_path.read_text()[-3000:]


def test_demo_homework_results_reviews_books_and_county(hw_demo: DemoProcess) -> None:
    base = hw_demo.url

    def open_assignment() -> dict | None:
        rows = get_json(base + "/api/homework/assignments")["assignments"]
        return next((a for a in rows if a["class_id"] == CLASS), None)

    aid = wait_for(open_assignment, timeout=30)["assignment_id"]

    def ready() -> dict | None:
        a = get_json(base + f"/api/homework/assignments/{aid}", timeout=5)
        return a if a["results_ready"] else None

    a = wait_for(ready, timeout=180, interval=0.5)
    lag = a["results_ready_at"] - a["last_stroke_at"]
    assert 0 <= lag <= 5.0, f"results {lag:.2f} s after the last stroke"
    summary = a["summary"]
    assert summary["students"] == 45 and summary["finished"] == 45, summary  # the offline pen's upload included
    assert summary["mean_score"] is not None and 0 < summary["mean_score"] < a["max_points"]
    assert summary["needs_review"] >= 45  # every free answer, plus doubtful marks and unsure readings
    q1 = next(q for q in a["questions"] if q["id"] == "q1")
    assert q1["correct_rate"] is not None and sum(q1["distribution"].values()) >= 40

    review = get_json(base + "/api/homework/review")["items"]
    assert review and any(i["type"] != "free" for i in review)  # not only the free answers
    assert all(i["ink"] for i in review)

    # error books: a student who lost points sees the question, their ink, their answer and the right one
    weakest = min((s for s in a["students"] if s["score"] is not None), key=lambda s: s["score"])
    book = get_json(base + f"/api/homework/students/{weakest['student_id']}/errorbook")
    assert book["items"] and book["suggestions"]
    item = book["items"][0]
    assert item["ink"] and item["correct_answer"] and item["knowledge_points"]

    wm = get_json(base + f"/api/homework/classes/{CLASS}/weakness?assignment_id={aid}")
    assert len(wm["knowledge_points"]) >= 10 and wm["class_mean_error_rate"] > 0
    assert wm["knowledge_points"][0]["vs_mean"] > 0

    wl = get_json(base + f"/api/homework/workload?class_id={CLASS}&days=2")
    assert wl["grade"] == 4 and wl["limit_minutes"] == 60
    assert sum(d["students"] for d in wl["days"]) >= 45 and max(d["mean_minutes"] for d in wl["days"]) > 5

    pens = get_json(base + "/api/homework/pens")
    assert len(pens["pens"]) >= 40

    county = hw_demo.data_dir / "county.db"

    def county_scores() -> list[dict] | None:
        if not county.exists():
            return None
        with sqlite3.connect(county) as db:
            rows = db.execute("SELECT kind, payload FROM records WHERE kind LIKE 'homework.%'").fetchall()
        scores = [json.loads(p) for k, p in rows if k == "homework.score" and json.loads(p)["assignment_id"] == aid]
        return scores if len({s["student_id"] for s in scores}) == 45 else None

    scores = wait_for(county_scores, timeout=90, interval=1.0)
    assert all("label" not in s and "ink" not in json.dumps(s) for s in scores)
    assert all(set(s["points"]) == {f"q{n}" for n in range(1, 21)} for s in scores)
