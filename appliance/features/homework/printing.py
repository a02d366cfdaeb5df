"""Printable answer sheets: a template drawn as a PDF (for the printer) or as an image (for tests and previews).

What goes on the page, and why:

* four solid corner squares and a small key square beside the top-left one
  (:mod:`models.sheets` finds them in a scan or photo to undo rotation, perspective and scale, and the key
  tells an upside-down page from an upright one);
* each question's prompt, left of its box, shrunk to fit the box's height;
* answer boxes (numeric, short text, free) as thin rectangles the pupil writes inside;
* option boxes for choice questions with their label just left of the box, never inside it, so an empty
  box is empty paper and the fill ratio of a marked one is the pupil's ink alone;
* the 学号 box, the submit box, the title, and the Ncode page address and template id in the footer.

The pen's dot pattern is printed by the pen vendor's tool on top of this layout; geometry here is exactly
the template's (mm from the top-left corner), so pen and scanner read the same boxes.
Blocking (fpdf2 and pdfium): a page takes tens of milliseconds; call it from an executor in the daemon.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

import numpy as np
from fpdf import FPDF

from appliance.features.homework.template import CHOICE_TYPES, Template
from models.sheets import MARK_MM, corner_marks_mm, key_square_mm
from models.sheets.files import pdf_pages

log = logging.getLogger("classroom.homework.printing")

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),  # Debian fonts-wqy-microhei
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
LINE_MM = 0.3
PROMPT_LEFT_MM = 14.0
LABEL_GAP_MM = 1.2


def _pdf(template: Template) -> tuple[FPDF, bool]:
    w, h = template.page.size_mm
    pdf = FPDF(orientation="P", unit="mm", format=(w, h))
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    font = next((f for f in CJK_FONTS if f.exists()), None)
    if font is None:
        log.warning("no CJK font found (install fonts-wqy-microhei): Chinese prompts print as '?'")
        return pdf, False
    pdf.add_font("cjk", fname=str(font), collection_font_number=0)
    return pdf, True


def _text(pdf: FPDF, cjk: bool, s: str) -> str:
    return s if cjk else s.encode("latin-1", "replace").decode("latin-1")


def _fit_font(pdf: FPDF, cjk: bool, text: str, width: float, height: float, start_pt: float = 10.0) -> tuple[float, list[str]]:
    """The largest size (down to 5 pt) at which ``text`` wraps into ``width`` x ``height`` mm, and its lines."""
    size = start_pt
    while True:
        pdf.set_font("cjk" if cjk else "helvetica", size=size)
        lines = cast(list[str], pdf.multi_cell(width, size * 0.42, text, dry_run=True, output="LINES"))
        if len(lines) * size * 0.42 <= height or size <= 5.0:
            return size, [str(x) for x in lines]
        size -= 0.5


def draw_page(pdf: FPDF, cjk: bool, template: Template) -> None:
    """One sheet on a new page of ``pdf``."""
    w, h = template.page.size_mm
    pdf.add_page()
    pdf.set_draw_color(0)
    pdf.set_fill_color(0)
    pdf.set_text_color(0)
    pdf.set_line_width(LINE_MM)
    font = "cjk" if cjk else "helvetica"

    # registration: four solid squares and the orientation key
    for cx, cy in corner_marks_mm((w, h)):
        pdf.rect(cx - MARK_MM / 2, cy - MARK_MM / 2, MARK_MM, MARK_MM, style="F")
    kx, ky, kw, kh = key_square_mm((w, h))
    pdf.rect(kx, ky, kw, kh, style="F")

    # title, left of the 学号 box
    right_limit = (template.student_box_mm[0] - 12.0) if template.student_box_mm else w - 20.0
    title_x = kx + kw + 4.0
    size, _ = _fit_font(pdf, cjk, template.title, right_limit - title_x, 6.0, 14.0)
    pdf.set_font(font, size=size)
    pdf.text(title_x, 11.0, _text(pdf, cjk, template.title))
    pdf.set_font(font, size=8)
    sub = f"{template.subject} · {template.grade} 年级" + (
        f" · 约 {template.expected_minutes:g} 分钟" if template.expected_minutes else "")
    pdf.text(title_x, 16.0, _text(pdf, cjk, sub))

    if template.student_box_mm is not None:
        bx, by, bw, bh = template.student_box_mm
        pdf.rect(bx, by, bw, bh)
        pdf.set_font(font, size=10)
        label = "学号" if cjk else "No."
        pdf.text(bx - pdf.get_string_width(label) - LABEL_GAP_MM - 0.5, by + bh / 2 + 1.5, label)

    for n, q in enumerate(template.questions, start=1):
        bx, by, bw, bh = q.box_mm
        prompt = f"{n}. {q.prompt}" if q.prompt else f"{n}."
        width = bx - PROMPT_LEFT_MM - 2.0
        size, lines = _fit_font(pdf, cjk, _text(pdf, cjk, prompt), width, bh)
        pdf.set_font(font, size=size)
        line_h = size * 0.42
        top = by + (bh - len(lines) * line_h) / 2
        for i, line in enumerate(lines):
            pdf.text(PROMPT_LEFT_MM, top + (i + 0.8) * line_h, line)
        if q.type in CHOICE_TYPES:
            pdf.set_font(font, size=10)
            for o in q.options:
                ox, oy, ow, oh = o.box_mm
                pdf.rect(ox, oy, ow, oh)
                label = _text(pdf, cjk, o.label)
                pdf.text(ox - pdf.get_string_width(label) - LABEL_GAP_MM, oy + oh / 2 + 1.3, label)
        else:
            pdf.rect(bx, by, bw, bh)

    if template.submit_box_mm is not None:
        sx, sy, sw, sh = template.submit_box_mm
        pdf.rect(sx, sy, sw, sh)
        pdf.set_font(font, size=9)
        label = "写完请在框内打√" if cjk else "Done: tick the box"
        pdf.text(sx - pdf.get_string_width(label) - LABEL_GAP_MM - 0.5, sy + sh / 2 + 1.2, label)

    p = template.page
    pdf.set_font(font, size=7)
    footer = f"{template.id} · 页面 {p.section}.{p.owner}.{p.note}.{p.page}"
    pdf.text(kx, h - MARK_MARGIN_BOTTOM_MM, _text(pdf, cjk, footer))


MARK_MARGIN_BOTTOM_MM = 7.0


def render_pdf(template: Template, path: Path | None = None, copies: int = 1) -> bytes:
    """The sheet as PDF bytes (``copies`` identical pages), also written to ``path`` when given."""
    pdf, cjk = _pdf(template)
    for _ in range(max(copies, 1)):
        draw_page(pdf, cjk, template)
    data = bytes(pdf.output())
    if path is not None:
        path.write_bytes(data)
    return data


def render_image(template: Template, dpi: float = 200.0) -> np.ndarray:
    """The printed sheet as a uint8 grey image (the PDF rasterised by pdfium, so it is exactly what prints)."""
    return pdf_pages(render_pdf(template), dpi)[0]
