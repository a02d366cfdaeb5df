"""The school's review questions by knowledge point, for the error book's suggestions.

A bank is a TOML file validated like a template (one line per problem naming the entry and the fix);
the bundled one covers every knowledge point of the demo sheet, and :func:`uncovered` tells a teacher
which points of her templates have nothing to practise with.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance.config.loader import ConfigError, read_toml

BUNDLED = Path(__file__).with_name("question_bank.toml")


class BankQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    knowledge_point: str = Field(min_length=1, max_length=120)
    prompt: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=200)


class QuestionBank:
    def __init__(self, questions: Iterable[BankQuestion]) -> None:
        self.questions = list(questions)
        self.by_kp: dict[str, list[BankQuestion]] = {}
        for q in self.questions:
            self.by_kp.setdefault(q.knowledge_point, []).append(q)

    def suggest(self, knowledge_points: Iterable[str], per_kp: int = 2, limit: int = 10) -> list[BankQuestion]:
        """Practice for the points a student got wrong, weakest (first given) first, no repeats."""
        out: list[BankQuestion] = []
        for kp in dict.fromkeys(knowledge_points):
            out.extend(self.by_kp.get(kp, [])[:per_kp])
            if len(out) >= limit:
                break
        return out[:limit]

    def uncovered(self, knowledge_points: Iterable[str]) -> list[str]:
        return sorted({kp for kp in knowledge_points if kp not in self.by_kp})


def validate_bank(raw: dict[str, object]) -> tuple[list[BankQuestion], list[str]]:
    """Every valid entry and one line per bad one (a bad entry does not sink the bank)."""
    problems: list[str] = []
    entries = raw.get("questions")
    extra = sorted(set(raw) - {"questions"})
    if extra:
        problems.append(f"unknown key(s) {', '.join(extra)}; a bank has only [[questions]] entries")
    if not isinstance(entries, list) or not entries:
        return [], [*problems, "questions: the bank needs [[questions]] entries (id, knowledge_point, prompt, answer)"]
    good: list[BankQuestion] = []
    ids: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        try:
            q = BankQuestion.model_validate(entry)
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"]) or "entry"
                problems.append(f"questions[{n}].{where}: {e['msg']}")
            continue
        if q.id in ids:
            problems.append(f"questions[{n}].id: {q.id!r} is used twice; ids must be unique")
            continue
        ids.add(q.id)
        good.append(q)
    return good, problems


def load_bank(path: Path = BUNDLED) -> tuple[QuestionBank, list[str]]:
    try:
        raw, _text = read_toml(path, name="question bank")
    except ConfigError as exc:
        return QuestionBank([]), list(exc.errors)
    questions, problems = validate_bank(raw)
    return QuestionBank(questions), [f"{path.name}: {p}" for p in problems]
