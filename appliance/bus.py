"""In-process typed publish/subscribe bus.

Each subscriber gets its own bounded queue: a slow consumer (a kiosk on bad Wi-Fi) loses its own
oldest events and never blocks a driver or another feature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from appliance.events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


class Subscription(Generic[E]):
    """A bounded queue of events of the requested types; iterate it or call :meth:`get`."""

    def __init__(
        self, bus: Bus, types: tuple[type[Event], ...], maxsize: int, name: str,
        exclude: tuple[type[Event], ...] = (),
    ) -> None:
        self._bus = bus
        self.types = types
        self.exclude = exclude
        self.name = name
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if not isinstance(event, self.types) or (self.exclude and isinstance(event, self.exclude)):
            return
        if self.queue.full():
            # Drop the oldest so the newest state always reaches the consumer.
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 1000 == 0:
                log.warning("subscriber %s is slow: %d events dropped so far", self.name, self.dropped)
        self.queue.put_nowait(event)

    async def get(self) -> E:
        return self.queue.get_nowait() if not self.queue.empty() else await self.queue.get()  # type: ignore[return-value]

    def close(self) -> None:
        self._bus._unsubscribe(self)

    def __enter__(self) -> Subscription[E]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aiter__(self) -> AsyncIterator[E]:
        while True:
            yield await self.get()


class Bus:
    """Fan-out of events to subscribers; ``publish`` never awaits and never raises on a slow reader."""

    def __init__(self) -> None:
        self._subs: list[Subscription[Event]] = []
        self._last: dict[type[Event], Event] = {}

    def publish(self, event: Event) -> None:
        self._last[type(event)] = event
        for sub in list(self._subs):
            sub.offer(event)

    def last(self, event_type: type[E]) -> E | None:
        """The most recent event of a type, so a late subscriber (a reloaded kiosk) sees current state."""
        return self._last.get(event_type)  # type: ignore[return-value]

    def subscribe(
        self, *types: type[E], maxsize: int = 256, name: str = "?", exclude: tuple[type[Event], ...] = ()
    ) -> Subscription[E]:
        """``exclude`` keeps heavy events (camera frames) out of a catch-all subscriber's queue."""
        sub: Subscription[E] = Subscription(self, types or (Event,), maxsize, name, exclude)
        self._subs.append(sub)  # type: ignore[arg-type]
        return sub

    def _unsubscribe(self, sub: Subscription[E]) -> None:
        if sub in self._subs:
            self._subs.remove(sub)  # type: ignore[arg-type]
