"""`psybench` command line: one sub-command per module in psybench/commands/.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func=handler(args) -> int`. Bad input surfaces as a PsybenchError: printed as one line, exit code
from the error, no traceback."""
from __future__ import annotations

import argparse
import importlib
import sys

from psybench.errors import PsybenchError

# Order is the order of `psybench --help`.
COMMAND_MODULES = ("run", "score", "data", "tasks", "metrics", "export", "judge", "table5", "table6", "leaderboard", "compare",
                   "report")


def build_parser() -> argparse.ArgumentParser:
    from psybench import __version__

    parser = argparse.ArgumentParser(
        prog="psybench", description="Benchmark counselling language models on Psy-Insight (en, zh).")
    parser.add_argument("--version", action="version", version=f"psybench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:  # a module that fails to import is an error, never a missing command
        importlib.import_module(f"psybench.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PsybenchError as err:
        print(f"psybench: error: {err}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("psybench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
