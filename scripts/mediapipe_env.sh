#!/usr/bin/env bash
# Recreates .venv-mediapipe: MediaPipe 0.10.21 (numpy<2) in its own venv, used ONLY by
# tests/test_pose_vs_mediapipe.py and bench/pose_fps.py as a reference, via subprocess.
# The daemon never imports mediapipe. Usage: scripts/mediapipe_env.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
rm -rf .venv-mediapipe
"$PY" -m venv .venv-mediapipe
.venv-mediapipe/bin/pip install --quiet --upgrade pip
.venv-mediapipe/bin/pip install --quiet "mediapipe==0.10.21" "numpy<2"
.venv-mediapipe/bin/python -c "import mediapipe, numpy; print('mediapipe', mediapipe.__version__, 'numpy', numpy.__version__)"
