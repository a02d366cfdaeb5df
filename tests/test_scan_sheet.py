"""Paper sheets: print a template, fill it in like a pupil, scan it badly, and read the answers back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.features.homework.printing import render_image, render_pdf
from appliance.features.homework.scan import read_sheet
from appliance.features.homework.template import Template, load_template
from models.handwriting.ocr import OcrRecognizer
from models.handwriting.synth import write_digits
from models.sheets import RegistrationError, register
from models.sheets.files import UnreadableFile, load_page, page_count

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "appliance/features/homework/templates/math-g4-u3-hw1.toml"
DIGITS_PNG = Path("/usr/share/doc/opencv-doc/examples/data/digits.png")
DPI = 200
PX = DPI / 25.4


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def recognizer() -> OcrRecognizer:
    return OcrRecognizer()


@pytest.fixture(scope="module")
def printed(template: Template) -> np.ndarray:
    return render_image(template, DPI)


def draw_strokes(img: np.ndarray, strokes: list[list[tuple[float, float]]], pen_mm: float = 0.5) -> None:
    for s in strokes:
        pts = (np.array(s) * PX * 16).round().astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, 25, max(1, round(pen_mm * PX)), cv2.LINE_AA, 4)


def fill_box(img: np.ndarray, box: tuple[float, float, float, float], rng: np.random.Generator) -> None:
    """A pencil fill (填涂) covering ~80 % of the box, uneven like graphite."""
    x, y, w, h = box
    x0, y0 = int((x + w * 0.1) * PX), int((y + h * 0.1) * PX)
    x1, y1 = int((x + w * 0.9) * PX), int((y + h * 0.9) * PX)
    img[y0:y1, x0:x1] = np.minimum(img[y0:y1, x0:x1], rng.integers(30, 90, (y1 - y0, x1 - x0)).astype(np.uint8))


def paste_digits_png(img: np.ndarray, box: tuple[float, float, float, float], labels: str) -> bool:
    """Real handwritten digits (OpenCV's digits.png, held-out columns) pasted x3 into a box."""
    sheet = cv2.imread(str(DIGITS_PNG), cv2.IMREAD_GRAYSCALE)
    if sheet is None:
        return False
    x = int((box[0] + 3) * PX)
    y = int((box[1] + box[3] / 2) * PX) - 30
    for i, ch in enumerate(labels):
        d = int(ch)
        cell = sheet[d * 100: d * 100 + 20, (57 + i) * 20: (58 + i) * 20]  # row block of class d, column 57+
        ink = cv2.resize(cell, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        region = img[y: y + 60, x + i * 55: x + i * 55 + 60]
        np.minimum(region, 255 - ink, out=region)
    return True


def camera(img: np.ndarray, rng: np.random.Generator, angle: float, scale: float = 0.8, persp: float = 0.03,
           noise: float = 8.0) -> np.ndarray:
    """Rotate, tilt in perspective, shrink, shade and add sensor noise, on a grey desk."""
    h, w = img.shape
    pad = int(0.08 * max(h, w))
    big = np.full((h + 2 * pad, w + 2 * pad), 200, np.uint8)
    big[pad: pad + h, pad: pad + w] = img
    hh, ww = big.shape
    src = np.float32([[0, 0], [ww, 0], [ww, hh], [0, hh]])
    jit = rng.uniform(-persp, persp, (4, 2)) * ww
    m = cv2.getPerspectiveTransform(src, (src + jit).astype(np.float32))
    r = np.vstack([cv2.getRotationMatrix2D((ww / 2, hh / 2), angle, scale), [0, 0, 1]])
    t = r @ m
    c = cv2.perspectiveTransform(src.reshape(1, 4, 2), t).reshape(4, 2)
    (x0, y0), (x1, y1) = c.min(0), c.max(0)
    t = np.array([[1, 0, -x0 + 20], [0, 1, -y0 + 20], [0, 0, 1]]) @ t
    out = cv2.warpPerspective(big, t, (int(x1 - x0 + 40), int(y1 - y0 + 40)), borderValue=180).astype(np.float32)
    out *= np.linspace(0.85, 1.0, out.shape[1])[None, :]
    out += rng.normal(0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def fill_in(printed: np.ndarray, template: Template, seed: int) -> tuple[np.ndarray, dict[str, str]]:
    """A pupil's sheet: one random option per single choice, some for multiple choice, the right numbers."""
    rng = np.random.default_rng(seed)
    img = printed.copy()
    truth: dict[str, str] = {}
    for q in template.questions:
        if q.type in ("single_choice", "true_false"):
            o = q.options[int(rng.integers(len(q.options)))]
            fill_box(img, o.box_mm, rng)
            truth[q.id] = o.label
        elif q.type == "multiple_choice":
            chosen = [o for o in q.options if rng.random() < 0.5] or [q.options[0]]
            for o in chosen:
                fill_box(img, o.box_mm, rng)
            truth[q.id] = "".join(o.label for o in chosen)
        elif q.type == "numeric":
            assert q.answer is not None
            draw_strokes(img, write_digits(q.answer, q.box_mm, rng))
            truth[q.id] = q.answer
    return img, truth


@pytest.mark.parametrize(("seed", "angle", "upside_down"), [(0, 3.0, False), (1, -4.0, False), (2, 2.0, True)])
def test_reads_a_photographed_sheet(printed: np.ndarray, template: Template, recognizer: OcrRecognizer,
                                    seed: int, angle: float, upside_down: bool) -> None:
    img, truth = fill_in(printed, template, seed)
    assert template.student_box_mm is not None
    draw_strokes(img, write_digits("27", template.student_box_mm, np.random.default_rng(seed + 100)))
    if upside_down:
        img = np.ascontiguousarray(img[::-1, ::-1])
    scan = camera(img, np.random.default_rng(seed), angle)
    result = read_sheet(scan, template, recognizer)
    assert result.quarter_turns == (2 if upside_down else 0)
    got = {qid: result.answers[qid].given for qid in truth}
    assert got == truth
    for qid in truth:
        a = result.answers[qid]
        if a.type != "numeric":
            assert a.status == "marked" and a.confidence >= 0.9, (qid, a.fills)
    numeric = [result.answers[q] for q in truth if result.answers[q].type == "numeric"]
    assert all(a.status == "read" and a.engine.startswith("PP-OCR") for a in numeric)
    assert any(a.confidence >= 0.9 for a in numeric), [(a.given, a.confidence) for a in numeric]
    assert result.student_number == "27"
    assert result.answers["q19"].status == "blank" and result.answers["q19"].given is None
    assert result.answers["q20"].status == "free" and result.answers["q20"].crop.size > 0


def test_blank_sheet_from_a_pdf(tmp_path: Path, template: Template, recognizer: OcrRecognizer) -> None:
    path = tmp_path / "blank.pdf"
    render_pdf(template, path, copies=2)
    assert page_count(path) == 2
    result = read_sheet(path, template, recognizer, page_index=1)
    assert result.page_index == 1
    assert all(a.given is None for a in result.answers.values())
    assert {a.status for a in result.answers.values()} == {"blank", "free"}
    assert result.student_number is None


def test_several_marks_and_faint_marks_go_to_review(printed: np.ndarray, template: Template,
                                                   recognizer: OcrRecognizer) -> None:
    rng = np.random.default_rng(7)
    img = printed.copy()
    q1, q2 = template.question("q1"), template.question("q2")
    fill_box(img, q1.options[0].box_mm, rng)
    fill_box(img, q1.options[2].box_mm, rng)  # two marks on a single-choice question
    x, y, _w, h = q2.options[1].box_mm  # a faint smudge: neither empty nor marked
    cv2.line(img, (int((x + 3) * PX), int((y + h / 2) * PX)), (int((x + 8) * PX), int((y + h / 2) * PX)), 60, 4)
    result = read_sheet(camera(img, rng, 1.5), template, recognizer)
    a1, a2 = result.answers["q1"], result.answers["q2"]
    assert a1.status == "several" and a1.given == "AC" and a1.confidence < 0.9
    assert a2.status == "unclear" and a2.confidence < 0.9, a2.fills


def test_real_handwritten_digits_are_right_or_flagged(printed: np.ndarray, template: Template,
                                                      recognizer: OcrRecognizer) -> None:
    img = printed.copy()
    assert template.student_box_mm is not None
    if not paste_digits_png(img, template.student_box_mm, "27"):
        pytest.skip("opencv-doc is not installed: no digits.png (apt-get install opencv-doc)")
    result = read_sheet(camera(img, np.random.default_rng(3), -2.0), template, recognizer)
    assert result.student_number == "27" or result.student_confidence < 0.9
    assert result.student_crop is not None


def test_not_a_sheet_is_refused_with_a_reason(tmp_path: Path, template: Template, recognizer: OcrRecognizer) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (900, 700)).astype(np.uint8)
    with pytest.raises(RegistrationError):
        register(noise)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(UnreadableFile):
        read_sheet(bad, template, recognizer)
    with pytest.raises(UnreadableFile):
        load_page(tmp_path / "x.pdf") if (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4 broken") else None
