"""The USB/serial pen gateway: one pyserial port, many pens, each pen's bytes in the envelope of gateway.py.

Blocking serial I/O stays off the event loop: a reader thread owns reads and hands bytes to the loop
through an asyncio queue (replies and events arrive whenever the pens write, not in answer to us), and
writes go through ``run_blocking`` from one writer task, so a slow line never stalls the driver.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import serial

from drivers.smartpen import gateway
from drivers.smartpen.gateway import Envelope, EnvelopeDecoder
from drivers.smartpen.pens import PenRegistry
from drivers.smartpen.vendors import PenSession

RunBlocking = Callable[..., Awaitable[Any]]

READ_SLICE_S = 0.1
WRITE_TIMEOUT_S = 2.0
# How long the gateway may take to answer HELLO before the port is reported as not a pen gateway.
GATEWAY_ANSWER_S = 5.0


class GatewayLinkError(Exception):
    """The port itself failed (USB gateway pulled, pty gone): reopen it."""


def open_port(path: str, baudrate: int) -> serial.Serial:
    """Blocking: open the gateway's port, 8N1, no flow control."""
    return serial.Serial(
        port=path,
        baudrate=baudrate,
        bytesize=serial.EIGHTBITS,
        parity=serial.PARITY_NONE,
        stopbits=serial.STOPBITS_ONE,
        timeout=READ_SLICE_S,
        write_timeout=WRITE_TIMEOUT_S,
        exclusive=True,
    )


def open_failure_reason(exc: BaseException) -> str:
    """pyserial's messages repeat the path; keep the OS's reason, with a hint where there is one."""
    code = getattr(exc, "errno", None)
    if not isinstance(code, int):
        return str(exc) or type(exc).__name__
    if code == errno.ENOENT:
        return "no such device (is the pen gateway plugged in?)"
    if code == errno.EACCES:
        return "permission denied (is the daemon's user in the 'dialout' group?)"
    if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        return "port is in use by another program"
    return os.strerror(code)


async def open_cancel_safe(run_blocking: RunBlocking, path: str, baudrate: int) -> serial.Serial:
    """Open in the executor; if cancelled meanwhile, close the port once it is open (no leaked exclusive lock)."""
    future = asyncio.ensure_future(run_blocking(open_port, path, baudrate))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_close_if_opened)
        raise


def _close_if_opened(future: asyncio.Future[serial.Serial]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


class GatewayLink:
    """One open gateway port and the pen sessions behind it."""

    def __init__(
        self,
        port: serial.Serial,
        label: str,
        registry: PenRegistry,
        run_blocking: RunBlocking,
        log: logging.Logger,
        on_answer: Callable[[str], None],
    ) -> None:
        self._serial = port
        self.label = label
        self._registry = registry
        self._run_blocking = run_blocking
        self._log = log
        self._on_answer = on_answer
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.decoder = EnvelopeDecoder()
        self.sessions: dict[str, PenSession] = {}
        self.answered = False
        self.info: str | None = None
        self.bytes_in = 0
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._read_loop, name=f"pen-gateway-{label}", daemon=True)
        self._thread.start()

    # -- reader thread ------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        try:
            while not self._closing.is_set():
                data = self._serial.read(self._serial.in_waiting or 1)
                if data:
                    self._post(data)
        except Exception as exc:  # SerialException, OSError or TypeError on a dying fd
            if not self._closing.is_set():
                self._post(RuntimeError(f"read failed: {exc}"))
        finally:
            try:
                self._serial.close()
            except Exception as exc:
                self._log.debug("closing %s: %s", self.label, exc)

    def _post(self, item: bytes | BaseException) -> None:
        try:
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, item)
        except RuntimeError:  # the loop is closed: the daemon is exiting
            self._closing.set()

    # -- serving --------------------------------------------------------------------------------------------
    async def serve(self) -> None:
        """Say HELLO, then relay envelopes to sessions until the port fails (raises GatewayLinkError)."""
        writer = asyncio.create_task(self._write_loop(), name=f"pen-gateway-writer-{self.label}")
        try:
            self._queue(gateway.encode_envelope(Envelope(gateway.HELLO, gateway.NO_PEN)))
            while True:
                item = await self._inbox.get()
                if isinstance(item, BaseException):
                    raise GatewayLinkError(str(item) or type(item).__name__) from item
                self.bytes_in += len(item)
                for env in self.decoder.feed(item):
                    self._handle(env)
                errors = self.decoder.pop_errors()
                if errors:
                    self._registry.malformed.warning(
                        f"gateway {self.label}", f"ignored line noise from the pen gateway on {self.label}: "
                        f"{len(errors)} piece(s), e.g. {errors[0]}"
                    )
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _handle(self, env: Envelope) -> None:
        if env.type == gateway.GATEWAY_INFO:
            self.answered = True
            self.info = env.payload.decode("ascii", "replace")
            self._on_answer(self.info)
        elif env.type == gateway.PEN_CONNECTED:
            self._connect(env.pen_id)
        elif env.type == gateway.PEN_DISCONNECTED:
            session = self.sessions.pop(env.pen_id, None)
            if session is not None:
                self._registry.disconnect(session, "the gateway lost the pen (out of range or switched off)")
        elif env.type == gateway.DATA:
            session = self.sessions.get(env.pen_id)
            if session is None:
                # Data from a pen we were not told about (its announcement was lost): start its session.
                session = self._connect(env.pen_id)
            session.feed(env.payload)

    def _connect(self, pen_id: str) -> PenSession:
        old = self.sessions.get(pen_id)
        if old is not None:
            self._registry.disconnect(old, "the gateway announced the pen again")

        def send(data: bytes, pen: str = pen_id) -> None:
            self._queue(gateway.encode_data(pen, data))

        session = self._registry.connect(pen_id, "serial", send)
        self.sessions[pen_id] = session
        return session

    def _queue(self, data: bytes) -> None:
        self._outbox.put_nowait(data)

    async def _write_loop(self) -> None:
        try:
            while True:
                data = await self._outbox.get()
                while not self._outbox.empty():  # one write for everything queued meanwhile
                    data += self._outbox.get_nowait()
                await self._run_blocking(self._serial.write, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # SerialTimeoutException, OSError: the serving loop reopens the port
            self._inbox.put_nowait(RuntimeError(f"write failed: {exc}"))

    def close(self, reason: str) -> None:
        """Non-blocking: every pen behind the gateway is disconnected; the reader thread closes the port."""
        for session in self.sessions.values():
            self._registry.disconnect(session, reason)
        self.sessions.clear()
        self._closing.set()
        try:
            self._serial.cancel_read()
        except Exception as exc:
            self._log.debug("cancel_read on %s: %s", self.label, exc)
