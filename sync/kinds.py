"""Record kinds and their priorities: what gives way first when the box runs out of room.

A grade or a fitness score is the reason the county pays for these boxes: it is never refused and
never dropped. Telemetry is the first to stop when the outbox is over its quota.
"""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, NORMAL, LOW, TELEMETRY = 0, 1, 2, 3


@dataclass(frozen=True)
class RecordKind:
    name: str
    priority: int
    schema_version: int
    description: str


KINDS: dict[str, RecordKind] = {}


def register_kind(kind: RecordKind) -> RecordKind:
    existing = KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"record kind {kind.name!r} registered twice with different settings")
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> RecordKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown record kind {name!r}: register it in sync.kinds first") from None


register_kind(RecordKind("device.boot", LOW, 1, "the daemon started: version, boot id"))
register_kind(RecordKind("device.health", TELEMETRY, 1, "periodic component states and disk space"))
register_kind(RecordKind("panel.usage", LOW, 1, "a teacher changed the interactive panel (power, input, volume)"))
register_kind(RecordKind("demo.homework_grade", CRITICAL, 1, "demo: a graded homework answer (pseudonymous)"))
register_kind(RecordKind("loadgen.sample", CRITICAL, 1, "tests and benches: a synthetic graded answer"))
register_kind(RecordKind("pe.lesson_summary", NORMAL, 1, "Smart PE: one lesson's class figures against the norms"))
register_kind(
    RecordKind("pe.student_lesson", CRITICAL, 1, "Smart PE: one student's lesson aggregates (pseudonymous; no raw heart rate)")
)
register_kind(RecordKind(
    "homework.score", CRITICAL, 1,
    "pen/scanner homework: one student's graded sheet (pseudonymous id, per-question points; no ink)"))
register_kind(RecordKind(
    "homework.kp_aggregate", NORMAL, 1,
    "pen/scanner homework: a class's error rate per knowledge point for one assignment (cells under 5 suppressed)"))
register_kind(RecordKind(
    "homework.time_aggregate", NORMAL, 1,
    "pen homework: a class's homework minutes for one day and subject (mean, p90, students over the limit)"))
register_kind(RecordKind(
    "fitness.result", CRITICAL, 1,
    "fitness: one student's scored test item (camera count or hand measurement; pseudonymous id, grade, sex, score)"))
register_kind(RecordKind(
    "fitness.training", LOW, 1, "fitness: a training session's count and invalid repetitions (no frames, no label)"))
register_kind(RecordKind(
    "fitness.prescription", NORMAL, 1,
    "fitness: which items a student's exercise prescription targets and the re-test date (pseudonymous)"))
