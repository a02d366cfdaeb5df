"""The live lesson as numbers: a pure model, fed samples, that knows nothing of buses or disks.

Everything runs on the lesson clock, which is the latest sample time seen (the driver's clock), not
the box's wall clock: a compressed demo lesson and a real one give the same figures, and tests need
no sleeping. Per-sample work is O(1) so 60 bands at 4 Hz stay far below a tenth of a core.

Definitions (what the report means):

* Time accounting: the interval between two samples of one band is credited to the earlier sample
  (its zone, its bpm), when the gap is at most ``signal_lost_s`` and the band had skin contact. A longer
  gap counts as no signal and is credited nowhere.
* Individual exercise density = time at or above ``moderate_fraction_of_hrmax`` x HRmax / time with signal.
* Class density is pooled: all students' moderate seconds / all students' seconds with signal. Unlike the
  mean of individual densities it is not skewed by a child whose band worked for only two minutes.
* Class average bpm is the mean of the students whose signal is ok right now; ``in_target_share`` is the
  share of lesson seconds in which that average was inside ``target_bpm``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from appliance.config.schema import SmartPeFeatureConfig

Signal = Literal["ok", "lost", "no_contact", "no_band"]

RECOVERY_AFTER_S = (60.0, 120.0)


@dataclass(frozen=True)
class LessonStudent:
    """What the model needs of a roster entry (HRmax already resolved for the lesson date)."""

    student_id: str
    label: str
    band_id: str | None
    hrmax: int


@dataclass
class Recovery:
    """One marked effort for one student: the heart rate at the mark and 60/120 s later."""

    mark_t: float
    hr_at_mark: int | None
    hr_after: list[int | None] = field(default_factory=lambda: [None, None])

    def drop(self, i: int) -> int | None:
        after = self.hr_after[i]
        return None if after is None or self.hr_at_mark is None else self.hr_at_mark - after


@dataclass
class StudentTrack:
    """One student's running aggregates; ``curve`` holds one point per lesson second."""

    info: LessonStudent
    zone_bpm: list[float]
    moderate_bpm: float
    last_t: float | None = None
    bpm: int | None = None
    contact: bool | None = None
    battery: int | None = None
    signal_s: float = 0.0
    moderate_s: float = 0.0
    bpm_time: float = 0.0  # sum of bpm x seconds, for a time-weighted average
    peak: int | None = None
    zone_s: list[float] = field(default_factory=list)
    curve: list[tuple[int, int]] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)

    @property
    def density(self) -> float:
        return self.moderate_s / self.signal_s if self.signal_s > 0 else 0.0

    @property
    def avg_bpm(self) -> float | None:
        if self.signal_s > 0:
            return self.bpm_time / self.signal_s
        return float(self.bpm) if self.bpm is not None else None

    def zone(self, bpm: int) -> int:
        """Zones 1..N+1 with edges from ``zone_edges`` x HRmax."""
        return 1 + bisect_right(self.zone_bpm, bpm)


