"""Answer-sheet templates: which region of which printed page holds which question, and how it is graded.

A template is a TOML file a teacher or the county's question-bank team writes once per sheet. It is the
contract between the pen (dots on a page address), the scanner (pixels of a printed page), recognition
and grading, so it is validated as strictly as the daemon's own configuration: every problem is one line
that names the key and the fix (``classroom homework check-template FILE``).

Geometry is in millimetres from the top-left corner of the printed page, because that is what a person
measures on paper; pen dots arrive in Ncode pattern units (one cell = 2.371 mm), converted by
:func:`pattern_to_mm`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from appliance.config.loader import ConfigError, explain, read_toml

NCODE_CELL_MM = 2.371  # one Ncode pattern unit on paper
QuestionType = Literal["single_choice", "multiple_choice", "true_false", "numeric", "short_text", "free"]
CHOICE_TYPES = ("single_choice", "multiple_choice", "true_false")
RECOGNISED_TYPES = ("numeric", "short_text")
Box = tuple[float, float, float, float]  # x, y, width, height in mm


def pattern_to_mm(x: float, y: float, origin_mm: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    return x * NCODE_CELL_MM - origin_mm[0], y * NCODE_CELL_MM - origin_mm[1]


def inside(box: Box, x: float, y: float, margin: float = 0.0) -> bool:
    bx, by, bw, bh = box
    return bx - margin <= x <= bx + bw + margin and by - margin <= y <= by + bh + margin


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_box(v: Box) -> Box:
    x, y, w, h = v
    if w <= 0 or h <= 0:
        raise ValueError("width and height must be positive: [x, y, width, height] in mm")
    if x < 0 or y < 0:
        raise ValueError("x and y must be on the page: [x, y, width, height] in mm from the top-left corner")
    return v


BoxField = Annotated[Box, Field(description="[x, y, width, height] in mm from the page's top-left corner")]


class PageAddress(_Model):
    """The Ncode address printed on the sheet (what the pen reports as paper info)."""

    section: int = Field(ge=0, le=255)
    owner: int = Field(ge=0, le=2**24 - 1)
    note: int = Field(ge=0, le=2**32 - 1)
    page: int = Field(ge=0, le=2**16 - 1)
    size_mm: tuple[float, float] = Field((210.0, 297.0), description="Printed page size (A4 by default).")
    origin_mm: tuple[float, float] = Field(
        (0.0, 0.0), description="Where pattern (0, 0) falls on the page, in mm (printer offset)."
    )

    def key(self) -> tuple[int, int, int, int]:
        return (self.section, self.owner, self.note, self.page)


class ChoiceOption(_Model):
    label: str = Field(min_length=1, max_length=4, description="What is printed: 'A', 'B', '√', '×'...")
    box_mm: BoxField

    _box = field_validator("box_mm")(_check_box)


class Question(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="Unique on the sheet, e.g. 'q7'.")
    type: QuestionType
    prompt: str = Field("", max_length=500, description="The question text, for error books and the kiosk.")
    points: float = Field(gt=0, le=100)
    answer: str | None = Field(
        None,
        description="single_choice 'B'; multiple_choice 'ACD'; true_false 'T' or 'F'; numeric '42' or '3.5'; "
        "short_text the expected words; free: omit (the teacher grades it).",
    )
    accept: list[str] = Field(default_factory=list, description="Other accepted answers (short_text, numeric).")
    tolerance: float = Field(0.0, ge=0, description="numeric: accepted absolute difference.")
    partial: Literal["none", "subset_half", "per_option"] = Field(
        "subset_half",
        description="multiple_choice: 'none' all or nothing; 'subset_half' half the points for a correct subset "
        "(the national exam rule); 'per_option' points shared per option, a wrong option scores 0.",
    )
    knowledge_points: list[str] = Field(default_factory=list, description="Tags such as 'math.g4.fractions.add'.")
    box_mm: BoxField
    options: list[ChoiceOption] = Field(default_factory=list, description="Choice questions: one box per option.")

    _box = field_validator("box_mm")(_check_box)

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if self.type in CHOICE_TYPES:
            if len(self.options) < 2:
                raise ValueError(f"a {self.type} question needs at least 2 options, each with label and box_mm")
            labels = [o.label for o in self.options]
            if len(set(labels)) != len(labels):
                raise ValueError(f"option labels must differ, got {labels}")
            if self.answer is None:
                raise ValueError(f"a {self.type} question needs 'answer' (one of {labels})")
            given = list(self.answer) if self.type == "multiple_choice" else [self.answer]
            bad = [a for a in given if a not in labels]
            if bad or not given:
                raise ValueError(f"answer {self.answer!r} is not among the options {labels}")
            if self.type != "multiple_choice" and len(given) != 1:
                raise ValueError("single_choice and true_false answers are one option label")
        elif self.options:
            raise ValueError(f"'options' are only for choice questions, not {self.type}")
        if self.type == "numeric":
            for a in [self.answer, *self.accept]:
                if a is None or not re.fullmatch(r"-?\d+(\.\d+)?(/\d+)?", a.strip()):
                    raise ValueError(f"numeric answers must be numbers such as '42', '3.5' or '3/4', got {a!r}")
        if self.type == "short_text" and not self.answer:
            raise ValueError("a short_text question needs 'answer'")
        if self.type == "free" and self.answer is not None:
            raise ValueError("a free question has no 'answer': the teacher grades it on the kiosk")
        return self


class Template(_Model):
    """One printed sheet: its page address, its questions and how long it should take."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    title: str = Field(min_length=1, max_length=120)
    subject: str = Field(min_length=1, max_length=32, description="'math', 'chinese', 'english', ...")
    grade: int = Field(ge=1, le=12)
    kind: Literal["homework", "exam", "classwork"] = "homework"
    expected_minutes: float | None = Field(None, gt=0, le=240, description="The teacher's estimate of the time it takes.")
    page: PageAddress
    submit_box_mm: Box | None = Field(None, description="The printed '提交' box a student ticks when done.")
    student_box_mm: Box | None = Field(
        None, description="Where a student writes their class number (学号) on paper; scanned sheets are matched by it."
    )
    questions: list[Question] = Field(min_length=1, max_length=200)

    _submit = field_validator("submit_box_mm", "student_box_mm")(lambda v: None if v is None else _check_box(v))

    @model_validator(mode="after")
    def _layout(self) -> Template:
        ids = [q.id for q in self.questions]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"question ids must be unique; repeated: {', '.join(dup)}")
        w, h = self.page.size_mm
        boxes: list[tuple[str, Box]] = [(q.id, q.box_mm) for q in self.questions]
        if self.submit_box_mm is not None:
            boxes.append(("submit_box_mm", self.submit_box_mm))
        if self.student_box_mm is not None:
            boxes.append(("student_box_mm", self.student_box_mm))
        for name, (x, y, bw, bh) in boxes:
            if x + bw > w or y + bh > h:
                raise ValueError(f"{name}: box [{x}, {y}, {bw}, {bh}] runs off the {w}x{h} mm page")
        for q in self.questions:
            for o in q.options:
                if not _contains(q.box_mm, o.box_mm):
                    raise ValueError(f"{q.id}: option {o.label} box lies outside the question's box_mm")
        for i, (a, ba) in enumerate(boxes):
            for b, bb in boxes[i + 1:]:
                if _overlap(ba, bb):
                    raise ValueError(f"{a} and {b}: answer boxes overlap, so ink could not be told apart")
        return self

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def locate(self, x_mm: float, y_mm: float) -> str | None:
        """The question whose box holds this point ('submit' for the submit box), else None."""
        if self.submit_box_mm is not None and inside(self.submit_box_mm, x_mm, y_mm):
            return "submit"
        for q in self.questions:
            if inside(q.box_mm, x_mm, y_mm):
                return q.id
        return None

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)


