"""The slot for pen makers' protocols: each turns one pen's bytes into the same PenStroke and PenStatus events.

Dot-matrix pens sold to Chinese schools do not all speak Neo v2: domestic makers ship their own framing,
event layouts and offline-upload handshakes, usually with a vendor SDK. Everything above this slot (the
serial gateway and BLE transports, the driver, the homework feature) only sees :class:`PenSession`, so a
new maker is one module here, not a new driver.

How to add a maker
------------------
1. Write ``drivers/smartpen/vendors/<maker>.py`` with a :class:`PenProtocol` subclass whose
   ``open_session(io)`` returns your :class:`PenSession`. A session is transport-agnostic: it is handed raw
   bytes as they arrive (``feed``, in any split), sends requests with ``io.send`` (never blocking), and
   publishes :class:`~appliance.events.PenStroke` (points in the page's pattern units, ``(x, y, force, t_ms)``)
   and :class:`~appliance.events.PenStatus` with ``io.publish``. Keep byte parsing in a pure codec module
   beside it, as :mod:`drivers.smartpen.neo` is, so it can be fuzzed without I/O.
2. Rules every session keeps: malformed input is skipped and its reasons returned by ``pop_problems`` (the
   driver logs them rate-limited), never raised; a lost pen-up must not lose the stroke; a password is sent
   only when ``submit_password`` is called, once per call (a locked pen wipes itself after too many wrong
   ones); offline data is deleted on the pen only after all of it has arrived.
3. Register it: ``register(MyProtocol())`` at the bottom of ``_registry()`` below. The config does not yet
   name a protocol per pen; adding a ``protocol`` key to the smart-pen config sections is the step after.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from appliance.events import Event, PenStatus, PenTransport

DEFAULT_PROTOCOL = "neo"


@dataclass
class SessionIO:
    """What a transport gives a session: where bytes go, where events go, and the clocks."""

    pen_id: str
    transport: PenTransport
    send: Callable[[bytes], None]  # queue bytes for the pen; must not block
    publish: Callable[[Event], None]
    log: logging.Logger
    monotonic: Callable[[], float] = field(default=time.monotonic)  # for timeouts
    wall: Callable[[], float] = field(default=time.time)  # for last_seen


class PenSession(ABC):
    """One connected pen: bytes in, PenStroke and PenStatus out. One object per connection."""

    pen_id: str

    @abstractmethod
    def connected(self) -> None:
        """The link is up: start the vendor's handshake (and the offline upload, when it has one)."""

    @abstractmethod
    def feed(self, data: bytes) -> None:
        """Bytes from the pen, split however the transport split them."""

    @abstractmethod
    def tick(self) -> None:
        """Called a few times a second: timeouts (a lost pen-up) and periodic requests (battery)."""

    @abstractmethod
    def disconnected(self, reason: str) -> None:
        """The link is gone: close an open stroke, publish the disconnected status."""

    @abstractmethod
    def status(self) -> PenStatus:
        """The pen's link health now (the driver publishes it every few seconds)."""

    def submit_password(self, password: str) -> str:
        """Send one password attempt, at a person's explicit request; returns what happened, for them."""
        return "this pen's protocol has no password"

    def pop_problems(self) -> list[str]:
        """Reasons for input skipped since the last call (malformed frames, noise)."""
        return []


class PenProtocol(ABC):
    """A maker's protocol: a name and a way to start a session for one pen."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def open_session(self, io: SessionIO) -> PenSession: ...


_protocols: dict[str, PenProtocol] = {}


def register(protocol: PenProtocol) -> None:
    """Make a protocol available by its name (a later registration of the same name replaces it)."""
    _registry()[protocol.name] = protocol


def get_protocol(name: str = DEFAULT_PROTOCOL) -> PenProtocol:
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        raise KeyError(f"no pen protocol {name!r}; known: {', '.join(sorted(registry))}") from None


def protocol_names() -> tuple[str, ...]:
    return tuple(_registry())


def _registry() -> dict[str, PenProtocol]:
    # Imported lazily: the Neo session imports PenSession from this package.
    if not _protocols:
        from drivers.smartpen.vendors.neo import NeoProtocol

        _protocols[NeoProtocol.name] = NeoProtocol()
    return _protocols


__all__ = [
    "DEFAULT_PROTOCOL",
    "PenProtocol",
    "PenSession",
    "SessionIO",
    "get_protocol",
    "protocol_names",
    "register",
]
