"""A student's error book: every question they lost points on, with their own ink and the right answer.

Built from the store on request (it spans every assignment the student ever did), with practice
questions from the school's bank for the knowledge points that went wrong, most frequent first.
Answers waiting for the teacher's review are not in it yet: a doubtful reading is not an error.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlite_utils

from appliance.features.homework.grading import correct_answer_text
from appliance.features.homework.persist import template_of
from appliance.features.homework.question_bank import QuestionBank


def error_items(db: sqlite_utils.Database, student_id: str, limit: int = 500) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT a.assignment_id, a.template_json, a.title, x.question_id, x.given, x.score, x.ink_json, x.updated_at"
        " FROM hw_answers x JOIN hw_assignments a ON a.assignment_id = x.assignment_id"
        " WHERE x.student_id = ? AND x.score IS NOT NULL AND x.status IN ('graded', 'blank', 'overridden')"
        " ORDER BY x.updated_at DESC", [student_id]).fetchall()
    items: list[dict[str, Any]] = []
    for aid, tjson, title, qid, given, score, ink, at in rows:
        t = template_of(aid, tjson)
        try:
            q = t.question(qid)
        except KeyError:
            continue
        if score >= q.points:
            continue
        items.append({"assignment_id": aid, "title": title, "question_id": qid, "prompt": q.prompt, "type": q.type,
                      "given": given, "correct_answer": correct_answer_text(q), "score": score, "points": q.points,
                      "knowledge_points": list(q.knowledge_points), "ink": json.loads(ink), "box_mm": list(q.box_mm),
                      "at": at})
        if len(items) >= limit:
            break
    return items


def error_book(db: sqlite_utils.Database, student_id: str, label: str, bank: QuestionBank) -> dict[str, Any]:
    items = error_items(db, student_id)
    kps = Counter(kp for it in items for kp in it["knowledge_points"])
    suggestions = [{"bank_id": b.id, "prompt": b.prompt, "knowledge_point": b.knowledge_point, "answer": b.answer}
                   for b in bank.suggest(kp for kp, _n in kps.most_common())]
    return {"student_id": student_id, "label": label, "items": items, "suggestions": suggestions}
