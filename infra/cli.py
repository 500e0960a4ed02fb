"""The `unitscope` command line: a thin layer that parses flags and calls each stage's `run(config)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import infra.commands
from infra import runtime
from pipeline.errors import UnitscopeError

# The order subcommands are listed in; any other module in infra/commands is appended.
ORDER = ["demo", "synth", "ingest", "train", "probe", "query", "serve", "submit", "jobs"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unitscope",
        description="Unsupervised feature learning on video and the concept units that emerge in it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [m.name for m in pkgutil.iter_modules(infra.commands.__path__) if not m.name.startswith("_")]
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(f"infra.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.command not in ("submit", "jobs"):  # those talk HTTP to the dashboard, with their own token
            runtime.prepare_cluster_auth(getattr(args, "address", None))
        return int(args.func(args) or 0)
    except UnitscopeError as exc:
        print(f"unitscope {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"unitscope {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
