"""The technicians' console: ``classroom tui [--url URL] [--plain]``.

A Textual app that talks to the daemon only through its local HTTP API (docs/api.md), via
:mod:`appliance.tui.client`. It never imports daemon internals (an import-linter contract checks this).

Tabs: 1 Components, 2 Log, 3 Configuration, 4 Self-test, 5 Sync (the link to the county and the outbox
behind it, from ``GET /api/sync`` and the ``sync.status`` events), 6 PE bands (the heart-rate adapter, the
bands it hears and the Smart PE roster's problems, from ``GET /api/pe/bands`` and the ``hr.adapter``
events), 7 Pens (the homework pens' link health with the student holding each, from ``GET /api/homework/pens``,
``GET /api/homework/roster`` and the ``pen.status`` events), 8 Cameras (the playground cameras' decoding and pose
analysis, and the fitness stations on each, from ``GET /api/fitness/state`` and the ``fitness.camera`` events).
All network I/O runs in async workers; when the
daemon is unreachable a banner says so and the app keeps retrying (health every 2 s, the event socket with
backoff), so it survives daemon restarts.

``plain`` mode (``run_tui(url, plain=True)``, ``CLASSROOM_TUI_PLAIN=1`` or ``TERM=linux``) replaces
box-drawing and block glyphs with ASCII and uses the terminal's own 16 ANSI colours, for Linux consoles and
SSH terminals that draw line graphics badly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

from rich.segment import Segment
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.filter import LineFilter
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, RichLog, Static, TabbedContent, TabPane
from textual.widgets.data_table import RowKey

from appliance.tui.client import (
    DEFAULT_URL,
    CameraInfo,
    ComponentInfo,
    ConfigInfo,
    DaemonClient,
    DaemonError,
    FitnessState,
    Health,
    HomeworkRoster,
    LogLine,
    PeAdapter,
    PeBand,
    PeBandsInfo,
    PenInfo,
    PensInfo,
    SelfTest,
    StationInfo,
    SyncInfo,
)

__all__ = ["DEFAULT_URL", "TechnicianApp", "plain_from_env", "run_tui"]

HEALTH_INTERVAL_S = 2.0
WS_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
MAX_LOG_LINES = 5000

TABS = ("components", "log", "config", "selftest", "sync", "pe", "pens", "cameras")
TAB_TITLES = ("Components", "Log", "Configuration", "Self-test", "Sync", "PE bands", "Pens", "Cameras")
# The sync link has not reported for this long although the daemon answers: say so on the Sync tab.
SYNC_STALE_S = 10.0
# The same for the heart-rate adapter (it reports every ~2 s) on the PE bands tab.
PE_STALE_S = 10.0
# hr.adapter events redraw the PE bands tab at most this often (at most 2 redraws a second).
PE_REDRAW_MIN_S = 0.5
# pen.status events (one per pen every few seconds: 45 pens) redraw the Pens tab at most this often.
PENS_REDRAW_MIN_S = 0.5
# Who holds which pen is refetched this often (and whenever the tab is opened or r is pressed).
PENS_ROSTER_EVERY_S = 10.0
# A pen not heard from for this long is shown in yellow; twice as long in red.
PEN_QUIET_S = 10.0
PEN_TRANSPORTS: Mapping[str, str] = {"ble": "BLE", "serial": "gateway", "simulator": "simulator"}
# fitness.camera events (every 2 s per camera) redraw the Cameras tab at most this often.
CAMERAS_REDRAW_MIN_S = 0.5
# A camera whose report is this old is shown in yellow (it reports every 2 s); the stations are refetched this often.
CAMERA_QUIET_S = 10.0
CAMERA_STATE_STYLES: Mapping[str, str] = {
    "live": "bold black on green",
    "connecting": "bold black on yellow",
    "reconnecting": "bold black on yellow",
    "ended": "bold white on blue",
    "failed": "bold white on red",
    "absent": "bold white on red",
}
# Slower pose inference than this (ms per frame) cannot keep up with a counted exercise.
INFER_SLOW_MS = 150.0

STATE_STYLES: Mapping[str, str] = {
    "ok": "bold green",
    "starting": "bold cyan",
    "degraded": "bold yellow",
    "failed": "bold white on red",
    "safe_mode": "bold white on red",
    "unknown": "bold magenta",
}
LEVEL_STYLES: Mapping[str, str] = {
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}
SYNC_STATE_STYLES: Mapping[str, str] = {
    "online": "bold black on green",
    "connecting": "bold black on yellow",
    "offline": "bold white on red",
}
ADAPTER_STATE_STYLES: Mapping[str, str] = {
    "scanning": "bold black on green",
    "restarting": "bold black on yellow",
    "unavailable": "bold white on red",
    "stopped": "bold white on blue",
    "starting": "bold black on yellow",
}
BAND_SOURCES: Mapping[str, str] = {"ble_broadcast": "broadcast", "ble_gatt": "GATT", "ant": "ANT+"}
QUOTA_STYLES: Mapping[str, str] = {"ok": "bold green", "warning": "bold yellow", "full": "bold white on red"}
# The log filter cycles through these minimum levels (None = everything).
LEVEL_FILTERS: tuple[str | None, ...] = (None, "INFO", "WARNING", "ERROR")


def plain_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for the ASCII-friendly look (CLASSROOM_TUI_PLAIN=1, or TERM=linux)."""
    env = os.environ if environ is None else environ
    flag = env.get("CLASSROOM_TUI_PLAIN", "").strip().lower()
    if flag in ("1", "true", "yes", "on"):
        return True
    if flag in ("0", "false", "no", "off"):
        return False
    return env.get("TERM", "") == "linux"


def _level_no(level: str) -> int:
    value = logging.getLevelName(level.upper())
    return value if isinstance(value, int) else logging.INFO


def _clock(ts: float | None = None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts if ts is not None else time.time()))


def _fmt_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _human_bytes(n: int) -> str:
    """``308 B``, ``12.3 KB (12602 bytes)``, ``4.0 MB (4194304 bytes)`` (1 KB = 1024 bytes, as the outbox alert)."""
    if n < 1024:
        return f"{n} B"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit} ({n} bytes)"
    return f"{n} B"  # not reached


def _human_duration(seconds: float) -> str:
    """``3 s``, ``2 min 5 s``, ``1 h 3 min``, ``2 d 4 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fill_table(table: DataTable[Any], rows: Mapping[str, Mapping[str, Text]], key_column: str) -> None:
    """Show ``rows`` (row key -> cells by column key): rebuilt when the keys change, else updated in place."""
    if [key.value for key in table.rows] != list(rows):
        cursor_row = table.cursor_row
        table.clear()
        for key, cells in rows.items():
            table.add_row(*cells.values(), key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor_row, table.row_count - 1))
        return
    for key, cells in rows.items():
        for column, value in cells.items():
            if column != key_column:
                table.update_cell(key, column, value, update_width=True)


def _pen_key(pen_id: str) -> str:
    """Pens are Bluetooth addresses; the driver and a spreadsheet may disagree on case."""
    return str(pen_id).strip().upper()


def _state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "bold magenta"))


def _source_text(source: str) -> Text:
    if source == "default":
        style = "dim"
    elif source.startswith("file:"):
        style = "green"
    elif source.startswith("env:"):
        style = "bold yellow"
    else:
        style = "cyan"
    return Text(source, style=style)


# --------------------------------------------------------------------------- plain / ASCII mode
def _ascii_for(char: str) -> str | None:
    """An ASCII stand-in of the same width for a line-drawing or block glyph, or None to keep it."""
    code = ord(char)
    name = unicodedata.name(char, "")
    if 0x2500 <= code <= 0x257F:  # box drawing
        if "DIAGONAL CROSS" in name:
            return "X"
        if "DIAGONAL UPPER RIGHT" in name:
            return "/"
        if "DIAGONAL UPPER LEFT" in name:
            return "\\"
        horizontal = "HORIZONTAL" in name or "LEFT" in name or "RIGHT" in name
        vertical = "VERTICAL" in name or " UP" in name or "DOWN" in name
        if "ARC" in name or (horizontal and vertical):
            return "+"
        if horizontal:
            return "-"
        if vertical:
            return "|"
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements
        if char in "█▓":
            return "#"
        if char == "▒":
            return ":"
        if char == "░":
            return "."
        return " "
    return _EXTRA_ASCII.get(char)


_EXTRA_ASCII = {
    "…": ".", "•": "*", "●": "*", "○": "o", "⭘": "o", "◼": "#", "■": "#", "□": "#", "▪": "*",
    "↑": "^", "↓": "v", "←": "<", "→": ">", "⏎": "<", "⌫": "<", "▶": ">", "◀": "<", "▲": "^", "▼": "v",
    "✓": "v", "✔": "v", "✗": "x", "✘": "x", "—": "-", "–": "-", "·": ".", "×": "x",
    "🔎": "> ",  # two cells wide, like the emoji (the command palette's search icon)
}


def _build_ascii_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in [*range(0x2500, 0x25A0), *(ord(c) for c in _EXTRA_ASCII)]:
        replacement = _ascii_for(chr(code))
        if replacement is not None:
            table[code] = replacement
    return table


class AsciiFilter(LineFilter):
    """Replace line-drawing, block and arrow glyphs with same-width ASCII after rendering."""

    TABLE: ClassVar[dict[int, str]] = _build_ascii_table()

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        table = self.TABLE
        out: list[Segment] = []
        for text, style, control in segments:
            if control or text.isascii():
                out.append(Segment(text, style, control))
            else:
                out.append(Segment(text.translate(table), style, control))
        return out


_KEY_WORDS = {"↑": "up", "↓": "down", "←": "left", "→": "right", "⏎": "enter", "⌫": "bksp"}


APP_CSS = """
Screen {
    layout: vertical;
}
#banner {
    background: $error;
    color: $text;
    text-style: bold;
    padding: 0 1;
    height: auto;
}
#status {
    background: $panel;
    padding: 0 1;
    height: auto;
}
#safe-mode {
    background: $error 60%;
    color: $text;
    border: heavy $error;
    padding: 0 1;
    height: auto;
    max-height: 12;
}
#tabs {
    height: 1fr;
}
TabPane {
    padding: 0;
}
#components-table, #config-table {
    height: 1fr;
}
#log-filter {
    height: 1;
    padding: 0 1;
}
#log-view {
    height: 1fr;
    border: round $primary 50%;
}
#config-header {
    height: auto;
    padding: 0 1;
}
#config-errors {
    height: auto;
    max-height: 10;
    padding: 0 1;
    border: round $error;
}
#selftest-body {
    height: 1fr;
}
#selftest-table {
    width: 2fr;
    min-width: 40;
    height: 1fr;
}
#selftest-side {
    width: 3fr;
    height: 1fr;
    border: round $primary 50%;
    padding: 0 1;
}
#selftest-result {
    height: auto;
}
#sync-link {
    height: auto;
    padding: 0 1;
    margin-bottom: 1;
}
#sync-table {
    height: 1fr;
}
#pe-adapter {
    height: auto;
    padding: 0 1;
}
#pe-problems {
    height: auto;
    max-height: 8;
    padding: 0 1;
    margin-bottom: 1;
}
#pe-table {
    height: 1fr;
}
#pens-summary {
    height: auto;
    padding: 0 1;
}
#pens-problems {
    height: auto;
    max-height: 8;
    padding: 0 1;
    margin-bottom: 1;
}
#pens-table {
    height: 1fr;
}
#cameras-summary {
    height: auto;
    padding: 0 1;
    margin-bottom: 1;
}
#cameras-table {
    height: auto;
    max-height: 12;
}
#stations-title {
    height: auto;
    padding: 0 1;
    margin-top: 1;
}
#stations-table {
    height: 1fr;
}
ConfirmScreen {
    align: center middle;
}
#confirm-dialog {
    width: 64;
    height: auto;
    padding: 1 2;
    border: thick $error;
    background: $surface;
}
#confirm-hint {
    color: $text-muted;
    margin-top: 1;
}
#confirm-buttons {
    height: auto;
    margin-top: 1;
}
#confirm-buttons Button {
    margin-right: 2;
}

