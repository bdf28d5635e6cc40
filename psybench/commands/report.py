"""`psybench report runs/NAME... --out report/`: one self-contained HTML page and PNG charts."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("report", help="HTML report (self-contained) with charts for finished runs")
    p.add_argument("runs", nargs="+", type=Path, help="run directories (runs/NAME)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: report/)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.report.page import build_report

    path = build_report(args.runs, args.out)
    print(path)
    return 0
