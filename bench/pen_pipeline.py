"""Pen homework pipeline bench: 45 pens write the 20-question demo sheet; how long from Neo bytes to grades?

    .venv/bin/python bench/pen_pipeline.py [--pens 45] [--seed 11]

For every pen, the pen simulator's own byte generator (``drivers.smartpen.sim_pen.SimPen``, the bytes the
driver reads from the gateway or BLE) produces the Neo v2 frames of the child's whole sheet, following the
demo plan (``appliance.features.homework.demo_plan``: realistic mistakes and a few doubtful marks). Then:

    bytes -> neo.decode_frames -> StrokeAssembler (PenStroke) -> route to answer boxes
          -> read every box (marks by geometry, numbers and words by the real on-device recognizer) -> grades

Timed per sheet and in total, beside decoding alone (the floor: the work no pipeline can avoid); the
ratio is pipeline / floor. Recognizer loading is timed apart (once per daemon, not per sheet). Accuracy
against what each child meant to write is reported too: a fast pipeline that grades wrongly is no use.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from appliance.events import PenStroke
from appliance.features.homework import BUNDLED_TEMPLATES
from appliance.features.homework.demo_plan import build_plan, demo_pen_ids
from appliance.features.homework.reading import RecognizerSlot, read_answer
from appliance.features.homework.routing import route
from appliance.features.homework.template import load_template
from drivers.smartpen import neo
from drivers.smartpen.plan import load_plan
from drivers.smartpen.sim_pen import SimPen
from drivers.smartpen.strokes import StrokeAssembler

T0 = 1_767_000_000.0


class _Capture:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.chunks.append(data)


def pen_bytes(plan: dict, seed: int) -> dict[str, bytes]:
    """Each pen's whole sheet as the Neo bytes it streams online (no loss: the bench measures work, not luck)."""
    out = {}
    for pp in load_plan(plan):
        pen = SimPen(pp, "serial", seed, loss_rate=0.0, torn_rate=0.0, unix_at=lambda t: T0 + t)
        link = _Capture()
        pen.attach(link)
        pen.online = True  # as after the host's OnlineDataRequest
        pen.advance(pen.end_s + 1.0, None)
        out[pp.pen_id] = b"".join(link.chunks)
    return out


def decode_only(data: bytes) -> int:
    frames, _rest = neo.decode_frames(data)
    return len(frames)


def one_sheet(pen_id: str, data: bytes, template, slot: RecognizerSlot, review_below: float) -> dict:  # type: ignore[no-untyped-def]
    strokes: list[PenStroke] = []
    frames, _rest = neo.decode_frames(data)
    asm = StrokeAssembler(pen_id, strokes.append, time.monotonic)
    for f in frames:
        asm.handle(f)
    asm.close()
    ink: dict[str, list] = {}
    for s in strokes:
        r = route(s, template)
        if r.target is not None and r.target != "submit":
            ink.setdefault(r.target, []).append(r.points_mm)
    answers = {}
    for q in template.questions:
        answers[q.id] = read_answer(q, ink.get(q.id, []), slot, review_below)
    score = sum(a.score for a in answers.values() if a.score is not None)
    return {"strokes": len(strokes), "answers": answers, "score": score}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pens", type=int, default=45)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--review-below", type=float, default=0.9)
    args = ap.parse_args()
    template = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
    plan, children = build_plan(template, demo_pen_ids(args.pens), seed=args.seed, offline=0)
    data = pen_bytes(plan, args.seed)
    total_bytes = sum(len(b) for b in data.values())

    slot = RecognizerSlot()
    t = time.perf_counter()
    recognizer = slot.get()
    load_s = time.perf_counter() - t
    engine = type(recognizer).__name__

    t = time.perf_counter()
    frames = sum(decode_only(b) for b in data.values())
    floor_s = time.perf_counter() - t

    per_sheet: list[float] = []
    results = {}
    t_all = time.perf_counter()
    for pen_id, b in data.items():
        t = time.perf_counter()
        results[pen_id] = one_sheet(pen_id, b, template, slot, args.review_below)
        per_sheet.append(time.perf_counter() - t)
    total_s = time.perf_counter() - t_all

    read = review = silent_wrong = graded = 0
    for child in children:
        sheet = results[child.pen_id]["answers"]
        for q in template.questions:
            meant = child.answers.get(q.id, "")
            if q.type == "free" or q.id == child.ambiguous or not meant:
                continue
            a = sheet[q.id]
            read += 1
            if a.status == "review":
                review += 1
            elif a.status == "graded":
                graded += 1
                if (a.given or "") != meant:
                    silent_wrong += 1
    doubtful = sum(1 for c in children if c.ambiguous and results[c.pen_id]["answers"][c.ambiguous].status == "review")
    out = {
        "bench": "pen_pipeline", "pens": args.pens, "questions": len(template.questions),
        "bytes": total_bytes, "frames": frames, "strokes": sum(r["strokes"] for r in results.values()),
        "recognizer": engine, "recognizer_load_s": round(load_s, 3),
        "per_sheet_ms": {"p50": round(statistics.median(per_sheet) * 1000, 1),
                         "p95": round(sorted(per_sheet)[int(0.95 * (len(per_sheet) - 1))] * 1000, 1),
                         "max": round(max(per_sheet) * 1000, 1)},
        "total_s": round(total_s, 3), "floor_decode_s": round(floor_s, 4),
        "floor_per_sheet_ms": round(floor_s / args.pens * 1000, 3),
        "ratio": round(total_s / floor_s, 1) if floor_s else None,
        "answers_checked": read, "to_review": review, "graded": graded, "graded_wrong_silently": silent_wrong,
        "doubtful_marks_sent_to_review": f"{doubtful}/{sum(1 for c in children if c.ambiguous)}",
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}".strip(),
    }
    print(f"{args.pens} sheets: {total_s:.2f} s in total ({out['per_sheet_ms']['p50']} ms a sheet, p50); "
          f"decoding alone {floor_s * 1000:.1f} ms; {review} of {read} answers to review, "
          f"{silent_wrong} graded with a wrong reading")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
