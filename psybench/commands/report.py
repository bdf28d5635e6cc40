"""`psybench report runs/NAME... --out report/`: one self-contained HTML page and PNG charts."""
from __future__ import annotations

import argparse
from pathlib import Path

from psybench.commands import add_data_dir_arg, env_data_dir


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="HTML report (self-contained) with charts for finished runs")
    p.add_argument("runs", nargs="+", type=Path, help="run directories (runs/NAME)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: report/)")
    p.add_argument("--baseline", type=Path, default=None,
                   help="run the others are compared against, paired (default: the first run)")
    p.add_argument("--no-prompts", action="store_true",
                   help="do not rebuild the example turns' prompts from the data")
    add_data_dir_arg(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.report.page import build_report

    path = build_report(args.runs, args.out, data_dir=args.data_dir or env_data_dir(),
                        rebuild_prompts=not args.no_prompts, baseline=args.baseline)
    print(path)
    return 0
