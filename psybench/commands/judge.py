"""`psybench judge`: a rubric judge (docs/JUDGE.md).

    psybench judge RUN_DIR [RUN_DIR ...] --judge-model M        every reply judged pointwise
    psybench judge --pairwise RUN_A RUN_B --judge-model M       the replies of two runs compared
    psybench judge --references --tasks dialog --lang zh --judge-model M   the gold replies ("Human")
    psybench judge validate --judge-model M --lang en           does the judge tell good from bad?
    psybench judge calibrate --ratings FILE.jsonl RUN_DIR        the judge against human ratings"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from psybench.commands import add_data_dir_arg, env_data_dir
from psybench.errors import ConfigError

MODES = ("validate", "calibrate")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("judge", help="judge replies with a rubric (the paper's human-evaluation dimensions, "
                       "ethical risk); also `judge validate`, `judge calibrate`",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", help="run directories, or `validate` / `calibrate` followed by theirs")
    add_judge_args(p)
    p.add_argument("--pairwise", action="store_true", help="compare the replies of two runs (RUN_A RUN_B)")
    p.add_argument("--references", action="store_true", help="judge the gold replies of a split (Table 6's Human row)")
    p.add_argument("--tasks", default="dialog", help="--references: comma-separated tasks")
    p.add_argument("--lang", default="en", choices=("en", "zh"))
    p.add_argument("--split", default="seeded", choices=("seeded", "table5", "released"))
    p.add_argument("--turns", default="all", choices=("all", "last"))
    p.add_argument("--limit", type=int, default=None, help="judge only the first N replies (turns, for validate)")
    p.add_argument("--ratings", type=Path, default=None, help="calibrate: JSONL of {id, dimension, rater, score}")
    p.add_argument("--out", type=Path, default=None,
                   help="--pairwise / --references: output directory; validate: also write the summary there")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    from psybench.commands.run import add_executor_args

    add_executor_args(p)
    add_data_dir_arg(p)
    p.set_defaults(func=handle)


def add_judge_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("judge")
    g.add_argument("--judge-model", action="append", default=None, metavar="M",
                   help="judge model (repeatable: several judges); BACKEND:M picks another backend than "
                        "--judge-backend, e.g. replay:answers.jsonl, openai:NAME; smollm2 = the embedded model")
    g.add_argument("--judge-backend", default="vllm", help="backend of the judge models (default vllm)")
    g.add_argument("--judge-label", default=None, help="the judge's name in result keys (one judge; default: "
                   "the model's folder or file name)")
    g.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a backend option of the judges, e.g. base_url=http://127.0.0.1:8000/v1, dtype=float32")
    g.add_argument("--judge-repeats", type=int, default=1, help="judgments per reply (repeats after the first "
                   "are seeded samples); agreement across repeats is reported")
    g.add_argument("--rubric", type=Path, default=None, help="rubric file (default rubrics/psy_insight_{lang}.yaml)")
    g.add_argument("--no-structured", action="store_true",
                   help="do not ask for structured (JSON-schema) output: for servers that reject response_format")
    g.add_argument("--judge-max-tokens", type=int, default=None)
    g.add_argument("--judge-cache", type=Path, default=None, help="judgment cache file (SQLite)")
    g.add_argument("--no-judge-cache", action="store_true")


def settings_from_args(args: argparse.Namespace):
    from psybench.constants import JUDGE_MAX_TOKENS
    from psybench.judge.pointwise import JudgeSettings

    if args.judge_repeats < 1:
        raise ConfigError(f"--judge-repeats {args.judge_repeats}: must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit {args.limit}: must be a positive number")
    from psybench.judge.engine import judge_specs

    judges = judge_specs(args.judge_model, args.judge_backend, args.judge_option)
    if args.judge_label:
        if len(judges) != 1:
            raise ConfigError("--judge-label names one judge; with several, each is named after its model")
        judges = (dataclasses.replace(judges[0], label=args.judge_label),)
    from psybench.executors import ExecutorSettings

    executor = ExecutorSettings(args.executor, args.ray_address, args.replicas)
    for spec in judges:  # --executor ray with a judge it cannot run (openai, replay): one line, now
        executor.check(spec.backend)
    return JudgeSettings(judges=judges, executor=executor,
                         repeats=args.judge_repeats, limit=args.limit, rubric=args.rubric,
                         structured=not args.no_structured, cache=args.judge_cache, use_cache=not args.no_judge_cache,
                         data_dir=args.data_dir or env_data_dir(), max_tokens=args.judge_max_tokens or JUDGE_MAX_TOKENS,
                         progress=sys.stderr.isatty())


def handle(args: argparse.Namespace) -> int:
    from psybench.commands.run import quiet_third_party

    quiet_third_party()
    targets = list(args.targets)
    mode = targets.pop(0) if targets and targets[0] in MODES else None
    if mode == "calibrate":
        return _calibrate(args, targets)
    settings = settings_from_args(args)
    if mode == "validate":
        return _validate(args, settings)
    if args.pairwise:
        return _pairwise(args, settings, targets)
    if args.references:
        from psybench.judge.references import references_run

        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
        out = args.out or Path("runs") / f"references-{args.lang}-{'-'.join(tasks)}"
        targets = [references_run(out, tasks, args.lang, args.split, args.turns, settings.data_dir, args.limit)]
    if not targets:
        raise ConfigError("psybench judge: give run directories (or --references, --pairwise A B, validate, calibrate)")
    from psybench.judge.pointwise import judge_run
    from psybench.report.summary import judge_table

    for target in targets:
        summary = judge_run(Path(target), settings)
        if args.json:
            print(json.dumps({"run_dir": str(summary.run_dir), "items": summary.items, "judges": summary.per_judge},
                             ensure_ascii=False, indent=1, default=str))
        else:
            print(judge_table(Path(target), summary))
    return 0


def _validate(args: argparse.Namespace, settings) -> int:
    from psybench.judge.validate import format_validation, validate_judge

    code = 0
    for spec in settings.judges:
        summary = validate_judge(spec, args.lang, data_dir=settings.data_dir, limit=args.limit, rubric_path=args.rubric,
                                 cache=settings.cache, use_cache=settings.use_cache, structured=settings.structured,
                                 max_tokens=settings.max_tokens, executor=settings.executor)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"validate-{spec.label}-{args.lang}.json").write_text(
                json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        print(json.dumps(summary, ensure_ascii=False, indent=1) if args.json else format_validation(summary))
    return code


def _pairwise(args: argparse.Namespace, settings, targets: list[str]) -> int:
    from psybench.judge.pairwise import format_pairwise, judge_pairwise

    if len(targets) != 2:
        raise ConfigError(f"--pairwise: give exactly two run directories (got {len(targets)})")
    a, b = Path(targets[0]), Path(targets[1])
    out = args.out or Path("runs") / f"pairwise-{a.name}-vs-{b.name}"
    summary = judge_pairwise(a, b, settings, out)
    print(json.dumps(summary, ensure_ascii=False, indent=1) if args.json else format_pairwise(summary))
    print(f"written: {out / 'pairwise.json'}", file=sys.stderr)
    return 0


def _calibrate(args: argparse.Namespace, targets: list[str]) -> int:
    from psybench.judge.calibrate import calibrate_run

    if args.ratings is None:
        raise ConfigError("judge calibrate: give --ratings FILE.jsonl (lines {id, dimension, rater, score})")
    if len(targets) != 1:
        raise ConfigError("judge calibrate: give the run directory the judge scored (one)")
    print(calibrate_run(Path(targets[0]), args.ratings, label=(args.judge_model or [None])[0], as_json=args.json))
    return 0
