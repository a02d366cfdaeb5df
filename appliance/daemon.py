"""The composition root: the only place that turns configuration into drivers, features and the API.

Nothing is allowed to need the network to start, and a broken configuration still starts the API and
kiosk (safe mode) so the classroom screen says what is wrong instead of going dark.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from appliance import __version__
from appliance.api.server import ApiContext, create_app
from appliance.bus import Bus
from appliance.component import Component, ComponentContext
from appliance.config import ConfigError, LoadedConfig
from appliance.config.schema import AppConfig
from appliance.features.base import Feature
from appliance.features.catalog import CATALOG, build_features
from appliance.logs import LogBuffer, setup_logging
from appliance.store import Store
from appliance.supervisor import RestartPolicy, Supervisor
from appliance.system_monitor import SystemMonitor
from appliance.systemd import SystemdNotifier
from sync.link import SyncLink
from sync.outbox import Outbox

log = logging.getLogger(__name__)

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8765


class UnavailableComponent(Component):
    """Stands in for a plug-in that failed to import, so the failure shows up in health, not a crash."""

    def __init__(self, name: str, kind: Any, error: str) -> None:
        self.name, self.kind, self.error = name, kind, error

    async def run(self, ctx: ComponentContext) -> None:
        raise RuntimeError(self.error)


# Config section -> (module, class). Imported only when configured, so a box without a scanner never
# loads OpenCV, and a plug-in that fails to import is one failed component, not a dead daemon.
DRIVER_PLUGINS: dict[str, tuple[str, str]] = {
    "panel": ("drivers.panel", "PanelDriver"),
    "heart_rate": ("drivers.heart_rate", "HeartRateDriver"),
    "smartpen": ("drivers.smartpen", "SmartPenDriver"),
    "scanner": ("drivers.scanner", "ScannerDriver"),
    "cameras": ("drivers.camera", "CameraDriver"),
}


def build_drivers(config: AppConfig) -> list[Component]:
    """One component per configured device family; a plug-in that fails to import is shown, not fatal."""
    drivers: list[Component] = []
    for name, (module, cls) in DRIVER_PLUGINS.items():
        section = getattr(config.drivers, name)
        if section is None:
            continue
        try:
            drivers.append(getattr(importlib.import_module(module), cls)(section))
        except ImportError as exc:
            log.error("%s driver unavailable: %s", name, exc)
            drivers.append(UnavailableComponent(name, "driver", f"driver failed to import: {exc}"))
    return drivers


def salvage_api_address(raw: dict[str, Any]) -> tuple[str, int]:
    """In safe mode, still honour a valid [api] section so the kiosk finds the daemon where it expects."""
    api = raw.get("api")
    api = api if isinstance(api, dict) else {}
    host, port = api.get("host"), api.get("port")
    if not isinstance(host, str):
        host = DEFAULT_HOST
    if not (isinstance(port, int) and 0 < port < 65536):
        port = DEFAULT_PORT
    return host, port


class Daemon:
    def __init__(
        self,
        loaded: LoadedConfig | None,
        config_error: ConfigError | None = None,
        host: str | None = None,
        port: int | None = None,
        log_buffer: LogBuffer | None = None,
        extra_components: list[Component] | None = None,
    ) -> None:
        self.loaded = loaded
        self.extra_components = extra_components or []
        self.config_errors = config_error.errors if config_error else []
        if loaded is not None:
            default_host, default_port = loaded.config.api.host, loaded.config.api.port
        else:
            default_host, default_port = salvage_api_address(config_error.raw if config_error else {})
        self.host = host or default_host
        self.port = port or default_port
        self.log_buffer = log_buffer or setup_logging(loaded.config.logging.level if loaded else "INFO")
        self.boot_id = uuid.uuid4().hex
        self.bus = Bus()
        self.notifier = SystemdNotifier()
        self.supervisor: Supervisor | None = None
        self.store: Store | None = None
        self.outbox: Outbox | None = None
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blocking")
        self.ready = asyncio.Event()

    def _open_store(self, config: AppConfig) -> Store | None:
        path = config.device.data_dir / "classroom.db"
        try:
            store = Store(path)
        except Exception as exc:
            self.config_errors.append(
                f"device.data_dir: cannot open the store at {path} ({exc}); check the directory exists, is "
                "writable by the daemon's user, and the disk is not full"
            )
            return None
        store.call(lambda db: db.table("boots").insert({"boot_id": self.boot_id, "started_at": time.time(), "version": __version__}))
        return store

    async def run(self, stop: asyncio.Event) -> int:
        loop = asyncio.get_running_loop()
        self.log_buffer.attach(loop, self.bus)
        features: dict[str, Feature] = {}
        if self.loaded is not None and not self.config_errors:
            self.store = self._open_store(self.loaded.config)
        if self.loaded is not None and self.store is not None and not self.config_errors:
            config = self.loaded.config
            # The outbox always exists: results are kept on the box whether or not a link is configured.
            self.outbox = Outbox(self.store, self.boot_id, quota_bytes=int(config.sync.outbox_quota_mb * 2**20))
            s = config.supervisor
            policy = RestartPolicy(
                max_restarts=s.max_restarts, window_s=s.window_s,
                backoff_initial_s=s.backoff_initial_s, backoff_max_s=s.backoff_max_s,
            )
            self.supervisor = Supervisor(
                self.bus, policy, self.store, self.executor, self.notifier.watchdog_tick, outbox=self.outbox
            )
            feature_list = build_features(config)
            features = {f.info.id: f for f in feature_list}
            components: list[Component] = [SystemMonitor(config.device.data_dir), *build_drivers(config), *feature_list]
            if config.sync.enabled:
                components.append(SyncLink(config.sync, config.device.id, self.outbox, config.device.data_dir))
            for component in [*components, *self.extra_components]:
                self.supervisor.add(component)
            for note in self.loaded.notes:
                log.warning("config: %s", note)
        else:
            for err in self.config_errors:
                log.error("config error: %s", err)
            log.error("SAFE MODE: configuration invalid; only the API and kiosk run until it is fixed")
        api = ApiContext(
            bus=self.bus, boot_id=self.boot_id, log_buffer=self.log_buffer, catalog=CATALOG,
            supervisor=self.supervisor, loaded=self.loaded, config_errors=self.config_errors, features=features,
        )
        runner = web.AppRunner(create_app(api), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            log.error("cannot listen on %s:%d (%s); set api.port to a free port", self.host, self.port, exc.strerror)
            await runner.cleanup()
            return 1
        safe_watchdog: asyncio.Task[None] | None = None
        if self.supervisor is not None:
            if self.outbox is not None:
                await self.outbox.append("device.boot", {"version": __version__, "boot": self.boot_id})
            await self.supervisor.start()
            self.notifier.ready(f"running {len(self.supervisor.components())} components")
        else:
            self.notifier.ready("SAFE MODE: configuration invalid")
            safe_watchdog = asyncio.create_task(self._safe_mode_watchdog())
        log.info("classroom daemon %s listening on http://%s:%d/", __version__, self.host, self.port)
        self.ready.set()
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            self.notifier.stopping()
            if safe_watchdog:
                safe_watchdog.cancel()
            if self.supervisor is not None:
                await self.supervisor.stop()
            await runner.cleanup()
            self.log_buffer.detach()
            self.executor.shutdown(wait=False, cancel_futures=True)
            if self.store is not None:
                self.store.close()
        return 0

    async def _safe_mode_watchdog(self) -> None:
        while True:
            self.notifier.watchdog_tick()
            await asyncio.sleep(1)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
