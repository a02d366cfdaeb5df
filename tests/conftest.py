"""Shared fixtures: free ports, and a real demo daemon running as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 2.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: dict | None = None, timeout: float = 5.0) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the daemon may not be listening yet
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last error: {last_exc})")


class DemoProcess:
    def __init__(self, port: int, data_dir: Path, seconds: int = 900, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "demo.log"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "demo", "--seconds", str(seconds),
             "--http-port", str(port), "--data-dir", str(data_dir), *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )

    def wait_healthy(self, timeout: float = 20.0) -> dict:
        return wait_for(lambda: self._health_if_ok(), timeout)

    def _health_if_ok(self) -> dict | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"demo exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
        h = get_json(self.url + "/api/health")
        return h if h["status"] == "ok" else None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT, as Ctrl-C
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def demo_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    """One simulated classroom for the browser and TUI tests (session-wide: start-up is the slow part)."""
    demo = DemoProcess(free_port(), tmp_path_factory.mktemp("demo"))
    try:
        demo.wait_healthy(timeout=60)
        yield demo
    finally:
        demo.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
