"""The simulator's plan: which pen writes what, where and when. The demo code writes it as JSON::

    {"pens": [{"pen_id": "9C:7B:D2:01:00:01", "start_delay_s": 5.0, "offline": false, "battery": 80,
               "writings": [{"page": [3, 27, 603, 1], "box_mm": [x, y, w, h], "kind": "text",
                             "text": "42", "pause_before_s": 12.0}]}]}

``kind`` is "text" (``text`` required), "tick" or "cross" (true/false), "fill" (a choice option box) or
"circle". Times are the child's real seconds (the simulator divides them by its ``time_scale``); boxes are
mm on the printed page; ``page`` is the Ncode address section, owner, note, page. ``offline`` pens write
without a connection and upload after class. Optional, for tests: ``"password": "1234"`` locks the pen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

WritingKind = Literal["text", "tick", "cross", "fill", "circle"]
KINDS = ("text", "tick", "cross", "fill", "circle")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


class PlanError(ValueError):
    """The plan cannot be used; the message names the pen, the writing and the key."""


@dataclass(frozen=True)
class Writing:
    page: tuple[int, int, int, int]
    box_mm: tuple[float, float, float, float]
    kind: WritingKind
    text: str = ""
    pause_before_s: float = 0.0


@dataclass(frozen=True)
class PenPlan:
    pen_id: str
    writings: tuple[Writing, ...] = ()
    start_delay_s: float = 0.0
    offline: bool = False
    battery: int = 80
    password: str | None = None


PlanSource = str | Path | Mapping[str, Any] | Sequence[PenPlan] | None


def load_plan(source: PlanSource) -> list[PenPlan]:
    """Pens from a JSON file path, an already-parsed dict, or PenPlan objects (None: no pens)."""
    if source is None:
        return []
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PlanError(f"cannot read the pen plan {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise PlanError(f"the pen plan {path} is not JSON: {exc}") from None
        return parse_plan(raw)
    if isinstance(source, Mapping):
        return parse_plan(source)
    plans = list(source)
    if not all(isinstance(p, PenPlan) for p in plans):
        raise PlanError("a plan is a JSON path, a dict like the JSON, or a list of PenPlan")
    return plans


def parse_plan(raw: Any) -> list[PenPlan]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("pens"), list):
        raise PlanError('the pen plan must be {"pens": [...]}')
    plans: list[PenPlan] = []
    seen: set[str] = set()
    for i, pen in enumerate(raw["pens"]):
        where = f"pens[{i}]"
        if not isinstance(pen, Mapping):
            raise PlanError(f"{where}: each pen is an object")
        pen_id = pen.get("pen_id")
        if not isinstance(pen_id, str) or not _MAC.match(pen_id):
            raise PlanError(f"{where}.pen_id: a MAC address such as '9C:7B:D2:01:00:01', got {pen_id!r}")
        pen_id = pen_id.upper()
        if pen_id in seen:
            raise PlanError(f"{where}.pen_id: {pen_id} appears twice")
        seen.add(pen_id)
        writings = pen.get("writings", [])
        if not isinstance(writings, list):
            raise PlanError(f"{where}.writings: a list")
        password = pen.get("password")
        if password is not None and not (isinstance(password, str) and 0 < len(password.encode()) <= 16):
            raise PlanError(f"{where}.password: 1-16 characters")
        plans.append(
            PenPlan(
                pen_id=pen_id,
                writings=tuple(_writing(w, f"{where}.writings[{j}]") for j, w in enumerate(writings)),
                start_delay_s=_number(pen.get("start_delay_s", 0.0), f"{where}.start_delay_s", minimum=0),
                offline=_bool(pen.get("offline", False), f"{where}.offline"),
                battery=int(_number(pen.get("battery", 80), f"{where}.battery", minimum=0, maximum=100)),
                password=password,
            )
        )
    return plans


def _writing(raw: Any, where: str) -> Writing:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: each writing is an object")
    page = raw.get("page")
    if not (isinstance(page, list) and len(page) == 4 and all(isinstance(v, int) and v >= 0 for v in page)):
        raise PlanError(f"{where}.page: [section, owner, note, page] as non-negative integers, got {page!r}")
    if page[0] > 0xFF or page[1] > 0xFFFFFF or page[2] > 0xFFFFFFFF or page[3] > 0xFFFFFFFF:
        raise PlanError(f"{where}.page: section ≤ 255, owner < 2^24, note and page < 2^32")
    box = raw.get("box_mm")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
        raise PlanError(f"{where}.box_mm: [x, y, width, height] in mm, got {box!r}")
    if box[2] <= 0 or box[3] <= 0 or box[0] < 0 or box[1] < 0:
        raise PlanError(f"{where}.box_mm: x, y ≥ 0 and a positive width and height")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise PlanError(f"{where}.kind: one of {', '.join(KINDS)}, got {kind!r}")
    text = raw.get("text", "")
    if not isinstance(text, str) or (kind == "text" and not text.strip()):
        raise PlanError(f"{where}.text: the text to write (required for kind 'text')")
    return Writing(
        page=(page[0], page[1], page[2], page[3]),
        box_mm=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
        kind=cast(WritingKind, kind),
        text=text,
        pause_before_s=_number(raw.get("pause_before_s", 0.0), f"{where}.pause_before_s", minimum=0),
    )


def _number(value: Any, where: str, minimum: float | None = None, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanError(f"{where}: a number, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise PlanError(f"{where}: must be between {minimum} and {maximum}, got {value}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise PlanError(f"{where}: true or false, got {value!r}")
    return value
