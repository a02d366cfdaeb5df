"""After the bell: the lesson report as JSON (the API), CSV (spreadsheets) and PDF (the PE office's file).

The PDF is drawn with fpdf2 primitives only (lines and text), no plotting library: the box has no
display server and little memory. Chinese needs a CJK font; when the system has none the PDF falls
back to English labels rather than printing empty boxes.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF

from appliance.features.smart_pe.alerts import AlertEngine
from appliance.features.smart_pe.lesson import LessonModel

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
CURVE_POINTS_MAX = 600


def _downsample(points: Sequence[tuple[int, Any]], n: int) -> list[list[Any]]:
    if len(points) <= n:
        return [list(p) for p in points]
    step = len(points) / n
    return [list(points[int(i * step)]) for i in range(n)]


def build_report(
    lesson_id: str, class_id: str | None, started_at: float, ended_at: float,
    model: LessonModel, alerts: AlertEngine, hrmax_source: dict[str, str],
) -> dict[str, Any]:
    """The report as data: class figures against the norms and one row per student."""
    c = model.config
    rows: list[dict[str, Any]] = []
    for tr in model.tracks.values():
        if not tr.info.band_id and tr.last_t is None:
            continue  # never wore a band in this lesson: nothing to report
        rec = next((r for r in reversed(tr.recoveries) if r.drop(0) is not None), None)
        avg = tr.avg_bpm
        rows.append({
            "student_id": tr.info.student_id, "label": tr.info.label, "hrmax": tr.info.hrmax,
            "hrmax_source": hrmax_source.get(tr.info.student_id, "tanaka"),
            "avg_bpm": None if avg is None else round(avg, 1), "peak_bpm": tr.peak,
            "density": round(tr.density, 3), "meets_individual_target": tr.density >= c.individual_density_target,
            "signal_s": round(tr.signal_s, 1),
            "minutes_per_zone": [round(s / 60, 2) for s in tr.zone_s],
            "recovery_1min": rec.drop(0) if rec else None, "recovery_2min": rec.drop(1) if rec else None,
            "alerts": alerts.count_by_student.get(tr.info.student_id, 0),
        })
    measured = [r for r in rows if r["signal_s"] > 0]
    curve_values = [v for _, v in model.class_curve if v is not None]
    if curve_values:
        class_avg: float | None = round(sum(curve_values) / len(curve_values), 1)
    elif measured:
        class_avg = round(sum(r["avg_bpm"] for r in measured) / len(measured), 1)
    else:
        class_avg = None
    density = model.class_density()
    lo, hi = c.target_bpm
    return {
        "lesson_id": lesson_id, "class_id": class_id, "started_at": started_at, "ended_at": ended_at,
        "date": datetime.fromtimestamp(started_at).strftime("%Y-%m-%d %H:%M"),
        "duration_s": round(model.elapsed_s, 1),
        "norms": {"group_density_target": c.group_density_target,
                  "individual_density_target": c.individual_density_target, "target_bpm": [lo, hi],
                  "density_definition": "pooled: moderate student-seconds / student-seconds with signal"},
        "class": {
            "students": len(rows), "avg_bpm": class_avg, "density": round(density, 3),
            "mean_individual_density": round(sum(r["density"] for r in measured) / len(measured), 3) if measured else 0.0,
            "in_target_share": model.class_figures()["in_target_share"],
            "meets_group_density": density >= c.group_density_target,
            "avg_in_target": class_avg is not None and lo <= class_avg <= hi,
            "students_meeting_individual_target": sum(1 for r in rows if r["meets_individual_target"]),
            "alerts": sum(alerts.count_by_student.values()), "effort_marks": len(model.marks),
        },
        "class_curve": _downsample(model.class_curve, CURVE_POINTS_MAX),
        "students": rows,
    }


def report_csv(report: dict[str, Any]) -> str:
    """One row per student and a final CLASS row, zone minutes as columns."""
    zones = len(report["students"][0]["minutes_per_zone"]) if report["students"] else 0
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["student_id", "label", "hrmax", "avg_bpm", "peak_bpm", "density", "meets_target",
                *[f"zone{i + 1}_min" for i in range(zones)], "recovery_1min", "recovery_2min", "alerts"])
    for r in report["students"]:
        w.writerow([r["student_id"], r["label"], r["hrmax"], r["avg_bpm"], r["peak_bpm"], r["density"],
                    int(r["meets_individual_target"]), *r["minutes_per_zone"], r["recovery_1min"],
                    r["recovery_2min"], r["alerts"]])
    k = report["class"]
    w.writerow(["CLASS", f"{k['students']} students", "", k["avg_bpm"], "", k["density"],
                int(k["meets_group_density"]), *[""] * zones, "", "", k["alerts"]])
    return out.getvalue()


class _Pdf:
    """fpdf2 with a CJK font when available, and the tiny chart primitive the report needs."""

    def __init__(self) -> None:
        self.pdf = FPDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        font = next((f for f in CJK_FONTS if f.exists()), None)
        self.cjk = False
        if font is not None:
            try:
                self.pdf.add_font("cjk", fname=str(font), collection_font_number=0)
                self.cjk = True
            except Exception:  # a broken font file must not cost the teacher the report
                self.cjk = False

    def font(self, size: float) -> None:
        self.pdf.set_font("cjk" if self.cjk else "helvetica", size=size)

    def t(self, zh: str, en: str) -> str:
        return f"{zh} / {en}" if self.cjk else en

    def label(self, label: str) -> str:
        return label if self.cjk else "#" + label.replace("号", "")

    def text(self, x: float, y: float, s: str, size: float = 10) -> None:
        self.font(size)
        self.pdf.text(x, y, s)

    def chart(self, x: float, y: float, w: float, h: float, points: Sequence[Sequence[Any]],
              band: tuple[float, float] | None = None, lo: float = 60, hi: float = 220) -> None:
        """A frame, an optional target band (dashed) and the curve, scaled to the box."""
        p = self.pdf
        p.set_draw_color(160, 160, 160)
        p.set_line_width(0.2)
        p.rect(x, y, w, h)
        pts = [(t, v) for t, v in points if v is not None]
        if not pts:
            return

        def yy(v: float) -> float:
            return y + h - (min(max(v, lo), hi) - lo) / (hi - lo) * h

        if band is not None:
            p.set_draw_color(60, 160, 60)
            p.set_dash_pattern(dash=1, gap=1)
            for v in band:
                p.line(x, yy(v), x + w, yy(v))
            p.set_dash_pattern()
        t_max = max(pts[-1][0], 1)
        p.set_draw_color(200, 40, 40)
        p.set_line_width(0.3)
        for (t0, v0), (t1, v1) in itertools.pairwise(pts):
            p.line(x + t0 / t_max * w, yy(v0), x + t1 / t_max * w, yy(v1))


def report_pdf(report: dict[str, Any], curves: dict[str, list[tuple[int, int]]]) -> bytes:
    """Page 1: title, class figures vs norms, class curve; then small curves, 3 x 6 students a page."""
    d = _Pdf()
    p = d.pdf
    k, n = report["class"], report["norms"]
    band = (float(n["target_bpm"][0]), float(n["target_bpm"][1]))
    p.add_page()
    d.text(15, 20, d.t("智慧体育课报告", "Smart PE lesson report"), 18)
    d.text(15, 28, f"{report['date']}  {report['lesson_id']}  {report['class_id'] or ''}  "
                   f"{round(report['duration_s'] / 60, 1)} min", 10)

    def ok(flag: bool) -> str:
        return d.t("达标", "met") if flag else d.t("未达标", "not met")

    lines = [
        f"{d.t('群体运动密度', 'Group exercise density')}: {k['density']:.0%}  (>= {n['group_density_target']:.0%})  "
        f"{ok(k['meets_group_density'])}",
        f"{d.t('平均心率', 'Class average')}: {k['avg_bpm'] or '-'} bpm  ({band[0]:.0f}-{band[1]:.0f})  {ok(k['avg_in_target'])}",
        f"{d.t('目标区间时间', 'Time in target band')}: {k['in_target_share']:.0%}",
        f"{d.t('个体密度达标', 'Individual density met')}: {k['students_meeting_individual_target']} / {k['students']}"
        f"  (>= {n['individual_density_target']:.0%})",
        f"{d.t('警报', 'Alerts')}: {k['alerts']}",
    ]
    for i, line in enumerate(lines):
        d.text(15, 40 + 7 * i, line, 11)
    d.text(15, 84, d.t("全班平均心率曲线", "Class average heart rate") + " (bpm)", 11)
    d.chart(15, 88, 180, 70, report["class_curve"], band)
    d.text(15, 163, "60", 7)
    d.text(15, 92, "220", 7)
    students = report["students"]
    per_page, cols, cw, ch = 18, 3, 58, 34
    for i, r in enumerate(students):
        if i % per_page == 0:
            p.add_page()
            d.text(15, 15, d.t("学生心率曲线", "Student heart rate curves"), 12)
        row, col = divmod(i % per_page, cols)
        x, y = 15 + col * (cw + 4), 22 + row * (ch + 12)
        d.text(x, y + 3, f"{d.label(r['label'])}  avg {r['avg_bpm'] or '-'}  peak {r['peak_bpm'] or '-'}  "
                         f"{r['density']:.0%}", 7)
        pts = _downsample(curves.get(r["student_id"], []), 150)
        d.chart(x, y + 5, cw, ch, pts, band)
    return bytes(p.output())


def write_report_files(reports_dir: Path, report: dict[str, Any], curves: dict[str, list[tuple[int, int]]]) -> dict[str, Path]:
    """JSON, CSV and PDF under ``data_dir/reports``; blocking (call through ``run_blocking``)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    base = reports_dir / report["lesson_id"]
    paths = {"json": base.with_suffix(".json"), "csv": base.with_suffix(".csv"), "pdf": base.with_suffix(".pdf")}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["csv"].write_text(report_csv(report), encoding="utf-8-sig")  # BOM: Excel on a school PC reads UTF-8
    paths["pdf"].write_bytes(report_pdf(report, curves))
    return paths
