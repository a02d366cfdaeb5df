"""Fitness counting (体测计数) on the teachers' kiosk in a real headless Chromium, against a real daemon.

The daemon runs ``classroom run`` with one playground camera played from OpenCV's ``vtest.avi`` (real pedestrians
the pose model finds) and one that never answers (the kiosk's banner names it), one squat station, and a grade-5 class seeded into the store (the PE roster, with
last term's fitness tests). The walk: the station view shows the camera picture and the skeleton overlay, a
student is picked, start counts down and the timer runs, stop shows the result, the teacher corrects the count
and saves a clip; a new station is drawn on the picture (checked through the API) and deleted; the results table
renders and a hand-measured item entered on the number pad gets its score; a student's archive opens. Every
touch target is at least 48 px, at 1920x1080 and at 1280x800.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, free_port, get_json, wait_for

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} for the kiosk browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
tomli_w = pytest.importorskip("tomli_w")
expect = sync_api.expect

VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CLASS = "fit-5-1"
SIZES = ({"width": 1920, "height": 1080}, {"width": 1280, "height": 800})
MIN_TARGET_PX = 48
SLOW = 60_000  # a loaded 2-core box decodes, runs the pose model and serves the kiosk at once


def pose_models_ready() -> bool:
    try:
        from models.pose.weights import model_paths

        model_paths()
    except Exception:
        return False
    return True


class FitnessDaemon:
    """``classroom run`` with one camera from a video file, one station and a seeded class."""

    def __init__(self, data_dir: Path) -> None:
        from appliance.features.fitness.demo_seed import seed_demo_archive
        from appliance.features.smart_pe.roster import seed_demo_class
        from appliance.store import Store

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        store = Store(data_dir / "classroom.db")
        try:
            store.call(lambda db: seed_demo_class(db, [], students=12, class_id=CLASS))
            store.call(lambda db: seed_demo_archive(db, CLASS, date.today()))
        finally:
            store.close()
        config = {
            "schema_version": 1,
            "device": {"data_dir": str(data_dir), "school": "示范小学", "classroom": "操场"},
            "api": {"port": self.port},
            "drivers": {"cameras": {"sources": [
                {"id": "mats", "name": "垫子区", "url": str(VIDEO), "loop": True},
                # a camera that never answers: the kiosk says which one and to call the technician
                {"id": "gate", "name": "校门", "url": str(data_dir / "no-such-camera.mp4")},
            ]}},
            "features": {"fitness": {
                "enabled": True, "max_fps": 6.0, "test_seconds": 20, "countdown_s": 3,
                "stations": [{"id": "mat-1", "name": "1号垫", "camera": "mats", "exercise": "squat",
                              "region": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
            }},
        }
        path = data_dir / "classroom.toml"
        path.write_text(tomli_w.dumps(config), encoding="utf-8")
        self.log_path = data_dir / "daemon.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--config", str(path)],
                                     cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def state(self) -> dict[str, Any]:
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
        return get_json(self.url + "/api/fitness/state?class_id=" + CLASS, timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="module")
def fitness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FitnessDaemon]:
    if not VIDEO.exists():
        pytest.skip(f"no test video at {VIDEO} (apt install opencv-doc)")
    daemon = FitnessDaemon(tmp_path_factory.mktemp("fitness"))
    try:
        # up, with the camera live and a picture to show
        wait_for(lambda: any(c["state"] == "live" for c in daemon.state()["cameras"]), timeout=90, interval=0.5)
        wait_for(lambda: http_status(daemon.url + "/api/fitness/cameras/mats/snapshot.jpg") == 200, timeout=60)
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def small_targets(page: Any) -> list[dict[str, Any]]:
    """Visible touch targets under 48 px inside the fitness screen and its dialog (the status bar is not ours)."""
    return [t for t in page.evaluate(
        """() => Array.from(document.querySelectorAll(
                '#screen-fitness :is(button, a, input, [role=button]), #fit-dialog :is(button, a, input)'))
            .filter(el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden')
            .map(el => { const r = el.getBoundingClientRect();
                         return {what: el.id || el.className || el.tagName, text: el.innerText.trim().slice(0, 40),
                                 w: r.width, h: r.height}; })"""
    ) if t["w"] < MIN_TARGET_PX or t["h"] < MIN_TARGET_PX]


def assert_targets(page: Any, where: str) -> None:
    small = small_targets(page)
    assert not small, f"{where}: touch targets under {MIN_TARGET_PX} px: {small}"


def open_page(browser: Any, base: str, viewport: dict[str, int], hash_: str = "#/") -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport=viewport, has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/" + hash_)
    page.wait_for_selector("body[data-ready='1']")
    return context, page, errors


def tap_at(page: Any, selector: str, fx: float, fy: float) -> None:
    box = page.locator(selector).bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def hide_toasts(page: Any) -> None:
    page.evaluate("document.getElementById('toasts').innerHTML = ''")


# --------------------------------------------------------------------------------------------- station
def test_station_counts_a_student(browser: Any, fitness: FitnessDaemon, artifacts_dir: Path) -> None:
    base = fitness.url
    context, page, errors = open_page(browser, base, SIZES[0])
    try:
        page.wait_for_selector(".tile[data-feature='fitness'][data-route]", timeout=SLOW)
        page.tap(".tile[data-feature='fitness'][data-route]")
        assert page.evaluate("location.hash") == "#/fitness"
        page.wait_for_selector("#fit-station[data-station='mat-1']", timeout=SLOW)
        expect(page.locator(".fit-title")).to_have_text("体测计数")
        # the dead camera is named, with whom to call
        banner = page.locator("#fit-banner .fit-banner-line[data-camera='gate']")
        expect(banner).to_be_visible(timeout=SLOW)
        expect(banner).to_contain_text("校门")
        expect(page.locator("#fit-banner")).to_contain_text("技术人员")
        # the picture refreshes a few times a second; the region and (with the pose models) skeletons are drawn
        page.wait_for_function("+document.getElementById('fit-img').dataset.frames >= 3", timeout=SLOW)
        if pose_models_ready():
            page.wait_for_function("+(document.getElementById('fit-canvas').dataset.drawn || 0) >= 2", timeout=SLOW)
        assert_targets(page, "station")

        # who stands at the station: a big button per student of the class
        page.tap("#fit-who")
        page.wait_for_selector("#fit-dialog .fit-pick")
        assert_targets(page, "student picker")
        first = page.locator("#fit-dialog .fit-pick").first
        sid, label = first.get_attribute("data-pick"), first.inner_text()
        assert label.endswith("号")
        first.tap()
        expect(page.locator("#fit-dialog")).to_be_hidden()
        wait_for(lambda: next(s for s in fitness.state()["stations"] if s["station_id"] == "mat-1")["student_id"] == sid,
                 timeout=15)
        expect(page.locator("#fit-who .fit-who-v")).to_have_text(label)

        # start signal: 3-2-1, then the timer runs
        page.tap(".fit-mode[data-mode='test']")
        expect(page.locator(".fit-mode[data-mode='test']")).to_have_attribute("aria-pressed", "true")
        page.tap("#fit-start")
        page.wait_for_selector("#fit-station[data-session='countdown']", timeout=15_000)
        expect(page.locator("#fit-cd")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "kiosk-fitness-countdown.png"))
        page.wait_for_selector("#fit-station[data-session='running']", timeout=SLOW)
        first_time = page.inner_text("#fit-timer")
        page.wait_for_function("t => document.getElementById('fit-timer').textContent !== t", arg=first_time,
                               timeout=15_000)
        assert page.get_attribute("#fit-timer", "data-state") == "running"
        hide_toasts(page)
        page.screenshot(path=str(artifacts_dir / "kiosk-fitness-station.png"))
        assert_targets(page, "running")

        # stop: the result, then the teacher's own count replaces the machine's
        page.tap("#fit-stop")
        page.wait_for_selector("#fit-station[data-session='finished'] #fit-result[data-result]:not([data-result=''])",
                               timeout=SLOW)
        expect(page.locator("#fit-res-count")).to_have_text(re.compile(r"^\d+$"))
        assert_targets(page, "result")
        page.tap("#fit-result [data-act='correct']")
        page.wait_for_selector("#fit-dialog .fit-key")
        assert_targets(page, "number pad")
        for key in "17":
            page.tap(f"#fit-dialog .fit-key[data-key='{key}']")
        expect(page.locator("#fit-pad-v")).to_have_text("17")
        page.tap("#fit-pad-ok")
        expect(page.locator("#fit-res-count")).to_have_text("17", timeout=15_000)

        # a clip of the last seconds with the count the teacher saw
        if page.locator("#fit-result [data-act='clip']").count():
            page.tap("#fit-result [data-act='clip']")
            page.wait_for_selector("#fit-dialog .fit-key")
            page.tap("#fit-dialog .fit-key[data-key='9']")
            page.tap("#fit-pad-ok")
            expect(page.locator("#fit-dialog")).to_be_hidden(timeout=30_000)
            clips = wait_for(lambda: get_json(base + "/api/fitness/clips", timeout=10), timeout=30)
            assert any(c["observed_count"] == 9 and c["station_id"] == "mat-1" for c in clips), clips
        hide_toasts(page)
        page.screenshot(path=str(artifacts_dir / "kiosk-fitness-result.png"))

        # next student: the result is put away and the picker opens
        page.tap("#fit-result [data-act='next']")
        page.wait_for_selector("#fit-dialog .fit-pick")
        page.tap("#fit-dialog [data-dlg='close']")
        page.wait_for_selector("#fit-station[data-session='none']")

        # English, and back
        page.tap(".lang-btn[data-lang='en']")
        expect(page.locator(".fit-title")).to_have_text("Fitness counting")
        assert_targets(page, "station (English)")
        page.tap(".lang-btn[data-lang='zh']")
        expect(page.locator(".fit-title")).to_have_text("体测计数")
        assert not errors, errors
    finally:
        context.close()


# --------------------------------------------------------------------------------------------- drawing
def test_draw_and_delete_a_station(browser: Any, fitness: FitnessDaemon, artifacts_dir: Path) -> None:
    base = fitness.url
    before = {s["station_id"] for s in fitness.state()["stations"]}
    context, page, errors = open_page(browser, base, SIZES[1], "#/fitness/draw")
    try:
        page.wait_for_selector("#fit-dside .fit-chip[data-dex='rope_skip']", timeout=SLOW)
        page.wait_for_function("+document.getElementById('fit-dimg').dataset.frames >= 1", timeout=SLOW)
        corners = ((0.15, 0.3), (0.45, 0.3), (0.45, 0.9), (0.15, 0.9))
        for n, (fx, fy) in enumerate(corners, start=1):
            tap_at(page, "#fit-dstage", fx, fy)
            expect(page.locator("#fit-dstage")).to_have_attribute("data-points", str(n))
        expect(page.locator("#fit-dsave")).to_be_enabled()
        page.tap("#fit-dside .fit-chip[data-dex='rope_skip']")
        page.locator("#fit-dside .fit-chip[data-dname]").first.tap()
        name = page.input_value("#fit-dname")
        assert name
        assert_targets(page, "draw")
        page.screenshot(path=str(artifacts_dir / "kiosk-fitness-draw.png"))
        page.tap("#fit-dsave")
        page.wait_for_function("/^#\\/fitness\\/s\\/.+/.test(location.hash)", timeout=15_000)
        new_id = page.evaluate("decodeURIComponent(location.hash.split('/')[3])")
        assert new_id not in before
        made = next(s for s in fitness.state()["stations"] if s["station_id"] == new_id)
        assert made["name"] == name and made["exercise"] == "rope_skip" and made["camera"] == "mats"
        assert len(made["region"]) == 4
        for (x, y), (fx, fy) in zip(made["region"], corners, strict=True):
            assert abs(x - fx) < 0.02 and abs(y - fy) < 0.02
        # two stations: the head shows a picker
        page.wait_for_selector(f".fit-stab[data-station='{new_id}'][aria-pressed='true']")
        assert page.locator(".fit-stab").count() == 2

        # edit it, delete it (with a confirmation)
        page.tap("#fit-edit")
        page.wait_for_selector("#fit-ddelete")
        page.tap("#fit-ddelete")
        page.wait_for_selector("#fit-dialog [data-dlg='delete']")
        assert_targets(page, "delete confirmation")
        page.tap("#fit-dialog [data-dlg='delete']")
        page.wait_for_function("location.hash === '#/fitness'", timeout=15_000)
        wait_for(lambda: new_id not in {s["station_id"] for s in fitness.state()["stations"]}, timeout=15)
        assert not errors, errors
    finally:
        context.close()


# --------------------------------------------------------------------------------------------- results
def test_results_manual_entry_and_archive(browser: Any, fitness: FitnessDaemon, artifacts_dir: Path) -> None:
    base = fitness.url
    for n, viewport in enumerate(SIZES):
        context, page, errors = open_page(browser, base, viewport, "#/fitness/results")
        try:
            page.wait_for_selector(f".fit-chip[data-rclass='{CLASS}']", timeout=SLOW)
            if page.get_attribute(f".fit-chip[data-rclass='{CLASS}']", "aria-pressed") != "true":
                page.tap(f".fit-chip[data-rclass='{CLASS}']")
            page.wait_for_selector(".fit-table tbody tr .fit-cell", timeout=SLOW)
            results = get_json(f"{base}/api/fitness/results?class_id={CLASS}", timeout=10)
            assert page.locator(".fit-table tbody tr").count() == len(results["rows"]) == 12
            assert page.locator(".fit-rating[data-rating]").count() >= 12
            assert_targets(page, f"results {viewport['width']}")
            page.screenshot(path=str(artifacts_dir / f"kiosk-fitness-results-{viewport['width']}.png"))

            if n == 0:
                # a hand-measured item on the number pad: 坐位体前屈 15.5 cm
                row = results["rows"][0]
                sid = row["student_id"]
                page.tap(f".fit-cell[data-sid='{sid}'][data-item='sit_and_reach']")
                page.wait_for_selector("#fit-dialog .fit-key[data-key='.']")
                for key in ("1", "5", ".", "5"):
                    page.tap(f"#fit-dialog .fit-key[data-key='{key}']")
                expect(page.locator("#fit-pad-v")).to_have_text("15.5")
                page.tap("#fit-pad-ok")
                expect(page.locator("#fit-dialog")).to_be_hidden(timeout=15_000)
                cell = page.locator(f".fit-cell[data-sid='{sid}'][data-item='sit_and_reach'] .fit-cell-v")
                expect(cell).to_have_text("15.5", timeout=15_000)
                after = get_json(f"{base}/api/fitness/results?class_id={CLASS}", timeout=10)
                item = next(r for r in after["rows"] if r["student_id"] == sid)["items"]["sit_and_reach"]
                assert item["value"] == 15.5 and item["source"] == "manual" and item["score"] is not None
                expect(page.locator(f".fit-cell[data-sid='{sid}'][data-item='sit_and_reach'] .fit-cell-s")).to_contain_text(
                    f"{item['score']:g}分")

            # a student's archive across terms, with the prescription
            page.locator(".fit-stu").first.tap()
            page.wait_for_function("location.hash.indexOf('#/fitness/student/') === 0")
            page.wait_for_selector(".fit-arch-name", timeout=SLOW)
            sid = page.evaluate("decodeURIComponent(location.hash.split('/')[3])")
            archive = get_json(f"{base}/api/fitness/students/{sid}/archive", timeout=10)
            expect(page.locator(".fit-arch-name")).to_have_text(archive["label"])
            if archive["terms"]:
                expect(page.locator(".fit-chart .fit-ch-bar")).to_have_count(
                    sum(1 for tm in archive["terms"] if tm["total"]["total"] is not None))
            if archive["prescription"]:
                expect(page.locator(".fit-rx")).to_have_count(len(archive["prescription"]["advice"]))
            assert_targets(page, f"archive {viewport['width']}")
            page.screenshot(path=str(artifacts_dir / f"kiosk-fitness-archive-{viewport['width']}.png"))
            page.tap(".fit-head [data-act='back']")
            page.wait_for_function("location.hash === '#/fitness/results'")
            assert not errors, errors
        finally:
            context.close()


def test_station_view_fits_1280(browser: Any, fitness: FitnessDaemon, artifacts_dir: Path) -> None:
    context, page, errors = open_page(browser, fitness.url, SIZES[1], "#/fitness")
    try:
        page.wait_for_selector("#fit-station[data-station]", timeout=SLOW)
        page.wait_for_function("+document.getElementById('fit-img').dataset.frames >= 2", timeout=SLOW)
        if page.get_attribute("#fit-station", "data-session") == "finished":  # the last result stays until "next"
            assert_targets(page, "result 1280")
            page.screenshot(path=str(artifacts_dir / "kiosk-fitness-result-1280.png"))
            page.tap("#fit-result [data-act='next']")
            page.tap("#fit-dialog [data-dlg='close']")
        page.wait_for_selector("#fit-start", state="visible")
        # nothing of the side panel is cut off: start is fully on screen
        box = page.locator("#fit-start").bounding_box()
        assert box and box["y"] + box["height"] <= SIZES[1]["height"]
        assert_targets(page, "station 1280")
        page.screenshot(path=str(artifacts_dir / "kiosk-fitness-station-1280.png"))
        assert not errors, errors
    finally:
        context.close()


def test_snapshot_is_loopback_only_and_state_names_the_camera(fitness: FitnessDaemon) -> None:
    state = fitness.state()
    cam = next(c for c in state["cameras"] if c["camera"] == "mats")
    assert cam["name"] == "垫子区" and cam["snapshot"] is True
    gate = next(c for c in state["cameras"] if c["camera"] == "gate")
    assert gate["state"] in ("connecting", "reconnecting", "failed", "ended", "absent")
    started = time.monotonic()
    assert http_status(fitness.url + "/api/fitness/cameras/mats/snapshot.jpg") == 200
    assert time.monotonic() - started < 10
