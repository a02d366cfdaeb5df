"""Synthetic students doing the six exercises, with the right answer attached: the counters' test bench.

A 2-D stick person (segment lengths from the Drillis-Contini table in ``geometry``) is posed in a 3-D
"world" (x forward, u up, z to the person's left, in units of stature) by one motion model per exercise and
projected orthographically for a side-on camera (``facing`` "left"/"right": the way the head/knees point
on the image) or a front/back camera ("front"/"back"). Each rep follows a ``RepSpec``: valid, or with one
fault injected the way a real student makes it (a sit-up that stops short of the knees, a pull-up started
with bent arms, a rope jump with the hands still, ...). Then camera-like noise: per-keypoint Gaussian
jitter of 1-2 % of stature, occasional outliers (one landmark far off for one frame), visibility dips,
frames lost (a gap in time stamps) or empty (None: the tracker lost the student), timestamp jitter, tempo
variation and pauses.

Why synthetic: the rules are about geometry (elbow to knee, chin over bar) and the faults are rare in
real clips, so a generator that can put a known fault in a known rep is the only way to measure recall
per fault. What it cannot tell: how BlazePose itself errs on real children (self-occlusion, loose
clothes), which is what the school's saved clips in ``bench/fitness_eval.py --clips`` are for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field

import numpy as np

from appliance.features.fitness.counters_base import EXERCISES, REASONS_BY_EXERCISE, Rep
from appliance.features.fitness.geometry import FOREARM, NUM_LANDMARKS, SHIN, THIGH, TORSO, UPPER_ARM

Frame = tuple[float, np.ndarray | None]


@dataclass(frozen=True)
class RepSpec:
    """One repetition to generate: ``reason`` None for a valid rep, else the fault code to inject."""

    reason: str | None = None
    duration: float | None = None  # seconds for this rep; None = the exercise's tempo with random variation
    pause_after: float = 0.0  # rest held at the start position after this rep


@dataclass(frozen=True)
class Noise:
    """Camera and tracker imperfections, as fractions of stature and per-frame probabilities."""

    jitter: float = 0.015  # Gaussian sd per keypoint coordinate, fraction of stature
    outlier_rate: float = 0.003  # per keypoint per frame: jumps 10-30 % of stature away
    low_vis_rate: float = 0.03  # per frame: a few keypoints get visibility < 0.5
    drop_rate: float = 0.02  # per frame: the frame never arrives (a gap in ts)
    none_rate: float = 0.01  # per frame: the tracker has nobody (None)
    ts_jitter: float = 0.1  # fraction of the frame interval
    pause_rate: float = 0.08  # per rep: an extra 0.5-2 s pause after it

    @staticmethod
    def clean() -> Noise:
        return Noise(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass
class Sequence:
    """Frames of one student doing one exercise and the reps a careful tester would have recorded."""

    exercise: str
    frames: list[Frame]
    truth: list[Rep]
    fps: float
    facing: str
    scale: float  # stature in px
    bar_y: float | None = None  # pull-up bar in px (the true one; counters may be given it or not)
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(r.valid for r in self.truth)


#: Seconds per rep at tempo 1 (children's typical pace), the facings each camera set-up uses.
TEMPO = {"rope_skip": 0.46, "sit_up": 1.5, "pull_up": 2.6, "push_up": 1.3, "squat": 1.8, "jumping_jack": 1.0}
FACINGS = {
    "rope_skip": ("front", "back"), "sit_up": ("left", "right"), "pull_up": ("front", "back"),
    "push_up": ("left", "right"), "squat": ("left", "right", "front", "back"), "jumping_jack": ("front", "back"),
}
SIDE = ("left", "right")
#: Seconds held in the start position between reps (a pull-up's dead hang is a visible pause).
REST = {"sit_up": (0.05, 0.25), "pull_up": (0.3, 0.6), "push_up": (0.05, 0.25), "squat": (0.1, 0.4),
        "jumping_jack": (0.0, 0.15), "rope_skip": (0.0, 0.0)}


# -- the stick person ------------------------------------------------------------------------------------
def _unit(v: Seq[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    return a / max(float(np.linalg.norm(a)), 1e-9)


def _ik(s: np.ndarray, w: np.ndarray, a: float, b: float, bend: np.ndarray) -> np.ndarray:
    """Elbow/knee for a two-segment limb from ``s`` to ``w``, bent towards ``bend`` (a direction)."""
    d = float(np.linalg.norm(w - s))
    d = min(max(d, abs(a - b) + 1e-6), a + b - 1e-9)
    along = (a * a - b * b + d * d) / (2 * d)
    h = math.sqrt(max(a * a - along * along, 0.0))
    axis = (w - s) / max(d, 1e-9)
    perp = bend - np.dot(bend, axis) * axis
    perp = perp / max(float(np.linalg.norm(perp)), 1e-9)
    return s + axis * along + perp * h


@dataclass
class _Limbs:
    """World positions (x, u, z) of the joints a motion model sets; the rest is derived in ``_assemble``."""

    hip_c: np.ndarray
    shoulder_c: np.ndarray
    face: np.ndarray  # unit vector the face points to
    elbows: tuple[np.ndarray, np.ndarray]  # left, right
    wrists: tuple[np.ndarray, np.ndarray]
    knees: tuple[np.ndarray, np.ndarray]
    ankles: tuple[np.ndarray, np.ndarray]
    hand_dir: tuple[np.ndarray, np.ndarray] | None = None
    toe_dir: np.ndarray | None = None
    shoulder_half: float = 0.13
    hip_half: float = 0.095


def _assemble(b: _Limbs) -> np.ndarray:
    """All 33 landmarks in world units from the main joints (MediaPipe order)."""
    out = np.zeros((NUM_LANDMARKS, 3))
    z = np.array([0.0, 0.0, 1.0])
    d = _unit(b.shoulder_c - b.hip_c)
    n = b.face
    sh = b.shoulder_c
    def head(up: float, fwd: float, lat: float) -> np.ndarray:
        return sh + d * up + n * fwd + z * lat
    out[0] = head(0.09, 0.06, 0.0)
    for i, lat in ((1, 0.015), (2, 0.03), (3, 0.045)):
        out[i] = head(0.118, 0.045, lat)
        out[i + 3] = head(0.118, 0.045, -lat)
    out[7], out[8] = head(0.11, -0.01, 0.07), head(0.11, -0.01, -0.07)
    out[9], out[10] = head(0.072, 0.045, 0.025), head(0.072, 0.045, -0.025)
    out[11], out[12] = sh + z * b.shoulder_half, sh - z * b.shoulder_half
    out[13], out[14] = b.elbows
    out[15], out[16] = b.wrists
    hd = b.hand_dir or (_unit(b.wrists[0] - b.elbows[0]), _unit(b.wrists[1] - b.elbows[1]))
    for side, sgn in ((0, 1.0), (1, -1.0)):
        w, h = b.wrists[side], hd[side]
        out[17 + side] = w + h * 0.06 + z * sgn * 0.015
        out[19 + side] = w + h * 0.07
        out[21 + side] = w + h * 0.04 - z * sgn * 0.015
    out[23], out[24] = b.hip_c + z * b.hip_half, b.hip_c - z * b.hip_half
    out[25], out[26] = b.knees
    out[27], out[28] = b.ankles
    toe = b.toe_dir if b.toe_dir is not None else np.array([1.0, 0.0, 0.0])
    for side in (0, 1):
        a = b.ankles[side]
        out[29 + side] = a - toe * 0.04 + np.array([0.0, -0.03, 0.0])
        out[31 + side] = a + toe * 0.11 + np.array([0.0, -0.03, 0.0])
    return out


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


# -- motion models: q = depth of the rep (0 start position, 1 a full rep), extra = per-rep fault amount ----
def _sit_up(q: float, extra: float, t: float) -> np.ndarray:
    """Lying on the mat, knees bent ~90°, fingers laced behind the head; knees point to +x."""
    theta = math.radians(q * 110.0)  # trunk elevation from the mat; ~110° = curled onto the knees
    hip = np.array([0.0, 0.09, 0.0])
    knee = hip + THIGH * np.array([math.cos(math.radians(40)), math.sin(math.radians(40)), 0.0])
    ankle_u = 0.045
    dx = math.sqrt(max(SHIN**2 - (knee[1] - ankle_u) ** 2, 0.0))
    ankle = np.array([knee[0] + dx, ankle_u, 0.0])
    d = np.array([-math.cos(theta), math.sin(theta), 0.0])
    n = np.array([math.sin(theta), math.cos(theta), 0.0])
    sh = hip + d * TORSO
    phi = math.radians(_lerp(30.0, -36.0, min(q, 1.1) / 1.0))
    elbow_dir = n * math.cos(phi) + d * math.sin(phi)
    zs = np.array([0.0, 0.0, 1.0])
    elbows = (sh + zs * 0.16 + elbow_dir * UPPER_ARM, sh - zs * 0.16 + elbow_dir * UPPER_ARM)
    back = sh + d * 0.11 - n * 0.04
    wrists = (back + zs * 0.03, back - zs * 0.03)
    return _assemble(_Limbs(hip, sh, n, elbows, wrists, (knee + zs * 0.1, knee - zs * 0.1),
                            (ankle + zs * 0.1, ankle - zs * 0.1)))


def _pull_up(q: float, extra: float, t: float) -> np.ndarray:
    """Hanging from the bar (hands fixed at the bar), face to the camera; q lifts the body."""
    wrist_u, grip = 1.30, 0.20
    zs = np.array([0.0, 0.0, 1.0])
    hang = math.sqrt((UPPER_ARM + FOREARM) ** 2 - (grip - 0.13) ** 2) - 1e-4
    sh_u = wrist_u - hang + q * 0.3375
    sh = np.array([0.0, sh_u, 0.0])
    up = np.array([0.0, 1.0, 0.0])
    hip = sh - up * TORSO
    wl, wr = np.array([0.0, wrist_u, grip]), np.array([0.0, wrist_u, -grip])
    el = _ik(sh + zs * 0.13, wl, UPPER_ARM, FOREARM, np.array([0.0, -0.3, 1.0]))
    er = _ik(sh - zs * 0.13, wr, UPPER_ARM, FOREARM, np.array([0.0, -0.3, -1.0]))
    kl, kr = hip + zs * 0.09 - up * THIGH, hip - zs * 0.09 - up * THIGH
    al, ar = kl - up * SHIN, kr - up * SHIN
    return _assemble(_Limbs(hip, sh, np.array([1.0, 0.0, 0.0]), (el, er), (wl, wr), (kl, kr), (al, ar),
                            hand_dir=(up, up)))


PULL_UP_BAR_U = 1.30 + 0.035  # the bar is at the middle of the hand, above the wrist


def _push_up(q: float, extra: float, t: float) -> np.ndarray:
    """Plank on toes and hands, head to +x; q bends the elbows (175° → 80°), ``extra`` sags the hips."""
    ankle = np.array([0.0, 0.06, 0.0])
    body = 0.818 - 0.039
    wrist = np.array([0.721, 0.03, 0.0])
    want = math.radians(175.0 - q * 95.0)
    reach = math.sqrt(UPPER_ARM**2 + FOREARM**2 - 2 * UPPER_ARM * FOREARM * math.cos(want))
    lo, hi = 0.0, math.radians(60)  # body-line angle: bisection for |shoulder - wrist| = reach
    for _ in range(40):
        mid = (lo + hi) / 2
        s = ankle + body * np.array([math.cos(mid), math.sin(mid), 0.0])
        if float(np.linalg.norm(s - wrist)) < reach:
            lo = mid
        else:
            hi = mid
    alpha = (lo + hi) / 2
    line = np.array([math.cos(alpha), math.sin(alpha), 0.0])
    sh = ankle + body * line
    down = np.array([math.sin(alpha), -math.cos(alpha), 0.0])  # perpendicular to the body, to the floor
    hip = ankle + line * (0.53 - 0.039) + down * (0.10 * extra)
    knee = ankle + (hip - ankle) * (SHIN / float(np.linalg.norm(hip - ankle)))
    zs = np.array([0.0, 0.0, 1.0])
    els = tuple(_ik(sh + zs * s * 0.13, wrist + zs * s * 0.15, UPPER_ARM, FOREARM, np.array([-1.0, 0.6, s * 0.3]))
                for s in (1.0, -1.0))
    fwd = np.array([1.0, 0.0, 0.0])
    return _assemble(_Limbs(hip, sh, down, (els[0], els[1]), (wrist + zs * 0.15, wrist - zs * 0.15),
                            (knee + zs * 0.08, knee - zs * 0.08), (ankle + zs * 0.08, ankle - zs * 0.08),
                            hand_dir=(fwd, fwd), toe_dir=np.array([-0.3, -1.0, 0.0])))


def _squat(q: float, extra: float, t: float) -> np.ndarray:
    """Standing, face to +x; q lowers the hips (thigh from vertical to ~5° above horizontal)."""
    gamma = math.radians(90.0 - q * 85.0)
    beta = math.radians(35.0 * min(q, 1.0))
    lean = math.radians(45.0 * min(q, 1.0))
    zs = np.array([0.0, 0.0, 1.0])
    ankle = np.array([0.0, 0.04, 0.0])
    knee = ankle + SHIN * np.array([math.sin(beta), math.cos(beta), 0.0])
    hip = knee + THIGH * np.array([-math.cos(gamma), math.sin(gamma), 0.0])
    sh = hip + TORSO * np.array([math.sin(lean), math.cos(lean), 0.0])
    psi = math.radians(90.0 * min(q, 1.0))
    arm = np.array([math.sin(psi), -math.cos(psi), 0.0])
    els = (sh + zs * 0.13 + arm * UPPER_ARM, sh - zs * 0.13 + arm * UPPER_ARM)
    wrs = (els[0] + arm * FOREARM, els[1] + arm * FOREARM)
    face = np.array([math.cos(lean), -math.sin(lean), 0.0])
    return _assemble(_Limbs(hip, sh, face, els, wrs, (knee + zs * 0.11, knee - zs * 0.11),
                            (ankle + zs * 0.1, ankle - zs * 0.1)))


def _jumping_jack(q: float, extra: float, t: float) -> np.ndarray:
    """Front-on; q raises the arms (10° → 170°) and spreads the legs; ``extra`` < 1 shrinks one of them."""
    arm_q, leg_q = q, q
    if extra < 0:  # arms fall short
        arm_q = q * 0.6
    elif extra > 0:  # feet stay together
        leg_q = q * 0.15
    psi = math.radians(10.0 + 160.0 * arm_q)
    omega = math.radians(2.0 + 20.0 * leg_q)
    hop = 0.025 * math.sin(math.pi * min(max(q, 0.0), 1.0))
    zs = np.array([0.0, 0.0, 1.0])
    up = np.array([0.0, 1.0, 0.0])
    hip = np.array([0.0, 0.53 + hop, 0.0])
    sh = hip + up * TORSO
    arms = [np.array([0.0, -math.cos(psi), s * math.sin(psi)]) for s in (1.0, -1.0)]
    els = (sh + zs * 0.13 + arms[0] * UPPER_ARM, sh - zs * 0.13 + arms[1] * UPPER_ARM)
    wrs = (els[0] + arms[0] * FOREARM, els[1] + arms[1] * FOREARM)
    legs = [np.array([0.0, -math.cos(omega), s * math.sin(omega)]) for s in (1.0, -1.0)]
    kn = (hip + zs * 0.095 + legs[0] * THIGH, hip - zs * 0.095 + legs[1] * THIGH)
    an = (kn[0] + legs[0] * SHIN, kn[1] + legs[1] * SHIN)
    return _assemble(_Limbs(hip, sh, np.array([1.0, 0.0, 0.0]), els, wrs, kn, an))


def _rope_pose(hop: float, turn: float, amp: float) -> np.ndarray:
    """Front-on, hands beside the hips turning small circles (``turn`` = rope angle, 0 = rope under the feet)."""
    zs = np.array([0.0, 0.0, 1.0])
    up = np.array([0.0, 1.0, 0.0])
    hip = np.array([0.0, 0.53 + hop, 0.0])
    sh = hip + up * TORSO
    # hands lowest and forward when the rope passes under the feet (turn = 0)
    circ = np.array([math.sin(turn) * amp, -math.cos(turn) * amp, 0.0])
    wrs = tuple(hip + zs * s * 0.24 + np.array([0.08, 0.06, 0.0]) + circ + zs * s * 0.3 * amp * math.sin(turn)
                for s in (1.0, -1.0))
    els = (sh + zs * 0.17 - up * UPPER_ARM, sh - zs * 0.17 - up * UPPER_ARM)
    kn = (hip + zs * 0.08 - up * THIGH, hip - zs * 0.08 - up * THIGH)
    an = (kn[0] - up * SHIN, kn[1] - up * SHIN)
    return _assemble(_Limbs(hip, sh, np.array([1.0, 0.0, 0.0]), (els[0], els[1]), (wrs[0], wrs[1]), kn, an))


_MODELS: dict[str, Callable[[float, float, float], np.ndarray]] = {
    "sit_up": _sit_up, "pull_up": _pull_up, "push_up": _push_up, "squat": _squat, "jumping_jack": _jumping_jack,
}


# -- timelines ----------------------------------------------------------------------------------------------
def _ease(t: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(max(t, 0.0), 1.0))


@dataclass
class _Seg:
    t0: float
    t1: float
    q0: float
    q1: float
    extra: float = 0.0


def _rep_levels(exercise: str, reason: str | None, rng: np.random.Generator) -> tuple[float, float, float]:
    """(top depth, depth of the rest before this rep, fault amount) for one rep."""
    top, rest, extra = float(rng.uniform(0.97, 1.05)), float(rng.uniform(0.0, 0.03)), 0.0
    if exercise == "sit_up":
        if reason == "elbows_not_to_knees":
            top = float(rng.uniform(0.6, 0.68))
        elif reason == "shoulders_not_to_mat":
            rest = float(rng.uniform(0.24, 0.36))
    elif exercise == "pull_up":
        top = float(rng.uniform(1.02, 1.1))
        if reason == "chin_not_over_bar":
            top = float(rng.uniform(0.7, 0.8))
        elif reason == "no_dead_hang":
            rest = float(rng.uniform(0.12, 0.2))
    elif exercise == "push_up":
        extra = float(rng.uniform(0.0, 0.1))
        if reason == "elbows_not_90":
            top = float(rng.uniform(0.52, 0.62))
        elif reason == "body_not_straight":
            extra = float(rng.uniform(0.95, 1.2))
    elif exercise == "squat":
        if reason == "squat_not_deep":
            top = float(rng.uniform(0.6, 0.66))
    elif exercise == "jumping_jack":
        if reason == "hands_not_over_head":
            extra = -1.0
        elif reason == "feet_not_apart":
            extra = 1.0
    return top, rest, extra


def _check(exercise: str, reps: Seq[RepSpec]) -> None:
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; one of {', '.join(EXERCISES)}")
    for r in reps:
        if r.reason is not None and r.reason not in REASONS_BY_EXERCISE[exercise]:
            raise ValueError(f"{r.reason!r} is not a fault of {exercise}: {REASONS_BY_EXERCISE[exercise]}")


def generate(
    exercise: str,
    *,
    reps: Seq[RepSpec],
    fps: float = 15.0,
    seed: int = 0,
    scale: float = 400.0,
    facing: str | None = None,
    noise: Noise | float | None = None,
    center: tuple[float, float] = (640.0, 650.0),
    tempo: float = 1.0,
    lead_in: float = 1.5,
    tail: float = 1.5,
) -> Sequence:
    """One student doing ``reps`` of ``exercise``; ``scale`` = stature in px, ``center`` = feet/hip on the image.

    ``noise`` is a ``Noise``, a float (jitter as a fraction of stature, other imperfections at their defaults)
    or None (``Noise()``). ``truth`` holds one Rep per spec at the time the rep is complete.
    """
    _check(exercise, reps)
    rng = np.random.default_rng(seed)
    facing = facing or FACINGS[exercise][0]
    if facing not in FACINGS[exercise]:
        raise ValueError(f"{exercise} is filmed {FACINGS[exercise]}, not {facing!r}")
    nz = Noise() if noise is None else (Noise(jitter=float(noise)) if isinstance(noise, (int, float)) else noise)
    base = TEMPO[exercise] / tempo
    truth: list[Rep] = []
    if exercise == "rope_skip":
        world_at, t_end, truth = _rope_timeline(reps, base, lead_in, tail, nz, rng)
    else:
        segs: list[_Seg] = []
        t = lead_in
        q_prev = 0.0
        levels = [_rep_levels(exercise, r.reason, rng) for r in reps]
        # the rest before rep i is where rep i-1 comes down to
        for i, spec in enumerate(reps):
            top, rest, extra = levels[i]
            nxt_rest = levels[i + 1][1] if i + 1 < len(reps) else 0.0
            if i == 0:
                q_prev = rest  # a faulty start position is held from the first frame
            dur = spec.duration or base * float(rng.uniform(0.85, 1.15))
            hold = 0.12 * dur if exercise in ("pull_up", "sit_up") else 0.04 * dur
            rise = (dur - hold) * 0.5
            segs.append(_Seg(t, t + rise, q_prev, top, extra))
            segs.append(_Seg(t + rise, t + rise + hold, top, top, extra))
            segs.append(_Seg(t + rise + hold, t + dur, top, nxt_rest, extra))
            truth.append(Rep(ts=t + dur, valid=spec.reason is None, reason=spec.reason))
            t += dur
            pause = spec.pause_after + (float(rng.uniform(0.5, 2.0)) if rng.random() < nz.pause_rate else 0.0)
            pause += float(rng.uniform(*REST[exercise]))
            segs.append(_Seg(t, t + pause, nxt_rest, nxt_rest))
            t += pause
            q_prev = nxt_rest
        t_end = t + tail
        model = _MODELS[exercise]

        def world_at(ts: float) -> np.ndarray:
            q, extra = 0.0, 0.0
            for s in segs:
                if s.t0 <= ts < s.t1:
                    q = _lerp(s.q0, s.q1, _ease((ts - s.t0) / max(s.t1 - s.t0, 1e-9)))
                    ramp = min((ts - s.t0) / 0.15, 1.0) if s.q0 < s.q1 else 1.0
                    extra = s.extra * ramp
                    break
            else:
                q = 0.0 if not segs else segs[-1].q1 if ts >= segs[-1].t1 else segs[0].q0
            return model(q, extra, ts)

    frames = _render(world_at, t_end, fps, scale, facing, center, nz, rng, exercise)
    bar_y = center[1] - PULL_UP_BAR_U * scale if exercise == "pull_up" else None
    return Sequence(exercise, frames, truth, fps, facing, scale, bar_y,
                    meta={"jitter": nz.jitter, "seed": seed, "tempo": tempo})


def _rope_timeline(
    reps: Seq[RepSpec], base: float, lead_in: float, tail: float, nz: Noise, rng: np.random.Generator
) -> tuple[Callable[[float], np.ndarray], float, list[Rep]]:
    """Jumps with the rope turning once per jump; a ``no_rope_turn`` jump keeps the hands still."""
    jumps: list[tuple[float, float, float, bool]] = []  # start, period, height, turning
    truth: list[Rep] = []
    t = lead_in
    for spec in reps:
        period = spec.duration or base * float(rng.uniform(0.9, 1.1))
        jumps.append((t, period, float(rng.uniform(0.035, 0.06)), spec.reason is None))
        truth.append(Rep(ts=t + period * 0.55, valid=spec.reason is None, reason=spec.reason))
        t += period
        pause = spec.pause_after + (float(rng.uniform(0.6, 2.0)) if rng.random() < nz.pause_rate else 0.0)
        t += pause
    amp = float(rng.uniform(0.04, 0.055))
    air = 0.5

    def world_at(ts: float) -> np.ndarray:
        # between jumps (lead-in, pauses, tail) the student stands with the hands still at mid-height
        for t0, period, height, turning in jumps:
            if t0 <= ts < t0 + period:
                ph = (ts - t0) / period
                hop = height * math.sin(math.pi * ph / air) if ph < air else 0.0
                # the rope passes under the feet (turn 0, hands lowest) at the top of the jump; a caught rope
                # (``no_rope_turn``) leaves the hands still at mid-height while the student still jumps
                return _rope_pose(hop, 2 * math.pi * (ph - air / 2), amp if turning else 0.0)
        return _rope_pose(0.0, 0.0, 0.0)

    return world_at, t + tail, truth


def _render(
    world_at: Callable[[float], np.ndarray], t_end: float, fps: float, scale: float, facing: str,
    center: tuple[float, float], nz: Noise, rng: np.random.Generator, exercise: str,
) -> list[Frame]:
    frames: list[Frame] = []
    dt = 1.0 / fps
    n = int(t_end * fps)
    near_left = facing == "left"
    for k in range(n):
        ts = k * dt + float(rng.uniform(-nz.ts_jitter, nz.ts_jitter)) * dt
        ts = max(ts, 0.0)
        if rng.random() < nz.drop_rate:
            continue
        if rng.random() < nz.none_rate:
            frames.append((ts, None))
            continue
        w = world_at(ts)
        kps = np.zeros((NUM_LANDMARKS, 3), dtype=np.float32)
        if facing in SIDE:
            sgn = 1.0 if facing == "right" else -1.0
            x = sgn * w[:, 0] - 0.12 * w[:, 2]
        else:
            x = -w[:, 2] if facing == "front" else w[:, 2]
        kps[:, 0] = center[0] + scale * x
        kps[:, 1] = center[1] - scale * w[:, 1]
        vis = rng.uniform(0.85, 0.99, NUM_LANDMARKS)
        if facing in SIDE:  # the far side is guessed by the model: lower visibility, more error
            far = [i for i in range(11, 33) if (i % 2 == 1) != near_left] + ([2, 7, 9] if not near_left else [5, 8, 10])
            vis[far] = rng.uniform(0.4, 0.85, len(far))
            kps[far, :2] += rng.normal(0, nz.jitter * scale, (len(far), 2))
        if facing == "back":
            vis[:11] = rng.uniform(0.05, 0.35, 11)
            vis[[7, 8]] = rng.uniform(0.5, 0.8, 2)
        kps[:, :2] += rng.normal(0, nz.jitter * scale, (NUM_LANDMARKS, 2))
        out = rng.random(NUM_LANDMARKS) < nz.outlier_rate
        if out.any():
            ang = rng.uniform(0, 2 * math.pi, int(out.sum()))
            r = rng.uniform(0.1, 0.3, int(out.sum())) * scale
            kps[out, 0] += r * np.cos(ang)
            kps[out, 1] += r * np.sin(ang)
        if rng.random() < nz.low_vis_rate:
            idx = rng.choice(NUM_LANDMARKS, int(rng.integers(2, 8)), replace=False)
            vis[idx] = rng.uniform(0.05, 0.45, len(idx))
            kps[idx, :2] += rng.normal(0, 3 * nz.jitter * scale + 1e-9, (len(idx), 2))
        kps[:, 2] = vis
        frames.append((ts, kps))
    return frames


# -- the fixed evaluation set --------------------------------------------------------------------------------
def random_reps(exercise: str, rng: np.random.Generator, n: int, invalid_rate: float = 0.2) -> list[RepSpec]:
    """``n`` reps, each faulty with probability ``invalid_rate`` (a random fault of the exercise)."""
    faults = REASONS_BY_EXERCISE[exercise]
    out = []
    for _ in range(n):
        reason = str(rng.choice(faults)) if rng.random() < invalid_rate else None
        out.append(RepSpec(reason=reason))
    return out


def eval_set(seed: int = 2014, per_exercise: int = 20) -> list[Sequence]:
    """The bench's fixed set: ``per_exercise`` sequences per exercise, faults mixed in, fps 10/15/30,
    jitter 1-2 % of stature, statures 150-600 px, every facing the exercise is filmed from, tempo ±20 %."""
    rng = np.random.default_rng(seed)
    out = []
    for exercise in EXERCISES:
        for i in range(per_exercise):
            n = int(rng.integers(20, 41)) if exercise == "rope_skip" else int(rng.integers(6, 16))
            fps = (10.0, 15.0, 30.0)[i % 3]
            jitter = float(rng.uniform(0.01, 0.02))
            facing = FACINGS[exercise][i % len(FACINGS[exercise])]
            scale = float(rng.uniform(150, 600))
            center = (float(rng.uniform(300, 980)), float(rng.uniform(500, 700)))
            tempo = float(rng.uniform(0.8, 1.2))
            reps = random_reps(exercise, rng, n)
            out.append(generate(exercise, reps=reps, fps=fps, seed=int(rng.integers(1 << 31)), scale=scale,
                                facing=facing, noise=Noise(jitter=jitter), center=center, tempo=tempo))
    return out
