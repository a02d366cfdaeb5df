"""Paper sheets from the scanner: read with ``scan.read_sheet``, matched to an assignment and a student.

Placeholder until ``appliance/features/homework/scan.py`` (another engineer's) lands: scanned sheets are
logged once and the upload endpoint answers 503 with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from appliance.events import ScannedSheet

if TYPE_CHECKING:
    from appliance.features.homework import Homework


async def handle_scanned_sheet(hw: Homework, ev: ScannedSheet) -> None:
    hw._once("scan-missing", "homework: scanned sheet %s ignored: the sheet reader (homework/scan.py) is not"
             " installed yet", ev.path)


async def upload(hw: Homework, request: web.Request) -> Any:
    from appliance.features.homework import HomeworkError

    raise HomeworkError(503, "扫描阅卷未就绪 / the sheet reader is not installed on this box yet")
