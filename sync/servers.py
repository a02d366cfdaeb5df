"""Start real servers (Debian mosquitto, PostgreSQL) on free loopback ports, for the demo, tests and benches.

Real brokers and databases are what users run, so tests use them too; these launchers only pick ports,
write minimal configuration and wait until the server answers.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: a server that ignores a polite stop must not hang a test or the demo."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(iter(glob.glob("/usr/sbin/mosquitto")), None)


class Mosquitto:
    """One mosquitto 2.x process on a fixed loopback port; ``kill()`` and ``start()`` to simulate crashes."""

    def __init__(self, port: int | None = None, workdir: Path | None = None, persistence: bool = False) -> None:
        exe = mosquitto_path()
        if exe is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.exe = exe
        self.port = port or free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "max_queued_messages 1000",
        ]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Mosquitto:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=log, stderr=log)
        wait_port(self.port, timeout, self.proc)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no persistence flush, exactly what a power cut does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout=5)
        self.proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    exe = shutil.which("initdb")
    return Path(exe).parent if exe else None


class Postgres:
    """A throw-away PostgreSQL cluster in a temp dir on a free port (as user postgres when run as root)."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.port = port or free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="pg-"))
        self.datadir = self.workdir / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
        self.proc: subprocess.Popen[bytes] | None = None

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user or 'postgres'}@127.0.0.1:{self.port}/postgres"

    def start(self, timeout: float = 30.0) -> Postgres:
        if not self.datadir.exists():
            subprocess.run(
                self._cmd(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.user or "postgres",
                          "-A", "trust", "--no-sync", "-E", "UTF8"),
                check=True, capture_output=True, timeout=120,
            )
        with open(self.workdir / "postgres.log", "ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                self._cmd(str(self.bindir / "postgres"), "-D", str(self.datadir), "-p", str(self.port),
                          "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.workdir}"),
                stdout=log, stderr=log,
            )
        wait_port(self.port, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self._signal_postmaster(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal_postmaster(signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _signal_postmaster(self, sig: signal.Signals) -> None:
        """Signal postgres itself: runuser does not pass SIGINT on, and killing runuser orphans postgres."""
        assert self.proc is not None
        try:
            os.kill(int((self.datadir / "postmaster.pid").read_text().split()[0]), sig)
        except (OSError, ValueError, IndexError):
            self.proc.send_signal(sig)

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
