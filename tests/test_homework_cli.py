"""`classroom homework check-template` and `classroom homework roster-import` from the shell."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from appliance.bus import Bus
from appliance.cli import build_parser
from appliance.config.schema import HomeworkFeatureConfig
from appliance.features.homework import BUNDLED_TEMPLATES, Homework
from appliance.store import Store
from appliance.supervisor import Supervisor

BAD = """id = "x"
title = "t"
subject = "math"
grade = 4
[page]
section = 1
owner = 1
note = 1
page = 1
[[questions]]
id = "q1"
type = "numeric"
points = 2
answer = "abc"
box_mm = [1, 1, 10, 10]
"""


def main(argv: list[str]) -> int:
    """The CLI as `classroom` runs it, minus main()'s SIGUSR1 stack dumper (pytest owns stderr)."""
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


def test_check_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(BUNDLED_TEMPLATES / "math-g4-u3-hw1.toml")
    assert main(["homework", "check-template", good]) == 0
    assert "valid: math-g4-u3-hw1" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    assert main(["homework", "check-template", good, str(bad)]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(str(bad)) and "numeric answers must be numbers" in out[-1]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, Homework]]:
    store = Store(tmp_path / "classroom.db")
    supervisor = Supervisor(Bus(), store=store)
    hw = Homework(HomeworkFeatureConfig(enabled=True), tmp_path)
    supervisor.add(hw)
    await supervisor.start()
    app = web.Application()
    hw.add_routes(app)
    srv = TestServer(app)
    await srv.start_server()
    try:
        yield str(srv.make_url("")), hw
    finally:
        await srv.close()
        await supervisor.stop()
        store.close()


async def test_roster_import(server: tuple[str, Homework], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, hw = server
    await asyncio.sleep(0.1)
    bad = tmp_path / "bad.csv"
    bad.write_text("class_id,student_id,label,pen_id\n4-1,a,1号,\n4-1,b,李四,\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["homework", "roster-import", str(bad), "--url", url]) == 2
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "line 3, label" in err
    good = tmp_path / "good.csv"
    good.write_text("class_id,student_id,label,pen_id\n4-1,a,1号,9C:7B:D2:01:00:01\n4-1,b,2号,\n", encoding="utf-8")
    assert await asyncio.to_thread(main, ["homework", "roster-import", str(good), "--url", url, "--by", "张工"]) == 0
    assert "2 new and 0 updated students in 1 class(es), 1 pen(s) assigned" in capsys.readouterr().out
    assert [s.pen_id for s in hw.roster] == ["9C:7B:D2:01:00:01", None]
    assert await asyncio.to_thread(main, ["homework", "roster-import", str(good), "--url", "http://127.0.0.1:9"]) == 1
