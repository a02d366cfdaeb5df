"""``classroom demo``: a whole simulated classroom from one command, no config file, no hardware.

Each feature registers a scenario here: the configuration fragment that puts its devices on their
simulators. The demo is the product's front door for newcomers, so every feature must appear in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.component import Component, ComponentContext, OutboxFull
from appliance.config import CURRENT_SCHEMA_VERSION, load_raw
from appliance.daemon import Daemon, install_stop_signals
from sync.servers import Mosquitto, free_port, mosquitto_path, stop_process, wait_port


@dataclass(frozen=True)
class DemoOptions:
    port: int
    data_dir: Path
    lesson_speed: float = 20.0


@dataclass(frozen=True)
class DemoScenario:
    name: str
    description: str
    config: dict[str, Any] | Callable[[DemoOptions], dict[str, Any]] = field(default_factory=dict)
    components: Callable[[DemoOptions], list[Component]] | None = None
    prepare: Callable[[DemoOptions], None] | None = None  # before the daemon starts (seed rows, ...)


SCENARIOS: list[DemoScenario] = []


def register_scenario(scenario: DemoScenario) -> DemoScenario:
    SCENARIOS.append(scenario)
    return scenario


register_scenario(
    DemoScenario(
        "panel",
        "the interactive panel on a simulated RS-232 line (Samsung MDC bytes over a pseudo-terminal)",
        {
            "drivers": {"panel": {"backend": "simulator", "poll_interval_s": 2.0}},
            "features": {
                "panel_control": {"enabled": True, "inputs": ["hdmi1", "hdmi2", "pc"], "input_labels": {"hdmi2": "实物展台"}}
            },
        },
    )
)


class DemoClassActivity(Component):
    """Yesterday's homework arriving as graded answers, then a trickle during the day: records to sync.

    Student ids are pseudonyms, as everything that leaves a real box is.
    """

    name = "demo_activity"
    kind = "feature"

    def __init__(self, backlog: int = 300, every_s: float = 5.0) -> None:
        self.backlog = backlog
        self.every_s = every_s

    def _answer(self, rng: random.Random) -> dict[str, Any]:
        return {"student": f"p-{rng.randrange(45):02d}", "assignment": "math-2026-11-22", "question": rng.randrange(1, 21),
                "correct": rng.random() < 0.78, "score": rng.choice([0, 2, 5]), "writing_s": rng.randrange(8, 120)}

    async def run(self, ctx: ComponentContext) -> None:
        if ctx.outbox is None:
            raise RuntimeError("demo activity needs the outbox")
        outbox = ctx.outbox
        rng = random.Random()
        if ctx.store is not None and not await ctx.store.run(
            lambda db: db.execute("SELECT 1 FROM outbox WHERE kind = 'demo.homework_grade' LIMIT 1").fetchone()
        ):
            await asyncio.gather(*(outbox.append("demo.homework_grade", self._answer(rng)) for _ in range(self.backlog)))
        while True:
            ctx.heartbeat()
            await asyncio.sleep(self.every_s)
            with contextlib.suppress(OutboxFull):
                for _ in range(rng.randrange(1, 4)):
                    await outbox.append("demo.homework_grade", self._answer(rng))


register_scenario(
    DemoScenario(
        "class activity",
        "300 graded homework answers plus a trickle, synced to a county receiver on this machine",
        components=lambda opts: [DemoClassActivity()],
    )
)


class DemoPeTimetable(Component):
    """Starts and ends PE lessons through the daemon's own API, as the timetable or a teacher would.

    The heart-rate simulator's lesson clock starts with the daemon, so a lesson started now lines up
    with its warm-up, intervals, game and cool-down, and with the planted alerts.
    """

    name = "demo_pe_timetable"
    kind = "feature"

    def __init__(self, url: str, lesson_real_s: float, break_real_s: float = 0.0) -> None:
        self.url = url
        self.lesson_real_s = lesson_real_s
        self.break_real_s = break_real_s

    async def _sleep(self, ctx: ComponentContext, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ctx.heartbeat()
            await asyncio.sleep(min(left, 2.0))

    async def run(self, ctx: ComponentContext) -> None:
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while True:  # wait for the feature and the first bands
                ctx.heartbeat()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.url + "/api/pe/bands") as r:
                        if r.status == 200 and (await r.json())["adapter"].get("bands_seen", 0) > 0:
                            break
                await asyncio.sleep(0.5)
            while True:
                async with http.post(self.url + "/api/pe/lesson/start", json={"by": "timetable", "class_id": DEMO_CLASS}) as r:
                    if r.status not in (200, 409):
                        raise RuntimeError(f"could not start the PE lesson: {r.status} {await r.text()}")
                await self._sleep(ctx, self.lesson_real_s)
                async with http.post(self.url + "/api/pe/lesson/stop", json={"by": "timetable"}) as r:
                    if r.status not in (200, 409):
                        raise RuntimeError(f"could not end the PE lesson: {r.status} {await r.text()}")
                await self._sleep(ctx, self.break_real_s)


DEMO_CLASS = "demo-7-2"


def _pe_band_ids(opts: DemoOptions) -> list[str]:
    from drivers.heart_rate import HeartRateSimulator

    return [b.band_id for b in HeartRateSimulator(bands=45, seed=7).bands]


def _seed_pe_class(opts: DemoOptions) -> None:
    from appliance.features.smart_pe.roster import seed_demo_class
    from appliance.store import Store

    store = Store(opts.data_dir / "classroom.db")
    try:
        store.call(lambda db: seed_demo_class(db, _pe_band_ids(opts), class_id=DEMO_CLASS))
    finally:
        store.close()


register_scenario(
    DemoScenario(
        "smart PE",
        "45 heart-rate bands (Polar adverts and GATT, through bleak's own types) in a compressed 45-minute lesson "
        "with planted alerts, lost contact, a dying battery and a band out of range",
        config=lambda opts: {
            # One advert per band every <= 5 lesson-seconds, so "no signal for 15 s" means what it says.
            "drivers": {"heart_rate": {"backend": "simulator", "bands": 45, "seed": 7,
                                       "rate_hz": min(10.0, max(1.0, opts.lesson_speed / 5)),
                                       "time_scale": opts.lesson_speed}},
            "features": {"smart_pe": {"enabled": True}},
        },
        components=lambda opts: [DemoPeTimetable(f"http://127.0.0.1:{opts.port}", 45 * 60 / opts.lesson_speed)],
        prepare=_seed_pe_class,
    )
)


HOMEWORK_CLASS = "demo-4-2"
HOMEWORK_TEMPLATE = "math-g4-u3-hw1"
HOMEWORK_PLAN = "homework-plan.json"


class DemoHomeworkTeacher(Component):
    """Opens the demo sheet for the demo class through the daemon's own API, as a teacher at the kiosk would.

    The pen simulator runs its plan again and again (the demo's endless class). Once a round's results are
    ready (or, failing that, after ``collect_after_s``) the teacher collects that assignment and opens a fresh
    one, so the next round is graded too; the pens' next round starts well after that.
    """

    name = "demo_homework_teacher"
    kind = "feature"

    def __init__(self, url: str, collect_after_s: float, dwell_s: float = 5.0) -> None:
        self.url = url
        self.collect_after_s = collect_after_s
        self.dwell_s = dwell_s

    async def run(self, ctx: ComponentContext) -> None:
        import aiohttp

        base = self.url + "/api/homework/assignments"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while True:  # wait for the feature
                ctx.heartbeat()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.url + "/api/homework/templates") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.2)
            while True:
                body = {"template_id": HOMEWORK_TEMPLATE, "class_id": HOMEWORK_CLASS, "by": "demo"}
                async with http.post(base, json=body) as r:
                    if r.status not in (200, 409):
                        raise RuntimeError(f"could not open the demo homework: {r.status} {await r.text()}")
                async with http.get(base) as r:  # the open one (also one left open by an earlier run)
                    current = next(a for a in (await r.json())["assignments"]
                                   if a["state"] == "open" and a["class_id"] == HOMEWORK_CLASS)
                aid = current["assignment_id"]
                deadline = time.monotonic() + self.collect_after_s
                while time.monotonic() < deadline:
                    ctx.heartbeat()
                    await asyncio.sleep(1.0)
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with http.get(f"{base}/{aid}") as r:
                            if r.status == 200 and (await r.json())["results_ready"]:
                                break
                await asyncio.sleep(self.dwell_s)
                async with http.post(f"{base}/{aid}/close", json={"by": "demo"}) as r:
                    await r.read()


def _homework_plan() -> dict[str, Any]:
    """The simulator's plan for the demo class (deterministic: the same class every run)."""
    from appliance.features.homework import BUNDLED_TEMPLATES
    from appliance.features.homework.demo_plan import build_plan, demo_pen_ids
    from appliance.features.homework.template import load_template

    sheet = load_template(BUNDLED_TEMPLATES / f"{HOMEWORK_TEMPLATE}.toml")
    return build_plan(sheet, demo_pen_ids())[0]


def _pen_speed(opts: DemoOptions) -> float:
    return min(120.0, max(1.0, opts.lesson_speed))


def _homework_class_s() -> float:
    """Class seconds the slowest child takes (about 4 s a writing), plus the offline pen's upload after class."""
    plan = _homework_plan()
    return max(p["start_delay_s"] + sum(w["pause_before_s"] + 4.0 for w in p["writings"]) for p in plan["pens"]) + 30.0


def _homework_repeat_s() -> float:
    """Class seconds between two runs of the plan: the class, then a break while the teacher looks at results."""
    return round(_homework_class_s() + 600.0)


def _seed_homework_class(opts: DemoOptions) -> None:
    from appliance.features.homework.demo_plan import demo_pen_ids
    from appliance.features.homework.roster import seed_class
    from appliance.store import Store

    (opts.data_dir / HOMEWORK_PLAN).write_text(json.dumps(_homework_plan(), ensure_ascii=False), encoding="utf-8")
    store = Store(opts.data_dir / "classroom.db")
    try:
        store.call(lambda db: seed_class(db, HOMEWORK_CLASS, demo_pen_ids(), students=45))
    finally:
        store.close()


register_scenario(
    DemoScenario(
        "pen homework",
        "45 dot-matrix pens (Neo frames through a simulated gateway and BLE) writing the demo maths sheet with "
        "realistic mistakes, a few doubtful marks for the review queue and one offline pen that uploads after class",
        config=lambda opts: {
            "drivers": {"smartpen": {"backend": "simulator", "script": str(opts.data_dir / HOMEWORK_PLAN),
                                     "time_scale": _pen_speed(opts), "repeat_every_s": _homework_repeat_s()}},
            "features": {"homework": {"enabled": True, "finish_idle_s": 20.0}},
        },
        components=lambda opts: [DemoHomeworkTeacher(f"http://127.0.0.1:{opts.port}",
                                                      _homework_repeat_s() / _pen_speed(opts))],
        prepare=_seed_homework_class,
    )
)


FITNESS_CLASS = "demo-5-1"  # grade 5: rope skipping and sit-ups are scored items there
FITNESS_VIDEOS = {"mats": "fitness-squats.mp4", "lawn": "fitness-jacks.mp4"}


def _fitness_plans() -> dict[str, tuple[Any, ...]]:
    from appliance.demo_media import Segment

    squat, shallow, jack = Segment("squat", 2.4), Segment("squat", 2.4, depth=0.3), Segment("jack", 1.2)
    rest = Segment("stand", 2.0)
    return {"mats": (rest, squat, squat, squat, shallow, squat, squat, shallow, rest),
            "lawn": (rest, *([jack] * 10), rest)}


def _prepare_fitness(opts: DemoOptions) -> None:
    """Two camera videos of a puppet exercising (rendered here, offline) and a grade-5 class with last term's tests."""
    from datetime import date

    from appliance.demo_media import render_exercise_video
    from appliance.features.fitness.demo_seed import seed_demo_archive
    from appliance.features.smart_pe.roster import seed_demo_class
    from appliance.store import Store

    plans = _fitness_plans()
    for cam, name in FITNESS_VIDEOS.items():
        path = opts.data_dir / name
        if not path.exists():
            _render_cached(path, plans[cam], render_exercise_video)
    store = Store(opts.data_dir / "classroom.db")
    try:
        store.call(lambda db: seed_demo_class(db, [], students=30, class_id=FITNESS_CLASS))
        store.call(lambda db: seed_demo_archive(db, FITNESS_CLASS, date.today()))
    finally:
        store.close()


def _render_cached(path: Path, plan: tuple[Any, ...], render: Callable[..., Any]) -> None:
    """Render once per plan and generator version into the user's cache; every later demo copies it (~3 s saved)."""
    import hashlib
    import os
    import shutil

    import appliance.demo_media.exerciser as generator

    key = hashlib.sha256(repr((plan, 7, 15)).encode() + Path(generator.__file__).read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "classroom-edge" / "demo-media"
    cached = cache / f"{path.stem}-{key}{path.suffix}"
    if not cached.exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / f".{cached.name}.{os.getpid()}.tmp{path.suffix}"
            render(tmp, seed=7, fps=15, plan=plan)
            tmp.with_suffix(".json").replace(cached.with_suffix(".json"))
            tmp.replace(cached)
        except OSError:  # no writable cache (a read-only home): render straight into the demo's folder
            render(path, seed=7, fps=15, plan=plan)
            return
    shutil.copyfile(cached, path)
    shutil.copyfile(cached.with_suffix(".json"), path.with_suffix(".json"))


class DemoFitnessTeacher(Component):
    """Puts a student on each station and runs back-to-back training sessions, as a PE teacher would."""

    name = "demo_fitness_teacher"
    kind = "feature"

    def __init__(self, url: str, session_s: float = 30.0) -> None:
        self.url = url
        self.session_s = session_s

    async def run(self, ctx: ComponentContext) -> None:
        import aiohttp

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            state: dict[str, Any] = {}
            while True:  # wait until the feature answers and a camera is live
                ctx.heartbeat()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.url + "/api/fitness/state", params={"class_id": FITNESS_CLASS}) as r:
                        if r.status == 200:
                            state = await r.json()
                            if any(c["state"] == "live" for c in state["cameras"]):
                                break
                await asyncio.sleep(1.0)
            students = [s["student_id"] for s in state["students"]]
            for n, station in enumerate(state["stations"]):
                if station["student_id"] is None and n < len(students):
                    async with http.post(self.url + f"/api/fitness/stations/{station['station_id']}/student",
                                         json={"student_id": students[n]}) as r:
                        await r.read()
            while True:  # one station at a time, as one teacher runs them (and one camera at full pace)
                for station in state["stations"]:
                    sid = station["station_id"]
                    async with http.post(self.url + f"/api/fitness/stations/{sid}/start",
                                         json={"mode": "training"}) as r:
                        await r.read()
                    deadline = time.monotonic() + self.session_s
                    while time.monotonic() < deadline:
                        ctx.heartbeat()
                        await asyncio.sleep(2.0)
                    async with http.post(self.url + f"/api/fitness/stations/{sid}/stop") as r:
                        await r.read()
                    await asyncio.sleep(3.0)


register_scenario(
    DemoScenario(
        "fitness",
        "two playground cameras played from rendered videos (a puppet doing squats, two of them too shallow, and "
        "jumping jacks) with on-device pose, one station each, and a grade-5 class with last term's fitness tests",
        config=lambda opts: {
            "drivers": {"cameras": {"sources": [
                {"id": "mats", "name": "垫子区", "url": str(opts.data_dir / FITNESS_VIDEOS["mats"]), "loop": True},
                {"id": "lawn", "name": "草坪", "url": str(opts.data_dir / FITNESS_VIDEOS["lawn"]), "loop": True},
            ]}},
            "features": {"fitness": {
                "enabled": True, "max_fps": 10.0,
                "stations": [
                    {"id": "squat-1", "name": "深蹲 1号位", "camera": "mats", "exercise": "squat",
                     "region": [[0.2, 0.05], [0.8, 0.05], [0.8, 0.98], [0.2, 0.98]]},
                    {"id": "jack-1", "name": "开合跳 1号位", "camera": "lawn", "exercise": "jumping_jack",
                     "region": [[0.2, 0.05], [0.8, 0.05], [0.8, 0.98], [0.2, 0.98]]},
                ]}},
        },
        components=lambda opts: [DemoFitnessTeacher(f"http://127.0.0.1:{opts.port}")],
        prepare=_prepare_fitness,
    )
)


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def demo_config(data_dir: Path, port: int, lesson_speed: float = 20.0) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "schema_version": CURRENT_SCHEMA_VERSION,
        "device": {
            "id": "demo-classroom",
            "school": "示范县实验小学",
            "classroom": "三年级二班",
            "data_dir": str(data_dir),
        },
        "api": {"host": "127.0.0.1", "port": port},
        "debug": {"allow_fault_injection": True},
    }
    opts = DemoOptions(port, data_dir, lesson_speed)
    for scenario in SCENARIOS:
        _merge(raw, scenario.config(opts) if callable(scenario.config) else scenario.config)
    return raw


