"""Keeps every component alive: restart with backoff on crash or stall, give up after a cap.

Modelled on the restart-storm guard every edge NVR ends up with: a dead sensor must not take down the
other components, and a component that crashes in a tight loop must stop eating the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from appliance.bus import Bus
from appliance.component import Component, ComponentContext, InjectedFault, RecordSink
from appliance.events import ComponentState, ComponentStateChanged

if TYPE_CHECKING:
    from appliance.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    # A component that has run this long since its last start counts as healthy again.
    stable_after_s: float = 60.0
    tick_s: float = 1.0


@dataclass
class _Slot:
    component: Component
    ctx: ComponentContext
    restarts: int = 0
    last_error: str | None = None
    restart_times: deque[float] = field(default_factory=deque)
    consecutive: int = 0
    started_at: float = 0.0
    runner: asyncio.Task[None] | None = None
    task: asyncio.Task[None] | None = None
    stall_reason: str | None = None

    @property
    def state(self) -> ComponentState:
        return self.ctx.state


class Supervisor:
    def __init__(
        self,
        bus: Bus,
        policy: RestartPolicy | None = None,
        store: Store | None = None,
        executor: Executor | None = None,
        on_tick: Callable[[], None] | None = None,
        outbox: RecordSink | None = None,
    ) -> None:
        self.bus = bus
        self.outbox = outbox
        self.policy = policy or RestartPolicy()
        self.store = store
        self.executor = executor
        self._on_tick = on_tick
        self._slots: dict[str, _Slot] = {}
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None
        self.ticks = 0

    # -- registration -----------------------------------------------------------------------
    def add(self, component: Component) -> None:
        if component.name in self._slots:
            raise ValueError(f"two components are named {component.name!r}")
        name = component.name
        ctx = ComponentContext(
            name, self.bus, self.store, self.executor, lambda s, r: self._state_changed(name, s, r),
            ready_on_heartbeat=component.ready_on_heartbeat, outbox=self.outbox,
        )
        self._slots[name] = _Slot(component, ctx)

    def components(self) -> dict[str, Component]:
        return {n: s.component for n, s in self._slots.items()}

    # -- life cycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for slot in self._slots.values():
            self._start_runner(slot)
        self._watch = asyncio.create_task(self._watch_loop(), name="supervisor-watch")

    def _start_runner(self, slot: _Slot) -> None:
        slot.runner = asyncio.create_task(self._run_component(slot), name=f"runner-{slot.component.name}")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Cancel everything; a component that ignores cancellation is named in the log, not waited for."""
        self._stopping = True
        tasks = [t for t in [self._watch, *(s.runner for s in self._slots.values())] if t]
        for t in tasks:
            t.cancel()
        _done, pending = await asyncio.wait(tasks, timeout=grace_s) if tasks else (set(), set())
        for task in pending:
            frames = task.get_stack(limit=3)
            where = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" for f in frames)
            log.error("%s did not stop within %.0f s of cancellation (stuck at %s); leaving it behind",
                      task.get_name(), grace_s, where or "?")

    async def _run_component(self, slot: _Slot) -> None:
        name = slot.component.name
        p = self.policy
        while not self._stopping:
            slot.ctx.state = "starting"
            slot.ctx.fault_pending = False
            slot.ctx.last_heartbeat = time.monotonic()
            slot.started_at = time.monotonic()
            slot.stall_reason = None
            self._publish(slot)
            slot.task = asyncio.create_task(slot.component.run(slot.ctx), name=f"component-{name}")
            try:
                await slot.task
                error = "stopped on its own (run() returned)"
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if self._stopping or (current is not None and current.cancelling()):
                    raise
                error = slot.stall_reason or "cancelled"
            except InjectedFault as exc:
                error = f"crashed: {exc}"
            except Exception as exc:
                error = f"crashed: {type(exc).__name__}: {exc}"
                log.debug("component %s traceback", name, exc_info=True)
            now = time.monotonic()
            if now - slot.started_at >= p.stable_after_s:
                slot.consecutive = 0
            slot.consecutive += 1
            slot.restart_times.append(now)
            while slot.restart_times and now - slot.restart_times[0] > p.window_s:
                slot.restart_times.popleft()
            slot.last_error = error
            if len(slot.restart_times) > p.max_restarts:
                log.error(
                    "component %s failed: %s; gave up after %d restarts in %.0f s",
                    name, error, p.max_restarts, p.window_s,
                )
                slot.ctx.state = "failed"
                self._publish(slot)
                return
            slot.restarts += 1
            delay = min(p.backoff_max_s, p.backoff_initial_s * 2 ** (slot.consecutive - 1))
            delay *= random.uniform(0.8, 1.2)
            log.warning("component %s %s; restart %d in %.1f s", name, error, slot.restarts, delay)
            slot.ctx.state = "degraded"
            self._publish(slot)
            await asyncio.sleep(delay)

    async def _watch_loop(self) -> None:
        """Detect stalls and prove progress to systemd's watchdog, once per tick."""
        while True:
            await asyncio.sleep(self.policy.tick_s)
            now = time.monotonic()
            for slot in self._slots.values():
                timeout = slot.component.heartbeat_timeout_s
                if (
                    slot.task is not None
                    and not slot.task.done()
                    and slot.state != "failed"
                    and now - slot.ctx.last_heartbeat > timeout
                ):
                    slot.stall_reason = f"stalled: no heartbeat for {timeout:.0f} s"
                    slot.task.cancel()
            self.ticks += 1
            if self._on_tick is not None:
                self._on_tick()

    # -- operations for the API -------------------------------------------------------------------
    def inject_fault(self, name: str) -> None:
        """Make a component crash from inside its own code path, as a real bug would."""
        self._slot(name).ctx.fault_pending = True

    def restart(self, name: str) -> None:
        """A technician's manual restart; also revives a component marked failed."""
        slot = self._slot(name)
        slot.restart_times.clear()
        slot.consecutive = 0
        if slot.runner is not None and not slot.runner.done():
            slot.runner.cancel()
        # Not counted in ``restarts`` and not an error: the log has the technician's action.
        self._start_runner(slot)

    async def self_test(self, name: str) -> dict[str, Any]:
        result = await asyncio.wait_for(self._slot(name).component.self_test(), timeout=15)
        return {"ok": result.ok, "detail": result.detail, "data": result.data}

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "state": s.state,
                "kind": s.component.kind,
                "restarts": s.restarts,
                "last_error": s.last_error,
            }
            for name, s in self._slots.items()
        }

    def overall(self) -> str:
        states = [s.state for s in self._slots.values()]
        if states and all(st == "failed" for st in states):
            return "failed"
        if any(st != "ok" for st in states):
            return "degraded"
        return "ok"

    # -- internals --------------------------------------------------------------------------------
    def _slot(self, name: str) -> _Slot:
        try:
            return self._slots[name]
        except KeyError:
            raise KeyError(f"no component named {name!r}") from None

    def _state_changed(self, name: str, state: ComponentState, reason: str | None) -> None:
        slot = self._slots[name]
        if reason is not None:
            slot.last_error = reason
        if state == "degraded" and reason:
            log.warning("component %s degraded: %s", name, reason)
        self._publish(slot)

    def _publish(self, slot: _Slot) -> None:
        self.bus.publish(
            ComponentStateChanged(
                name=slot.component.name, state=slot.state, restarts=slot.restarts, last_error=slot.last_error
            )
        )