/* Plain mode: ASCII borders; the AsciiFilter also maps any remaining line-drawing glyphs. */
App.-plain #safe-mode, App.-plain #config-errors, App.-plain #log-view, App.-plain #selftest-side,
App.-plain #confirm-dialog {
    border: ascii $primary;
}
App.-plain #safe-mode, App.-plain #config-errors, App.-plain #confirm-dialog {
    border: ascii $error;
}
App.-plain Tabs {
    height: 1;
}
App.-plain Tabs Underline {
    display: none;
}
App.-plain Tabs .-active {
    text-style: bold reverse;
}
"""


# --------------------------------------------------------------------------- screens
class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; y / Enter confirm, n / Escape cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel", show=False),
    ]

    def __init__(self, question: str, yes_label: str = "Yes", *, compact: bool = False) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label
        self.compact = compact

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, id="confirm-question")
            yield Static("y = yes, n / Esc = no", id="confirm-hint")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.yes_label} (y)", id="confirm-yes", variant="error", compact=self.compact)
                yield Button("Cancel (n)", id="confirm-no", variant="primary", compact=self.compact)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


# --------------------------------------------------------------------------- the app
class RedrawThrottle:
    """Draw a tab now, or once ``min_s`` after its last draw: a tab fed by a stream of events (45 pens, every
    band adapter report) redraws at most 1/``min_s`` times a second, and the last event is never left undrawn."""

    def __init__(self, app: App[Any], draw: Callable[[], None], min_s: float) -> None:
        self._app = app
        self._draw = draw
        self.min_s = min_s
        self._last = 0.0
        self._pending = False
        self.renders = 0  # how many times the tab was drawn (the throttle's tests look)

    def request(self) -> None:
        wait = self._last + self.min_s - time.monotonic()
        if wait <= 0:
            self.draw()
        elif not self._pending:
            self._pending = True
            self._app.set_timer(wait, self._deferred)

    def _deferred(self) -> None:
        self._pending = False
        self.draw()

    def draw(self) -> None:
        self._last = time.monotonic()
        self.renders += 1
        self._draw()


class TechnicianApp(App[int]):
    """Technician console for one classroom box."""

    TITLE = "Classroom Edge - technician console"
    # Inline (not a .tcss file) so that it ships with the wheel without package-data entries.
    CSS = APP_CSS

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('components')", "Components"),
        Binding("2", "show_tab('log')", "Log"),
        Binding("3", "show_tab('config')", "Config"),
        Binding("4", "show_tab('selftest')", "Self-test"),
        Binding("5", "show_tab('sync')", "Sync"),
        Binding("6", "show_tab('pe')", "PE bands"),
        Binding("7", "show_tab('pens')", "Pens"),
        Binding("8", "show_tab('cameras')", "Cameras"),
        Binding("r", "refresh", "Refresh"),
        Binding("t", "selftest", "Test"),
        Binding("R", "restart", "Restart", key_display="R"),
        Binding("l", "cycle_level", "Level"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, url: str = DEFAULT_URL, *, plain: bool | None = None) -> None:
        """``plain=None`` means: decide from the environment (:func:`plain_from_env`)."""
        self.plain = plain_from_env() if plain is None else plain
        super().__init__(ansi_color=True if self.plain else None)
        self.url = url.rstrip("/") or DEFAULT_URL
        self.client: DaemonClient | None = None
        self.health: Health | None = None
        self.components: dict[str, ComponentInfo] = {}
        self.reachable: bool | None = None  # None until the first answer (or failure)
        self.last_error: str | None = None
        self.last_contact: float | None = None
        self.events_state = "connecting"
        self.boot_id: str | None = None
        self.version: str | None = None
        self.config_info: ConfigInfo | None = None
        self.config_error: str | None = None
        self.log_lines: deque[LogLine] = deque(maxlen=MAX_LOG_LINES)
        self._seen_logs: deque[tuple[float, str, str]] = deque(maxlen=MAX_LOG_LINES)
        self._seen_log_set: set[tuple[float, str, str]] = set()
        self.level_filter_index = 0
        self.selected: str | None = None
        self.selftest_results: dict[str, SelfTest] = {}
        self._health_in_flight = False
        self.sync_info: SyncInfo | None = None
        self.sync_error: str | None = None
        self.sync_updated: float | None = None  # time.time() of the last answer or event
        self._sync_received_mono = 0.0  # when sync_info arrived (to age last_ack_at without clock skew)
        self._sync_ts_changed_mono = 0.0  # when the link's own ts last moved on
        self._sync_in_flight = False
        self.pe_adapter: PeAdapter | None = None
        self.pe_problems: list[str] = []
        self.pe_configured: bool | None = None  # None until the first answer; False after a 404
        self.pe_error: str | None = None
        self.pe_updated: float | None = None  # time.time() of the last answer or event
        self._pe_received_mono = 0.0  # when pe_adapter arrived (to age the bands' last_seen_s)
        self._pe_ts_changed_mono = 0.0  # when the adapter's own ts last moved on
        self._pe_redraw = RedrawThrottle(self, self._render_pe, PE_REDRAW_MIN_S)
        self._pe_in_flight = False
        self.pens: dict[str, PenInfo] = {}  # by normalised pen id
        self._pen_received_mono: dict[str, float] = {}  # when each pen's report arrived (to age last_seen)
        self.pens_problems: list[str] = []
        self.pens_configured: bool | None = None  # None until the first answer; False after a 404
        self.pens_error: str | None = None
        self.pens_updated: float | None = None
        self.pen_labels: dict[str, str] = {}  # pen id -> the label of the student holding it ("12号")
        self.pens_class: str | None = None
        self._pens_roster_mono = 0.0
        self._pens_redraw = RedrawThrottle(self, self._render_pens, PENS_REDRAW_MIN_S)
        self._pens_in_flight = False
        self.cameras: dict[str, CameraInfo] = {}  # by camera id
        self._camera_received_mono: dict[str, float] = {}  # when each camera's report arrived
        self.stations: list[StationInfo] = []
        self.cameras_configured: bool | None = None  # None until the first answer; False after a 404
        self.cameras_error: str | None = None
        self.cameras_updated: float | None = None
        self._cameras_redraw = RedrawThrottle(self, self._render_cameras, CAMERAS_REDRAW_MIN_S)
        self._cameras_in_flight = False
        self._ascii_filter = AsciiFilter()

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="banner")
        yield Static(self._status_text(), id="status")
        yield Static("", id="safe-mode")
        with TabbedContent(initial="components", id="tabs"):
            with TabPane("1 Components", id="components"):
                yield DataTable(id="components-table", cursor_type="row", zebra_stripes=True)
            with TabPane("2 Log", id="log"):
                yield Static("", id="log-filter")
                yield RichLog(id="log-view", max_lines=MAX_LOG_LINES, wrap=True, markup=False,
                              highlight=False, auto_scroll=True, min_width=40)
            with TabPane("3 Configuration", id="config"):
                yield Static("Loading configuration...", id="config-header")
                yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="config-errors")
            with TabPane("4 Self-test", id="selftest"), Horizontal(id="selftest-body"):
                yield DataTable(id="selftest-table", cursor_type="row")
                with VerticalScroll(id="selftest-side"):
                    yield Static(self._selftest_placeholder(), id="selftest-result")
            with TabPane("5 Sync", id="sync"):
                yield Static(Text("Loading sync status...", style="dim"), id="sync-link")
                yield DataTable(id="sync-table", cursor_type="row", zebra_stripes=True)
            with TabPane("6 PE bands", id="pe"):
                yield Static(Text("Loading heart-rate bands...", style="dim"), id="pe-adapter")
                yield Static("", id="pe-problems")
                yield DataTable(id="pe-table", cursor_type="row", zebra_stripes=True)
            with TabPane("7 Pens", id="pens"):
                yield Static(Text("Loading pens...", style="dim"), id="pens-summary")
                yield Static("", id="pens-problems")
                yield DataTable(id="pens-table", cursor_type="row", zebra_stripes=True)
            with TabPane("8 Cameras", id="cameras"):
                yield Static(Text("Loading cameras...", style="dim"), id="cameras-summary")
                yield DataTable(id="cameras-table", cursor_type="row", zebra_stripes=True)
                yield Static("", id="stations-title")
                yield DataTable(id="stations-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        if self.plain:
            self.add_class("-plain")
            self.theme = "ansi-dark"
        self.title = f"{self.TITLE} - {self.url}"
        self.client = DaemonClient(self.url)
        self.query_one("#banner", Static).display = False
        self.query_one("#safe-mode", Static).display = False
        comp = self.query_one("#components-table", DataTable)
        comp.add_column("Component", key="name")
        comp.add_column("Kind", key="kind")
        comp.add_column("State", key="state")
        comp.add_column("Restarts", key="restarts")
        comp.add_column("Last error", key="last_error")
        conf = self.query_one("#config-table", DataTable)
        conf.add_column("Key", key="key")
        conf.add_column("Value", key="value")
        conf.add_column("Source", key="source")
        st = self.query_one("#selftest-table", DataTable)
        st.add_column("Component", key="name")
        st.add_column("Kind", key="kind")
        st.add_column("State", key="state")
        st.add_column("Last test", key="last_test")
        sync = self.query_one("#sync-table", DataTable)
        sync.add_column("Figure", key="figure")
        sync.add_column("Value", key="value")
        sync.add_column("Meaning", key="meaning")
        sync.display = False
        pe = self.query_one("#pe-table", DataTable)
        pe.add_column("Band", key="band")
        pe.add_column("RSSI dBm", key="rssi")
        pe.add_column("Battery", key="battery")
        pe.add_column("Last seen", key="last_seen")
        pe.add_column("Source", key="source")
        pe.display = False
        self.query_one("#pe-problems", Static).display = False
        pens = self.query_one("#pens-table", DataTable)
        for key, label in (("pen", "Pen"), ("student", "Student"), ("transport", "Transport"), ("link", "Link"),
                           ("battery", "Battery"), ("strokes", "Strokes"), ("lost", "Lost / gaps"),
                           ("offline", "Offline notes"), ("last_seen", "Last seen"), ("detail", "Detail")):
            pens.add_column(label, key=key)
        pens.display = False
        self.query_one("#pens-problems", Static).display = False
        cams = self.query_one("#cameras-table", DataTable)
        for key, label in (("camera", "Camera"), ("name", "Name"), ("state", "State"), ("fps_in", "FPS in"),
                           ("fps_analysed", "FPS analysed"), ("dropped", "Dropped"), ("infer_ms", "Inference"),
                           ("people", "People"), ("size", "Size"), ("report", "Last report"), ("error", "Last error")):
            cams.add_column(label, key=key)
        cams.display = False
        stations = self.query_one("#stations-table", DataTable)
        for key, label in (("station", "Station"), ("name", "Name"), ("camera", "Camera"), ("exercise", "Exercise"),
                           ("student", "Student"), ("present", "In the area"), ("session", "Session")):
            stations.add_column(label, key=key)
        stations.display = False
        self.query_one("#stations-title", Static).display = False
        self._render_log_filter()
        comp.focus()
        self.refresh_health()
        self.load_config()
        self.refresh_sync()
        self.refresh_pe()
        self.refresh_pens()
        self.refresh_cameras()
        self.event_stream()
        self.set_interval(HEALTH_INTERVAL_S, self._tick)

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()

    # ------------------------------------------------------------------ plain mode plumbing
    def get_line_filters(self) -> Sequence[LineFilter]:
        filters = list(super().get_line_filters())
        if self.plain:
            filters.append(self._ascii_filter)
        return filters

    def get_key_display(self, binding: Binding) -> str:
        display = super().get_key_display(binding)
        if self.plain and not display.isascii():
            for glyph, word in _KEY_WORDS.items():
                display = display.replace(glyph, word)
        return display

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Refresh", "Fetch health, configuration, sync status, PE bands, pens and cameras now (r)",
                            self.action_refresh)
        for tab, title in zip(TABS, TAB_TITLES, strict=True):
            yield SystemCommand(f"Show {title}", f"Switch to the {title} tab",
                                lambda tab=tab: self.action_show_tab(tab))
        yield SystemCommand("Cycle log level filter", "Show only lines at or above a level (l)",
                            self.action_cycle_level)
        for name in sorted(self.components):
            yield SystemCommand(f"Self-test {name}", f"Run POST /api/components/{name}/selftest",
                                lambda name=name: self.start_selftest(name))
            yield SystemCommand(f"Restart {name}", f"Restart component {name} (asks first)",
                                lambda name=name: self.confirm_restart(name))

    # ------------------------------------------------------------------ actions
    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        focus_target = {"components": "#components-table", "log": "#log-view", "config": "#config-table",
                        "selftest": "#selftest-table", "sync": "#sync-table",
                        "pe": "#pe-table", "pens": "#pens-table", "cameras": "#cameras-table"}[tab]
        self.query_one(focus_target).focus()

    def action_refresh(self) -> None:
        self.refresh_health()
        self.load_config()
        self.refresh_sync()
        self.refresh_pe()
        self._pens_roster_mono = 0.0
        self.refresh_pens()
        self.refresh_cameras()
        self.notify("Refreshing...", timeout=1.5)

    def action_selftest(self) -> None:
        name = self._current_component()
        if name is None:
            self.notify("No component selected (is the daemon reachable?)", severity="warning")
            return
        self.start_selftest(name)

    def action_restart(self) -> None:
        name = self._current_component()
        if name is None:
            self.notify("No component selected (is the daemon reachable?)", severity="warning")
            return
        self.confirm_restart(name)

    def action_cycle_level(self) -> None:
        self.level_filter_index = (self.level_filter_index + 1) % len(LEVEL_FILTERS)
        self._render_log_filter()
        self._rewrite_log()
        level = LEVEL_FILTERS[self.level_filter_index] or "all levels"
        self.notify(f"Log filter: {level}", timeout=1.5)

    def start_selftest(self, name: str) -> None:
        self.selected = name
        self.action_show_tab("selftest")
        self._select_row("#selftest-table", name)
        self.query_one("#selftest-result", Static).update(
            Text(f"Running self-test of {name} ...", style="bold"))
        self.run_selftest(name)

    def confirm_restart(self, name: str) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_restart(name)
            else:
                self.notify(f"Restart of {name} cancelled", timeout=2)

        self.push_screen(
            ConfirmScreen(f"Restart component '{name}'?\nIt stops and starts again; a failed component is "
                          "revived.", yes_label="Restart", compact=self.plain),
            answered,
        )

    # ------------------------------------------------------------------ selection
    @on(DataTable.RowHighlighted, "#components-table, #selftest-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.selected = str(event.row_key.value)

    @on(DataTable.RowSelected, "#components-table, #selftest-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.start_selftest(str(event.row_key.value))

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane == "config" and self.config_info is None:
            self.load_config()
        if pane == "selftest" and self.selected:
            self._select_row("#selftest-table", self.selected)
        if pane == "components" and self.selected:
            self._select_row("#components-table", self.selected)
        if pane == "sync":
            self.refresh_sync()
        if pane == "pe":
            self.refresh_pe()
        if pane == "pens":
            self._pens_roster_mono = 0.0
            self.refresh_pens()
        if pane == "cameras":
            self.refresh_cameras()

    def _current_component(self) -> str | None:
        active = self.query_one("#tabs", TabbedContent).active
        table_id = "#selftest-table" if active == "selftest" else "#components-table"
        if active in ("components", "selftest"):
            table = self.query_one(table_id, DataTable)
            if table.row_count:
                try:
                    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
                except Exception:
                    key = None
                if key is not None and key.value is not None:
                    return str(key.value)
        if self.selected in self.components:
            return self.selected
        return next(iter(self.components), None)

    def _select_row(self, table_id: str, name: str) -> None:
        table = self.query_one(table_id, DataTable)
        try:
            index = table.get_row_index(name)
        except Exception:
            return
        table.move_cursor(row=index)

    # ------------------------------------------------------------------ health
    def _tick(self) -> None:
        self.refresh_health()
        self.refresh_sync()
        self.refresh_pe()
        self.refresh_pens()
        self.refresh_cameras()
        if self.config_info is None and self.reachable:
            self.load_config()

    @work(group="health")
    async def refresh_health(self) -> None:
        if self._health_in_flight or self.client is None:
            return
        self._health_in_flight = True
        try:
            health = await self.client.health()
        except DaemonError as exc:
            self._set_unreachable(str(exc))
            return
        finally:
            self._health_in_flight = False
        self._set_reachable()
        try:
            self._apply_health(health)
        except Exception as exc:  # a malformed answer must not take the console down
            self.log.error(f"bad /api/health answer: {exc!r}")
            self._set_unreachable(f"daemon at {self.url} sent an unexpected /api/health answer: {exc!r}")

    def _apply_health(self, health: Health) -> None:
        self.health = health
        self.version = health.get("version") or self.version
        boot = health.get("boot_id") or None
        if boot and self.boot_id and boot != self.boot_id:
            self._daemon_restarted(boot)
        self.boot_id = boot or self.boot_id
        self.components = dict(health.get("components") or {})
        self._sync_component_tables()
        self._render_status()

    def _set_unreachable(self, message: str) -> None:
        self.reachable = False
        self.last_error = message
        try:
            banner = self.query_one("#banner", Static)
        except NoMatches:  # the app is shutting down (a worker woke after its widgets were removed)
            return
        since = f" Last contact {_clock(self.last_contact)}." if self.last_contact else ""
        banner.update(Text(f"{message}\nRetrying every {HEALTH_INTERVAL_S:g} s.{since} "
                           "Is the daemon running?  (systemctl status classroom.service)", style="bold"))
        banner.display = True
        self._render_status()

    def _set_reachable(self) -> None:
        was_down = self.reachable is False
        self.reachable = True
        self.last_error = None
        self.last_contact = time.time()
        try:
            self.query_one("#banner", Static).display = False
        except NoMatches:  # the app is shutting down
            return
        if was_down:
            self.notify(f"Daemon at {self.url} is reachable again", timeout=3)
            self.load_config()

    def _daemon_restarted(self, boot_id: str) -> None:
        self._write_marker(f"---- daemon restarted (boot id {boot_id[:8]}) ----")
        self.load_config()

    def _status_text(self) -> Text:
        text = Text()
        text.append(self.url, style="bold")
        text.append("  ")
        if self.reachable is False:
            text.append(" UNREACHABLE ", style="bold white on red")
        elif self.health is None:
            text.append(" connecting... ", style="bold")
        else:
            status = str(self.health.get("status", "unknown"))
            style = STATE_STYLES.get(status, "bold magenta")
            text.append(f" {status.upper()} ", style=f"{style} reverse" if status == "ok" else style)
            counts: dict[str, int] = {}
            for info in self.components.values():
                state = str(info.get("state", "?"))
                counts[state] = counts.get(state, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            text.append(f"  {len(self.components)} components" + (f" ({summary})" if summary else ""))
        if self.version:
            text.append(f"  v{self.version}")
        if self.boot_id:
            text.append(f"  boot {self.boot_id[:8]}")
        text.append("  events ")
        text.append(self.events_state, style="green" if self.events_state == "live" else "yellow")
        if self.last_contact:
            text.append(f"  {_clock(self.last_contact)}", style="dim")
        return text

    def _render_status(self) -> None:
        try:
            status = self.query_one("#status", Static)
            safe = self.query_one("#safe-mode", Static)
        except NoMatches:  # the app is shutting down (a worker woke after its widgets were removed)
            return
        status.update(self._status_text())
        errors = list(self.health.get("config_errors") or []) if self.health else []
        in_safe_mode = bool(self.health and (self.health.get("status") == "safe_mode" or errors))
        if in_safe_mode and self.reachable:
            text = Text("SAFE MODE: the daemon could not use its configuration and runs only its API.\n",
                        style="bold")
            text.append("Fix these errors, then restart the daemon (the Configuration tab shows where "
                        "each setting comes from):\n")
            for error in errors or ["(no details given)"]:
                text.append(f"  - {error}\n")
            safe.update(text)
            safe.display = True
        else:
            safe.display = False

    def _sync_component_tables(self) -> None:
        comp = self.query_one("#components-table", DataTable)
        st = self.query_one("#selftest-table", DataTable)
        names = list(self.components)
        for table in (comp, st):
            for row_key in list(table.rows):
                if row_key.value not in self.components:
                    table.remove_row(row_key)
        for name in names:
            self._update_component_row(name)
        if self.selected is None and names:
            self.selected = names[0]

    def _update_component_row(self, name: str) -> None:
        info = self.components[name]
        last_error = info.get("last_error") or ""
        comp_cells = {
            "name": Text(name, style="bold"),
            "kind": info.get("kind", "?"),
            "state": _state_text(str(info.get("state", "unknown"))),
            "restarts": str(info.get("restarts", 0)),
            "last_error": Text(last_error, style="red") if last_error else Text("-", style="dim"),
        }
        result = self.selftest_results.get(name)
        if result is None:
            last_test = Text("-", style="dim")
        else:
            ok = result["ok"]
            last_test = Text("OK" if ok else "FAILED", style="green" if ok else "bold red")
        st_cells = {
            "name": Text(name, style="bold"),
            "kind": info.get("kind", "?"),
            "state": _state_text(str(info.get("state", "unknown"))),
            "last_test": last_test,
        }
        for table_id, cells in (("#components-table", comp_cells), ("#selftest-table", st_cells)):
            table = self.query_one(table_id, DataTable)
            key = RowKey(name)
            if key in table.rows:
                for column, value in cells.items():
                    table.update_cell(name, column, value, update_width=True)
            else:
                table.add_row(*cells.values(), key=name)

    # ------------------------------------------------------------------ sync
    @work(group="sync")
    async def refresh_sync(self) -> None:
        if self._sync_in_flight or self.client is None:
            return
        self._sync_in_flight = True
        try:
            info = await self.client.sync()
        except DaemonError as exc:
            self.sync_error = str(exc)
            self._render_sync()
            return
        finally:
            self._sync_in_flight = False
        self._apply_sync(info)

    def _apply_sync(self, info: SyncInfo) -> None:
        """Take a ``GET /api/sync`` answer or a ``sync.status`` event (never step back to an older report)."""
        old = self.sync_info
        old_ts = _as_float(old.get("ts")) if old else None
        new_ts = _as_float(info.get("ts"))
        if old_ts is not None and new_ts is not None and 0 < old_ts - new_ts < 30 and "state" in info:
            return  # an answer that overtook a newer event; a big step back is a daemon restart: take it
        now = time.monotonic()
        if new_ts is None or new_ts != old_ts:
            self._sync_ts_changed_mono = now
        self.sync_info = info
        self.sync_error = None
        self.sync_updated = time.time()
        self._sync_received_mono = now
        try:
            self._render_sync()
        except Exception as exc:  # a malformed answer must not take the console down
            self.log.error(f"could not show sync status {info!r}: {exc!r}")

    def _last_ack_age(self, info: SyncInfo) -> float | None:
        """Seconds since the county's last ack, on the daemon's clock (the TUI's clock may differ)."""
        ack = _as_float(info.get("last_ack_at"))
        if ack is None:
            return None
        ts = _as_float(info.get("ts"))
        if ts is None:
            return max(0.0, time.time() - ack)
        return max(0.0, ts - ack) + max(0.0, time.monotonic() - self._sync_received_mono)

    def _render_sync(self) -> None:
        try:
            header = self.query_one("#sync-link", Static)
            table = self.query_one("#sync-table", DataTable)
        except NoMatches:  # the app is shutting down (a sync answer arrived after its widgets were removed)
            return
        info = self.sync_info
        if info is None:
            header.update(Text(f"Sync status not available: {self.sync_error}", style="bold red")
                          if self.sync_error else Text("Loading sync status...", style="dim"))
            table.display = False
            return
        stale = self._sync_stale_note()
        if not info.get("configured"):
            text = Text("Sync not configured ([sync] enabled = false): results are kept in the local outbox",
                        style="bold yellow")
            text.append("\nSet [sync] enabled = true and a broker in the configuration (tab 3) to send them "
                        "to the county.", style="dim")
            if stale:
                text.append("\n" + stale, style="bold red")
            header.update(text)
            table.display = False
            return
        if "state" not in info:
            text = Text("The sync link has not reported yet ", style="bold yellow")
            text.append("(it reports every 2 s once started; see its state on tab 1).", style="dim")
            if stale:
                text.append("\n" + stale, style="bold red")
            header.update(text)
            table.display = False
            return
        header.update(self._sync_header(info, stale))
        for key, label, value, meaning in self._sync_rows(info):
            if RowKey(key) in table.rows:
                table.update_cell(key, "value", value, update_width=True)
            else:
                table.add_row(Text(label, style="bold"), value, Text(meaning, style="dim"), key=key)
        table.display = True

    def _sync_stale_note(self) -> str | None:
        if self.sync_error:
            when = f" (last update {_clock(self.sync_updated)})" if self.sync_updated else ""
            return f"Figures may be out of date{when}: {self.sync_error}"
        info = self.sync_info
        if info and "state" in info:
            quiet = time.monotonic() - self._sync_ts_changed_mono
            if quiet > SYNC_STALE_S:
                return (f"The sync link has not reported for {_human_duration(quiet)}: is the sync component "
                        "running? (tab 1)")
        return None

    def _sync_header(self, info: SyncInfo, stale: str | None) -> Text:
        state = str(info.get("state") or "unknown")
        text = Text()
        text.append("County link  ", style="bold")
        text.append(f" {state.upper()} ", style=SYNC_STATE_STYLES.get(state, "bold magenta"))
        text.append(f"  {info.get('broker') or '(no broker)'}", style="bold")
        text.append(f"  ({info.get('protocol') or '?'})", style="cyan")
        pending = _as_int(info.get("pending")) or 0
        dead = _as_int(info.get("dead_letter")) or 0
        text.append("\n")
        if pending == 0:
            text.append(f"All results delivered: {_as_int(info.get('acked')) or 0} acked, nothing pending.",
                        style="green")
        else:
            age = _as_float(info.get("oldest_pending_age_s"))
            oldest = f", oldest waiting {_human_duration(age)}" if age is not None else ""
            text.append(f"{pending} records waiting to be sent "
                        f"({_human_bytes(_as_int(info.get('pending_bytes')) or 0)}{oldest}).", style="yellow")
        if dead:
            text.append(f"  {dead} rejected by the county (dead letters).", style="bold red")
        if info.get("throttled"):
            text.append("\nUplink throttled: a live dual-teacher lesson is limiting the uplink.", style="yellow")
        text.append("\nLast error: ", style="bold")
        error = info.get("last_error")
        text.append(str(error) if error else "none", style="red" if error else "dim")
        ts = _as_float(info.get("ts"))
        text.append(f"\nReported {_clock(ts) if ts else '?'}. Figures are named as in "
                    "`classroom outbox-stats`; r refreshes.", style="dim")
        if stale:
            text.append("\n" + stale, style="bold red")
        return text

    def _sync_rows(self, info: SyncInfo) -> list[tuple[str, str, Text, str]]:
        def num(key: str) -> int | None:
            return _as_int(info.get(key))

        def plain(value: object) -> Text:
            return Text("-", style="dim") if value is None else Text(str(value))

        pending, dead = num("pending"), num("dead_letter")
        age = _as_float(info.get("oldest_pending_age_s"))
        if age is None:
            age_text = Text("- (nothing pending)", style="dim")
        else:
            age_text = Text(f"{age:.1f} s" + (f" ({_human_duration(age)})" if age >= 60 else ""),
                            style="yellow" if age >= 60 else "")
        size = num("pending_bytes")
        quota = str(info.get("quota_state") or "?")
        ack_age = self._last_ack_age(info)
        ack_at = _as_float(info.get("last_ack_at"))
        if ack_age is None or ack_at is None:
            ack_text = Text("never", style="yellow")
        else:
            ack_text = Text(f"{_human_duration(ack_age)} ago", style="bold")
            ack_text.append(f" (at {_clock(ack_at)})", style="dim")
        throttled = bool(info.get("throttled"))
        return [
            ("epoch", "epoch", plain(info.get("epoch")),
             "outbox generation; a new store starts a new epoch at seq 1"),
            ("last_seq", "last_seq", plain(num("last_seq")), "sequence number of the newest record"),
            ("pending", "pending",
             Text(str(pending), style="yellow" if pending else "green") if pending is not None else plain(None),
             "records not yet acknowledged by the county"),
            ("acked", "acked", plain(num("acked")), "records the county has acknowledged"),
            ("oldest_pending_age_s", "oldest_pending_age_s", age_text, "age of the oldest pending record"),
            ("dead_letter", "dead_letter",
             Text(str(dead), style="bold red" if dead else "") if dead is not None else plain(None),
             "records the county rejected (kept in outbox_dead_letter)"),
            ("pending_bytes", "pending_bytes", plain(_human_bytes(size) if size is not None else None),
             "size of the pending records"),
            ("quota_state", "quota_state", Text(quota, style=QUOTA_STYLES.get(quota, "bold magenta")),
             "ok | warning (near the quota) | full (low-priority records refused)"),
            ("inflight_batches", "inflight_batches", plain(num("inflight_batches")),
             "batches sent and waiting for an ack"),
            ("throttled", "throttled", Text("yes", style="bold yellow") if throttled else Text("no", style="dim"),
             "a live dual-teacher lesson is limiting the uplink"),
            ("last_ack", "last ack", ack_text, "when the county last acknowledged a batch"),
        ]

    # ------------------------------------------------------------------ PE bands
    @work(group="pe")
    async def refresh_pe(self) -> None:
        if self._pe_in_flight or self.client is None:
            return
        self._pe_in_flight = True
        try:
            info = await self.client.pe_bands()
        except DaemonError as exc:
            if exc.status == 404:
                self.pe_configured = False
                self.pe_error = None
                self.pe_adapter = None
                self.pe_problems = []
            else:
                self.pe_error = str(exc)
            self._pe_redraw.request()
            return
        finally:
            self._pe_in_flight = False
        self._apply_pe(info)

    def _apply_pe(self, info: PeBandsInfo) -> None:
        """Take a ``GET /api/pe/bands`` answer."""
        self.pe_configured = True
        self.pe_error = None
        self.pe_problems = list(info.get("roster_problems") or [])
        self.pe_updated = time.time()
        adapter = info.get("adapter")
        if adapter is not None:
            self._apply_pe_adapter(adapter)
        self._pe_redraw.request()

    def _apply_pe_adapter(self, adapter: PeAdapter) -> None:
        """Take the adapter's report (from the API or an ``hr.adapter`` event), never stepping back."""
        old = self.pe_adapter
        old_ts = _as_float(old.get("ts")) if old else None
        new_ts = _as_float(adapter.get("ts"))
        if old_ts is not None and new_ts is not None and 0 < old_ts - new_ts < 30:
            return  # an answer that overtook a newer event; a big step back is a daemon restart: take it
        now = time.monotonic()
        if new_ts is None or new_ts != old_ts:
            self._pe_ts_changed_mono = now
        self.pe_adapter = adapter
        self.pe_updated = time.time()
        self._pe_received_mono = now

    @property
    def pe_renders(self) -> int:
        return self._pe_redraw.renders

    def _render_pe(self) -> None:
        try:
            self._draw_pe()
        except Exception as exc:  # a malformed report must not take the console down
            self.log.error(f"could not show PE bands {self.pe_adapter!r}: {exc!r}")

    def _draw_pe(self) -> None:
        header = self.query_one("#pe-adapter", Static)
        problems = self.query_one("#pe-problems", Static)
        table = self.query_one("#pe-table", DataTable)
        stale = self._pe_stale_note()
        if self.pe_configured is False:
            text = Text("Smart PE not configured on this box", style="bold yellow")
            text.append(" (GET /api/pe/bands answered 404): no heart-rate bands to show.\n"
                        "Set [features.smart_pe] enabled = true and configure the heart_rate driver "
                        "(tab 3 shows the configuration).",
                        style="dim")
            header.update(text)
            problems.display = False
            table.display = False
            return
        adapter = self.pe_adapter
        if adapter is None:
            if self.pe_error:
                header.update(Text(f"PE bands not available: {self.pe_error}", style="bold red"))
            elif self.pe_configured:
                text = Text("The heart-rate adapter has not reported yet ", style="bold yellow")
                text.append("(it reports every 2 s once started; see heart_rate on tab 1).", style="dim")
                header.update(text)
            else:
                header.update(Text("Loading heart-rate bands...", style="dim"))
            self._draw_pe_problems(problems)
            table.display = False
            return
        header.update(self._pe_header(adapter, stale))
        self._draw_pe_problems(problems)
        bands = sorted((b for b in adapter.get("bands") or [] if b.get("band_id")),
                       key=lambda b: str(b.get("band_id")))
        since = max(0.0, time.monotonic() - self._pe_received_mono)
        rows = {str(b["band_id"]): self._pe_cells(b, since) for b in bands}
        if [key.value for key in table.rows] != list(rows):
            cursor_row = table.cursor_row
            table.clear()
            for band_id, cells in rows.items():
                table.add_row(*cells.values(), key=band_id)
            if table.row_count:
                table.move_cursor(row=min(cursor_row, table.row_count - 1))
        else:
            for band_id, cells in rows.items():
                for column, value in cells.items():
                    if column != "band":
                        table.update_cell(band_id, column, value, update_width=True)
        table.display = True

    def _draw_pe_problems(self, widget: Static) -> None:
        if not self.pe_problems:
            widget.display = False
            return
        text = Text(f"Roster problems ({len(self.pe_problems)}):", style="bold yellow")
        for problem in self.pe_problems:
            text.append(f"\n  - {problem}", style="yellow")
        widget.update(text)
        widget.display = True

    def _pe_header(self, adapter: PeAdapter, stale: str | None) -> Text:
        state = str(adapter.get("state") or "unknown")
        text = Text()
        text.append("Heart-rate adapter ", style="bold")
        text.append(str(adapter.get("adapter") or "?"), style="bold cyan")
        text.append("  ")
        text.append(f" {state.upper()} ", style=ADAPTER_STATE_STYLES.get(state, "bold magenta"))
        bands = adapter.get("bands") or []
        seen = _as_int(adapter.get("bands_seen"))
        text.append(f"  {seen if seen is not None else len(bands)} bands heard", style="bold")
        restarts = _as_int(adapter.get("scanner_restarts")) or 0
        text.append("  scanner restarts: ")
        text.append(str(restarts), style="bold yellow" if restarts else "green")
        age = _as_float(adapter.get("last_advert_age_s"))
        text.append("  last advert: ")
        if age is None:
            text.append("never", style="bold yellow")
        else:
            text.append(f"{age:.1f} s ago", style="bold red" if age >= 10 else "yellow" if age >= 3 else "green")
        detail = adapter.get("detail")
        if detail:
            text.append(f"\nDetail: {detail}", style="red" if state in ("unavailable", "restarting") else "")
        ant_state = str(adapter.get("ant_state") or "off")
        if ant_state != "off":
            text.append("\nANT+ stick ", style="bold")
            text.append(f" {ant_state.upper()} ", style=ADAPTER_STATE_STYLES.get(ant_state, "bold magenta"))
            ant_detail = adapter.get("ant_detail")
            if ant_detail:
                text.append(f"  {ant_detail}", style="red" if ant_state == "unavailable" else "")
        ts = _as_float(adapter.get("ts"))
        text.append(f"\nReported {_clock(ts) if ts else '?'}. Last seen is the band's age at that report plus "
                    "the time since; r refreshes.", style="dim")
        if stale:
            text.append("\n" + stale, style="bold red")
        return text

    @staticmethod
    def _pe_cells(band: PeBand, since: float) -> dict[str, Text]:
        rssi = _as_int(band.get("rssi"))
        battery = _as_int(band.get("battery"))
        low = bool(band.get("battery_low"))
        if battery is not None:
            battery_text = Text(f"{battery} %" + (" low" if low else ""), style="bold red" if low else "")
        elif low:
            battery_text = Text("low", style="bold red")
        else:
            battery_text = Text("-", style="dim")
        seen = _as_float(band.get("last_seen_s"))
        if seen is None:
            seen_text = Text("-", style="dim")
        else:
            age = seen + since
            seen_text = Text(f"{age:.1f} s ago", style="bold red" if age >= 10 else "yellow" if age >= 5 else "")
        source = str(band.get("source") or "?")
        return {
            "band": Text(str(band.get("band_id")), style="bold"),
            "rssi": Text("-", style="dim") if rssi is None else Text(str(rssi), style="yellow" if rssi < -85 else ""),
            "battery": battery_text,
            "last_seen": seen_text,
            "source": Text(BAND_SOURCES.get(source, source), style="cyan" if source == "ble_gatt" else ""),
        }

    def _pe_stale_note(self) -> str | None:
        if self.pe_error:
            when = f" (last update {_clock(self.pe_updated)})" if self.pe_updated else ""
            return f"Figures may be out of date{when}: {self.pe_error}"
        if self.pe_adapter is not None:
            quiet = time.monotonic() - self._pe_ts_changed_mono
            if quiet > PE_STALE_S:
                return (f"The heart-rate adapter has not reported for {_human_duration(quiet)}: is the heart_rate "
                        "component running? (tab 1)")
        return None

    # ------------------------------------------------------------------ pens (homework)
    @work(group="pens")
    async def refresh_pens(self) -> None:
        if self._pens_in_flight or self.client is None:
            return
        self._pens_in_flight = True
        try:
            info = await self.client.pens()
            roster: HomeworkRoster | None = None
            if time.monotonic() - self._pens_roster_mono >= PENS_ROSTER_EVERY_S:
                try:
                    roster = await self.client.homework_roster()
                except DaemonError as exc:  # the pens still show, without who holds them
                    self.log.warning(f"homework roster: {exc}")
                self._pens_roster_mono = time.monotonic()
        except DaemonError as exc:
            if exc.status == 404:
                self.pens_configured = False
                self.pens_error = None
                self.pens = {}
                self.pens_problems = []
            else:
                self.pens_error = str(exc)
            self._pens_redraw.request()
            return
        finally:
            self._pens_in_flight = False
        if roster is not None:
            self._apply_pen_roster(roster)
        self._apply_pens(info)

    def _apply_pen_roster(self, roster: HomeworkRoster) -> None:
        self.pens_class = roster.get("class_id")
        self.pen_labels = {_pen_key(pen): s["label"] for s in roster.get("students") or [] if (pen := s.get("pen_id"))}

    def _apply_pens(self, info: PensInfo) -> None:
        """Take a ``GET /api/homework/pens`` answer (pens it no longer lists are dropped)."""
        self.pens_configured = True
        self.pens_error = None
        self.pens_problems = list(info.get("problems") or [])
        self.pens_updated = time.time()
        listed = {_pen_key(p["pen_id"]) for p in info.get("pens") or []}
        for key in [k for k in self.pens if k not in listed]:
            del self.pens[key]
            self._pen_received_mono.pop(key, None)
        for pen in info.get("pens") or []:
            self._apply_pen(pen)
        self._pens_redraw.request()

    def _apply_pen(self, pen: PenInfo) -> None:
        """One pen's report (from the API or a ``pen.status`` event), never stepping back to an older one."""
        key = _pen_key(pen["pen_id"])
        old = self.pens.get(key)
        old_ts = _as_float(old.get("ts")) if old else None
        new_ts = _as_float(pen.get("ts"))
        if old_ts is not None and new_ts is not None and 0 < old_ts - new_ts < 30:
            return  # an answer that overtook a newer event
        self.pens[key] = pen
        self._pen_received_mono[key] = time.monotonic()
        self.pens_updated = time.time()

    @property
    def pens_renders(self) -> int:
        return self._pens_redraw.renders

    def _render_pens(self) -> None:
        try:
            self._draw_pens()
        except NoMatches:  # the app is shutting down
            return
        except Exception as exc:  # a malformed report must not take the console down
            self.log.error(f"could not show pens {self.pens!r}: {exc!r}")

    def _draw_pens(self) -> None:
        header = self.query_one("#pens-summary", Static)
        problems = self.query_one("#pens-problems", Static)
        table = self.query_one("#pens-table", DataTable)
        if self.pens_configured is False:
            text = Text("Pen homework not configured on this box", style="bold yellow")
            text.append(" (GET /api/homework/pens answered 404): no pens to show.\n"
                        "Set [features.homework] enabled = true and configure [drivers.smartpen] "
                        "(tab 3 shows the configuration).", style="dim")
            header.update(text)
            problems.display = False
            table.display = False
            return
        if not self.pens:
            if self.pens_error:
                header.update(Text(f"Pens not available: {self.pens_error}", style="bold red"))
            elif self.pens_configured:
                text = Text("No pen has reported yet ", style="bold yellow")
                text.append("(a pen reports when it connects and every few seconds after; see smartpen on tab 1).",
                            style="dim")
                header.update(text)
            else:
                header.update(Text("Loading pens...", style="dim"))
            self._draw_pens_problems(problems)
            table.display = False
            return
        header.update(self._pens_header())
        self._draw_pens_problems(problems)
        now = time.monotonic()
        rows = {key: self._pen_cells(self.pens[key], now - self._pen_received_mono.get(key, now))
                for key in sorted(self.pens)}
        if [key.value for key in table.rows] != list(rows):
            cursor_row = table.cursor_row
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells.values(), key=key)
            if table.row_count:
                table.move_cursor(row=min(cursor_row, table.row_count - 1))
        else:
            for key, cells in rows.items():
                for column, value in cells.items():
                    if column != "pen":
                        table.update_cell(key, column, value, update_width=True)
        table.display = True

    def _draw_pens_problems(self, widget: Static) -> None:
        if not self.pens_problems:
            widget.display = False
            return
        text = Text(f"Problems ({len(self.pens_problems)}):", style="bold yellow")
        for problem in self.pens_problems:
            text.append(f"\n  - {problem}", style="yellow")
        widget.update(text)
        widget.display = True

    def _pens_header(self) -> Text:
        pens = list(self.pens.values())
        connected = sum(1 for p in pens if p.get("connected"))
        text = Text()
        text.append("Pens ", style="bold")
        text.append(f"{len(pens)} known", style="bold cyan")
        text.append("  connected: ")
        text.append(f"{connected}/{len(pens)}", style="bold green" if connected == len(pens) else "bold yellow")
        strokes = sum(_as_int(p.get("strokes")) or 0 for p in pens)
        lost = sum(_as_int(p.get("lost_events")) or 0 for p in pens)
        gaps = sum(_as_int(p.get("counter_gaps")) or 0 for p in pens)
        offline = sum(_as_int(p.get("offline_notes_pending")) or 0 for p in pens)
        text.append(f"  strokes: {strokes}")
        text.append("  lost events: ")
        text.append(f"{lost} in {gaps} gaps", style="bold yellow" if lost else "green")
        text.append("  offline notes pending: ")
        text.append(str(offline), style="bold yellow" if offline else "green")
        held = sum(1 for key in self.pens if key in self.pen_labels)
        text.append(f"\nStudents from the homework roster of class {self.pens_class or '?'}: {held} of "
                    f"{len(pens)} pens are held by a student.", style="dim")
        text.append(" Lost / gaps: events the pen's counter says never arrived, and in how many gaps; "
                    "r refreshes.", style="dim")
        if self.pens_error:
            when = f" (last update {_clock(self.pens_updated)})" if self.pens_updated else ""
            text.append(f"\nFigures may be out of date{when}: {self.pens_error}", style="bold red")
        return text

    def _pen_cells(self, pen: PenInfo, since: float) -> dict[str, Text]:
        key = _pen_key(pen["pen_id"])
        label = pen.get("label") or self.pen_labels.get(key)
        connected = bool(pen.get("connected"))
        battery = _as_int(pen.get("battery"))
        if battery is None:
            battery_text = Text("-", style="dim")
        else:
            battery_text = Text(f"{battery} %" + (" low" if battery <= 15 else ""),
                                style="bold red" if battery <= 15 else "yellow" if battery <= 30 else "")
        lost = _as_int(pen.get("lost_events")) or 0
        gaps = _as_int(pen.get("counter_gaps")) or 0
        offline = _as_int(pen.get("offline_notes_pending"))
        seen = _as_float(pen.get("last_seen"))
        ts = _as_float(pen.get("ts"))
        if seen is None:
            seen_text = Text("never", style="yellow")
        else:
            age = max(0.0, (ts if ts is not None else time.time()) - seen) + max(0.0, since)
            seen_text = Text(f"{_human_duration(age)} ago" if age >= 60 else f"{age:.1f} s ago",
                             style="bold red" if age >= 2 * PEN_QUIET_S else "yellow" if age >= PEN_QUIET_S else "")
        transport = str(pen.get("transport") or "?")
        detail = pen.get("detail")
        return {
            "pen": Text(key, style="bold"),
            "student": Text(label, style="bold cyan") if label else Text("(nobody)", style="yellow"),
            "transport": Text(PEN_TRANSPORTS.get(transport, transport)),
            "link": Text("connected", style="green") if connected else Text("DISCONNECTED", style="bold red"),
            "battery": battery_text,
            "strokes": Text(str(_as_int(pen.get("strokes")) or 0)),
            "lost": Text(f"{lost} / {gaps}", style="bold yellow" if lost else "dim"),
            "offline": Text("-", style="dim") if offline is None else Text(str(offline),
                                                                            style="bold yellow" if offline else ""),
            "last_seen": seen_text,
            "detail": Text(str(detail), style="red" if not connected else "") if detail else Text("-", style="dim"),
        }

    # ------------------------------------------------------------------ cameras (fitness)
    @work(group="cameras")
    async def refresh_cameras(self) -> None:
        if self._cameras_in_flight or self.client is None:
            return
        self._cameras_in_flight = True
        try:
            state = await self.client.fitness_state()
        except DaemonError as exc:
            if exc.status == 404:
                self.cameras_configured = False
                self.cameras_error = None
                self.cameras = {}
                self.stations = []
            else:
                self.cameras_error = str(exc)
            self._cameras_redraw.request()
            return
        finally:
            self._cameras_in_flight = False
        self._apply_fitness_state(state)

    def _apply_fitness_state(self, state: FitnessState) -> None:
        """Take a ``GET /api/fitness/state`` answer (cameras it no longer lists are dropped)."""
        self.cameras_configured = True
        self.cameras_error = None
        self.cameras_updated = time.time()
        listed = {str(c["camera"]) for c in state.get("cameras") or []}
        for key in [k for k in self.cameras if k not in listed]:
            del self.cameras[key]
            self._camera_received_mono.pop(key, None)
        for camera in state.get("cameras") or []:
            self._apply_camera(camera)
        self.stations = list(state.get("stations") or [])
        self._cameras_redraw.request()

    def _apply_camera(self, camera: CameraInfo) -> None:
        """One camera's report (from the API or a ``fitness.camera`` event); fields it leaves out are kept."""
        key = str(camera["camera"])
        old = self.cameras.get(key)
        merged = dict(old) if old else {}
        merged.update(camera)
        self.cameras[key] = cast(CameraInfo, merged)
        self._camera_received_mono[key] = time.monotonic()
        self.cameras_updated = time.time()

    @property
    def cameras_renders(self) -> int:
        return self._cameras_redraw.renders

    def _render_cameras(self) -> None:
        try:
            self._draw_cameras()
        except NoMatches:  # the app is shutting down
            return
        except Exception as exc:  # a malformed report must not take the console down
            self.log.error(f"could not show cameras {self.cameras!r}: {exc!r}")

    def _draw_cameras(self) -> None:
        header = self.query_one("#cameras-summary", Static)
        table = self.query_one("#cameras-table", DataTable)
        title = self.query_one("#stations-title", Static)
        stations = self.query_one("#stations-table", DataTable)
        if self.cameras_configured is False:
            text = Text("Fitness counting not configured on this box", style="bold yellow")
            text.append(" (GET /api/fitness/state answered 404): no cameras to show.\n"
                        "Set [features.fitness] enabled = true and list the cameras under [drivers.cameras] "
                        "(tab 3 shows the configuration).", style="dim")
            header.update(text)
            for widget in (table, title, stations):
                widget.display = False
            return
        if not self.cameras:
            if self.cameras_error:
                header.update(Text(f"Cameras not available: {self.cameras_error}", style="bold red"))
            elif self.cameras_configured:
                header.update(Text("No camera configured (add one under [drivers.cameras]).", style="bold yellow"))
            else:
                header.update(Text("Loading cameras...", style="dim"))
            table.display = False
        else:
            header.update(self._cameras_header())
            now = time.monotonic()
            rows = {key: self._camera_cells(self.cameras[key], now - self._camera_received_mono.get(key, now))
                    for key in sorted(self.cameras)}
            _fill_table(table, rows, "camera")
            table.display = True
        if not self.stations:
            title.update(Text("Stations: none drawn yet (teachers draw them on the kiosk's fitness screen).",
                              style="dim"))
            title.display = self.cameras_configured is True
            stations.display = False
            return
        title.update(Text(f"Stations ({len(self.stations)})", style="bold"))
        title.display = True
        srows = {str(st["station_id"]): self._station_cells(st)
                 for st in sorted(self.stations, key=lambda x: (str(x.get("camera")), str(x["station_id"])))}
        _fill_table(stations, srows, "station")
        stations.display = True

    def _cameras_header(self) -> Text:
        cams = list(self.cameras.values())
        live = sum(1 for c in cams if c.get("state") == "live")
        bad = [c for c in cams if c.get("state") in ("reconnecting", "failed", "ended", "absent")]
        text = Text()
        text.append("Cameras ", style="bold")
        text.append(f"{len(cams)} configured", style="bold cyan")
        text.append("  live: ")
        text.append(f"{live}/{len(cams)}", style="bold green" if live == len(cams) else "bold yellow")
        people = sum(_as_int(c.get("people")) or 0 for c in cams)
        text.append(f"  people in view: {people}  stations: {len(self.stations)}")
        if bad:
            text.append("\nNeeds attention: ", style="bold red")
            text.append(", ".join(f"{c.get('name') or c['camera']} ({c.get('state')})" for c in bad), style="red")
        text.append("\nFPS in: frames decoded per second; FPS analysed: frames the pose model looked at; dropped: "
                    "frames replaced before analysis. Reports every 2 s; r refreshes.", style="dim")
        if self.cameras_error:
            when = f" (last update {_clock(self.cameras_updated)})" if self.cameras_updated else ""
            text.append(f"\nFigures may be out of date{when}: {self.cameras_error}", style="bold red")
        return text

    @staticmethod
    def _camera_cells(camera: CameraInfo, since: float) -> dict[str, Text]:
        state = str(camera.get("state") or "?")
        fps_in = _as_float(camera.get("fps_in"))
        fps_an = _as_float(camera.get("fps_analysed"))
        infer = _as_float(camera.get("infer_ms"))
        dropped = _as_int(camera.get("dropped"))
        people = _as_int(camera.get("people"))
        width, height = _as_int(camera.get("width")), _as_int(camera.get("height"))
        error = camera.get("error")
        live = state == "live"
        return {
            "camera": Text(str(camera["camera"]), style="bold"),
            "name": Text(str(camera.get("name") or "")),
            "state": Text(state, style=CAMERA_STATE_STYLES.get(state, "bold magenta")),
            "fps_in": Text("-", style="dim") if fps_in is None else Text(
                f"{fps_in:.1f}", style="bold red" if live and fps_in < 1 else ""),
            "fps_analysed": Text("-", style="dim") if fps_an is None else Text(
                f"{fps_an:.1f}", style="yellow" if live and fps_an < 1 else ""),
            "dropped": Text("-", style="dim") if dropped is None else Text(str(dropped), style="yellow" if dropped else ""),
            "infer_ms": Text("-", style="dim") if infer is None else Text(
                f"{infer:.0f} ms", style="bold yellow" if infer > INFER_SLOW_MS else ""),
            "people": Text("-", style="dim") if people is None else Text(str(people)),
            "size": Text(f"{width}x{height}") if width and height else Text("-", style="dim"),
            "report": Text(f"{since:.1f} s ago" if since < 60 else f"{_human_duration(since)} ago",
                           style="yellow" if since >= CAMERA_QUIET_S else "dim"),
            "error": Text(str(error), style="red") if error else Text("-", style="dim"),
        }

    def _station_cells(self, st: StationInfo) -> dict[str, Text]:
        cam_id = str(st.get("camera") or "")
        cam = self.cameras.get(cam_id)
        if cam is None:
            cam_text = Text(f"{cam_id} (no such camera)", style="bold red")
        else:
            cam_state = str(cam.get("state") or "?")
            cam_text = Text(f"{cam.get('name') or cam_id} [{cam_id}]")
            if cam_state != "live":
                cam_text.append(f" {cam_state}", style="bold yellow")
        session = st.get("session")
        if isinstance(session, dict) and session:
            sess = f"{session.get('state', '?')} {session.get('mode', '')} count {session.get('count', 0)}"
            sess_text = Text(sess, style="bold green" if session.get("state") in ("countdown", "running") else "")
        else:
            sess_text = Text("-", style="dim")
        label = st.get("label")
        return {
            "station": Text(str(st["station_id"]), style="bold"),
            "name": Text(str(st.get("name") or "")),
            "camera": cam_text,
            "exercise": Text(str(st.get("exercise") or "?")),
            "student": Text(str(label), style="bold cyan") if label else Text("-", style="dim"),
            "present": Text("yes", style="green") if st.get("present") else Text("no", style="dim"),
            "session": sess_text,
        }

    # ------------------------------------------------------------------ config
    @work(exclusive=True, group="config")
    async def load_config(self) -> None:
        if self.client is None:
            return
        try:
            info = await self.client.config()
        except DaemonError as exc:
            self.config_error = str(exc)
            if self.config_info is None:
                self.query_one("#config-header", Static).update(
                    Text(f"Configuration not available: {exc}", style="bold red"))
            return
        self.config_error = None
        self.config_info = info
        self._render_config(info)

    def _render_config(self, info: ConfigInfo) -> None:
        header = Text()
        path = info.get("path")
        header.append("Config file: ", style="bold")
        header.append(path or "(none - built-in defaults)", style="green" if path else "dim")
        header.append(f"   {len(info.get('rows') or [])} settings;  sources: default | file:PATH:LINE | "
                      "env:NAME", style="dim")
        for note in info.get("notes") or []:
            header.append(f"\n  note: {note}", style="cyan")
        self.query_one("#config-header", Static).update(header)
        table = self.query_one("#config-table", DataTable)
        cursor_row = table.cursor_row
        table.clear()
        for row in info.get("rows") or []:
            key = str(row.get("key", "?"))
            table.add_row(Text(key, style="bold"), _fmt_value(row.get("value")),
                          _source_text(str(row.get("source", "?"))), key=key)
        if table.row_count:
            table.move_cursor(row=min(cursor_row, table.row_count - 1))
        errors_widget = self.query_one("#config-errors", Static)
        errors = list(info.get("errors") or [])
        if errors:
            text = Text("Configuration errors:\n", style="bold red")
            for error in errors:
                text.append(f"  - {error}\n", style="red")
            errors_widget.update(text)
            errors_widget.display = True
        else:
            errors_widget.display = False

    # ------------------------------------------------------------------ self-test / restart
    @work(exclusive=True, group="selftest")
    async def run_selftest(self, name: str) -> None:
        if self.client is None:
            return
        started = time.monotonic()
        result_widget = self.query_one("#selftest-result", Static)
        try:
            result = await self.client.selftest(name)
        except DaemonError as exc:
            result_widget.update(Text(f"Self-test of {name} could not run:\n{exc}", style="bold red"))
            self.notify(str(exc), title=f"Self-test {name}", severity="error")
            return
        elapsed = time.monotonic() - started
        self.selftest_results[name] = result
        if name in self.components:
            self._update_component_row(name)
        result_widget.update(self._selftest_text(name, result, elapsed))
        self.notify(f"{name}: {'OK' if result['ok'] else 'FAILED'} - {result['detail']}",
                    title="Self-test", severity="information" if result["ok"] else "error", timeout=4)

    @staticmethod
    def _selftest_text(name: str, result: SelfTest, elapsed: float) -> Text:
        text = Text()
        text.append(f"Self-test of {name}: ", style="bold")
        text.append(" OK " if result["ok"] else " FAILED ",
                    style="bold black on green" if result["ok"] else "bold white on red")
        text.append(f"   ({elapsed:.2f} s, at {_clock()})\n\n", style="dim")
        text.append(result.get("detail") or "(no detail)")
        text.append("\n")
        data = result.get("data") or {}
        if data:
            text.append("\nData:\n", style="bold")
            width = max(len(str(k)) for k in data)
            for key, value in data.items():
                text.append(f"  {str(key).ljust(width)}  ", style="cyan")
                text.append(f"{_fmt_value(value)}\n")
        return text

    def _selftest_placeholder(self) -> Text:
        return Text("Select a component on the left and press t (or Enter) to run its self-test.\n"
                    "Press R to restart the selected component (you will be asked to confirm).\n\n"
                    "Drivers talk to their device; other components report their own health.",
                    style="dim")

    @work(group="restart")
    async def run_restart(self, name: str) -> None:
        if self.client is None:
            return
        try:
            await self.client.restart(name)
        except DaemonError as exc:
            self.notify(str(exc), title=f"Restart {name}", severity="error")
            return
        self.notify(f"Restart of {name} requested", title="Restart", timeout=3)
        self.refresh_health()

    # ------------------------------------------------------------------ live events
    @work(exclusive=True, group="events")
    async def event_stream(self) -> None:
        """Follow WS /api/events forever, reconnecting with backoff."""
        attempt = 0
        while True:
            client = self.client
            if client is None:
                return
            try:
                async for event in client.events():
                    topic = event.get("topic")
                    if topic == "hello":
                        attempt = 0
                        self._on_hello(event)
                        await self._seed_logs()
                    else:
                        try:
                            self._on_event(event)
                        except Exception as exc:  # one odd event must not end the stream
                            self.log.error(f"could not handle event {event!r}: {exc!r}")
                reason = "the daemon closed the event socket"
            except DaemonError as exc:
                reason = str(exc)
            delay = WS_BACKOFF_S[min(attempt, len(WS_BACKOFF_S) - 1)]
            attempt += 1
            self.events_state = f"reconnecting in {delay:g} s"
            self.log.info(f"event socket: {reason}")
            self._render_status()
            await asyncio.sleep(delay)
            self.events_state = "connecting"
            self._render_status()

    def _on_hello(self, event: Mapping[str, Any]) -> None:
        boot = str(event.get("boot_id") or "") or None
        if boot and self.boot_id and boot != self.boot_id:
            self._daemon_restarted(boot)
        if boot:
            self.boot_id = boot
        self.version = str(event.get("version") or "") or self.version
        self.events_state = "live"
        self._render_status()
        self.refresh_health()

    async def _seed_logs(self) -> None:
        if self.client is None:
            return
        try:
            lines = await self.client.logs(200)
        except DaemonError as exc:
            self._write_marker(f"---- could not load recent log lines: {exc} ----")
            return
        for line in lines:
            self._add_log_line(line)

    def _on_event(self, event: Mapping[str, Any]) -> None:
        topic = event.get("topic")
        if topic == "log":
            self._add_log_line({"ts": float(event.get("ts") or time.time()),
                                "level": str(event.get("level") or "INFO"),
                                "logger": str(event.get("logger") or ""),
                                "message": str(event.get("message") or "")})
        elif topic == "component.state":
            name = str(event.get("name") or "")
            if not name:
                return
            info = self.components.get(name)
            if info is None:
                self.refresh_health()  # a component we don't know yet: fetch its kind etc.
                return
            self.components[name] = ComponentInfo(
                state=str(event.get("state", info["state"])),
                kind=info["kind"],
                restarts=int(event.get("restarts", info["restarts"]) or 0),
                last_error=event.get("last_error", info["last_error"]),
            )
            self._update_component_row(name)
            self._render_status()
        elif topic == "sync.status":
            report = {key: value for key, value in event.items() if key != "topic"}
            report["configured"] = True  # only a configured link reports
            self._apply_sync(cast(SyncInfo, report))
        elif topic == "hr.adapter":
            adapter = {key: value for key, value in event.items() if key != "topic"}
            bands = adapter.get("bands")
            adapter["bands"] = [b for b in bands if isinstance(b, dict)] if isinstance(bands, list) else []
            self._apply_pe_adapter(cast(PeAdapter, adapter))
            self._pe_redraw.request()
        elif topic == "pen.status":
            if event.get("pen_id"):
                self._apply_pen(cast(PenInfo, {key: value for key, value in event.items() if key != "topic"}))
                self._pens_redraw.request()
        elif topic == "fitness.camera":
            if event.get("camera"):
                self._apply_camera(cast(CameraInfo, {k: v for k, v in event.items() if k not in ("topic", "ts")}))
                self._cameras_redraw.request()
        elif topic == "device.alert":
            level = {"critical": "CRITICAL", "warning": "WARNING"}.get(str(event.get("severity")), "INFO")
            state = "" if event.get("active", True) else " (cleared)"
            self._add_log_line({"ts": float(event.get("ts") or time.time()), "level": level,
                                "logger": f"alert.{event.get('source', '?')}",
                                "message": f"{event.get('message', '')}{state}"})

    # ------------------------------------------------------------------ log view
    def _add_log_line(self, line: LogLine) -> None:
        key = (float(line.get("ts") or 0.0), str(line.get("logger", "")), str(line.get("message", "")))
        if key in self._seen_log_set:
            return
        if len(self._seen_logs) == self._seen_logs.maxlen:
            self._seen_log_set.discard(self._seen_logs[0])
        self._seen_logs.append(key)
        self._seen_log_set.add(key)
        self.log_lines.append(line)
        if self._passes_filter(line):
            self.query_one("#log-view", RichLog).write(self._log_text(line))

    def _write_marker(self, message: str) -> None:
        self._add_log_line({"ts": time.time(), "level": "WARNING", "logger": "tui", "message": message})

    def _passes_filter(self, line: LogLine) -> bool:
        minimum = LEVEL_FILTERS[self.level_filter_index]
        return minimum is None or _level_no(str(line.get("level", "INFO"))) >= _level_no(minimum)

    @staticmethod
    def _log_text(line: LogLine) -> Text:
        level = str(line.get("level", "INFO")).upper()
        text = Text()
        text.append(_clock(line.get("ts")) + " ", style="dim")
        text.append(f"{level:<8} ", style=LEVEL_STYLES.get(level, ""))
        text.append(f"{line.get('logger', '')}: ", style="cyan")
        text.append(str(line.get("message", "")))
        return text

    def _rewrite_log(self) -> None:
        view = self.query_one("#log-view", RichLog)
        view.clear()
        for line in self.log_lines:
            if self._passes_filter(line):
                view.write(self._log_text(line))

    def _render_log_filter(self) -> None:
        minimum = LEVEL_FILTERS[self.level_filter_index]
        text = Text("Level filter: ", style="bold")
        text.append(f"{minimum} and above" if minimum else "all levels", style="yellow")
        text.append("   (press l to change)", style="dim")
        self.query_one("#log-filter", Static).update(text)

    def log_view_text(self) -> str:
        """The log view's rendered lines as plain text (for tests and debugging)."""
        view = self.query_one("#log-view", RichLog)
        return "\n".join("".join(segment.text for segment in strip) for strip in view.lines)


def run_tui(url: str = DEFAULT_URL, plain: bool = False) -> int:
    """Run the technician console until the user quits; returns the process exit code.

    ``plain=True`` forces the ASCII-friendly look; with ``plain=False`` it is still chosen when
    ``CLASSROOM_TUI_PLAIN=1`` or ``TERM=linux`` (and ``CLASSROOM_TUI_PLAIN=0`` turns it off).
    """
    app = TechnicianApp(url, plain=True if plain else None)
    app.run()
    return int(app.return_code or 0)

