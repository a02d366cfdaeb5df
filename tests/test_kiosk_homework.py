"""Pen homework (点阵笔作业) on the teachers' kiosk in a real headless Chromium.

Two ways in:
- against the real demo daemon (``test_homework_on_the_demo``): skips, with the reason, while the demo does
  not offer a ready ``homework`` feature (as test_kiosk_pe.py does for Smart PE);
- against a small stand-in that answers exactly as docs/api.md "Pen homework" says, with the bundled answer
  sheet and a simulated class writing fast (``test_homework_screens_on_the_api_contract``), so the screens are
  exercised whatever the state of the feature behind them.

Both walk the same path: the home tile opens the screen, live tiles fill as pens write, results appear, a
student's sheet shows its ink as SVG, a review item is resolved, and every touch target is at least 48 px.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from appliance.features.homework.template import Template, load_template

from conftest import ROOT, DemoProcess, free_port, get_json

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} for the kiosk browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
expect = sync_api.expect

VIEWPORT = {"width": 1920, "height": 1080}
MIN_TARGET_PX = 48
STATIC = ROOT / "kiosk_ui" / "static"
DEMO_SHEET = ROOT / "appliance" / "features" / "homework" / "templates" / "math-g4-u3-hw1.toml"


def homework_ready(base: str) -> bool:
    return any(f.get("id") == "homework" and f.get("state") == "ready" for f in get_json(base + "/api/features"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def small_targets(page: Any) -> list[dict[str, Any]]:
    return [t for t in page.evaluate(
        """() => Array.from(document.querySelectorAll('button, a, input, .tile, [role=button]'))
            .filter(el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden')
            .map(el => { const r = el.getBoundingClientRect();
                         return {what: el.id || el.className || el.tagName, text: el.innerText.trim().slice(0, 40),
                                 w: r.width, h: r.height}; })"""
    ) if t["w"] < MIN_TARGET_PX or t["h"] < MIN_TARGET_PX]


def assert_targets(page: Any, where: str) -> None:
    small = small_targets(page)
    assert not small, f"{where}: touch targets under {MIN_TARGET_PX} px: {small}"


def post(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# --------------------------------------------------------------------------------------------- the walk
def walk(browser: Any, base: str, shots: Path, *, picture: Path | None, collect_after_s: float) -> None:
    """The teacher's path through the homework screens; ``shots`` gets the live/results/sheet/review pictures."""
    context = browser.new_context(viewport=VIEWPORT, has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(base + "/")
        page.wait_for_selector("body[data-ready='1']")
        page.tap(".tile[data-feature='homework'][data-state='ready']")
        assert page.evaluate("location.hash") == "#/homework"
        expect(page.locator("#screen-homework")).to_be_visible()
        page.wait_for_selector("#hw-view-home .hw-new", timeout=15_000)
        assert_targets(page, "home")

        # an assignment of the bundled sheet for the current class: the one running, else a new one
        opened = page.locator("#hw-view-home .hw-card[data-state='open']")
        if opened.count():
            aid = opened.first.get_attribute("data-aid")
            opened.first.locator("[data-go]").tap()
        else:
            page.tap("#hw-view-home .hw-new")
            page.wait_for_selector("#hw-dialog .hw-tpl")
            assert_targets(page, "new-assignment dialog")
            page.locator("#hw-dialog .hw-tpl[data-tpl='math-g4-u3-hw1']").tap()
            if page.locator("#hw-dialog .hw-classbtn[aria-pressed='true']").count() == 0:
                page.locator("#hw-dialog .hw-classbtn").first.tap()
            page.tap("#hw-dialog [data-dlg='start']")
            page.wait_for_function("/^#\\/homework\\/a\\/[^/]+$/.test(location.hash)", timeout=10_000)
            aid = page.evaluate("decodeURIComponent(location.hash.split('/')[3])")
        assert aid
        live_hash = f"#/homework/a/{aid}"
        page.wait_for_function(f"location.hash === '{live_hash}' || location.hash === '{live_hash}/results'")

        # live tiles fill as the pens write; the counter follows
        if page.evaluate("location.hash") == live_hash:
            page.wait_for_selector(".hw-tile", timeout=15_000)
            assert page.locator(".hw-tile").count() >= 30
            page.wait_for_function(
                "document.querySelectorAll(\".hw-tile[data-state='writing'], .hw-tile[data-state='finished']\").length >= 10",
                timeout=90_000)
            counter = page.get_attribute("#hw-done", "data-done") or ""
            assert "/" in counter and page.locator("#hw-done").inner_text().startswith("已完成")
            assert_targets(page, "live")
            page.screenshot(path=str(shots / "kiosk-homework-live.png"))
            try:  # every pen finishes by itself, or the teacher collects after a while
                page.wait_for_function("location.hash.endsWith('/results')", timeout=collect_after_s * 1000)
            except sync_api.TimeoutError:
                # The class may have finished on its own just now (the collect button is gone then): only a
                # still-open assignment is collected by the teacher.
                if page.locator("#hw-live-close").is_visible():
                    page.tap("#hw-live-close")
                    expect(page.locator("#hw-live-close")).to_have_class("btn hw-big hw-close is-armed")
                    page.tap("#hw-live-close")
                page.wait_for_function("location.hash.endsWith('/results')", timeout=60_000)
        expect(page.locator(".hw-qbar").first).to_be_visible(timeout=30_000)

        # results: summary, distribution, per-question bars, students
        page.wait_for_function(
            "document.querySelectorAll('.hw-stud').length >= 30 && document.querySelectorAll('.hw-qbar').length >= 10",
            timeout=30_000)
        detail = get_json(f"{base}/api/homework/assignments/{aid}")
        assert detail["results_ready"] or detail["state"] == "closed"
        assert page.locator(".hw-dist-col").count() == 5
        assert_targets(page, "results")
        page.screenshot(path=str(shots / "kiosk-homework-results.png"))

        # a question's answers and who gave them
        page.locator(".hw-qbar").first.tap()
        page.wait_for_selector(".hw-ans .hw-chip", timeout=30_000)
        assert_targets(page, "question")
        page.screenshot(path=str(shots / "kiosk-homework-question.png"))
        page.tap(".hw-head [data-act='back']")
        page.wait_for_function("location.hash.endsWith('/results')")

        # a finished student's sheet: ink drawn as SVG polylines in the answer boxes, and the error book
        finished = [s for s in detail["students"] if s["state"] == "finished"]
        assert finished
        worst = min(finished, key=lambda s: s["score"] or 0)
        page.locator(f".hw-stud[data-go$='/s/{worst['student_id']}']").tap()
        page.wait_for_selector(".hw-acard svg.hw-ink polyline", timeout=15_000)
        strokes = page.evaluate(
            "Array.from(document.querySelectorAll('.hw-acard svg.hw-ink')).map(s => +s.dataset.strokes)")
        assert sum(strokes) > 0
        page.wait_for_selector(".hw-side .hw-eb-item, .hw-side .hw-empty-hint", timeout=15_000)
        assert_targets(page, "student sheet")
        page.screenshot(path=str(shots / "kiosk-homework-sheet.png"))

        # the review queue: pick the first reading (or key one in) and the item is gone on the server
        page.tap(".hw-navbtn[data-view='review']")
        page.wait_for_selector("#hw-view-review :is(.hw-rv-main, .hw-empty:not([data-loading]))", timeout=15_000)
        if page.locator("#hw-view-review .hw-rv-main").count():
            rid = page.get_attribute("#hw-view-review .hw-rv-main", "data-review")
            assert page.locator("#hw-view-review svg.hw-ink polyline").count() > 0
            assert_targets(page, "review")
            page.screenshot(path=str(shots / "kiosk-homework-review.png"))
            if page.locator("#hw-view-review .hw-alt").count():
                page.locator("#hw-view-review .hw-alt").first.tap()
            else:
                keys = page.locator("#hw-view-review .hw-keypad .hw-key[data-key]:not([data-key='del']):not([data-key='clear'])")
                if keys.count():
                    keys.first.tap()
                else:
                    page.fill("#hw-entry-input", "8")
                page.tap("#hw-view-review [data-act='review-submit']")
            page.wait_for_function(
                "rid => !document.querySelector(`#hw-view-review [data-review='${rid}']`)", arg=rid, timeout=10_000)
            left = get_json(base + "/api/homework/review")["items"]
            assert rid not in [str(i["review_id"]) for i in left]
        else:
            pytest.fail("no answer waited for review: the demo class should leave at least one doubtful reading")

        # weakness map, homework time and the pen roster open and keep their targets large
        for view, ready in (("weakness", ".hw-wk-row, .hw-none"), ("time", ".hw-tm-chart"),
                            ("roster", ".hw-rstu")):
            page.tap(f".hw-navbtn[data-view='{view}']")
            page.wait_for_selector(f"#hw-view-{view} :is({ready})", timeout=15_000)
            assert_targets(page, view)
            page.screenshot(path=str(shots / f"kiosk-homework-{view}.png"))

        # English, and back to Chinese
        page.tap(".lang-btn[data-lang='en']")
        expect(page.locator(".hw-title")).to_have_text("Pen homework")
        page.tap(".lang-btn[data-lang='zh']")
        expect(page.locator(".hw-title")).to_have_text("点阵笔作业")

        # the picture for the README: the live class (re-opened) or, once it is over, its results
        if picture is not None:
            page.evaluate(f"location.hash = '{live_hash}/results'")
            page.wait_for_selector(".hw-qbar")
            page.wait_for_timeout(300)
            page.evaluate("document.getElementById('toasts').innerHTML = ''")
            page.screenshot(path=str(picture))

        page.tap(".hw-head [data-act='back']")
        page.tap(".hw-head [data-act='back']")
        page.wait_for_function("location.hash === '#/' || location.hash === ''")
        expect(page.locator("#screen-home")).to_be_visible()

        assert not errors, errors
        foreign = [u for u in requests if not u.startswith(base + "/")]
        assert not foreign, foreign
    finally:
        context.close()


# --------------------------------------------------------------------------------------------- real demo
def pens_writing(base: str, within_s: float = 30.0) -> bool:
    """Whether the demo's simulated pens report or write within ``within_s`` (the feature can be up before them)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if get_json(base + "/api/homework/pens")["pens"]:
            return True
        for a in get_json(base + "/api/homework/assignments")["assignments"]:
            if a["state"] == "open" and any(
                    s["state"] != "not_started"
                    for s in get_json(f"{base}/api/homework/assignments/{a['assignment_id']}")["students"]):
                return True
        time.sleep(1.0)
    return False


@pytest.fixture(scope="module")
def hw_demo(demo_daemon: DemoProcess) -> DemoProcess:
    if not homework_ready(demo_daemon.url):
        pytest.skip("the demo has no ready homework feature yet (simulated pen class not wired into the demo)")
    if not pens_writing(demo_daemon.url):
        pytest.skip("the demo's homework feature is up but no pen reports or writes (the smartpen driver is not "
                    "running in the demo yet)")
    return demo_daemon


def test_homework_on_the_demo(browser: Any, hw_demo: DemoProcess, artifacts_dir: Path) -> None:
    # the README's picture is this one, copied to docs/images/kiosk-homework.png by hand (a test run leaves docs alone)
    walk(browser, hw_demo.url, artifacts_dir, picture=artifacts_dir / "kiosk-homework.png", collect_after_s=60)


# --------------------------------------------------------------------------------------------- the contract
DIGITS: dict[str, list[list[tuple[float, float]]]] = {  # a tiny stroke font on a 1 x 2 cell
    "0": [[(0, 0), (1, 0), (1, 2), (0, 2), (0, 0)]], "1": [[(0.5, 0), (0.5, 2)]],
    "2": [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 2), (1, 2)]], "3": [[(0, 0), (1, 0), (1, 2), (0, 2)], [(0, 1), (1, 1)]],
    "4": [[(0, 0), (0, 1), (1, 1)], [(1, 0), (1, 2)]], "5": [[(1, 0), (0, 0), (0, 1), (1, 1), (1, 2), (0, 2)]],
    "6": [[(1, 0), (0, 0), (0, 2), (1, 2), (1, 1), (0, 1)]], "7": [[(0, 0), (1, 0), (0.4, 2)]],
    "8": [[(0, 0), (1, 0), (1, 2), (0, 2), (0, 0)], [(0, 1), (1, 1)]], "9": [[(1, 1), (0, 1), (0, 0), (1, 0), (1, 2)]],
    ".": [[(0.4, 1.9), (0.5, 2)]], "/": [[(1, 0), (0, 2)]], "-": [[(0, 1), (1, 1)]],
}


def ink_for(text: str, box: tuple[float, float, float, float], rng: random.Random) -> list[list[list[float]]]:
    x, y, _w, h = box
    size = min(h * 0.3, 4.0)
    out = []
    cx = x + 4
    for ch in text:
        for stroke in DIGITS.get(ch, [[(0, 0), (1, 0.5), (0.2, 1.2), (1, 2)]]):
            out.append([[round(cx + px * size + rng.uniform(-0.2, 0.2), 2),
                         round(y + h * 0.25 + py * size + rng.uniform(-0.2, 0.2), 2)] for px, py in stroke])
        cx += size * 1.6
    return out


def tick(box: tuple[float, float, float, float]) -> list[list[list[float]]]:
    x, y, w, h = box
    return [[[x + w * 0.2, y + h * 0.5], [x + w * 0.45, y + h * 0.85], [x + w * 0.85, y + h * 0.15]]]


@dataclass
class Sheet:
    student_id: str
    label: str
    pen_id: str | None
    ability: float
    state: str = "not_started"
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        scores = [a["score"] for a in self.answers.values() if a["score"] is not None]
        return round(sum(scores), 2) if scores else None


@dataclass
class FakeAssignment:
    assignment_id: str
    class_id: str
    opened_at: float
    sheets: dict[str, Sheet]
    closed_at: float | None = None
    results_ready_at: float | None = None


class ContractFake:
    """docs/api.md "Pen homework" answered from memory, with a class whose pens write a sheet in seconds."""

    def __init__(self, template: Template, seed: int = 4) -> None:
        self.t = template
        self.rng = random.Random(seed)
        self.classes = {"demo-4-1": 45, "demo-4-2": 38}
        self.roster: dict[str, list[dict[str, Any]]] = {}
        for cls, n in self.classes.items():
            self.roster[cls] = [{"student_id": f"{cls}-s{i:02d}", "label": f"{i}号",
                                 "pen_id": None if i in (7, 23) else f"9C:7B:D2:{cls[-1]}0:{i // 16:02X}:{i % 16:02X}"}
                                for i in range(1, n + 1)]
        self.free_pens = ["9C:7B:D2:F0:00:01", "9C:7B:D2:F0:00:02"]
        self.assignments: dict[str, FakeAssignment] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.next_review = 1
        self.sockets: set[web.WebSocketResponse] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.overrides: list[dict[str, Any]] = []

    # -- simulation
    def answer_for(self, s: Sheet, q: Any) -> dict[str, Any]:
        right = self.rng.random() < s.ability
        box = tuple(q.box_mm)
        conf: float | None = None
        alts: list[list[Any]] = []
        if q.type in ("single_choice", "true_false"):
            labels = [o.label for o in q.options]
            given = q.answer if right else self.rng.choice([x for x in labels if x != q.answer])
            opt = next(o for o in q.options if o.label == given)
            ink = tick(tuple(opt.box_mm))
        elif q.type == "multiple_choice":
            given = q.answer if right else q.answer[:1]
            ink = [st for o in q.options if o.label in given for st in tick(tuple(o.box_mm))]
        elif q.type in ("numeric", "short_text"):
            given = q.answer if right else str(int(float(q.answer or "1") * 2 + 1)) if q.type == "numeric" else "长"
            conf = round(self.rng.uniform(0.93, 0.99), 2)
            if q.type == "numeric" and self.rng.random() < 0.12:
                conf = round(self.rng.uniform(0.45, 0.8), 2)
                alts = [[given[:-1] + "7" if given else "7", round(conf * 0.6, 2)], ["1" + given, round(conf * 0.3, 2)]]
            ink = ink_for(given if q.type == "numeric" else "xx", box, self.rng)
        else:  # free: the teacher grades it
            given = None
            ink = ink_for("abcab", box, self.rng)
        review = conf is not None and conf < 0.9
        score = None if review or q.type == "free" else (q.points if right else 0.0)
        if q.type == "free":
            score = round(q.points * s.ability)
        status = "review" if review else "graded"
        ans = {"question_id": q.id, "type": q.type, "given": given, "confidence": conf, "score": score,
               "points": q.points, "correct": None if review or q.type == "free" else right, "status": status,
               "ink": ink, "box_mm": list(q.box_mm), "alternatives": alts}
        return ans

    async def simulate(self, a: FakeAssignment) -> None:
        writers = [s for s in a.sheets.values() if s.pen_id]
        self.rng.shuffle(writers)

        async def one(s: Sheet, delay: float) -> None:
            await asyncio.sleep(delay)
            if a.closed_at is not None:
                return
            s.state = "writing"
            await self.progress(a, s)
            for q in self.t.questions:
                await asyncio.sleep(self.rng.uniform(0.12, 0.3))
                if a.closed_at is not None:
                    return
                if self.rng.random() < 0.04:
                    continue  # left blank
                ans = self.answer_for(s, q)
                s.answers[q.id] = ans
                if ans["status"] == "review":
                    self.reviews[self.next_review] = {"assignment_id": a.assignment_id, "student_id": s.student_id,
                                                      "question_id": q.id}
                    self.next_review += 1
                await self.progress(a, s)
            self.finish(s)
            await self.progress(a, s)
            await self.maybe_results(a)

        await asyncio.gather(*(one(s, 0.3 + i * 0.12) for i, s in enumerate(writers)))

    def finish(self, s: Sheet) -> None:
        s.state = "finished"
        for q in self.t.questions:
            if q.id not in s.answers:
                s.answers[q.id] = {"question_id": q.id, "type": q.type, "given": None, "confidence": None, "score": 0.0,
                                   "points": q.points, "correct": False, "status": "blank", "ink": [],
                                   "box_mm": list(q.box_mm), "alternatives": []}

    async def maybe_results(self, a: FakeAssignment) -> None:
        pens = [s for s in a.sheets.values() if s.pen_id or s.state != "not_started"]
        if a.results_ready_at is None and (a.closed_at is not None or all(s.state == "finished" for s in pens)):
            a.results_ready_at = time.time()
            await self.publish({"topic": "hw.results", "assignment_id": a.assignment_id, "summary": self.summary(a)})

    async def progress(self, a: FakeAssignment, s: Sheet) -> None:
        await self.publish({"topic": "hw.progress", "assignment_id": a.assignment_id, "student_id": s.student_id,
                            "label": s.label, "state": s.state, "answered": len(s.answers), "score": s.score})

    async def publish(self, msg: dict[str, Any]) -> None:
        msg["ts"] = time.time()
        for ws in list(self.sockets):
            try:
                await ws.send_json(msg)
            except ConnectionError:
                self.sockets.discard(ws)

    # -- views
    def summary(self, a: FakeAssignment) -> dict[str, Any]:
        sheets = list(a.sheets.values())
        scores = [s.score for s in sheets if s.state == "finished" and s.score is not None]
        return {"students": len(sheets), "not_started": sum(s.state == "not_started" for s in sheets),
                "writing": sum(s.state == "writing" for s in sheets),
                "finished": sum(s.state == "finished" for s in sheets),
                "mean_score": round(statistics.fmean(scores), 2) if scores else None,
                "median_score": round(statistics.median(scores), 2) if scores else None,
                "needs_review": sum(1 for s in sheets for x in s.answers.values() if x["status"] == "review")}

    def detail(self, a: FakeAssignment) -> dict[str, Any]:
        questions = []
        for q in self.t.questions:
            answers = [s.answers[q.id] for s in a.sheets.values() if q.id in s.answers]
            scored = [x for x in answers if x["score"] is not None]
            dist: dict[str, int] = {}
            for x in answers:
                if x["given"]:
                    dist[x["given"]] = dist.get(x["given"], 0) + 1
            questions.append({"id": q.id, "type": q.type, "points": q.points, "prompt": q.prompt, "answer": q.answer,
                              "answered": sum(1 for x in answers if x["status"] != "blank"),
                              "correct_rate": round(sum(x["score"] for x in scored) / (q.points * len(scored)), 3)
                              if scored else None, "distribution": dist,
                              "knowledge_points": list(q.knowledge_points)})
        return {"assignment_id": a.assignment_id, "template_id": self.t.id, "title": self.t.title,
                "subject": self.t.subject, "class_id": a.class_id, "state": "closed" if a.closed_at else "open",
                "max_points": self.t.max_points, "results_ready": a.results_ready_at is not None,
                "results_ready_at": a.results_ready_at, "summary": self.summary(a),
                "students": [{"student_id": s.student_id, "label": s.label, "state": s.state,
                              "answered": len(s.answers), "score": s.score,
                              "needs_review": sum(1 for x in s.answers.values() if x["status"] == "review"),
                              "active_s": 0.0, "elapsed_s": 0.0, "started_at": None, "finished_at": None}
                             for s in a.sheets.values()],
                "questions": questions}

    def list_row(self, a: FakeAssignment) -> dict[str, Any]:
        return {"assignment_id": a.assignment_id, "template_id": self.t.id, "title": self.t.title,
                "class_id": a.class_id, "state": "closed" if a.closed_at else "open", "opened_at": a.opened_at,
                "closed_at": a.closed_at, "finished": sum(s.state == "finished" for s in a.sheets.values()),
                "students": len(a.sheets)}

    # -- HTTP
    def app(self) -> web.Application:
        app = web.Application()
        r = app.router
        j = web.json_response

        def err(status: int, message: str) -> web.Response:
            return j({"error": message}, status=status)

        async def index(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(STATIC / "index.html")

        async def health(request: web.Request) -> web.Response:
            return j({"status": "ok", "components": {}, "boot_id": "fake-boot", "version": "0", "config_errors": []})

        async def status(request: web.Request) -> web.Response:
            return j({"time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "device": {"id": "fake", "school": "示范小学",
                      "classroom": "四年级一班"}, "lesson": None, "cloud": {"state": "not_configured", "queued": None},
                      "alerts": [], "safe_mode": False, "config_errors": [], "boot_id": "fake-boot"})

        async def features(request: web.Request) -> web.Response:
            return j([{"id": "homework", "title": {"zh": "点阵笔作业", "en": "Pen homework & exams"}, "icon": "✍️",
                       "state": "ready", "detail": None}])

        async def events(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(heartbeat=10)
            await ws.prepare(request)
            await ws.send_json({"topic": "hello", "boot_id": "fake-boot", "version": "0"})
            self.sockets.add(ws)
            try:
                async for _ in ws:
                    pass
            finally:
                self.sockets.discard(ws)
            return ws

        async def templates(request: web.Request) -> web.Response:
            t = self.t
            return j({"templates": [{"id": t.id, "title": t.title, "subject": t.subject, "grade": t.grade, "kind": t.kind,
                                     "questions": len(t.questions), "max_points": t.max_points,
                                     "page": ".".join(map(str, t.page.key()))}], "problems": []})

        async def roster(request: web.Request) -> web.Response:
            cls = request.query.get("class_id") or "demo-4-1"
            if cls not in self.roster:
                return err(404, f"no class {cls!r}")
            return j({"class_id": cls, "classes": sorted(self.roster), "students": self.roster[cls],
                      "unassigned_pens": self.free_pens})

        async def roster_assign(request: web.Request) -> web.Response:
            body = await request.json()
            for students in self.roster.values():
                me = next((s for s in students if s["student_id"] == body["student_id"]), None)
                if me is None:
                    continue
                other = next((s for s in students if s["pen_id"] == body["pen_id"]), None)
                if other is not None:
                    other["pen_id"] = me["pen_id"]
                elif me["pen_id"]:
                    self.free_pens.append(me["pen_id"])
                if body["pen_id"] in self.free_pens:
                    self.free_pens.remove(body["pen_id"])
                me["pen_id"] = body["pen_id"]
                return j({"ok": True, "swapped_with": other["student_id"] if other else None})
            return err(404, "no such student")

        async def open_assignment(request: web.Request) -> web.Response:
            body = await request.json()
            if body.get("template_id") != self.t.id or body.get("class_id") not in self.roster:
                return err(400, "unknown template or class")
            aid = f"hw-{len(self.assignments) + 1}"
            sheets = {s["student_id"]: Sheet(s["student_id"], s["label"], s["pen_id"], self.rng.uniform(0.45, 0.97))
                      for s in self.roster[body["class_id"]]}
            a = FakeAssignment(aid, body["class_id"], time.time(), sheets)
            self.assignments[aid] = a
            task = asyncio.get_running_loop().create_task(self.simulate(a))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return j({"assignment_id": aid})

        async def list_assignments(request: web.Request) -> web.Response:
            return j({"assignments": [self.list_row(a) for a in self.assignments.values()]})

        def find(request: web.Request) -> FakeAssignment:
            a = self.assignments.get(request.match_info["aid"])
            if a is None:
                raise web.HTTPNotFound(text=json.dumps({"error": "no such assignment"}), content_type="application/json")
            return a

        async def close(request: web.Request) -> web.Response:
            a = find(request)
            if a.closed_at is not None:
                return err(409, "作业已收回 / already collected")
            a.closed_at = time.time()
            for s in a.sheets.values():
                if s.state == "writing":
                    self.finish(s)
                    await self.progress(a, s)
            await self.maybe_results(a)
            return j({"ok": True})

        async def detail(request: web.Request) -> web.Response:
            return j(self.detail(find(request)))

        async def sheet(request: web.Request) -> web.Response:
            a = find(request)
            s = a.sheets.get(request.match_info["sid"])
            if s is None:
                return err(404, "no such student")
            answers = [{k: v for k, v in s.answers[q.id].items() if k != "alternatives"} if q.id in s.answers else
                       {"question_id": q.id, "type": q.type, "given": None, "confidence": None, "score": None,
                        "points": q.points, "correct": None, "status": "blank", "ink": [], "box_mm": list(q.box_mm)}
                       for q in self.t.questions]
            return j({"student_id": s.student_id, "label": s.label, "score": s.score, "max_points": self.t.max_points,
                      "answers": answers})

        async def errorbook(request: web.Request) -> web.Response:
            sid = request.match_info["sid"]
            items = []
            label = sid
            for a in self.assignments.values():
                s = a.sheets.get(sid)
                if s is None:
                    continue
                label = s.label
                for x in s.answers.values():
                    if x["score"] is not None and x["score"] < x["points"]:
                        q = self.t.question(x["question_id"])
                        items.append({"assignment_id": a.assignment_id, "title": self.t.title, "question_id": q.id,
                                      "prompt": q.prompt, "type": q.type, "given": x["given"],
                                      "correct_answer": q.answer or "", "score": x["score"], "points": q.points,
                                      "knowledge_points": list(q.knowledge_points), "ink": x["ink"],
                                      "box_mm": x["box_mm"], "at": a.opened_at})
            kps = sorted({kp for it in items for kp in it["knowledge_points"]})[:3]
            return j({"student_id": sid, "label": label, "items": items,
                      "suggestions": [{"bank_id": f"b-{kp}", "prompt": f"练习：{kp.split('.')[-1]} 一题",
                                       "knowledge_point": kp, "answer": "42"} for kp in kps]})

        async def weakness(request: web.Request) -> web.Response:
            cls = request.match_info["cls"]
            aid = request.query.get("assignment_id")
            lost: dict[str, list[float]] = {}
            wrong: dict[str, set[str]] = {}
            for a in self.assignments.values():
                if a.class_id != cls or (aid and a.assignment_id != aid):
                    continue
                for s in a.sheets.values():
                    for x in s.answers.values():
                        if x["score"] is None:
                            continue
                        share = 1 - x["score"] / x["points"]
                        for kp in self.t.question(x["question_id"]).knowledge_points:
                            lost.setdefault(kp, []).append(share)
                            if share > 0:
                                wrong.setdefault(kp, set()).add(s.student_id)
            every = [v for vs in lost.values() for v in vs]
            mean = statistics.fmean(every) if every else 0.0
            rows = [{"kp": kp, "error_rate": round(statistics.fmean(v), 3), "attempts": len(v),
                     "students_wrong": len(wrong.get(kp, ())), "vs_mean": round(statistics.fmean(v) - mean, 3)}
                    for kp, v in lost.items()]
            rows.sort(key=lambda r: -r["error_rate"])
            return j({"class_id": cls, "class_mean_error_rate": round(mean, 3), "knowledge_points": rows})

        async def review(request: web.Request) -> web.Response:
            items = []
            for rid, ref in self.reviews.items():
                a = self.assignments[ref["assignment_id"]]
                s = a.sheets[ref["student_id"]]
                x = s.answers[ref["question_id"]]
                q = self.t.question(ref["question_id"])
                items.append({"review_id": rid, "assignment_id": a.assignment_id, "student_id": s.student_id,
                              "label": s.label, "question_id": q.id, "type": q.type, "prompt": q.prompt,
                              "recognised": x["given"], "confidence": x["confidence"],
                              "alternatives": x["alternatives"], "ink": x["ink"], "box_mm": x["box_mm"]})
            return j({"items": items})

        async def review_resolve(request: web.Request) -> web.Response:
            rid = int(request.match_info["rid"])
            body = await request.json()
            ref = self.reviews.pop(rid, None)
            if ref is None:
                return err(404, "no such review item")
            if not isinstance(body.get("value"), str) or not body["value"]:
                return err(400, "value must be a string")
            a = self.assignments[ref["assignment_id"]]
            s = a.sheets[ref["student_id"]]
            x = s.answers[ref["question_id"]]
            q = self.t.question(ref["question_id"])
            right = body["value"] == q.answer
            x.update(given=body["value"], status="graded", correct=right, score=q.points if right else 0.0)
            await self.progress(a, s)
            return j({"ok": True, "score": x["score"]})

        async def override(request: web.Request) -> web.Response:
            body = await request.json()
            a = self.assignments.get(body.get("assignment_id", ""))
            if a is None or body.get("student_id") not in a.sheets:
                return err(404, "no such sheet")
            s = a.sheets[body["student_id"]]
            x = s.answers.get(body.get("question_id", ""))
            if x is None or not isinstance(body.get("score"), int | float) or not 0 <= body["score"] <= x["points"]:
                return err(400, "score must be between 0 and the question's points")
            x.update(score=float(body["score"]), status="overridden")
            self.overrides.append(body)
            await self.progress(a, s)
            return j({"ok": True, "total": s.score})

        async def workload(request: web.Request) -> web.Response:
            cls = request.query.get("class_id") or "demo-4-1"
            rng = random.Random(cls)
            today = time.strftime("%Y-%m-%d")
            days = [{"date": time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400 * (6 - i))),
                     "students": 43, "mean_minutes": rng.randint(35, 55), "p90_minutes": rng.randint(50, 75),
                     "over_limit": rng.randint(0, 6)} for i in range(7)]
            days[-1]["date"] = today
            students = [{"student_id": s["student_id"], "label": s["label"],
                         "today_active_minutes": rng.randint(30, 75), "today_elapsed_minutes": rng.randint(40, 95),
                         "over_limit": False} for s in self.roster[cls]]
            for s in students:
                s["over_limit"] = s["today_active_minutes"] > 60
            return j({"class_id": cls, "grade": 4, "limit_minutes": 60, "days": days, "students": students,
                      "by_subject": [{"subject": "math", "mean_minutes": 24}, {"subject": "chinese", "mean_minutes": 18},
                                     {"subject": "english", "mean_minutes": 9}]})

        async def pens(request: web.Request) -> web.Response:
            return j({"pens": [], "problems": []})

        r.add_get("/", index)
        r.add_static("/static/", STATIC)
        r.add_get("/api/health", health)
        r.add_get("/api/status", status)
        r.add_get("/api/features", features)
        r.add_get("/api/events", events)
        r.add_get("/api/homework/templates", templates)
        r.add_get("/api/homework/roster", roster)
        r.add_post("/api/homework/roster/assign", roster_assign)
        r.add_post("/api/homework/assignments", open_assignment)
        r.add_get("/api/homework/assignments", list_assignments)
        r.add_post("/api/homework/assignments/{aid}/close", close)
        r.add_get("/api/homework/assignments/{aid}", detail)
        r.add_get("/api/homework/assignments/{aid}/students/{sid}", sheet)
        r.add_get("/api/homework/students/{sid}/errorbook", errorbook)
        r.add_get("/api/homework/classes/{cls}/weakness", weakness)
        r.add_get("/api/homework/review", review)
        r.add_post("/api/homework/review/{rid}", review_resolve)
        r.add_post("/api/homework/override", override)
        r.add_get("/api/homework/workload", workload)
        r.add_get("/api/homework/pens", pens)
        return app


@pytest.fixture(scope="module")
def contract_fake() -> Iterator[tuple[str, ContractFake]]:
    fake = ContractFake(load_template(DEMO_SHEET))
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(fake.app())

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="hw-contract-fake", daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"http://127.0.0.1:{port}", fake
    finally:
        async def stop() -> None:
            for task in list(fake.tasks):
                task.cancel()
            for ws in list(fake.sockets):
                await ws.close()
            await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_homework_screens_on_the_api_contract(browser: Any, contract_fake: tuple[str, ContractFake],
                                             artifacts_dir: Path) -> None:
    base, fake = contract_fake
    shots = artifacts_dir / "homework-contract"
    shots.mkdir(exist_ok=True)
    walk(browser, base, shots, picture=None, collect_after_s=30)
    assert fake.assignments and all(a.results_ready_at for a in fake.assignments.values())


def test_override_keypad_and_roster_swap(browser: Any, contract_fake: tuple[str, ContractFake]) -> None:
    base, fake = contract_fake
    if not fake.assignments:
        status, body = post(base + "/api/homework/assignments", {"template_id": "math-g4-u3-hw1", "class_id": "demo-4-1"})
        assert status == 200, body
    aid = next(iter(fake.assignments))
    a = fake.assignments[aid]
    deadline = time.monotonic() + 30
    while not any(s.state == "finished" for s in a.sheets.values()):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sid = next(s.student_id for s in a.sheets.values() if s.state == "finished")
    context = browser.new_context(viewport=VIEWPORT, has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{base}/#/homework/a/{aid}/s/{sid}")
        page.wait_for_selector(".hw-acard .hw-override")
        page.locator(".hw-acard[data-qid='q20'] .hw-override").tap()
        page.wait_for_selector("#hw-dialog .hw-score-keys")
        assert_targets(page, "override dialog")
        expect(page.locator("#hw-dialog [data-dlg='override']")).to_be_disabled()
        page.locator("#hw-dialog .hw-key[data-score='7']").tap()
        page.locator("#hw-dialog .hw-reason[data-reason='steps']").tap()
        page.tap("#hw-dialog [data-dlg='override']")
        expect(page.locator("#hw-dialog")).to_be_hidden()
        page.wait_for_selector(".hw-acard[data-qid='q20'] .hw-tag")
        assert fake.overrides[-1] == {"assignment_id": aid, "student_id": sid, "question_id": "q20", "score": 7,
                                      "reason": "给步骤分", "by": "teacher"}

        # roster: a student without a pen takes a free one; two students swap
        page.goto(f"{base}/#/homework/roster")
        page.wait_for_selector(".hw-rstu[data-nopen='1']")
        nopen = page.locator(".hw-rstu[data-nopen='1']").first.get_attribute("data-pick")
        page.locator(f".hw-rstu[data-pick='{nopen}']").tap()
        page.locator(".hw-freepen").first.tap()
        page.wait_for_function(f"!document.querySelector(\".hw-rstu[data-pick='{nopen}'][data-nopen]\")")
        page.locator(".hw-rstu[data-pick='demo-4-1-s01']").tap()
        page.locator(".hw-rstu[data-pick='demo-4-1-s02']").tap()
        expect(page.locator(".toast").last).to_contain_text("已互换")
        pens = {s["student_id"]: s["pen_id"] for s in fake.roster["demo-4-1"]}
        assert pens["demo-4-1-s01"].endswith(":00:02") and pens["demo-4-1-s02"].endswith(":00:01")

        # a refused command shows the server's error as a toast, and the item stays
        page.goto(f"{base}/#/homework/review")
        page.wait_for_selector("#hw-view-review .hw-rv-main")
        rid = page.get_attribute("#hw-view-review .hw-rv-main", "data-review")
        page.route("**/api/homework/review/*", lambda route: route.fulfill(
            status=409, content_type="application/json",
            body=json.dumps({"error": "这条已由其他老师复核 / already resolved by another teacher"})))
        page.locator("#hw-view-review .hw-keypad .hw-key").first.tap()
        page.tap("#hw-view-review [data-act='review-submit']")
        toast = page.locator(".toast[data-kind='error']").last
        expect(toast).to_contain_text("already resolved by another teacher")
        expect(page.locator(f"#hw-view-review [data-review='{rid}']")).to_be_visible()
        expect(page.locator("#hw-view-review [data-act='review-submit']")).not_to_have_class(re.compile("is-busy"))
        assert not errors, errors
    finally:
        context.close()
