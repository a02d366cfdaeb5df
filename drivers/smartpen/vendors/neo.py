"""The Neo smartpen v2 protocol as the first registered vendor (codec: :mod:`drivers.smartpen.neo`)."""

from __future__ import annotations

from typing import ClassVar

from drivers.smartpen.session import NeoPenSession
from drivers.smartpen.vendors import PenProtocol, PenSession, SessionIO


class NeoProtocol(PenProtocol):
    name: ClassVar[str] = "neo"
    description: ClassVar[str] = "Neo smartpen protocol v2 (STX/ETX frames, DLE escaping), BLE service 0x19F1"

    def open_session(self, io: SessionIO) -> PenSession:
        return NeoPenSession(io)
