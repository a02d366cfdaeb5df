"""Import direction is a contract: features never import drivers; the TUI and kiosk only use the API."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency: pip install -e '.[dev]'"
    r = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "BROKEN" not in r.stdout and "KEPT" in r.stdout


def test_layout_has_the_agreed_top_level_folders() -> None:
    for folder in ["appliance", "drivers", "models", "sync", "kiosk_ui", "provisioning", "cloud_receiver",
                   "tests", "systemd", "bench", "docs"]:
        assert (ROOT / folder).is_dir(), folder
    assert (ROOT / "README.md").is_file()
