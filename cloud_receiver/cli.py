"""Command line of the county receiver (console script ``classroom-cloud``).

The receiver's ``serve`` and inspection commands arrive with the sync work; this entry point exists so
that packaging, the systemd unit and the version check are in place from the start.
"""

from __future__ import annotations

import argparse
import json
import sys

from appliance import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="classroom-cloud", description="Classroom Edge county receiver")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print the version")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(json.dumps({"version": __version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
