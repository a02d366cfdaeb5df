#!/usr/bin/env bash
# Sets up everything Classroom Edge needs on a fresh Debian machine, idempotently, then runs one thing.
#   scripts/setup.sh demo [classroom demo options]   -> the simulated classroom (kiosk at :8765)
#   scripts/setup.sh test [pytest options]           -> lint, type check, import contracts, all tests
#   scripts/setup.sh env                             -> only set up
set -euo pipefail
cd "$(dirname "$0")/.."
action="${1:-env}"; shift || true

# System packages: a browser for the kiosk tests, the MQTT broker, PostgreSQL (county scale),
# CJK fonts, systemd-analyze, ffmpeg.
APT_PACKAGES=(python3-venv chromium mosquitto postgresql fonts-wqy-microhei systemd ffmpeg opencv-doc)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python environment in .venv, reinstalled only when pyproject.toml changes.
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: Python 3.11+ required" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=".venv/.classroom-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi

# Pose weights (MediaPipe's Apache-2.0 BlazePose models) taken out of the mediapipe wheel and checked by
# SHA-256; nothing is downloaded when they are already there, and the daemon never downloads.
.venv/bin/python -m models.pose.weights >/dev/null

case "$action" in
  env) ;;
  demo) exec .venv/bin/classroom demo "$@" ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/mypy
    .venv/bin/lint-imports
    exec .venv/bin/pytest -q "$@"
    ;;
  *) echo "usage: scripts/setup.sh [env|demo|test] [args...]" >&2; exit 2 ;;
esac
