"""`psybench metrics [--json]`: every registered generation metric (built-in and plugins), its keys,
level, range and the Table 5 column it fills."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("metrics", help="list the generation metrics (names for --metrics) and their keys",
                       description=__doc__)
    p.add_argument("--json", action="store_true", help="one JSON object per key")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.constants import DEFAULT_METRICS
    from psybench.metrics import list_metrics
    from psybench.metrics.registry import describe

    if args.json:
        print(json.dumps(describe(), indent=2))
        return 0
    for metric in list_metrics():
        default = " (default)" if metric.name in DEFAULT_METRICS else ""
        print(f"{metric.name}{default}: {metric.description}  [{', '.join(metric.langs)}]")
        for spec in metric.keys:
            key = spec.pattern + (f"{spec.bracket}]" if spec.bracket else "")
            column = f"  Table 5: {spec.table5}" if spec.table5 else ""
            print(f"    {key:<44} {spec.level:<7} [{spec.range[0]:g}, {spec.range[1]:g}]{column}")
    return 0
