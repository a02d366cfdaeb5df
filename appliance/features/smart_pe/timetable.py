"""When PE lessons run: the weekly timetable and which slot, if any, is on at a given moment.

Pure functions over the validated config, so a test can ask "what runs Tuesday 09:58 in Shanghai?"
without a clock. The feature calls :func:`slot_at` every couple of seconds; a slot is identified by
its date, start and class so a lesson the teacher ended early is not started again in the same slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.config.schema import PeTimetableSlot, SmartPeFeatureConfig

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SlotOccurrence:
    """One slot on one day, in the device's time zone."""

    key: str
    class_id: str
    starts: datetime
    ends: datetime
    title: str


def occurrence(slot: PeTimetableSlot, day: datetime, default_minutes: int) -> SlotOccurrence:
    hh, mm = (int(x) for x in slot.start.split(":"))
    starts = day.replace(hour=hh, minute=mm, second=0, microsecond=0)
    ends = starts + timedelta(minutes=slot.minutes or default_minutes)
    key = f"{starts:%Y-%m-%d %H:%M} {slot.class_id}"
    return SlotOccurrence(key, slot.class_id, starts, ends, slot.title or f"体育课 · {slot.class_id}")


def slot_at(config: SmartPeFeatureConfig, now: datetime) -> SlotOccurrence | None:
    """The slot running at ``now`` (an aware datetime in the device's zone), if any."""
    day = DAYS[now.weekday()]
    for slot in config.timetable:
        if day not in slot.days:
            continue
        occ = occurrence(slot, now, config.lesson_minutes)
        if occ.starts <= now < occ.ends:
            return occ
    return None


def next_slot(config: SmartPeFeatureConfig, now: datetime, within_days: int = 7) -> SlotOccurrence | None:
    """The next slot starting after ``now`` (for the kiosk's "next PE lesson" and the roster's class)."""
    best: SlotOccurrence | None = None
    for offset in range(within_days + 1):
        day = now + timedelta(days=offset)
        for slot in config.timetable:
            if DAYS[day.weekday()] not in slot.days:
                continue
            occ = occurrence(slot, day, config.lesson_minutes)
            if occ.starts > now and (best is None or occ.starts < best.starts):
                best = occ
        if best is not None:
            return best
    return None
