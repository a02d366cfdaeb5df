"""The demo exerciser video: renders offline, decodes, matches its ground truth, repeatable.

Whether MediaPipe actually sees a person in it is checked separately by
``scripts/check_demo_video.py`` (MediaPipe is not a project dependency).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest

from appliance.demo_media import DEFAULT_PLAN, DemoMediaError, Segment, render_exercise_video
from appliance.demo_media import puppet_parts as pp

PHOTO = Path(pp.SOURCE_DIR) / pp.SOURCE_FILE
needs_photo = pytest.mark.skipif(not PHOTO.exists(), reason=f"{PHOTO} missing (Debian package opencv-doc)")

SHORT = (Segment("stand", 0.4), Segment("squat", 2.0), Segment("squat", 2.0, depth=0.3), Segment("jack", 1.2))


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@needs_photo
def test_video_and_ground_truth(tmp_path: Path) -> None:
    video = tmp_path / "ex.mp4"
    truth = render_exercise_video(video, plan=SHORT, fps=15)
    frames = _decode(video)
    assert len(frames) == truth["frames"] == round(5.6 * 15)
    assert all(f.shape == (480, 640, 3) for f in frames)
    on_disk = json.loads(video.with_suffix(".json").read_text())
    assert on_disk == json.loads(json.dumps(truth))
    assert truth["counts"] == {"squat": 1, "squat_invalid": 1, "jumping_jack": 1, "jumping_jack_invalid": 0}
    squat, shallow, jack = truth["reps"]
    assert (squat["exercise"], squat["valid"], squat["start_s"], squat["end_s"]) == ("squat", True, 0.4, 2.4)
    assert (shallow["valid"], shallow["reason"]) == (False, "too shallow")
    assert (jack["exercise"], jack["valid"], jack["peak_s"]) == ("jumping_jack", True, 5.0)
    per_frame = truth["per_frame"]
    assert len(per_frame) == len(frames)
    knees = [f["knee_angle_deg"] for f in per_frame]
    assert max(knees) > 170 and min(knees) < 130  # the deep squat really bends the knees
    nose, wrist = truth["keypoints"].index("nose"), truth["keypoints"].index("left_wrist")
    assert any(f["joints"][wrist][1] < f["joints"][nose][1] for f in per_frame)  # hands above the head in the jack
    # the puppet is drawn: the middle of the frame differs from the bare playground corner
    assert float(np.abs(frames[0][200:400, 280:360].astype(int) - frames[0][200:400, 0:80].astype(int)).mean()) > 20


@needs_photo
def test_same_seed_same_bytes(tmp_path: Path) -> None:
    plan = (Segment("squat", 1.0), Segment("jack", 1.0))
    a, b, c = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    render_exercise_video(a, plan=plan, seed=3)
    render_exercise_video(b, plan=plan, seed=3)
    render_exercise_video(c, plan=plan, seed=4)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]


def test_default_plan_is_squats_then_jacks() -> None:
    kinds = [s.kind for s in DEFAULT_PLAN if s.kind != "stand"]
    assert kinds.index("jack") == kinds.count("squat")
    assert 30 <= sum(s.duration_s for s in DEFAULT_PLAN) <= 60
    assert any(s.kind == "squat" and s.depth < 0.7 for s in DEFAULT_PLAN)  # shallow ones to reject


def test_missing_photo_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pp, "SOURCE_DIR", str(tmp_path))
    with pytest.raises(DemoMediaError, match="opencv-doc"):
        render_exercise_video(tmp_path / "x.mp4", plan=SHORT)
