"""`psybench leaderboard add RUN... | show`: merge finished runs into leaderboards/*.csv and print them."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("leaderboard", help="merge runs into leaderboard CSVs; show them")
    sub = parser.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add (or replace) the rows of finished runs")
    add.add_argument("runs", nargs="+", type=Path, help="run directories (runs/NAME)")
    add.add_argument("--dir", type=Path, default=None, help="leaderboard directory (default: leaderboards/)")
    add.set_defaults(func=_add)
    show = sub.add_parser("show", help="print the leaderboard")
    show.add_argument("--dir", type=Path, default=None, help="leaderboard directory (default: leaderboards/)")
    show.add_argument("--task", default=None, help="only this task")
    show.add_argument("--sort", default=None, metavar="METRIC", help="sort by this column (descending)")
    show.add_argument("--ascending", action="store_true", help="sort ascending")
    show.set_defaults(func=_show)


def _add(args: argparse.Namespace) -> int:
    from psybench.report import leaderboard

    written = leaderboard.add_runs(args.runs, args.dir)
    directory = args.dir or leaderboard.default_dir()
    for kind, count in written.items():
        print(f"{leaderboard.csv_path(directory, kind)}: {count} row(s) added or replaced")
    return 0


def _show(args: argparse.Namespace) -> int:
    from psybench.report import leaderboard

    print(leaderboard.show(args.dir, task=args.task, sort=args.sort, ascending=args.ascending))
    return 0