def _contains(outer: Box, inner: Box) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1]
            and inner[0] + inner[2] <= outer[0] + outer[2] and inner[1] + inner[3] <= outer[1] + outer[3])


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


class TemplateError(ConfigError):
    """A template file cannot be used; one line per problem, each naming the key and the fix."""


def parse_template(raw: dict[str, object], text: str | None = None, path: Path | None = None) -> Template:
    try:
        return Template.model_validate(raw)
    except ValidationError as exc:
        raise TemplateError([explain(e, Template, text, path, {}) for e in exc.errors()], dict(raw)) from None


def load_template(path: Path) -> Template:
    raw, text = read_toml(path, name="template")
    return parse_template(raw, text, path)


def load_templates(folder: Path) -> tuple[dict[str, Template], list[str]]:
    """Every valid template in a folder, and one line per file that is not (the others still load)."""
    templates: dict[str, Template] = {}
    problems: list[str] = []
    seen_pages: dict[tuple[int, int, int, int], str] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            t = load_template(path)
        except ConfigError as exc:
            problems.extend(f"{path.name}: {e}" for e in exc.errors)
            continue
        if t.id in templates:
            problems.append(f"{path.name}: id {t.id!r} is used by another template; ids must be unique")
            continue
        other = seen_pages.get(t.page.key())
        if other is not None:
            problems.append(f"{path.name}: page address {t.page.key()} is already used by {other!r}; "
                            "print each sheet on its own page address")
            continue
        seen_pages[t.page.key()] = t.id
        templates[t.id] = t
    return templates, problems
