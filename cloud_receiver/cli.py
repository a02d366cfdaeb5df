"""Command line of the county receiver (console script ``classroom-cloud``).

``serve`` runs the receiver; ``device-stats`` and ``quarantine`` answer "did everything arrive, and what
did we refuse" from the database alone, so they work while the receiver runs or after it stopped.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from appliance import __version__

DEFAULT_DB = "sqlite:///classroom-cloud.db"


def _load(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    from cloud_receiver.config import load_config, load_raw

    overrides = {k: v for k, v in overrides.items() if v is not None}
    if getattr(args, "config", None):
        return load_config(Path(args.config), overrides)
    return load_raw({}, overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from appliance.config.secrets import MissingSecret
    from cloud_receiver.config import ConfigError
    from cloud_receiver.service import Service
    from cloud_receiver.storage import StoreError

    if not args.config and not args.broker:
        print("serve: pass --config FILE or --broker mqtt://HOST:PORT", file=sys.stderr)
        return 2
    try:
        config = _load(args, {"broker.url": args.broker, "database.url": args.db, "broker.protocol": args.protocol,
                              "broker.shared_group": args.shared_group, "broker.client_id": args.client_id,
                              "logging.level": args.log_level})
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 2
    logging.basicConfig(level=config.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    try:
        service = Service(config, fault_exit_after_commit=args.fault_exit_after_commit)
    except (StoreError, MissingSecret) as exc:
        print(f"classroom-cloud: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:  # e.g. PostgreSQL not up yet: exit, and let systemd try again
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"classroom-cloud: cannot open the database: {first}", file=sys.stderr)
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    return service.run()


def _open_store(args: argparse.Namespace) -> Any:
    from cloud_receiver.storage import Store

    url = args.db
    if url is None and args.config:
        url = _load(args, {}).database.url
    url = url or DEFAULT_DB
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        from cloud_receiver.storage import StoreError

        raise StoreError(f"{url}: no such database file; pass --db with the receiver's database URL")
    store = Store(url, writer=False, create=False)
    store.check_schema()
    return store


def _cmd_device_stats(args: argparse.Namespace) -> int:
    from cloud_receiver.report import device_stats, format_device_stats

    store = _open_store(args)
    try:
        stats = device_stats(store, args.device_id, args.epoch)
    finally:
        store.close()
    print(json.dumps(stats) if args.json else format_device_stats(stats))
    return 0


def _cmd_quarantine(args: argparse.Namespace) -> int:
    from cloud_receiver.report import format_quarantine, quarantine_list

    store = _open_store(args)
    try:
        data = quarantine_list(store, args.limit)
    finally:
        store.close()
    print(json.dumps(data, ensure_ascii=False) if args.json else format_quarantine(data))
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    from cloud_receiver.config import ConfigError, load_config

    try:
        load_config(Path(args.file))
    except ConfigError as exc:
        for line in exc.errors:
            print(line)
        return 2
    print(f"{args.file}: valid")
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(json.dumps({"version": __version__}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="classroom-cloud", description="Classroom Edge county receiver")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="receive classroom results from the broker and store them exactly once")
    serve.add_argument("--config", help="path of classroom-cloud.toml (flags below override it)")
    serve.add_argument("--broker", help="mqtt://HOST:PORT or mqtts://HOST:PORT")
    serve.add_argument("--db", help=f"database URL (default {DEFAULT_DB}, i.e. ./classroom-cloud.db)")
    serve.add_argument("--protocol", choices=["mqtt5", "mqtt311"], help="MQTT version (default mqtt5)")
    serve.add_argument("--shared-group", help="shared-subscription group (default 'receivers'; '' = plain)")
    serve.add_argument("--client-id", help="MQTT client id (default classroom-cloud-HOST-PID)")
    serve.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument("--fault-exit-after-commit", type=int, metavar="N", help=argparse.SUPPRESS)
    serve.set_defaults(fn=_cmd_serve)

    stats = sub.add_parser("device-stats", help="what arrived from one device: records, watermark, gaps, freshness")
    stats.add_argument("device_id")
    stats.add_argument("--epoch", help="epoch to inspect (default: the most recently seen)")
    _db_args(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(fn=_cmd_device_stats)

    quar = sub.add_parser("quarantine", help="recent messages and records the receiver refused, with reasons")
    _db_args(quar)
    quar.add_argument("--limit", type=int, default=20)
    quar.add_argument("--json", action="store_true", help="print one JSON object")
    quar.set_defaults(fn=_cmd_quarantine)

    check = sub.add_parser("check-config", help="validate a configuration file without starting (exit 0/2)")
    check.add_argument("file")
    check.set_defaults(fn=_cmd_check_config)

    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(fn=_cmd_version)
    return p


def _db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help=f"database URL (default: from --config, else {DEFAULT_DB})")
    p.add_argument("--config", help="read the database URL from this classroom-cloud.toml")


def main(argv: list[str] | None = None) -> int:
    from cloud_receiver.config import ConfigError
    from cloud_receiver.storage import StoreError

    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"classroom-cloud: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
