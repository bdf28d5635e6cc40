"""`psybench export`: the training side of a split as fine-tuning data (psybench.export)."""
from __future__ import annotations

import argparse
from pathlib import Path

from psybench.commands import add_data_dir_arg, env_data_dir
from psybench.export import DEFAULT_EXPORT_TASKS, EXPORT_FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write the training side of a split as fine-tuning data",
                       description="The training side of --split, built by the benchmark's own task builders and "
                                   "prompts, as messages (TRL), sharegpt or alpaca (LLaMA-Factory) JSONL, one file "
                                   "per task, with export_manifest.json (split hash, counts, what was held out).")
    p.add_argument("--lang", default="en", choices=("en", "zh"))
    p.add_argument("--split", default="seeded", choices=("seeded", "table5", "released"))
    p.add_argument("--tasks", default=None,
                   help=f"comma-separated chat tasks (default: those of {', '.join(DEFAULT_EXPORT_TASKS)} that exist "
                        "in the language)")
    p.add_argument("--format", default="messages", choices=EXPORT_FORMATS)
    p.add_argument("--prompt-style", default="paper", choices=("paper", "clean"))
    p.add_argument("--turns", default="all", choices=("all", "last"))
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="a seeded, session-level validation part of the training side (e.g. 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the validation draw")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    add_data_dir_arg(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.export import export_training_data

    if args.tasks is None:
        from psybench.tasks import get_task

        tasks = tuple(t for t in DEFAULT_EXPORT_TASKS if args.lang in get_task(t).langs)
    else:
        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    report = export_training_data(args.lang, args.split, tasks, args.format, args.out,
                                  data_dir=args.data_dir or env_data_dir(), val_fraction=args.val_fraction,
                                  seed=args.seed, prompt_style=args.prompt_style, turns=args.turns,
                                  strict=args.strict)
    for task, counts in report.counts.items():
        val = f", {counts['val']} validation" if report.val_sessions else ""
        print(f"{task}: {counts['train']} training examples{val}")
    held = sum(report.held_out.values())
    print(f"{report.train_sessions} training sessions ({len(report.val_sessions)} validation); {held} examples held "
          f"out (see {args.out / 'export_manifest.json'}); split {args.split} hash {report.split_hash[:12]}")
    return 0
