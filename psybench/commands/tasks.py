"""`psybench tasks [--json]`: the registered tasks; `psybench tasks show NAME`: counts and one sample."""
from __future__ import annotations

import argparse
import json
import sys

from psybench.commands import add_data_dir_arg, add_task_option_args, raw_task_options
from psybench.constants import LANGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tasks", help="list the tasks, or show the samples of one")
    parser.add_argument("--json", action="store_true", help="print the task list as JSON")
    parser.set_defaults(func=_list)
    sub = parser.add_subparsers(dest="tasks_command", metavar="ACTION")
    show = sub.add_parser("show", help="build a task's samples; print the counts and one full sample")
    show.add_argument("name", help="task name (see `psybench tasks`)")
    show.add_argument("--lang", choices=LANGS, default="en")
    show.add_argument("--split", default=None, help="seeded | table5 | released (default: the task's)")
    show.add_argument("--turns", default=None, help="all | last (default: the task's)")
    show.add_argument("--prompt-style", default=None, help="paper | clean (default: the task's)")
    show.add_argument("--index", type=int, default=0, help="which sample to print (default 0)")
    show.add_argument("--json", action="store_true", help="print the build report and the sample as JSON")
    add_task_option_args(show)
    add_data_dir_arg(show)
    show.set_defaults(func=_show)


def checked_task_options(args: argparse.Namespace, tasks: list[str] | tuple[str, ...]) -> dict:
    """--task-option KEY=VALUE, --retrieval-model and --rag-k as typed options of `tasks`: an option none
    of them declares, or a value of the wrong type, is a ConfigError naming the flag and listing the
    options they know."""
    raw, flags = raw_task_options(args)
    if not raw:
        return {}
    from psybench.tasks import check_task_options

    return check_task_options(tasks, raw, flags)


def _list(args: argparse.Namespace) -> int:
    from psybench.tasks import list_tasks

    specs = list_tasks()
    if args.json:
        json.dump([s.as_dict() for s in specs], sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    for spec in specs:
        d = spec.defaults
        print(f"{spec.name:<14} {spec.kind:<15} langs={','.join(spec.langs):<6} split={d.split} turns={d.turns} "
              f"prompt_style={d.prompt_style} metrics={','.join(spec.metrics)}")
        print(f"{'':<14} {spec.description}")
        print(f"{'':<14} options: {spec.describe_options()}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from psybench.commands import env_data_dir
    from psybench.errors import ConfigError
    from psybench.tasks import build_samples_with_report, format_sample

    samples, report = build_samples_with_report(
        args.name, args.lang, args.split, args.turns, args.prompt_style, args.data_dir or env_data_dir(),
        strict=args.strict, **checked_task_options(args, [args.name]))
    if samples and not -len(samples) <= args.index < len(samples):
        raise ConfigError(f"--index {args.index} is out of range: task {args.name!r} has {len(samples)} samples")
    sample = samples[args.index] if samples else None
    if args.json:
        from dataclasses import asdict
        json.dump({"report": report.as_dict(), "sample": asdict(sample) if sample else None}, sys.stdout,
                  ensure_ascii=False, indent=1)
        print()
        return 0
    skipped = ", ".join(f"{k}={v}" for k, v in report.skipped.items()) or "none"
    print(f"task {report.task} lang={report.lang} split={report.split} ({report.n_test_sessions} test sessions, "
          f"hash {report.split_hash[:12]}) turns={report.turns} prompt_style={report.prompt_style}")
    print(f"samples: {report.n_samples}; skipped: {skipped}")
    if sample is not None:
        print(format_sample(sample))
    return 0
