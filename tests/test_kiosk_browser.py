"""The teachers' kiosk page in a real headless Chromium, against the real demo daemon.

Touch is emulated (has_touch, page.tap) at the panel's 1920x1080. Every test also checks that the page
asked nothing of any host but the daemon (the classroom has no reliable internet, and no CDN).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT, DemoProcess, free_port, get_json, post_json, wait_for

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium) for the kiosk browser tests",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
expect = sync_api.expect

VIEWPORT = {"width": 1920, "height": 1080}
MIN_TARGET_PX = 48
CLOUD_ZH = {"not_configured": "未配置", "online": "在线", "offline": "离线"}
CLOUD_EN = {"not_configured": "Not configured", "online": "Online", "offline": "Offline"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@dataclass
class Kiosk:
    page: object
    base: str
    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_all_local(self) -> None:
        ws_base = "ws" + self.base[len("http"):]
        foreign = [u for u in self.requests if not u.startswith(self.base + "/")]
        foreign += [u for u in self.websockets if not u.startswith(ws_base + "/")]
        assert not foreign, f"the kiosk reached beyond the daemon: {foreign}"


def open_kiosk(browser: object, base: str, path: str = "/", wait_ready: bool = True) -> tuple[object, Kiosk]:
    context = browser.new_context(viewport=VIEWPORT, has_touch=True, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    k = Kiosk(page, base)
    page.on("request", lambda r: k.requests.append(r.url))
    page.on("websocket", lambda ws: k.websockets.append(ws.url))
    page.on("pageerror", lambda e: k.errors.append(str(e)))
    page.goto(base + path)
    if wait_ready:
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector(".tile", state="attached", timeout=10_000)
    return context, k


@pytest.fixture
def kiosk(browser: object, demo_daemon: DemoProcess) -> Iterator[Kiosk]:
    context, k = open_kiosk(browser, demo_daemon.url)
    try:
        yield k
        k.assert_all_local()
        assert not k.errors, f"JavaScript errors on the page: {k.errors}"
    finally:
        context.close()  # type: ignore[attr-defined]


def visible_targets(page: object) -> list[dict]:
    """Bounding boxes of everything a finger can press (buttons and tiles), visible ones only."""
    return page.evaluate(  # type: ignore[attr-defined]
        """() => Array.from(document.querySelectorAll('button, .tile, [role=button]'))
            .filter(el => el.offsetParent !== null && getComputedStyle(el).visibility !== 'hidden')
            .map(el => { const r = el.getBoundingClientRect();
                         return {what: el.id || el.className || el.tagName, text: el.innerText.trim(),
                                 w: r.width, h: r.height}; })"""
    )


def ensure_panel_ready(base: str) -> dict:
    """The shared demo may have had its panel driver restarted by another test: wait until it answers."""
    return wait_for(lambda: (p := get_json(base + "/api/panel"))["connected"] and p["power"] != "unknown" and p,
                    timeout=20)


def open_panel_screen(k: Kiosk) -> None:
    k.page.tap(".tile[data-feature='panel_control']")
    expect(k.page.locator("#screen-panel")).to_be_visible()
    expect(k.page.locator("#screen-home")).to_be_hidden()
    assert k.page.evaluate("location.hash") == "#/panel"
    expect(k.page.locator("#panel-conn")).to_have_attribute("data-state", "online", timeout=15_000)


# -- tests --------------------------------------------------------------------------------------------
def test_home_shows_tiles_and_status_bar(kiosk: Kiosk, demo_daemon: DemoProcess, artifacts_dir: Path) -> None:
    page = kiosk.page
    features = get_json(demo_daemon.url + "/api/features")
    status = get_json(demo_daemon.url + "/api/status")
    expect(page.locator(".tile")).to_have_count(len(features))
    titles = page.locator(".tile-title").all_inner_texts()
    assert titles == [f["title"]["zh"] for f in features]
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    expect(page.locator("#statusbar")).to_be_visible()
    room = page.locator("#sb-room").inner_text()
    assert status["device"]["school"] in room and status["device"]["classroom"] in room
    lesson = page.locator("#sb-lesson").inner_text()
    assert lesson == "无课程" if status["lesson"] is None else status["lesson"]["title"] in lesson
    expect(page.locator("#sb-cloud-state")).to_have_text(CLOUD_ZH[status["cloud"]["state"]])
    clock = page.locator("#sb-clock").inner_text()
    assert re.fullmatch(r"\d\d:\d\d", clock)
    # the clock shows the device's time zone (the offset in /api/status "time"), not the browser's
    device_hhmm = status["time"][11:16]
    assert abs(_minutes(clock) - _minutes(device_hhmm)) in (0, 1, 1439), (clock, status["time"])

    alerts_btn = page.locator("#sb-alerts")
    if status["alerts"]:
        expect(alerts_btn).to_contain_text(str(len(status["alerts"])))
    else:
        expect(alerts_btn).to_have_text("设备正常")
        expect(alerts_btn).to_have_attribute("data-severity", "none")
    page.tap("#sb-alerts")
    expect(page.locator("#alerts-dialog")).to_be_visible()
    expect(page.locator("#alerts-list li")).to_have_count(max(1, len(status["alerts"])))
    page.tap("#alerts-close")
    expect(page.locator("#alerts-dialog")).to_be_hidden()

    page.wait_for_timeout(300)  # let the first status refresh settle before the picture
    page.screenshot(path=str(artifacts_dir / "kiosk-home.png"))


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def test_unconfigured_tiles_say_so_and_do_nothing(kiosk: Kiosk, demo_daemon: DemoProcess) -> None:
    features = get_json(demo_daemon.url + "/api/features")
    unconfigured = [f for f in features if f["state"] == "unconfigured"]
    if not unconfigured:
        pytest.skip("the demo has no unconfigured feature tile")
    page = kiosk.page
    for f in unconfigured:
        tile = page.locator(f".tile[data-feature='{f['id']}']")
        expect(tile).to_contain_text("未配置")
        assert tile.evaluate("el => el.tagName") != "BUTTON"
        assert tile.get_attribute("aria-disabled") == "true"
    expect(page.locator(f".tile[data-feature='{unconfigured[0]['id']}']")).to_be_disabled()
    page.tap(f".tile[data-feature='{unconfigured[0]['id']}']", force=True)  # a teacher taps it anyway
    page.wait_for_timeout(300)
    expect(page.locator("#screen-home")).to_be_visible()
    assert page.evaluate("location.hash") in ("", "#/")


def test_panel_screen_input_and_volume_follow_the_server(
    kiosk: Kiosk, demo_daemon: DemoProcess, artifacts_dir: Path
) -> None:
    base = demo_daemon.url
    before = ensure_panel_ready(base)
    if before["power"] != "on":
        assert post_json(base + "/api/panel/power", {"on": True})[0] == 200
        before = wait_for(lambda: (p := get_json(base + "/api/panel"))["power"] == "on" and p, timeout=10)
    page = kiosk.page
    open_panel_screen(kiosk)
    expect(page.locator("#btn-power-on")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".btn-input")).to_have_count(len(before["inputs"]))
    current = page.locator(f".btn-input[data-input='{before['input_source']}']")
    expect(current).to_have_attribute("aria-pressed", "true")

    # choose another input: the page marks it only once the server has confirmed it
    target = next(i for i in before["inputs"] if i["id"] != before["input_source"])
    button = page.locator(f".btn-input[data-input='{target['id']}']")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.tap()
    expect(button).to_have_attribute("aria-pressed", "true", timeout=10_000)
    expect(current).to_have_attribute("aria-pressed", "false")
    expect(button).not_to_have_attribute("aria-busy", "true")
    assert wait_for(lambda: get_json(base + "/api/panel")["input_source"] == target["id"], timeout=5)

    # volume ＋ : one step up, confirmed by the server, never above max_volume
    level = before["volume"]
    step_to = min(before["max_volume"], level + 5)
    page.tap("#btn-vol-up")
    expect(page.locator("#vol-level")).to_have_text(str(step_to), timeout=10_000)
    assert wait_for(lambda: get_json(base + "/api/panel")["volume"] == step_to, timeout=10)
    expect(page.locator(".volume-display")).not_to_have_class(re.compile(r"\bis-pending\b"), timeout=10_000)
    expect(page.locator("#vol-max")).to_contain_text(str(before["max_volume"]))

    page.screenshot(path=str(artifacts_dir / "kiosk-panel.png"))

    page.tap("#btn-back")
    expect(page.locator("#screen-home")).to_be_visible()
    expect(page.locator("#screen-panel")).to_be_hidden()

    # leave the shared demo as we found it
    post_json(base + "/api/panel/input", {"source": before["input_source"]})
    post_json(base + "/api/panel/volume", {"level": level})


def test_live_panel_events_update_the_screen(kiosk: Kiosk, demo_daemon: DemoProcess) -> None:
    """A change made elsewhere (the TUI, another client) reaches the open panel screen by itself."""
    base = demo_daemon.url
    before = ensure_panel_ready(base)
    page = kiosk.page
    open_panel_screen(kiosk)
    want = not bool(before["muted"])
    assert post_json(base + "/api/panel/mute", {"muted": want})[0] == 200
    expect(page.locator("#btn-mute")).to_have_attribute("aria-pressed", str(want).lower(), timeout=10_000)
    expect(page.locator("#btn-mute-text")).to_have_text("取消静音" if want else "静音")
    page.tap("#btn-mute")  # and back from the page itself
    expect(page.locator("#btn-mute")).to_have_attribute("aria-pressed", str(not want).lower(), timeout=10_000)
    assert wait_for(lambda: get_json(base + "/api/panel")["muted"] is (not want), timeout=5)


def test_failed_command_shows_a_toast_and_releases_the_button(kiosk: Kiosk, demo_daemon: DemoProcess) -> None:
    """The panel not answering (504) is simulated at the network layer; the page must say so and recover."""
    base = demo_daemon.url
    before = ensure_panel_ready(base)
    page = kiosk.page
    open_panel_screen(kiosk)
    page.route(
        "**/api/panel/input",
        lambda route: route.fulfill(
            status=504, content_type="application/json",
            body=json.dumps({"ok": False, "error": "大屏未响应: no answer from the panel driver in time"}),
        ),
    )
    target = next(i for i in before["inputs"] if i["id"] != before["input_source"])
    button = page.locator(f".btn-input[data-input='{target['id']}']")
    button.tap()
    toast = page.locator(".toast[data-kind='error']")
    expect(toast).to_be_visible(timeout=10_000)
    expect(toast.locator(".toast-title")).to_have_text("大屏未响应")
    expect(toast.locator(".toast-detail")).to_contain_text("no answer")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).not_to_have_class(re.compile(r"\bis-busy\b"))
    expect(button).to_be_enabled()

    # the daemon unreachable altogether: a different message, and again no stuck button
    page.unroute("**/api/panel/input")
    page.route("**/api/panel/input", lambda route: route.abort())
    toast.first.tap()  # a tap dismisses a toast
    button.tap()
    expect(page.locator(".toast-title").last).to_have_text("无法连接设备服务", timeout=10_000)
    expect(button).not_to_have_class(re.compile(r"\bis-busy\b"))
    page.unroute("**/api/panel/input")


def test_language_switch_to_english_and_back(kiosk: Kiosk, demo_daemon: DemoProcess) -> None:
    page = kiosk.page
    features = get_json(demo_daemon.url + "/api/features")
    status = get_json(demo_daemon.url + "/api/status")
    expect(page.locator(".lang-btn[data-lang='zh']")).to_have_attribute("aria-pressed", "true")
    page.tap(".lang-btn[data-lang='en']")
    expect(page.locator(".lang-btn[data-lang='en']")).to_have_attribute("aria-pressed", "true")
    assert page.locator(".tile-title").all_inner_texts() == [f["title"]["en"] for f in features]
    expect(page.locator("#sb-cloud-state")).to_have_text(CLOUD_EN[status["cloud"]["state"]])
    if status["lesson"] is None:
        expect(page.locator("#sb-lesson")).to_have_text("No lesson")
    if any(f["state"] == "unconfigured" for f in features):
        expect(page.locator(".tile[data-state='unconfigured']").first).to_contain_text("Not configured")
    assert page.evaluate("document.documentElement.lang") == "en"

    # remembered across a reload (the kiosk restarts every morning)
    page.reload()
    page.wait_for_selector(".tile")
    expect(page.locator(".lang-btn[data-lang='en']")).to_have_attribute("aria-pressed", "true")
    assert page.locator(".tile-title").all_inner_texts() == [f["title"]["en"] for f in features]
    open_panel_screen(kiosk)
    expect(page.locator("#btn-back")).to_contain_text("Home")
    expect(page.locator("#btn-power-on")).to_contain_text("Power on")

    page.tap(".lang-btn[data-lang='zh']")
    expect(page.locator("#btn-power-on")).to_contain_text("开机")
    expect(page.locator("#btn-back")).to_contain_text("返回主页")


def test_touch_targets_are_at_least_48px(kiosk: Kiosk) -> None:
    page = kiosk.page
    home = visible_targets(page)
    assert any("tile" in t["what"] for t in home)
    open_panel_screen(kiosk)
    panel = visible_targets(page)
    assert any(t["what"] == "btn-vol-up" for t in panel)
    small = [t for t in home + panel if t["w"] < MIN_TARGET_PX or t["h"] < MIN_TARGET_PX]
    assert not small, f"touch targets under {MIN_TARGET_PX} px: {small}"
    # the main controls are far bigger than the minimum
    tiles = [t for t in home if "tile" in t["what"]]
    assert min(min(t["w"], t["h"]) for t in tiles) >= 200
    inputs = [t for t in panel if "btn-input" in t["what"]]
    assert inputs and min(t["h"] for t in inputs) >= 96


def test_event_stream_connects_and_nothing_leaves_the_box(kiosk: Kiosk, demo_daemon: DemoProcess) -> None:
    page = kiosk.page
    page.wait_for_selector("body[data-stream='up']", timeout=10_000)
    expect(page.locator("#conn-indicator")).to_be_hidden()
    assert any(u.endswith("/api/events") for u in kiosk.websockets)
    assert kiosk.requests and all(u.startswith(demo_daemon.url + "/") for u in kiosk.requests)
    assert page.evaluate(
        "getComputedStyle(document.body).userSelect || getComputedStyle(document.body).webkitUserSelect"
    ) == "none"


def test_reconnects_and_reloads_after_a_daemon_restart(browser: object, tmp_path: Path) -> None:
    """The field's worst complaint is a panel stuck on "Reconnecting…": restart a daemon under the page."""
    port = free_port()
    (tmp_path / "a").mkdir()
    first = DemoProcess(port, tmp_path / "a", seconds=300)
    second: DemoProcess | None = None
    context = None
    try:
        first.wait_healthy(timeout=60)
        context, k = open_kiosk(browser, first.url, "/#/panel")
        page = k.page
        page.wait_for_selector("body[data-stream='up']", timeout=10_000)
        expect(page.locator("#conn-indicator")).to_be_hidden()
        page.evaluate("window.__beforeRestart = true")

        first.proc.send_signal(2)  # Ctrl-C, as systemd's stop; do not wait for the exit yet
        indicator = page.locator("#conn-indicator")
        expect(indicator).to_be_visible(timeout=15_000)
        expect(indicator).to_contain_text("重新连接中")
        first.stop()

        (tmp_path / "b").mkdir()
        second = DemoProcess(port, tmp_path / "b", seconds=300)
        second.wait_healthy(timeout=60)
        # a new boot_id: the page reloads itself (new assets), comes back on the same screen, connected
        page.wait_for_function("window.__beforeRestart === undefined", timeout=30_000)
        page.wait_for_selector("body[data-stream='up']", timeout=15_000)
        expect(indicator).to_be_hidden()
        expect(page.locator("#screen-panel")).to_be_visible()
        k.assert_all_local()
        assert not k.errors, k.errors
    finally:
        if context is not None:
            context.close()  # type: ignore[attr-defined]
        first.stop()
        if second is not None:
            second.stop()


