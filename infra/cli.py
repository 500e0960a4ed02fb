"""The `unitscope` command line: a thin layer that parses flags and calls each stage's `run(config)`."""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import pkgutil
import sys

import unitscope.infra.commands

from unitscope.core import ray_runtime
from unitscope.core.errors import UnitscopeError
from unitscope.core.failure_log import FailureLog

# The order subcommands are listed in; any other module in infra/commands is appended.
ORDER = ["demo", "synth", "ingest", "train", "probe", "query", "serve", "submit", "jobs"]
# What Ctrl-C leaves behind can be picked up: how, per command (the others just stop).
RESUME = {
    "demo": "run the same command again to resume (finished stages are kept)",
    "synth": "run the same command again to resume (finished clips are kept)",
    "ingest": "run the same command again to resume (committed shards are kept)",
    "train": "run the same command with --resume to continue from the last checkpoint",
    "probe": "run the same command again to resume (activations already computed are reused)",
}
# Loggers that speak at INFO about their own loading (FAISS: which CPU build it picked, and a
# ModuleNotFoundError for the one it did not find): heard only with -v.
LOADER_LOGGERS = ("faiss", "faiss.loader")


class Parser(argparse.ArgumentParser):
    """argparse, except that an unknown flag is reported by the subcommand it was given to (its usage,
    not the top level's) with the closest flag it has: `ingest ... --fsp 2` suggests `--fps`."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = _chosen(self, ns)
            parser.error(unknown_flags_message(parser, extras))
        return ns


def _chosen(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost (sub)parser the command line selected."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(ns, action.dest, None)
            if name in action.choices:
                return _chosen(action.choices[name], ns)
    return parser


def unknown_flags_message(parser: argparse.ArgumentParser, extras: list[str]) -> str:
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    parts = []
    for arg in extras:
        flag = arg.split("=", 1)[0]
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6) if flag.startswith("-") else []
        parts.append(f"{arg} (did you mean {close[0]}?)" if close else arg)
    return f"unrecognized arguments: {' '.join(parts)}; see `{parser.prog} --help`"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="unitscope",
        description="Unsupervised feature learning on video and the concept units that emerge in it.",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log debugging detail, and print Ray's own messages and its workers' output here",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [
        m.name for m in pkgutil.iter_modules(unitscope.infra.commands.__path__) if not m.name.startswith("_")
    ]
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(f"unitscope.infra.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ray_runtime.set_verbose(args.verbose)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verbose:
        for name in LOADER_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        if args.command not in ("submit", "jobs"):  # those talk HTTP to the dashboard, with their own token
            ray_runtime.prepare_cluster_auth(getattr(args, "address", None))
        return int(args.func(args) or 0)
    except UnitscopeError as exc:
        print(f"unitscope {args.command}: error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except KeyboardInterrupt:
        hint = RESUME.get(args.command)
        print(f"unitscope {args.command}: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or damage no reader foresaw: one line here, the traceback in a log
        line = FailureLog(args.command).add(f"unitscope {args.command}: error", exc)
        print(line, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
