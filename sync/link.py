"""The sync link: drains the outbox to the county receiver over MQTT, exactly once per (epoch, seq).

Every session starts with a hello that names the pending range; the receiver answers with what it has
committed. Batches go out QoS 1 and are forgotten only when an ack says they are committed; anything
unacknowledged after ``ack_timeout_s`` is sent again (the receiver ignores duplicates). So nothing
depends on the broker's session, its queue limits or its disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import SyncConfig
from appliance.config.secrets import MissingSecret, read_secret
from appliance.events import DeviceAlert, LiveLessonChanged, SyncStatus
from sync import protocol
from sync.mqtt import BrokerAddress, MqttSession, SessionEvent, bridge
from sync.outbox import Outbox, PendingRecord

STATUS_EVERY_S = 2.0
HELLO_RETRY_MIN_S = 2.0
HELLO_RETRY_MAX_S = 60.0  # a county receiver outage must not turn 2,000 boxes into a hello storm
PURGE_EVERY_S = 3600.0
CONNECT_TIMEOUT_S = 10.0


class LinkDown(ConnectionError):
    pass


@dataclass
class _Inflight:
    seqs: frozenset[int]  # exactly the records in the batch (a batch may skip seqs acked earlier)
    sent_at: float


class SyncLink(Component):
    name = "sync"
    kind = "sync"
    heartbeat_timeout_s = 60.0

    def __init__(self, config: SyncConfig, device_id: str, outbox: Outbox, data_dir: Path) -> None:
        self.cfg = config
        self.device_id = device_id
        self.outbox = outbox
        self.data_dir = data_dir
        self.address = BrokerAddress.parse(config.broker_url)
        self.state: str = "connecting"
        self.last_error: str | None = None
        self.last_ack_at: float | None = None
        self.live_lesson = False
        self.batches_sent = 0
        self.batches_resent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._events: deque[SessionEvent] = deque()
        self._inflight: dict[int, _Inflight] = {}
        self._sent_times: deque[float] = deque()
        self._offline_since = time.monotonic()
        self._alerted: set[str] = set()
        self._hello_acked = False
        outbox.on_append(self._appended)

    def _topic(self, direction: str, name: str) -> str:
        return protocol.topic(self.device_id, direction, name)  # type: ignore[arg-type]

    def _appended(self) -> None:  # store writer thread
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def _post(self, event: SessionEvent) -> None:  # event loop
        self._events.append(event)
        self._wake.set()

    # -- component ----------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        helpers = [
            asyncio.create_task(self._report(ctx), name="sync-status"),
            asyncio.create_task(self._watch_lessons(ctx), name="sync-lessons"),
        ]
        delay = self.cfg.reconnect_min_s
        try:
            while True:
                session: MqttSession | None = None
                try:
                    session = await self._connect(ctx)
                    delay = self.cfg.reconnect_min_s
                    await self._serve(ctx, session)
                except (OSError, LinkDown, MissingSecret) as exc:
                    self.last_error = str(exc) or type(exc).__name__
                finally:
                    if session is not None:
                        await ctx.run_blocking(session.close)
                self._went_offline(ctx)
                wait = delay * random.uniform(0.5, 1.5)  # jitter: 300 boxes must not reconnect in lockstep
                ctx.log.info("sync offline (%s); reconnecting in %.1f s", self.last_error, wait)
                await self._sleep(ctx, wait)
                delay = min(self.cfg.reconnect_max_s, delay * 2)
        finally:
            for t in helpers:
                t.cancel()
            self.state = "offline"

    async def _sleep(self, ctx: ComponentContext, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ctx.heartbeat()
            await asyncio.sleep(min(left, 5.0))
        ctx.heartbeat()

    def _went_offline(self, ctx: ComponentContext) -> None:
        if self.state == "online":
            self._offline_since = time.monotonic()
        self.state = "offline"
        self._inflight.clear()
        offline_for = time.monotonic() - self._offline_since
        if offline_for >= self.cfg.offline_alert_after_s and "offline" not in self._alerted:
            reason = f"no link to the county for {offline_for / 60:.0f} min ({self.last_error})"
            ctx.degraded(reason)
            ctx.bus.publish(DeviceAlert(source="sync", severity="warning", message=reason))
            self._alerted.add("offline")

    # -- one session ----------------------------------------------------------------------------------
    async def _connect(self, ctx: ComponentContext) -> MqttSession:
        self.state = "connecting"
        password = read_secret("mqtt-password") if self.cfg.username else None
        status = protocol.dumps({"online": False, "device": self.device_id})
        session = MqttSession(
            self.device_id, self.address, self.cfg.protocol == "mqtt5", self.cfg.keepalive_s,
            bridge(asyncio.get_running_loop(), self._post),
            will=(self._topic("up", "status"), status), username=self.cfg.username, password=password,
            tls_files=tuple(str(p) if p else None for p in (self.cfg.tls_ca_file, self.cfg.tls_cert_file,
                                                            self.cfg.tls_key_file)),  # type: ignore[arg-type]
        )
        self._events.clear()
        try:
            await asyncio.wait_for(ctx.run_blocking(session.open), CONNECT_TIMEOUT_S)
            event = await self._next_event(CONNECT_TIMEOUT_S)
        except BaseException:
            await ctx.run_blocking(session.close)
            raise
        if event is None or event.kind != "connected":
            await ctx.run_blocking(session.close)
            raise LinkDown(f"broker {self.cfg.broker_url} refused: {event.detail if event else 'no CONNACK'}")
        return session

    async def _next_event(self, within_s: float) -> SessionEvent | None:
        deadline = time.monotonic() + within_s
        while not self._events:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):  # not wait_for: 3.11's can swallow a cancel
                    await self._wake.wait()
        return self._events.popleft()

    async def _serve(self, ctx: ComponentContext, session: MqttSession) -> None:
        self.state, self.last_error = "online", None
        self._alerted.discard("offline")
        ctx.ok()
        ctx.log.info("sync online: %s (%s), epoch %s", self.cfg.broker_url, self.cfg.protocol, self.outbox.epoch)
        session.subscribe([self._topic("down", "ack"), self._topic("down", "cmd")])
        session.publish(self._topic("up", "status"), protocol.dumps(
            {"online": True, "device": self.device_id, "boot": self.outbox.boot_id, "ts": time.time()}), retain=True)
        await self._heartbeat(session)
        # Batches wait for a hello ack: without a receiver listening they would vanish at the broker.
        self._hello_acked = False
        await self._hello(session)
        last_hello = last_heartbeat = time.monotonic()
        hello_retry = HELLO_RETRY_MIN_S
        cursor = 0
        self._inflight.clear()
        while True:
            ctx.heartbeat()
            while self._events:
                event = self._events.popleft()
                if event.kind == "disconnected":
                    raise LinkDown(f"disconnected: {event.detail}")
                if event.kind == "message":
                    cursor = await self._on_message(ctx, session, event, cursor)
            now = time.monotonic()
            if any(now - f.sent_at > self.cfg.ack_timeout_s for f in self._inflight.values()):
                ctx.log.warning("no ack for %d batch(es) within %.0f s; asking the receiver what it has",
                                len(self._inflight), self.cfg.ack_timeout_s)
                self.batches_resent += len(self._inflight)
                self._inflight.clear()
                self._hello_acked = False
                await self._hello(session)
                last_hello = now
            wait = 1.0
            if not self._hello_acked:
                if now - last_hello >= hello_retry:
                    await self._hello(session)
                    last_hello = now
                    hello_retry = min(HELLO_RETRY_MAX_S, hello_retry * 2)
                wait = last_hello + hello_retry - now
            else:
                hello_retry = HELLO_RETRY_MIN_S
            if self._hello_acked and len(self._inflight) < self.cfg.max_inflight_batches and self._budget_left():
                sent, cursor, wait = await self._maybe_send(session, cursor)
                if sent:
                    continue
            if now - last_heartbeat >= self.cfg.heartbeat_interval_s:
                await self._heartbeat(session)
                last_heartbeat = now
            if not self._events:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.05, wait)):
                        await self._wake.wait()

    async def _hello(self, session: MqttSession) -> None:
        first, last = await self.outbox.store.run(self.outbox.pending_range)
        session.publish(self._topic("up", "hello"), protocol.dumps(
            {"type": "hello", "device": self.device_id, "epoch": self.outbox.epoch, "first_pending": first,
             "last_seq": last, "boot": self.outbox.boot_id}))

    async def _heartbeat(self, session: MqttSession) -> None:
        st = await self.outbox.store.run(self.outbox.stats)
        free = shutil.disk_usage(self.data_dir).free
        session.publish(self._topic("up", "heartbeat"), protocol.dumps(
            {"type": "heartbeat", "epoch": st["epoch"], "pending": st["pending"], "last_seq": st["last_seq"],
             "oldest_pending_age_s": st["oldest_pending_age_s"], "disk_free_bytes": free, "ts": time.time(),
             "boot": self.outbox.boot_id}))

    async def _on_message(self, ctx: ComponentContext, session: MqttSession, event: SessionEvent, cursor: int) -> int:
        name = event.topic.rsplit("/", 1)[-1]
        if name == "cmd":
            try:
                cmd = protocol.loads(event.payload)
            except protocol.ProtocolError as exc:
                ctx.log.warning("ignored a malformed command: %s", exc)
                return cursor
            if cmd.get("type") == "resync":
                ctx.log.info("receiver asked for a resync")
                self._inflight.clear()
                self._hello_acked = False
                await self._hello(session)
                return 0
            return cursor
        try:
            ack = protocol.Ack.from_bytes(event.payload)
        except protocol.ProtocolError as exc:
            ctx.log.warning("ignored a malformed ack: %s", exc)
            return cursor
        if ack.epoch != self.outbox.epoch:
            return cursor
        rejected = [(int(r["seq"]), str(r.get("reason", "rejected"))) for r in ack.rejected if "seq" in r]

        def apply(db: object) -> tuple[int, int]:
            return self.outbox.mark_committed(db, ack.committed), self.outbox.park(db, rejected)  # type: ignore[arg-type]

        await self.outbox.store.run(apply)
        self.last_ack_at = time.time()
        if ack.reply_to == "hello":
            # The receiver's view is now merged: (re)send everything still pending, from the start.
            self._hello_acked = True
            self._inflight.clear()
            return 0
        done = set(protocol.iter_ranges(ack.committed)) | {seq for seq, _ in rejected}
        for first, flight in list(self._inflight.items()):
            if flight.seqs <= done:
                del self._inflight[first]
        return cursor

    def _budget_left(self) -> bool:
        if not self.live_lesson:
            return True
        now = time.monotonic()
        while self._sent_times and now - self._sent_times[0] > 60:
            self._sent_times.popleft()
        return len(self._sent_times) < self.cfg.live_lesson_batches_per_min

    async def _maybe_send(self, session: MqttSession, cursor: int) -> tuple[bool, int, float]:
        """Send one batch if one is due; returns (sent, new cursor, seconds until one may be due)."""
        limit = self.cfg.batch_max_records
        rows: list[PendingRecord] = await self.outbox.store.run(lambda db: self.outbox.pending_after(db, cursor, limit))
        if not rows:
            return False, cursor, 1.0
        age = self._age(rows[0])
        raw = sum(len(r.payload) for r in rows)
        if len(rows) < limit and raw < self.cfg.batch_max_bytes and age < self.cfg.batch_max_age_s:
            return False, cursor, self.cfg.batch_max_age_s - age
        records = [r.wire() for r in rows]
        data = protocol.encode_batch(self.device_id, self.outbox.epoch, records)
        if len(data) > self.cfg.batch_max_bytes and len(records) > 1:
            # Cut to fit the byte limit (managed hubs cap messages at 16 KB); the rest goes next.
            while len(data) > self.cfg.batch_max_bytes and len(records) > 1:
                records = records[: max(1, int(len(records) * self.cfg.batch_max_bytes / len(data) * 0.9))]
                data = protocol.encode_batch(self.device_id, self.outbox.epoch, records)
            if self._age(rows[0]) < self.cfg.batch_max_age_s and len(records) == len(rows):
                return False, cursor, 1.0
        first, last = records[0]["seq"], records[-1]["seq"]
        session.publish(self._topic("up", "batch"), data)
        self._inflight[first] = _Inflight(frozenset(r["seq"] for r in records), time.monotonic())
        self._sent_times.append(time.monotonic())
        self.batches_sent += 1
        return True, last, 0.0

    def _age(self, record: PendingRecord) -> float:
        # Monotonic within this boot, so a clock jumping back cannot hold a batch for ever.
        if record.boot == self.outbox.boot_id:
            return max(0.0, time.monotonic() - record.mono)
        return float("inf")

    # -- helpers --------------------------------------------------------------------------------------
    async def _watch_lessons(self, ctx: ComponentContext) -> None:
        last = ctx.bus.last(LiveLessonChanged)
        self.live_lesson = bool(last and last.active)
        with ctx.bus.subscribe(LiveLessonChanged, name="sync-lessons") as sub:
            async for event in sub:
                self.live_lesson = event.active
                ctx.log.info("live lesson %s: uplink %s", "started" if event.active else "ended",
                             f"throttled to {self.cfg.live_lesson_batches_per_min} batches/min"
                             if event.active else "at full speed")
                self._wake.set()

    async def _report(self, ctx: ComponentContext) -> None:
        last_purge = 0.0
        quota = "ok"
        while True:
            now = time.monotonic()
            if now - last_purge > PURGE_EVERY_S:
                purged = await self.outbox.store.run(lambda db: self.outbox.purge_acked(db, self.cfg.keep_acked_days))
                await self.outbox.store.run(self.outbox.recount)
                if purged:
                    ctx.log.info("outbox: purged %d acknowledged records older than %.0f days", purged,
                                 self.cfg.keep_acked_days)
                last_purge = now
            st = await self.outbox.store.run(self.outbox.stats)
            if st["quota_state"] != quota:
                quota = st["quota_state"]
                ctx.bus.publish(DeviceAlert(
                    source="outbox", severity="critical" if quota == "full" else "warning",
                    message=f"outbox {quota}: {st['pending_bytes'] // 2**20} MB of results waiting to be sent",
                    active=quota != "ok"))
            ctx.bus.publish(self.status_event(st))
            await asyncio.sleep(STATUS_EVERY_S)

    def status_event(self, st: dict[str, Any]) -> SyncStatus:
        return SyncStatus(
            state=self.state,  # type: ignore[arg-type]
            broker=self.cfg.broker_url, protocol=self.cfg.protocol, epoch=st["epoch"], last_seq=st["last_seq"],
            pending=st["pending"], acked=st["acked"], dead_letter=st["dead_letter"],
            oldest_pending_age_s=st["oldest_pending_age_s"], pending_bytes=st["pending_bytes"],
            quota_state=st["quota_state"], inflight_batches=len(self._inflight), throttled=self.live_lesson,
            last_ack_at=self.last_ack_at, last_error=self.last_error,
        )

    async def self_test(self) -> SelfTestResult:
        st = await self.outbox.store.run(self.outbox.stats)
        ok = self.state == "online"
        return SelfTestResult(
            ok=ok,
            detail=f"{self.state} to {self.cfg.broker_url}; {st['pending']} records pending"
            + (f"; last error: {self.last_error}" if self.last_error else ""),
            data={**st, "batches_sent": self.batches_sent, "batches_resent": self.batches_resent},
        )
