"""Offline, deterministic demo video of a person doing squats and jumping jacks.

Why this exists: the demo classroom (``classroom demo``) runs a playground camera station
from a file, and we have no footage of children exercising (and may not download any).
So we animate a 2-D "paper doll": textured body parts cut from a real photo (the
footballer in Debian opencv-doc's ``messi5.jpg``, cut lines frozen in ``puppet_parts``),
posed by forward kinematics for each exercise and composited with OpenCV onto a
procedurally drawn playground. Real skin, face and clothing pixels are what make
MediaPipe/BlazePose treat the puppet as a person; the generator itself needs neither
MediaPipe nor the network.

The ground truth (every rep's times, whether it is valid, and the puppet's 2-D joints per
frame) is returned and written next to the video as JSON, so the rep counter can be
checked against it (see ``scripts/check_demo_video.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
import numpy.typing as npt

from appliance.demo_media import puppet_parts as pp

WIDTH, HEIGHT = 640, 480
Image = npt.NDArray[np.uint8]
Point = tuple[float, float]

# A squat counts when the thighs get this far towards horizontal (1.0 = the deep squat the
# puppet does); the deliberately shallow ones stay well below it.
VALID_SQUAT_DEPTH = 0.7
VALID_JACK_AMPLITUDE = 0.8

# Joint names written per frame in the ground truth (BlazePose names, image coordinates).
KEYPOINTS = (
    "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


class DemoMediaError(RuntimeError):
    """The texture photo is missing or not the one the cut lines were measured on."""


@dataclass(frozen=True)
class Segment:
    """One stretch of the plan: standing still, one squat, or one jumping jack.

    ``depth`` is how far a squat goes (1.0 = thighs near horizontal) or how wide a jack
    opens (1.0 = hands meet above the head); reps below the valid thresholds are the
    deliberately bad ones the counter must reject.
    """

    kind: Literal["stand", "squat", "jack"]
    duration_s: float
    depth: float = 1.0


def _plan() -> tuple[Segment, ...]:
    squat = Segment("squat", 2.4)
    shallow = Segment("squat", 2.4, depth=0.3)
    jack = Segment("jack", 1.2)
    return (
        Segment("stand", 2.0),
        squat, squat, squat, shallow, squat, squat, shallow,
        Segment("stand", 2.0),
        *([jack] * 10),
        Segment("stand", 2.0),
    )  # fmt: skip


# 5 valid squats with 2 shallow ones among them, then 10 jumping jacks: 34.8 s.
DEFAULT_PLAN: tuple[Segment, ...] = _plan()


# --------------------------------------------------------------------------- texture


@dataclass(frozen=True)
class _Part:
    """A cut-out in its own frame: the bone runs down the patch's centre column."""

    rgb: npt.NDArray[np.float32]  # premultiplied by alpha
    alpha: npt.NDArray[np.float32]
    bone_len: float
    origin: Point  # patch pixel of the bone's start joint


def _load_source() -> Image:
    path = Path(pp.SOURCE_DIR) / pp.SOURCE_FILE
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DemoMediaError(
            f"{path} is missing: the demo exerciser video is cut from this photo; install the Debian package "
            "opencv-doc (apt-get install opencv-doc)"
        )
    if (img.shape[1], img.shape[0]) != pp.SOURCE_SIZE:
        raise DemoMediaError(
            f"{path} is {img.shape[1]}x{img.shape[0]}, expected {pp.SOURCE_SIZE}: not the photo "
            "the puppet cut lines were measured on"
        )
    return np.asarray(img, dtype=np.uint8)


