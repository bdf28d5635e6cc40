"""`psybench table6 [RUN_DIR ...]`: the paper's Table 6 (human evaluation) beside the judged runs."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table6", help="the paper's Table 6 (human evaluation) beside judged runs",
                       description=__doc__)
    p.add_argument("runs", nargs="*", type=Path, help="run directories judged with `psybench judge`")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.report.table6 import format_table6

    print(format_table6(args.runs))
    return 0
