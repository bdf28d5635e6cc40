"""`psybench compare runs/A runs/B`: per metric, B - A with a paired bootstrap CI and p-value over the
samples both runs scored (same task, split and language)."""
from __future__ import annotations

import argparse
from pathlib import Path

from psybench.constants import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED


def register(subparsers) -> None:
    p = subparsers.add_parser("compare", help="paired bootstrap comparison of two runs (B - A)")
    p.add_argument("run_a", type=Path, help="baseline run directory (A)")
    p.add_argument("run_b", type=Path, help="run directory compared with it (B)")
    p.add_argument("--task", default=None, help="task to compare (needed when the runs share several)")
    p.add_argument("--metric", action="append", default=None, metavar="KEY",
                   help="metric key to compare (repeatable; default: all)")
    p.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES)
    p.add_argument("--seed", type=int, default=BOOTSTRAP_SEED)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.report.compare import compare_runs, format_comparison

    task, n_shared, rows = compare_runs(args.run_a, args.run_b, args.task, args.metric, args.resamples, args.seed)
    print(format_comparison(args.run_a, args.run_b, task, n_shared, rows, args.resamples))
    return 0