def test_safe_mode_page_lists_config_errors(browser: object, tmp_path: Path, artifacts_dir: Path) -> None:
    port = free_port()
    config = tmp_path / "classroom.toml"
    config.write_text(
        f"schema_version = 1\n[api]\nport = {port}\n[device]\nidd = 'x'\n[drivers.panel]\nbackend = 'serial'\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    context = None
    try:
        health = wait_for(lambda: get_json(base + "/api/health"), timeout=20)
        assert health["status"] == "safe_mode" and health["config_errors"]
        context, k = open_kiosk(browser, base, wait_ready=False)
        page = k.page
        safe = page.locator("#safe-mode")
        expect(safe).to_be_visible(timeout=10_000)
        expect(page.locator("#app")).to_be_hidden()
        expect(safe).to_contain_text("配置有误，设备处于安全模式")
        expect(safe).to_contain_text("请联系技术人员")
        items = page.locator("#safe-errors li")
        expect(items).to_have_count(len(health["config_errors"]))
        assert items.all_inner_texts() == health["config_errors"]
        assert "monospace" in items.first.evaluate("el => getComputedStyle(el).fontFamily")
        expect(page.locator("button:visible")).to_have_count(0)  # nothing else on the screen
        page.screenshot(path=str(artifacts_dir / "kiosk-safe-mode.png"))
        k.assert_all_local()
        assert not k.errors, k.errors
    finally:
        if context is not None:
            context.close()  # type: ignore[attr-defined]
        proc.send_signal(2)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
