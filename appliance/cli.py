"""Command line of the classroom appliance (console script ``classroom``)."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import signal
import sys
from pathlib import Path

from appliance import __version__


def _cmd_run(args: argparse.Namespace) -> int:
    from appliance.config import ConfigError, load_config
    from appliance.daemon import Daemon, install_stop_signals

    loaded, error = None, None
    try:
        loaded = load_config(Path(args.config))
    except ConfigError as exc:
        error = exc

    async def main() -> int:
        stop = asyncio.Event()
        install_stop_signals(stop)
        return await Daemon(loaded, error).run(stop)

    return asyncio.run(main())


def _cmd_check_config(args: argparse.Namespace) -> int:
    from appliance.config import ConfigError, load_config

    try:
        loaded = load_config(Path(args.file))
    except ConfigError as exc:
        for line in exc.errors:
            print(line)
        return 2
    for note in loaded.notes:
        print(f"note: {note}")
    print(f"{args.file}: valid (schema_version {loaded.config.schema_version})")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from appliance.demo import run_demo

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run_demo(args.seconds, args.http_port, data_dir, lesson_speed=args.lesson_speed))


def _cmd_tui(args: argparse.Namespace) -> int:
    from appliance.tui.app import run_tui

    return run_tui(args.url, plain=args.plain)


def _cmd_config_reference(args: argparse.Namespace) -> int:
    from appliance.config.reference import render_reference

    sys.stdout.write(render_reference())
    return 0


def _cmd_outbox_stats(args: argparse.Namespace) -> int:
    from appliance.config import ConfigError, load_config
    from sync.outbox import stats_from_file

    if args.data_dir:
        data_dir = Path(args.data_dir)
    else:
        try:
            data_dir = load_config(Path(args.config)).config.device.data_dir
        except ConfigError as exc:
            print("\n".join(exc.errors), file=sys.stderr)
            return 2
    try:
        st = stats_from_file(data_dir / "classroom.db")
    except (FileNotFoundError, OSError) as exc:
        print(f"outbox-stats: {exc}", file=sys.stderr)
        return 1
    if args.json:
        keys = ("epoch", "last_seq", "pending", "acked", "oldest_pending_age_s")
        print(json.dumps({k: st[k] for k in keys}))
    else:
        for key, value in st.items():
            print(f"{key:>22}: {value}")
    return 0


def _cmd_pe_roster_import(args: argparse.Namespace) -> int:
    """Send a roster CSV to the running daemon, which validates it whole and reloads the wall."""
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"pe-roster import: {exc}", file=sys.stderr)
        return 1
    req = urllib.request.Request(
        args.url.rstrip("/") + "/api/pe/roster/import?by=" + urllib.parse.quote(args.by),
        data=data, method="POST", headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        err = json.loads(exc.read() or b"{}")
        print(f"pe-roster import: {err.get('error', exc)}", file=sys.stderr)
        for problem in err.get("problems", []):
            print(f"  {args.file}: {problem}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as exc:
        print(f"pe-roster import: the daemon at {args.url} is not answering ({exc}); is classroom.service running?",
              file=sys.stderr)
        return 1
    print(f"imported {args.file}: {body['created']} new and {body['updated']} updated students in "
          f"{body['classes']} class(es), {body['bands']} band(s) assigned")
    return 0


def _cmd_homework_check_template(args: argparse.Namespace) -> int:
    """Validate answer-sheet templates offline (exit 0 valid, 2 invalid), one line per problem."""
    from appliance.config.loader import ConfigError
    from appliance.features.homework.template import load_template

    status = 0
    for name in args.files:
        try:
            t = load_template(Path(name))
        except ConfigError as exc:
            for line in exc.errors:
                print(line if line.startswith(name) else f"{name}: {line}")
            status = 2
            continue
        page = ".".join(str(n) for n in t.page.key())
        print(f"{name}: valid: {t.id} ({t.title}), {len(t.questions)} questions, {t.max_points:g} points, page {page}")
    return status


def _cmd_homework_roster_import(args: argparse.Namespace) -> int:
    """Send a class list with pens to the running daemon, which validates it whole (all rows or none)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"homework roster-import: {exc}", file=sys.stderr)
        return 1
    req = urllib.request.Request(
        args.url.rstrip("/") + "/api/homework/roster/import?by=" + urllib.parse.quote(args.by),
        data=data, method="POST", headers={"Content-Type": "text/csv; charset=utf-8"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        err = json.loads(exc.read() or b"{}")
        print(f"homework roster-import: {err.get('error', exc)}", file=sys.stderr)
        for problem in err.get("problems", []):
            print(f"  {args.file}: {problem}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as exc:
        print(f"homework roster-import: the daemon at {args.url} is not answering ({exc}); is classroom.service "
              "running with [features.homework] enabled?", file=sys.stderr)
        return 1
    print(f"imported {args.file}: {body['created']} new and {body['updated']} updated students in "
          f"{body['classes']} class(es), {body['pens']} pen(s) assigned")
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(json.dumps({"version": __version__}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="classroom", description="Classroom Edge appliance daemon and tools")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the classroom daemon")
    run.add_argument("--config", required=True, help="path of classroom.toml")
    run.set_defaults(fn=_cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file without starting (exit 0/2)")
    check.add_argument("file")
    check.set_defaults(fn=_cmd_check_config)

    demo = sub.add_parser("demo", help="run a whole simulated classroom, no configuration needed")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--http-port", type=int, default=8765)
    demo.add_argument("--data-dir", default="demo-data")
    demo.add_argument("--lesson-speed", type=float, default=20.0,
                      help="how much faster than real time the simulated PE lesson runs (20: 45 min in 2.25 min)")
    demo.set_defaults(fn=_cmd_demo)

    tui = sub.add_parser("tui", help="technician terminal UI (talks to the daemon's API)")
    tui.add_argument("--url", default="http://127.0.0.1:8765")
    tui.add_argument("--plain", action="store_true", help="ASCII-friendly look for poor terminals")
    tui.set_defaults(fn=_cmd_tui)

    ob = sub.add_parser("outbox-stats", help="what is waiting to go to the county (reads the store, read-only)")
    ob.add_argument("--config", default="/etc/classroom/classroom.toml", help="find the store via device.data_dir")
    ob.add_argument("--data-dir", help="the store's directory (overrides --config), e.g. demo-data")
    ob.add_argument("--json", action="store_true")
    ob.set_defaults(fn=_cmd_outbox_stats)

    roster = sub.add_parser("pe-roster", help="Smart PE rosters (class lists with pseudonymous ids and bands)")
    roster_sub = roster.add_subparsers(dest="roster_command", required=True)
    imp = roster_sub.add_parser("import", help="import a roster CSV into the running daemon (all rows or none)")
    imp.add_argument("file", help="UTF-8 CSV: class_id,student_id,label,sex,birth_year[,hrmax,resting_hr,band_id]")
    imp.add_argument("--url", default="http://127.0.0.1:8765", help="the daemon's API")
    imp.add_argument("--by", default="technician", help="who imports it (written to the audit log)")
    imp.set_defaults(fn=_cmd_pe_roster_import)

    hw = sub.add_parser("homework", help="pen homework: answer-sheet templates and class lists with pens")
    hw_sub = hw.add_subparsers(dest="homework_command", required=True)
    chk = hw_sub.add_parser("check-template", help="validate answer-sheet template files (exit 0 valid, 2 invalid)")
    chk.add_argument("files", nargs="+", metavar="FILE", help="template TOML file(s)")
    chk.set_defaults(fn=_cmd_homework_check_template)
    rimp = hw_sub.add_parser("roster-import", help="import a class list CSV into the running daemon (all rows or none)")
    rimp.add_argument("file", help="UTF-8 CSV: class_id,student_id,label[,pen_id]")
    rimp.add_argument("--url", default="http://127.0.0.1:8765", help="the daemon's API")
    rimp.add_argument("--by", default="technician", help="who imports it (written to the audit log)")
    rimp.set_defaults(fn=_cmd_homework_roster_import)

    ref = sub.add_parser("config-reference", help="print the configuration reference (Markdown)")
    ref.set_defaults(fn=_cmd_config_reference)

    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(fn=_cmd_version)
    return p


def main(argv: list[str] | None = None) -> int:
    # `kill -USR1 <pid>` writes every thread's stack to stderr (the journal): how a technician finds a hang.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
