"""Strokes to answer boxes (majority of points) and homework time from pen timestamps."""

from __future__ import annotations

from appliance.events import PenStroke
from appliance.features.homework import BUNDLED_TEMPLATES
from appliance.features.homework.routing import WritingClock, locate_stroke, route
from appliance.features.homework.template import NCODE_CELL_MM, load_template

SHEET = load_template(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")


def test_a_stroke_goes_to_the_box_holding_most_of_it() -> None:
    x, y, _w, h = SHEET.question("q14").box_mm
    inside = [(x + 2 + i, y + 5) for i in range(6)]
    assert locate_stroke(inside, SHEET) == "q14"
    tail = [*inside, (x + 8, y + h + 0.5), (x + 8, y + h + 1.5)]  # a digit's tail dips into the next line
    assert locate_stroke(tail, SHEET) == "q14"
    mostly_out = [(x - 30 + i, y + 5) for i in range(8)] + inside[:2]
    assert locate_stroke(mostly_out, SHEET) is None
    sx, sy, _, _ = SHEET.submit_box_mm or (0, 0, 0, 0)
    assert locate_stroke([(sx + 3, sy + 3), (sx + 8, sy + 6)], SHEET) == "submit"
    assert locate_stroke([], SHEET) is None


def test_route_converts_pattern_units_to_mm() -> None:
    x, y, _w, _h = SHEET.question("q3").box_mm
    pts = tuple(((x + 40 + i) / NCODE_CELL_MM, (y + 5) / NCODE_CELL_MM, 300, i * 10) for i in range(5))
    p = SHEET.page
    r = route(PenStroke(pen_id="p", section=p.section, owner=p.owner, note=p.note, page=p.page, started_at=100.0,
                        ended_at=100.5, points=pts), SHEET)
    assert r.target == "q3" and abs(r.points_mm[0][0] - (x + 40)) < 1e-6


def test_active_time_counts_short_pauses_only() -> None:
    c = WritingClock()
    c.add(0.0, 2.0)
    c.add(12.0, 13.0)  # 10 s thinking: counts
    c.add(73.0, 75.0)  # 60 s away: does not
    c.add(74.0, 76.0)  # overlaps the last stroke: counted once
    assert c.active_s == 2 + 10 + 1 + 2 + 1
    assert c.elapsed_s == 76.0 and c.first_at == 0.0
