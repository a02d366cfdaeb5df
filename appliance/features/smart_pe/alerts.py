"""Safety alerts on the lesson clock: too high for too long, dangerously high, or no signal.

Runs entirely on the box (a playground has no reliable network). A condition must hold for its hold
time before it alerts, and a student has at most one open alert per kind, so a heart rate wobbling
around a threshold never becomes an alert storm on the teacher's screen.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlite_utils

from appliance.config.schema import SmartPeFeatureConfig
from appliance.store import audit_row

AlertKind = Literal["high", "critical", "signal"]
AlertState = Literal["active", "acknowledged", "cleared"]
RECENT_MAX = 100
# Shown on the wall: the most severe open alert wins a tile.
SEVERITY: dict[str, int] = {"signal": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Alert:
    alert_id: str
    student_id: str
    label: str
    kind: AlertKind
    state: AlertState
    message: str
    raised_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None

    @property
    def needs_ack(self) -> bool:
        """Open and unseen, or a high/critical episode that ended before the teacher saw it.

        A critical minute can pass while the teacher is across the field; it must still be on the
        banner when she looks, so only her tap takes it off. A band back on the skin needs no tap.
        """
        if self.acknowledged_by is not None:
            return False
        return self.state == "active" or (self.state == "cleared" and self.kind != "signal")

    def to_json(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "student_id": self.student_id, "label": self.label, "kind": self.kind,
            "state": self.state, "message": self.message, "raised_at": self.raised_at,
            "acknowledged_at": self.acknowledged_at, "acknowledged_by": self.acknowledged_by,
            "needs_ack": self.needs_ack,
        }


@dataclass
class _Watch:
    label: str
    hrmax: int
    high_since: float | None = None
    critical_since: float | None = None
    last_good: float | None = None


class AlertEngine:
    """Per-student condition timers and the open alerts; every method returns the alerts it changed."""

    def __init__(self, config: SmartPeFeatureConfig, lesson_id: str = "lesson") -> None:
        self.config = config
        self.prefix = lesson_id
        self._ids = itertools.count(1)
        self._watch: dict[str, _Watch] = {}
        self.open: dict[tuple[str, AlertKind], Alert] = {}
        self.by_id: dict[str, Alert] = {}
        self.count_by_student: dict[str, int] = {}

    def watch(self, student_id: str, label: str, hrmax: int, since: float | None) -> None:
        """Start watching a student who wears a band; ``since`` starts the no-signal timer."""
        w = self._watch.get(student_id)
        if w is None:
            self._watch[student_id] = _Watch(label, hrmax, last_good=since)
        else:
            w.label, w.hrmax = label, hrmax

    def unwatch(self, student_id: str, now: float) -> list[Alert]:
        """The student gave the band away: close their alerts, they no longer describe anyone."""
        self._watch.pop(student_id, None)
        kinds: tuple[AlertKind, ...] = ("high", "critical", "signal")
        return [self._clear(student_id, kind, now) for kind in kinds if (student_id, kind) in self.open]

    # -- inputs ---------------------------------------------------------------------------------
    def observe(self, student_id: str, t: float, bpm: int, contact: bool | None) -> list[Alert]:
        """One sample of a watched student."""
        w = self._watch.get(student_id)
        if w is None:
            return []
        changed: list[Alert] = []
        if contact is False:
            return changed  # a band off the skin reads nonsense: only the signal timer runs
        if w.last_good is None or t >= w.last_good:
            w.last_good = t
        if (student_id, "signal") in self.open:
            changed.append(self._clear(student_id, "signal", t))
        c = self.config
        high = bpm >= c.high_fraction_of_hrmax * w.hrmax
        critical = bpm >= c.critical_fraction_of_hrmax * w.hrmax or bpm > c.critical_bpm
        w.high_since = (w.high_since if w.high_since is not None else t) if high else None
        w.critical_since = (w.critical_since if w.critical_since is not None else t) if critical else None
        for kind, since, hold, cond in (
            ("high", w.high_since, c.high_hold_s, high),
            ("critical", w.critical_since, c.critical_hold_s, critical),
        ):
            key = (student_id, kind)
            if cond and since is not None and t - since >= hold and key not in self.open:
                pct = round(100 * bpm / w.hrmax)
                if kind == "critical":
                    msg = f"{w.label} 心率过高 {bpm} bpm ({pct}% HRmax), 请立即停止运动 / critical heart rate"
                else:
                    msg = f"{w.label} 心率持续偏高 {bpm} bpm ({pct}% HRmax) / high for {int(hold)} s"
                changed.append(self._raise(student_id, kind, msg, t))  # type: ignore[arg-type]
            elif not cond and key in self.open:
                changed.append(self._clear(student_id, kind, t))  # type: ignore[arg-type]
        return changed

    def check_signal(self, now: float) -> list[Alert]:
        """Called as the lesson clock moves: bands silent or off the skin for too long."""
        changed: list[Alert] = []
        for sid, w in self._watch.items():
            if w.last_good is None:
                w.last_good = now
            if now - w.last_good > self.config.signal_lost_s and (sid, "signal") not in self.open:
                gap = int(now - w.last_good)
                changed.append(self._raise(sid, "signal", f"{w.label} 心率带无信号 {gap} s / no signal or no skin contact", now))
        return changed

    def acknowledge(self, alert_id: str, by: str, now: float) -> Alert:
        """The teacher has seen it; an open one stays open until its condition ends. KeyError if unknown."""
        alert = self.by_id[alert_id]
        if not alert.needs_ack:
            return alert
        state: AlertState = "acknowledged" if alert.state == "active" else alert.state
        acked = replace(alert, state=state, acknowledged_at=now, acknowledged_by=by)
        self._store(acked)
        return acked

    # -- views ----------------------------------------------------------------------------------
    def active(self) -> list[Alert]:
        """Open alerts and ended ones still waiting for the teacher's acknowledgement, worst first."""
        waiting = [a for a in self.by_id.values() if a.state == "cleared" and a.needs_ack]
        return sorted([*self.open.values(), *waiting], key=lambda a: (-SEVERITY[a.kind], a.raised_at))

    def recent(self) -> list[Alert]:
        """Every alert of this lesson in its latest state, newest first (one entry per alert)."""
        return sorted(self.by_id.values(), key=lambda a: a.raised_at, reverse=True)[:RECENT_MAX]

    def worst_for(self, student_id: str) -> str | None:
        kinds = [k for (sid, k) in self.open if sid == student_id]
        return max(kinds, key=lambda k: SEVERITY[k]) if kinds else None

    # -- internals ------------------------------------------------------------------------------
    def _raise(self, sid: str, kind: AlertKind, message: str, now: float) -> Alert:
        alert = Alert(f"{self.prefix}-{next(self._ids)}", sid, self._watch[sid].label, kind, "active", message, now)
        self.open[(sid, kind)] = alert
        self.count_by_student[sid] = self.count_by_student.get(sid, 0) + 1
        self._store(alert)
        return alert

    def _clear(self, sid: str, kind: AlertKind, now: float) -> Alert:
        cleared = replace(self.open.pop((sid, kind)), state="cleared")
        self._store(cleared)
        return cleared

    def _store(self, alert: Alert) -> None:
        if alert.state != "cleared":
            self.open[(alert.student_id, alert.kind)] = alert
        self.by_id[alert.alert_id] = alert


def audit_acknowledgement(db: sqlite_utils.Database, alert: Alert) -> None:
    """The audit trail of who saw which safety alert when (inside the caller's transaction)."""
    audit_row(db, alert.acknowledged_by or "teacher", "pe.alert.ack",
              f"alert={alert.alert_id} student={alert.student_id} kind={alert.kind} at={alert.acknowledged_at}")