def _cut_parts(img: Image) -> dict[str, _Part]:
    """Cut every part band out of the photo, clipped to the person outline, soft-edged."""
    person = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(person, [np.array(pp.PERSON_OUTLINE, np.int32)], 255, lineType=cv2.LINE_AA)
    parts: dict[str, _Part] = {}
    pad = 2.0
    for name, cut in pp.PART_CUTS.items():
        a = np.array(cut.start, np.float64)
        b = np.array(cut.end, np.float64)
        length = float(np.linalg.norm(b - a))
        u = (b - a) / length
        n = np.array([-u[1], u[0]])
        w = math.ceil(2 * (cut.half_width + pad))
        h = math.ceil(cut.ext_start + length + cut.ext_end + 2 * pad)
        ox, oy = cut.half_width + pad, cut.ext_start + pad
        # patch (px, py) -> photo: a + n * (px - ox) + u * (py - oy)
        m = np.array([[n[0], u[0], a[0] - n[0] * ox - u[0] * oy], [n[1], u[1], a[1] - n[1] * ox - u[1] * oy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        rgb = cv2.warpAffine(img, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(person, m, (w, h), flags=flags, borderValue=0)
        shape = np.zeros((h, w), np.uint8)
        x0, x1 = round(ox - cut.half_width), round(ox + cut.half_width)
        if cut.round_ends:
            r = round(cut.half_width)
            top, bottom = round(oy - cut.ext_start + r), round(oy + length + cut.ext_end - r)
            cv2.rectangle(shape, (x0, top), (x1, bottom), 255, -1)
            cv2.circle(shape, (round(ox), top), r, 255, -1, cv2.LINE_AA)
            cv2.circle(shape, (round(ox), bottom), r, 255, -1, cv2.LINE_AA)
        else:
            cv2.rectangle(shape, (x0, round(oy - cut.ext_start)), (x1, round(oy + length + cut.ext_end)), 255, -1)
        soft = cv2.GaussianBlur(shape, (5, 5), 1.0).astype(np.float32) / 255.0
        alpha = np.asarray(cv2.GaussianBlur((inside.astype(np.float32) / 255.0) * soft, (3, 3), 0.7), np.float32)
        parts[name] = _Part(rgb.astype(np.float32) * alpha[..., None], alpha, length, (ox, oy))
    return parts


def _paste(
    frame: npt.NDArray[np.float32], part: _Part, a: Point, b: Point, width_scale: float, mirror: bool = False
) -> None:
    """Draw ``part`` over ``frame`` with its bone stretched from ``a`` to ``b``.

    Length follows the target bone (so a thigh pointing at the camera gets foreshortened,
    as it would on video) while the width keeps the body's scale.
    """
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    tlen = max(math.hypot(dx, dy), 1e-3)
    ux, uy = dx / tlen, dy / tlen
    nx, ny = -uy, ux
    if mirror:
        nx, ny = -nx, -ny
    s_along = tlen / part.bone_len
    ox, oy = part.origin
    # patch -> frame
    m = np.array([
        [nx * width_scale, ux * s_along, ax - nx * width_scale * ox - ux * s_along * oy],
        [ny * width_scale, uy * s_along, ay - ny * width_scale * ox - uy * s_along * oy],
    ])  # fmt: skip
    h, w = part.alpha.shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ m.T
    x0 = max(math.floor(corners[:, 0].min()) - 1, 0)
    y0 = max(math.floor(corners[:, 1].min()) - 1, 0)
    x1 = min(math.ceil(corners[:, 0].max()) + 1, frame.shape[1])
    y1 = min(math.ceil(corners[:, 1].max()) + 1, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    m[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    rgb = cv2.warpAffine(part.rgb, m, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    alpha = cv2.warpAffine(part.alpha, m, size, flags=cv2.INTER_LINEAR, borderValue=0)
    roi = frame[y0:y1, x0:x1]
    roi *= 1.0 - alpha[..., None]
    roi += rgb


# --------------------------------------------------------------------------- background


def _background(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A school playground: sky, teaching building, fence, red running track, green turf."""
    bg = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    ys = np.arange(HEIGHT, dtype=np.float32)[:, None]
    horizon = 205
    sky = (
        np.array([235, 215, 190], np.float32) * (1 - ys / 400)[..., None]
        + np.array([250, 240, 225]) * (ys / 400)[..., None]
    )
    bg[:horizon] = np.broadcast_to(sky[:horizon], (horizon, WIDTH, 3))
    # teaching building with rows of windows
    cv2.rectangle(bg, (40, 70), (600, horizon), (170, 195, 215), -1)
    cv2.rectangle(bg, (40, 62), (600, 72), (120, 130, 150), -1)
    for row in range(4):
        for col in range(14):
            x, y = 58 + col * 39, 84 + row * 30
            cv2.rectangle(bg, (x, y), (x + 24, y + 17), (120, 105, 90), -1)
            cv2.rectangle(bg, (x, y), (x + 24, y + 17), (225, 230, 235), 1)
    # turf and track in perspective
    turf = np.array([70, 140, 75], np.float32)
    bg[horizon:] = turf * (0.85 + 0.25 * (ys[horizon:] - horizon) / (HEIGHT - horizon))[..., None]
    track = np.array([[0, 385], [WIDTH, 385], [WIDTH, HEIGHT], [0, HEIGHT]], np.int32)
    cv2.fillPoly(bg, [track], (70, 80, 175))
    for y in (400, 425, 455):
        cv2.line(bg, (0, y), (WIDTH, y), (235, 235, 235), 2, cv2.LINE_AA)
    cv2.line(bg, (0, 300), (WIDTH, 292), (230, 235, 230), 2, cv2.LINE_AA)
    # fence between building and field
    cv2.line(bg, (0, horizon - 25), (WIDTH, horizon - 25), (90, 90, 90), 2)
    for x in range(0, WIDTH, 22):
        cv2.line(bg, (x, horizon - 30), (x, horizon), (90, 90, 90), 1)
    grain = rng.normal(0.0, 9.0, (HEIGHT // 2, WIDTH // 2)).astype(np.float32)
    grain = np.asarray(cv2.resize(cv2.GaussianBlur(grain, (3, 3), 0.8), (WIDTH, HEIGHT)), np.float32)
    bg += grain[..., None]
    return np.asarray(cv2.GaussianBlur(bg, (5, 5), 1.2), np.float32)  # the field is out of focus behind the child


# --------------------------------------------------------------------------- pose


@dataclass(frozen=True)
class _Body:
    """Limb lengths in video pixels (a ~330 px tall child-like figure with a big head)."""

    cx: float = 320.0
    ankle_y: float = 430.0
    shin: float = 86.0
    thigh: float = 86.0
    torso: float = 104.0
    hip_half: float = 21.0
    shoulder_half: float = 37.0
    upper_arm: float = 58.0
    forearm: float = 52.0
    head: float = 66.0
    width_scale: float = 1.15  # how much wider than the photo the parts are drawn


def _pose(squat: float, jack: float, lift: float, sway: float, b: _Body) -> dict[str, Point]:
    """Joint positions for a squat depth and a jack opening (both 0..1), front view.

    Seen from the front a squat mostly foreshortens the thighs (they swing towards the
    camera) while the knees track out over the toes; both show in the 2-D knee angle.
    """
    th = math.radians(75.0) * squat  # thigh pitch towards the camera
    sh = math.radians(30.0) * squat  # shin pitch
    knee_out = 15.0 * squat
    feet = 30.0 + 48.0 * jack
    j: dict[str, Point] = {}
    hip_y = 0.0
    for side, sgn in (("left", 1.0), ("right", -1.0)):  # the person's left is image right
        ax, ay = b.cx + sgn * feet + sway, b.ankle_y - lift
        hx = b.cx + sgn * b.hip_half + sway
        if jack > 0.0:  # straight legs spreading: the hip drops a little
            leg = b.thigh + b.shin
            hy = ay - math.sqrt(max(leg**2 - (ax - hx) ** 2, 1.0)) + 2.0
            kx, ky = (ax + hx) / 2 + sgn * 2.0, (ay + hy) / 2
        else:
            kx, ky = ax + sgn * knee_out, ay - b.shin * math.cos(sh)
            hy = ky - b.thigh * math.cos(th)
        j[f"{side}_ankle"], j[f"{side}_knee"], j[f"{side}_hip"] = (ax, ay), (kx, ky), (hx, hy)
        hip_y += hy / 2
    pelvis = (b.cx + sway, hip_y)
    neck = (pelvis[0] + 0.3 * sway, pelvis[1] - b.torso * (1.0 - 0.1 * squat))
    j["pelvis"], j["neck"] = pelvis, neck
    arm = math.radians(12.0 + 14.0 * squat + 156.0 * jack)  # abduction from hanging down
    fore = arm + math.radians(10.0 + 12.0 * jack)
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        sx, sy = neck[0] + sgn * b.shoulder_half, neck[1] + 4.0
        ex, ey = sx + sgn * b.upper_arm * math.sin(arm), sy + b.upper_arm * math.cos(arm)
        wx, wy = ex + sgn * b.forearm * math.sin(fore), ey + b.forearm * math.cos(fore)
        j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_wrist"] = (sx, sy), (ex, ey), (wx, wy)
    chin = (neck[0], neck[1] - 6.0)
    j["chin"], j["crown"] = chin, (chin[0] - 0.1 * sway, chin[1] - b.head)
    j["nose"] = (chin[0], chin[1] - 0.22 * b.head)
    return j


def _draw_puppet(frame: npt.NDArray[np.float32], parts: dict[str, _Part], j: dict[str, Point], b: _Body) -> None:
    """Composite back to front: legs, torso (jersey over shorts), arms, head."""
    ws = b.width_scale
    for side, mirror in (("right", True), ("left", False)):
        _paste(frame, parts["shin"], j[f"{side}_knee"], j[f"{side}_ankle"], ws, mirror)
        _paste(frame, parts["thigh"], j[f"{side}_hip"], j[f"{side}_knee"], ws, mirror)
    _paste(frame, parts["torso"], j["neck"], j["pelvis"], ws)
    for side, short in (("right", "r"), ("left", "l")):
        _paste(frame, parts[f"{short}_upper_arm"], j[f"{side}_shoulder"], j[f"{side}_elbow"], ws)
        _paste(frame, parts[f"{short}_forearm"], j[f"{side}_elbow"], j[f"{side}_wrist"], ws)
    _paste(frame, parts["head"], j["chin"], j["crown"], ws)


# --------------------------------------------------------------------------- timeline


def _smooth(x: float) -> float:
    """0 -> 1 -> 0 over one rep with zero speed at both ends (a cosine bump)."""
    return 0.5 * (1.0 - math.cos(2.0 * math.pi * min(max(x, 0.0), 1.0)))


def _reps(plan: Sequence[Segment]) -> list[dict[str, Any]]:
    reps: list[dict[str, Any]] = []
    t = 0.0
    for seg in plan:
        if seg.kind != "stand":
            threshold = VALID_SQUAT_DEPTH if seg.kind == "squat" else VALID_JACK_AMPLITUDE
            reps.append({
                "exercise": "squat" if seg.kind == "squat" else "jumping_jack",
                "start_s": round(t, 3), "peak_s": round(t + seg.duration_s / 2, 3),
                "end_s": round(t + seg.duration_s, 3), "depth": seg.depth,
                "valid": seg.depth >= threshold,
                "reason": None if seg.depth >= threshold else ("too shallow" if seg.kind == "squat" else "too small"),
            })  # fmt: skip
        t += seg.duration_s
    return reps


def _state_at(plan: Sequence[Segment], t: float) -> tuple[float, float, float, str]:
    """(squat depth, jack opening, jump lift px, exercise) at time ``t``."""
    start = 0.0
    for seg in plan:
        if t < start + seg.duration_s:
            x = (t - start) / seg.duration_s
            if seg.kind == "squat":
                # go down, hold a beat at the bottom, come up, then a short rest
                x = min(x / 0.85, 1.0)
                return seg.depth * min(1.0, 1.1 * _smooth(x)), 0.0, 0.0, "squat"
            if seg.kind == "jack":
                lift = 12.0 * abs(math.sin(2.0 * math.pi * x)) * seg.depth
                return 0.0, seg.depth * _smooth(x), lift, "jumping_jack"
            return 0.0, 0.0, 0.0, "stand"
        start += seg.duration_s
    return 0.0, 0.0, 0.0, "stand"


def render_exercise_video(
    path: Path, *, seed: int = 7, fps: float = 15, plan: Sequence[Segment] = DEFAULT_PLAN
) -> dict[str, Any]:
    """Render the exerciser video to ``path`` (MPEG-4 Part 2 in MP4) and its ground truth.

    The ground truth goes to ``path.with_suffix('.json')`` and is returned: the plan's reps
    (``exercise``, ``start_s``/``peak_s``/``end_s``, ``depth``, ``valid``, ``reason``), the
    counts of valid reps, and per frame the puppet's joints in image pixels (``keypoints``
    names them) plus its 2-D knee angle, so a counter or a pose model can be scored.
    Same seed, same plan -> same pixels.
    """
    if not plan:
        raise ValueError("empty plan")
    rng = np.random.default_rng(seed)
    parts = _cut_parts(_load_source())
    body = _Body()
    bg = _background(rng)
    noise = [rng.normal(0.0, 2.5, (HEIGHT, WIDTH, 1)).astype(np.float32) for _ in range(5)]
    duration = sum(seg.duration_s for seg in plan)
    n_frames = round(duration * fps)
    sway_phase = float(rng.uniform(0, 2 * math.pi))
    frames_gt: list[dict[str, Any]] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 2_500_000
        stream.thread_count = 1  # byte-identical output for a seed
        for i in range(n_frames):
            t = i / fps
            squat, jack, lift, exercise = _state_at(plan, t)
            sway = 3.0 * math.sin(0.9 * t + sway_phase)
            j = _pose(squat, jack, lift, sway, body)
            frame = bg.copy()
            _draw_puppet(frame, parts, j, body)
            frame += noise[i % len(noise)]
            frame *= 1.0 + 0.015 * math.sin(0.37 * t)  # auto-exposure breathing
            img = np.clip(frame, 0, 255).astype(np.uint8)
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            for packet in stream.encode(vf):
                container.mux(packet)
            frames_gt.append({
                "t": round(t, 4), "exercise": exercise,
                "knee_angle_deg": round(_knee_angle(j), 1),
                "joints": [[round(j[k][0], 1), round(j[k][1], 1)] for k in KEYPOINTS],
            })  # fmt: skip
        for packet in stream.encode():
            container.mux(packet)
    reps = _reps(plan)
    truth: dict[str, Any] = {
        "video": path.name, "width": WIDTH, "height": HEIGHT, "fps": fps, "frames": n_frames,
        "duration_s": round(n_frames / fps, 3), "seed": seed,
        "source_photo": f"{pp.SOURCE_DIR}/{pp.SOURCE_FILE}",
        "counts": {
            "squat": sum(1 for r in reps if r["exercise"] == "squat" and r["valid"]),
            "squat_invalid": sum(1 for r in reps if r["exercise"] == "squat" and not r["valid"]),
            "jumping_jack": sum(1 for r in reps if r["exercise"] == "jumping_jack" and r["valid"]),
            "jumping_jack_invalid": sum(1 for r in reps if r["exercise"] == "jumping_jack" and not r["valid"]),
        },
        "reps": reps, "keypoints": list(KEYPOINTS), "per_frame": frames_gt,
    }  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(truth, separators=(",", ":")))
    return truth


def _knee_angle(j: dict[str, Point]) -> float:
    """Mean of both 2-D knee angles (hip-knee-ankle), 180 = straight leg."""
    out = []
    for side in ("left", "right"):
        h, k, a = (np.array(j[f"{side}_{n}"]) for n in ("hip", "knee", "ankle"))
        v1, v2 = h - k, a - k
        c = float(np.dot(v1, v2) / (np.linalg.norm(v1) * np.linalg.norm(v2)))
        out.append(math.degrees(math.acos(max(-1.0, min(1.0, c)))))
    return sum(out) / 2