class LessonModel:
    """Figures of one running lesson, updated sample by sample."""

    def __init__(self, students: Sequence[LessonStudent], config: SmartPeFeatureConfig, start_t: float | None = None):
        self.config = config
        self.start_t = start_t
        self.now: float | None = start_t
        self.tracks: dict[str, StudentTrack] = {}
        self.by_band: dict[str, str] = {}
        for s in students:
            self.add_student(s)
        self.class_curve: list[tuple[int, float | None]] = []
        self.target_s = 0
        self.class_s = 0
        self._last_second: int | None = None
        self.marks: list[float] = []

    # -- roster ---------------------------------------------------------------------------------
    def add_student(self, s: LessonStudent) -> None:
        """Add or update a student (a band swapped mid-lesson keeps the figures so far)."""
        edges = [e * s.hrmax for e in self.config.zone_edges]
        old = self.tracks.get(s.student_id)
        if old is not None:
            if old.info.band_id and self.by_band.get(old.info.band_id) == s.student_id:
                del self.by_band[old.info.band_id]
            old.info = s
            track = old
        else:
            track = StudentTrack(s, edges, self.config.moderate_fraction_of_hrmax * s.hrmax,
                                 zone_s=[0.0] * (len(edges) + 1))
            self.tracks[s.student_id] = track
        if s.band_id:
            self.by_band[s.band_id] = s.student_id

    # -- samples --------------------------------------------------------------------------------
    def ingest(self, band_id: str, t: float, bpm: int, contact: bool | None = None,
               battery: int | None = None) -> StudentTrack | None:
        """Take one reading; returns the student's track, or None for a band nobody wears."""
        if self.start_t is None:
            self.start_t = t
            self.now = t
        self._advance(t)
        sid = self.by_band.get(band_id)
        if sid is None:
            return None
        tr = self.tracks[sid]
        if battery is not None:
            tr.battery = battery
        if tr.last_t is not None and t < tr.last_t:
            return tr  # a late duplicate: time runs forward only
        if tr.last_t is not None and tr.bpm is not None and tr.contact is not False:
            dt = t - tr.last_t
            if 0 < dt <= self.config.signal_lost_s:
                tr.signal_s += dt
                tr.bpm_time += tr.bpm * dt
                if tr.bpm >= tr.moderate_bpm:
                    tr.moderate_s += dt
                tr.zone_s[tr.zone(tr.bpm) - 1] += dt
        tr.last_t, tr.bpm, tr.contact = t, bpm, contact
        if contact is False:
            return tr
        if tr.peak is None or bpm > tr.peak:
            tr.peak = bpm
        second = int(t - self.start_t)
        if tr.curve and tr.curve[-1][0] == second:
            tr.curve[-1] = (second, bpm)
        else:
            tr.curve.append((second, bpm))
        for rec in tr.recoveries:
            if rec.hr_at_mark is None:
                continue
            for i, after in enumerate(RECOVERY_AFTER_S):
                if rec.hr_after[i] is None and t >= rec.mark_t + after:
                    rec.hr_after[i] = bpm
        return tr

    def _advance(self, t: float) -> None:
        """Move the lesson clock; once per new lesson second, sample the class average."""
        if self.now is None or t > self.now:
            self.now = t
        assert self.start_t is not None
        second = int(self.now - self.start_t)
        if self._last_second is None:
            self._last_second = second
            return
        if second <= self._last_second:
            return
        avg = self.class_avg_bpm()
        lo, hi = self.config.target_bpm
        steps = second - self._last_second
        self.class_s += steps
        if avg is not None and lo <= avg <= hi:
            self.target_s += steps
        self.class_curve.append((self._last_second, None if avg is None else round(avg, 1)))
        self._last_second = second

    def advance_to(self, t: float) -> None:
        """Let the clock pass without a sample for this model (tests; a silent class)."""
        if self.start_t is None:
            self.start_t = t
        self._advance(t)

    # -- effort and recovery --------------------------------------------------------------------
    def mark_effort(self) -> float | None:
        """The teacher says "stop running": remember each student's bpm now for recovery at +60/+120 s."""
        if self.now is None:
            return None
        for tr in self.tracks.values():
            hr = tr.bpm if self.signal(tr) == "ok" else None
            tr.recoveries.append(Recovery(self.now, hr))
        self.marks.append(self.now)
        return self.now

    # -- views ----------------------------------------------------------------------------------
    @property
    def elapsed_s(self) -> float:
        return 0.0 if self.start_t is None or self.now is None else self.now - self.start_t

    def signal(self, tr: StudentTrack) -> Signal:
        if not tr.info.band_id:
            return "no_band"
        if tr.last_t is None or self.now is None or self.now - tr.last_t > self.config.signal_lost_s:
            return "lost"
        if tr.contact is False:
            return "no_contact"
        return "ok"

    def class_avg_bpm(self) -> float | None:
        live = [tr.bpm for tr in self.tracks.values() if tr.bpm is not None and self.signal(tr) == "ok"]
        return sum(live) / len(live) if live else None

    def class_density(self) -> float:
        signal = sum(tr.signal_s for tr in self.tracks.values())
        return sum(tr.moderate_s for tr in self.tracks.values()) / signal if signal > 0 else 0.0

    def class_figures(self) -> dict[str, Any]:
        avg = self.class_avg_bpm()
        return {
            "avg_bpm": None if avg is None else round(avg, 1),
            "density": round(self.class_density(), 3),
            "density_target": self.config.group_density_target,
            "in_target_share": round(self.target_s / self.class_s, 3) if self.class_s else 0.0,
            "target_bpm": list(self.config.target_bpm),
        }

    def tile(self, tr: StudentTrack, alert: str | None = None) -> dict[str, Any]:
        signal = self.signal(tr)
        live = tr.bpm if signal == "ok" else None
        avg = tr.avg_bpm
        return {
            "student_id": tr.info.student_id,
            "label": tr.info.label,
            "band_id": tr.info.band_id,
            "bpm": live,
            "zone": tr.zone(live) if live is not None else None,
            "pct_hrmax": round(live / tr.info.hrmax, 3) if live is not None else None,
            "density": round(tr.density, 3),
            "avg_bpm": None if avg is None else round(avg),
            "peak_bpm": tr.peak,
            "battery": tr.battery,
            "signal": signal,
            "alert": alert,
            "t": tr.last_t,  # lesson-clock time of the reading shown: how fresh the number on the wall is
        }

    def zones(self) -> list[dict[str, Any]]:
        edges = [0.0, *self.config.zone_edges, None]
        return [{"zone": i + 1, "from_bpm_share": edges[i], "to_bpm_share": edges[i + 1]} for i in range(len(edges) - 1)]
