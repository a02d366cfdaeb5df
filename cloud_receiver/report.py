"""Read-only views for the CLI: per-device delivery state and the quarantine.

Answers the questions a county technician asks first: did everything from this box arrive (records,
watermark, gaps), is it online and how fresh is its data, and what did we refuse and why.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from cloud_receiver.storage import Store


def device_stats(store: Store, device: str, epoch: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Delivery state of one device and epoch (default: the epoch it sent most recently)."""
    now = time.time() if now is None else now
    epoch = epoch or store.latest_epoch(device)
    row = store.epoch_row(device, epoch) if epoch else None
    dev = store.device_row(device) or {}
    contiguous = int(row["contiguous_through"]) if row else 0
    max_seq = int(row["max_seq"]) if row else 0
    return {
        "device_id": device,
        "epoch": epoch,
        "known": row is not None,
        "records": store.count_records(device, epoch) if epoch else 0,
        "rejected": int(row["rejected"]) if row else 0,
        "contiguous_through_seq": contiguous,
        "max_seq": max_seq,
        "gaps": store.gaps(device, epoch, contiguous, max_seq) if row and epoch else [],
        "online": dev.get("online"),
        "last_heartbeat_age_s": _age(now, dev.get("last_heartbeat_at")),
        "last_batch_age_s": _age(now, dev.get("last_batch_at")),
        "pending": dev.get("pending"),
        "oldest_pending_age_s": dev.get("oldest_pending_age_s"),
        "disk_free_bytes": dev.get("disk_free_bytes"),
        "device_last_seq": dev.get("last_seq"),
        "first_seen": _iso(row["first_seen"]) if row else None,
        "last_seen": _iso(row["last_seen"]) if row else None,
    }


def format_device_stats(stats: dict[str, Any]) -> str:
    gaps = stats["gaps"]
    shown = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in gaps[:10]) or "none"
    if len(gaps) > 10:
        shown += f" (+{len(gaps) - 10} more)"
    rows = [
        ("device", stats["device_id"]),
        ("epoch", stats["epoch"] or "(none seen)"),
        ("records stored", stats["records"]),
        ("records rejected", stats["rejected"]),
        ("contiguous through seq", stats["contiguous_through_seq"]),
        ("highest seq seen", stats["max_seq"]),
        ("gaps", shown),
        ("online", {True: "yes", False: "no", None: "unknown"}[stats["online"]]),
        ("last heartbeat", _ago(stats["last_heartbeat_age_s"])),
        ("last batch", _ago(stats["last_batch_age_s"])),
        ("pending on the box", _or_unknown(stats["pending"])),
        ("oldest pending", _ago(stats["oldest_pending_age_s"]).replace(" ago", "")),
        ("disk free on the box", _bytes(stats["disk_free_bytes"])),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def quarantine_list(store: Store, limit: int = 20) -> dict[str, Any]:
    total, rows = store.recent_quarantine(limit)
    return {"total": total, "recent": [{**r, "received_at": _iso(r["received_at"])} for r in rows]}


def format_quarantine(data: dict[str, Any]) -> str:
    lines = [f"{data['total']} quarantined message(s); most recent first:"]
    for r in data["recent"]:
        what = f" seq {r['seq']} of epoch {r['epoch']}" if r["seq"] is not None else ""
        lines.append(f"#{r['id']}  {r['received_at']}  {r['topic']}{what}  ({r['size']} bytes)")
        lines.append(f"    reason: {r['reason']}")
        sample = r["sample"].replace("\n", " ")
        lines.append(f"    sample: {sample[:160]}{'...' if len(sample) > 160 else ''}")
    return "\n".join(lines)


def _age(now: float, at: float | None) -> float | None:
    return round(now - at, 3) if at is not None else None


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts is not None else None


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _or_unknown(v: Any) -> str:
    return "unknown" if v is None else str(v)


def _bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
