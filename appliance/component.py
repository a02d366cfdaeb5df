"""The contract between the supervisor and everything it runs (drivers, features, sync links).

A component's ``run`` is a long-lived coroutine: it should loop until cancelled and call
``ctx.heartbeat()`` at least once per ``heartbeat_timeout_s``. Raising means "I crashed", returning
means "I stopped on my own"; the supervisor restarts both, with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from appliance.bus import Bus
from appliance.events import ComponentState

if TYPE_CHECKING:
    import sqlite_utils

    from appliance.store import Store

T = TypeVar("T")

ComponentKind = Literal["driver", "feature", "sync", "service"]


class OutboxFull(RuntimeError):
    """A low-priority record refused because the outbox is over its quota (never raised for grades)."""


class RecordSink(Protocol):
    """Where features put results for the county (the durable outbox), without importing ``sync``."""

    def add(self, db: sqlite_utils.Database, kind: str, payload: dict[str, Any], ts: float | None = None) -> int:
        """Append inside the caller's ``store.run`` transaction, next to the feature's own rows."""
        ...

    async def append(self, kind: str, payload: dict[str, Any]) -> int:
        """Append in a transaction of its own (records with no domain row)."""
        ...


class InjectedFault(RuntimeError):
    """Raised inside a component when a technician (or a test) asks it to crash."""


@dataclass
class SelfTestResult:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class Component(ABC):
    """Something the supervisor keeps alive."""

    name: str = "component"
    kind: ComponentKind = "service"
    heartbeat_timeout_s: float = 30.0
    # Features are usable once running; a driver is "ok" only after its device has answered (it calls ctx.ok()).
    ready_on_heartbeat: bool = True

    @abstractmethod
    async def run(self, ctx: ComponentContext) -> None:
        """Run until cancelled; heartbeat via ``ctx``."""

    async def self_test(self) -> SelfTestResult:
        """A quick check a technician can trigger from the TUI; override for real devices."""
        return SelfTestResult(ok=True, detail="no self-test defined for this component")


class ComponentContext:
    """What a running component may use: the bus, the store, an executor, and its own status."""

    def __init__(
        self,
        name: str,
        bus: Bus,
        store: Store | None,
        executor: Executor | None,
        on_state: Callable[[ComponentState, str | None], None],
        ready_on_heartbeat: bool = True,
        outbox: RecordSink | None = None,
    ) -> None:
        self.name = name
        self.bus = bus
        self.store = store
        self.outbox = outbox
        self.log = logging.getLogger(f"component.{name}")
        self._executor = executor
        self._on_state = on_state
        self.last_heartbeat = time.monotonic()
        self.state: ComponentState = "starting"
        self.fault_pending = False
        self.ready_on_heartbeat = ready_on_heartbeat

    def heartbeat(self) -> None:
        """Prove liveness; the first one marks a starting component ok unless it reports readiness itself."""
        if self.fault_pending:
            self.fault_pending = False
            raise InjectedFault("fault injected on request")
        self.last_heartbeat = time.monotonic()
        if self.state == "starting" and self.ready_on_heartbeat:
            self.set_state("ok")

    def set_state(self, state: ComponentState, reason: str | None = None) -> None:
        if state == self.state and reason is None:
            return
        self.state = state
        self._on_state(state, reason)

    def degraded(self, reason: str) -> None:
        """Still running but not doing its job (device unplugged, retrying): the kiosk shows why."""
        self.last_heartbeat = time.monotonic()
        self.set_state("degraded", reason)

    def ok(self) -> None:
        self.last_heartbeat = time.monotonic()
        self.set_state("ok")

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Inference, encoding, fsync-heavy work: never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)