class CountyStack:
    """The demo's broker and county receiver: mosquitto when installed, else amqtt (MQTT 3.1.1 only)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db_url = f"sqlite:///{data_dir / 'county.db'}"
        self.mqtt5 = mosquitto_path() is not None
        self.broker_name = "mosquitto (MQTT 5)" if self.mqtt5 else "embedded amqtt (MQTT 3.1.1)"
        self._mosquitto: Mosquitto | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self.url = ""

    def start(self) -> None:
        log = open(self.data_dir / "county.log", "ab")
        if self.mqtt5:
            self._mosquitto = Mosquitto(workdir=self.data_dir / "mosquitto").start()
            self.url = self._mosquitto.url
        else:
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "sync.embedded_broker", "--port", str(port)],
                                    stdout=log, stderr=log)
            self._procs.append(proc)
            wait_port(port, 15, proc)
            self.url = f"mqtt://127.0.0.1:{port}"
        args = ["--protocol", "mqtt5"] if self.mqtt5 else ["--protocol", "mqtt311", "--shared-group", ""]
        self._procs.append(subprocess.Popen(
            [sys.executable, "-m", "cloud_receiver.cli", "serve", "--broker", self.url, "--db", self.db_url, *args],
            stdout=log, stderr=log,
        ))
        log.close()

    def stop(self) -> None:
        for proc in reversed(self._procs):
            stop_process(proc)
        if self._mosquitto is not None:
            self._mosquitto.stop()

    def sync_config(self) -> dict[str, Any]:
        return {"enabled": True, "broker_url": self.url, "protocol": "mqtt5" if self.mqtt5 else "mqtt311",
                "batch_max_age_s": 2.0, "heartbeat_interval_s": 15.0, "reconnect_max_s": 10.0}


@contextlib.contextmanager
def county_stack(data_dir: Path) -> Iterator[CountyStack]:
    stack = CountyStack(data_dir)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def prepare_demo(opts: DemoOptions) -> None:
    """What the scenarios need on disk before the daemon starts (seeded rosters, the pens' plan); blocking."""
    for scenario in SCENARIOS:
        if scenario.prepare is not None:
            scenario.prepare(opts)


async def run_demo(
    seconds: float | None, port: int, data_dir: Path, out: Callable[[str], None] = print, lesson_speed: float = 20.0
) -> int:
    started = time.monotonic()
    opts = DemoOptions(port, data_dir, lesson_speed)
    await asyncio.to_thread(prepare_demo, opts)
    with county_stack(data_dir) as county:
        raw = demo_config(data_dir, port, lesson_speed)
        raw["sync"] = county.sync_config()
        loaded = load_raw(raw, source="built-in demo")
        extra = [c for s in SCENARIOS if s.components for c in s.components(opts)]
        daemon = Daemon(loaded, extra_components=extra)
        stop = asyncio.Event()
        install_stop_signals(stop)
        task = asyncio.create_task(daemon.run(stop))
        ready = asyncio.create_task(daemon.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            return task.result()
        out(f"Classroom Edge demo: kiosk at http://127.0.0.1:{port}/  (data in {data_dir})")
        out("Simulated: " + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS))
        out(f"County side: broker {county.broker_name} at {county.url}; receiver storing into {county.db_url}")
        out(f"Compare: classroom outbox-stats --data-dir {data_dir} --json   and   "
            f"classroom-cloud device-stats {loaded.config.device.id} --db {county.db_url} --json")
        out(f"Technician view: classroom tui --url http://127.0.0.1:{port}   Stop with Ctrl-C.")
        if seconds is not None:
            asyncio.get_running_loop().call_later(max(0.0, seconds - (time.monotonic() - started)), stop.set)
        return await task
