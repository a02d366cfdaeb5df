"""The scanner driver: a "scan to folder" document scanner, seen as one :class:`ScannedSheet` per new page.

Rules, as for every driver on an unattended box:

* a file is published only once its size and modification time have stopped changing for ``settle_s``
  (a scanner, or a teacher's copy over SMB, writes slowly), and once per page for multi-page PDFs/TIFFs;
* a file that cannot be decoded (garbage, a truncated JPEG, an encrypted PDF) is given a grace period in
  case the writer stalled, then moved to ``rejected/`` with one warning line naming it and the reason;
* what was published is remembered across restarts in ``.published.json`` in the folder (name, size,
  mtime), so a restart never publishes a sheet twice and files stay where the event says they are;
  a file replaced by a different one with the same name is new;
* a missing folder is created; one that cannot be created or read makes the driver ``degraded`` with the
  reason and it retries with backoff: never a crash.

Above it, the homework feature sees only :class:`~appliance.events.ScannedSheet`.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from appliance.component import Component, ComponentContext, SelfTestResult
from appliance.config.schema import ScannerFolderConfig
from appliance.events import ScannedSheet
from drivers.backoff import Backoff
from models.sheets.files import UnreadableFile, is_supported, page_count

STATE_FILE = ".published.json"
REJECTED = "rejected"
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart")


@dataclass
class _Seen:
    """What the folder poller knows about one file that is not yet published."""

    size: int
    mtime_ns: int
    stable_since: float  # monotonic time the size/mtime were first seen at these values
    first_failure: float | None = None  # monotonic time decoding first failed


@dataclass(frozen=True)
class _Listing:
    files: dict[str, tuple[int, int]]  # name -> (size, mtime_ns)


class ScannerDriver(Component):
    """Watches ``config.folder`` and publishes each complete, readable page once."""

    name = "scanner"
    kind = "driver"
    heartbeat_timeout_s = 30.0
    ready_on_heartbeat = False

    def __init__(
        self,
        config: ScannerFolderConfig,
        settle_s: float | None = None,
        unreadable_grace_s: float = 20.0,
    ) -> None:
        self.config = config
        self.folder = Path(config.folder)
        # longer than the slowest poll and the longest retry wait, so a quiet folder is never "stalled"
        self.heartbeat_timeout_s = max(60.0, 3 * config.poll_s)
        # two polls unchanged, and never under 2 s: scanners pause between pages of one PDF
        self.settle_s = settle_s if settle_s is not None else max(2.0, 2 * config.poll_s)
        self.unreadable_grace_s = unreadable_grace_s
        self.published: dict[str, tuple[int, int]] = {}
        self.pending: dict[str, _Seen] = {}
        self.sheets_published = 0
        self.rejected = 0
        self._state_loaded = False
        self._state_error: str | None = None
        self._reported: str | None = None

    # -- life cycle -------------------------------------------------------------------------------------
    async def run(self, ctx: ComponentContext) -> None:
        backoff = Backoff(1.0, 30.0)
        while True:
            ctx.heartbeat()
            try:
                listing = await ctx.run_blocking(self._prepare_and_list)
            except OSError as exc:
                delay = backoff.next()
                ctx.degraded(f"scan folder {self.folder} unusable: {exc.strerror or exc}; retrying in {delay:.0f} s")
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            await self._handle(ctx, listing)
            if self._state_error:
                reason = f"cannot remember published scans ({self._state_error}); they may repeat after a restart"
                if ctx.state != "degraded" or reason != self._reported:
                    ctx.log.warning("%s", reason)
                    ctx.degraded(reason)
                    self._reported = reason
            elif ctx.state != "ok":
                self._reported = None
                ctx.log.info("watching %s for scanned sheets", self.folder)
                ctx.ok()
            await asyncio.sleep(self.config.poll_s)

    async def self_test(self) -> SelfTestResult:
        folder = self.folder
        ok = folder.is_dir() and os.access(folder, os.R_OK | os.W_OK | os.X_OK)
        detail = f"{folder} is readable and writable" if ok else f"{folder} is missing or not writable"
        return SelfTestResult(ok, detail, {"published": self.sheets_published, "rejected": self.rejected})

    # -- one poll ---------------------------------------------------------------------------------------
    def _prepare_and_list(self) -> _Listing:
        """Blocking: create the folder if needed, load the state once, list candidate files."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._state_loaded:
            self.published = self._load_state()
            self._state_loaded = True
        files: dict[str, tuple[int, int]] = {}
        with os.scandir(self.folder) as it:
            for entry in it:
                name = entry.name
                if name.startswith((".", "~")) or name.lower().endswith(TEMP_SUFFIXES):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                files[name] = (st.st_size, st.st_mtime_ns)
        return _Listing(files)

    async def _handle(self, ctx: ComponentContext, listing: _Listing) -> None:
        now = time.monotonic()
        for name in list(self.pending):
            if name not in listing.files:
                del self.pending[name]
        gone = [n for n in self.published if n not in listing.files]
        for name, (size, mtime_ns) in sorted(listing.files.items(), key=lambda kv: kv[1][1]):
            if self.published.get(name) == (size, mtime_ns):
                continue
            seen = self.pending.get(name)
            if seen is None or (seen.size, seen.mtime_ns) != (size, mtime_ns):
                self.pending[name] = _Seen(size, mtime_ns, now)
                continue  # new or still growing: wait until it settles
            if size == 0 or now - seen.stable_since < self.settle_s:
                continue
            await self._settled(ctx, name, seen, now)
        if gone:
            for name in gone:
                del self.published[name]
            await ctx.run_blocking(self._save_state)

    async def _settled(self, ctx: ComponentContext, name: str, seen: _Seen, now: float) -> None:
        path = self.folder / name
        if not is_supported(path):
            await self._reject(ctx, name, "not an image or PDF")
            return
        try:
            pages = await ctx.run_blocking(page_count, path)
        except FileNotFoundError:
            self.pending.pop(name, None)
            return
        except (UnreadableFile, OSError) as exc:
            if seen.first_failure is None:
                seen.first_failure = now
            if now - seen.first_failure < self.unreadable_grace_s:
                return  # the writer may only have stalled: look again on the next polls
            await self._reject(ctx, name, str(exc))
            return
        for index in range(pages):
            ctx.bus.publish(ScannedSheet(path=str(path), page_index=index, source="folder"))
        self.sheets_published += pages
        ctx.log.info("scanned sheet %s: %d page%s", name, pages, "" if pages == 1 else "s")
        self.pending.pop(name, None)
        self.published[name] = (seen.size, seen.mtime_ns)
        await ctx.run_blocking(self._save_state)

    async def _reject(self, ctx: ComponentContext, name: str, reason: str) -> None:
        self.pending.pop(name, None)
        try:
            target = await ctx.run_blocking(self._move_aside, name)
        except OSError as exc:
            ctx.log.warning("scanned file %s cannot be read (%s) and cannot be moved aside (%s): ignored",
                            name, reason, exc)
            self.published[name] = (-1, -1)  # in memory only: do not log it every poll
            return
        self.rejected += 1
        ctx.log.warning("scanned file %s cannot be read (%s): moved to %s", name, reason, target)

    # -- blocking helpers -------------------------------------------------------------------------------
    def _move_aside(self, name: str) -> Path:
        rejected = self.folder / REJECTED
        rejected.mkdir(exist_ok=True)
        target = rejected / name
        stem, suffix = Path(name).stem, Path(name).suffix
        n = 1
        while target.exists():
            target = rejected / f"{stem}.{n}{suffix}"
            n += 1
        os.replace(self.folder / name, target)
        return target

    def _load_state(self) -> dict[str, tuple[int, int]]:
        path = self.folder / STATE_FILE
        try:
            raw = json.loads(path.read_text())
            return {str(k): (int(v[0]), int(v[1])) for k, v in raw.get("published", {}).items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, TypeError, AttributeError, IndexError) as exc:
            self._state_error = f"{STATE_FILE} unreadable: {exc}"
            return {}

    def _save_state(self) -> None:
        """Atomically (write then rename), so a power cut leaves the old or the new list, never half."""
        path = self.folder / STATE_FILE
        tmp = path.with_name(STATE_FILE + ".tmp")
        data = {"published": {k: list(v) for k, v in self.published.items() if v[0] >= 0}}
        try:
            with open(tmp, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            self._state_error = None
        except OSError as exc:
            self._state_error = f"{STATE_FILE}: {exc.strerror or exc}"
