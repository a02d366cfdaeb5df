"""The whole chain with nothing stood in: a video file through the camera driver (PyAV), the BlazePose
models on LiteRT, the tracker, the station and the squat counter, to a result in the store.

The video is the demo's rendered puppet (a real person's pixels from opencv-doc's messi5.jpg) doing
5 deep squats and 2 too shallow, so the ground truth is known exactly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from appliance.bus import Bus
from appliance.config.schema import CamerasConfig, FitnessFeatureConfig, FitnessStationConfig
from appliance.demo import _fitness_plans
from appliance.events import CameraStatus
from appliance.features.fitness import Fitness
from appliance.features.smart_pe.roster import seed_demo_class
from appliance.store import Store
from appliance.supervisor import Supervisor
from drivers.camera import CameraDriver
from models.pose import PoseModelsMissing, model_paths
from sync.outbox import Outbox


@pytest.fixture(scope="module")
def squat_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    try:
        model_paths()
    except PoseModelsMissing as exc:
        pytest.skip(f"pose weights absent ({exc})")
    from appliance.demo_media import DemoMediaError, render_exercise_video

    path = tmp_path_factory.mktemp("video") / "squats.mp4"
    try:
        truth = render_exercise_video(path, seed=7, fps=15, plan=_fitness_plans()["mats"])
    except DemoMediaError as exc:
        pytest.skip(str(exc))
    return path, truth


async def test_camera_to_counted_result(tmp_path: Path, squat_video: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    video, truth = squat_video
    store = Store(tmp_path / "classroom.db")
    store.call(lambda db: seed_demo_class(db, [], students=3, class_id="7-1"))
    bus = Bus()
    supervisor = Supervisor(bus, store=store, outbox=Outbox(store, "boot-test"))
    cameras = CamerasConfig.model_validate({"sources": [{"id": "mats", "url": str(video), "loop": False}]})
    fitness = Fitness(FitnessFeatureConfig(enabled=True, countdown_s=0, stations=[FitnessStationConfig(
        id="mat-1", camera="mats", exercise="squat", region=[(0.1, 0.0), (0.9, 0.0), (0.9, 1.0), (0.1, 1.0)])]),
        tmp_path, cameras=cameras.sources)
    supervisor.add(CameraDriver(cameras))
    supervisor.add(fitness)
    ended = asyncio.Event()
    with bus.subscribe(CameraStatus, name="test") as sub:
        async def watch() -> None:
            async for st in sub:
                if st.state == "ended":
                    ended.set()

        watcher = asyncio.create_task(watch())
        await supervisor.start()
        try:
            deadline = time.monotonic() + 60
            while "mat-1" not in fitness.stations or "mats" not in fitness.analyzers:
                assert time.monotonic() < deadline, "fitness did not start"
                await asyncio.sleep(0.05)
            assert fitness.pose_error is None
            session = fitness.start("mat-1", "training", None)
            await asyncio.wait_for(ended.wait(), timeout=90)  # the 21 s video, read at its own pace
            await asyncio.sleep(0.5)
            await fitness.stop("mat-1")
            stats = fitness.analyzers["mats"].stats
        finally:
            watcher.cancel()
            await supervisor.stop()
            store.close()
    assert truth["counts"]["squat"] == 5 and truth["counts"]["squat_invalid"] == 2
    assert stats.analysed >= 100, stats  # the models kept up with most of the 312 frames
    assert session.count == 5, session.to_json()
    reasons = [i["reason"] for i in session.invalid]
    # The two shallow squats are not counted; at 0.3 depth they are too shallow to register as attempts at
    # all from the front, so no reason may be given either, and nothing else may be called a fault.
    assert set(reasons) <= {"squat_not_deep"} and len(reasons) <= 2, reasons
    assert session.result is not None and session.result["count"] == 5
