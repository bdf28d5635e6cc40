"""`psybench run` (and `python run_bench.py [flags]`): generate and score one model on tasks."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from psybench.backends import BACKENDS, cli_options
from psybench.commands import add_data_dir_arg, add_task_option_args, env_data_dir
from psybench.commands.score import parse_metrics
from psybench.commands.tasks import checked_task_options
from psybench.constants import DEFAULT_SEED, EXECUTORS, METRIC_MODES
from psybench.jsonl import read_json
from psybench.runfiles import PREDICTIONS_FILE, RESULTS_FILE
from psybench.runner import DECODINGS, DEFAULT_OUT, DEFAULT_RUN, STAGES, RunConfig


REPORT_DIR = "report"  # the HTML report, inside the run directory


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run", help="generate and score a model on Psy-Insight tasks (no --model: the embedded default)",
        description="Generate with a backend, extract, score in both metric modes, write runs/NAME/. "
                    f"With no --model: SmolLM2-135M-Instruct on vLLM, English dialog, --limit "
                    f"{DEFAULT_RUN['limit']}, max_tokens {DEFAULT_RUN['max_tokens']}.")
    p.add_argument("--model", default=None, help="model path or name (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--backend", default="vllm", choices=BACKENDS)
    p.add_argument("--tasks", default="dialog", help="comma-separated task names (see `psybench tasks`)")
    p.add_argument("--lang", default="en", choices=("en", "zh"))
    p.add_argument("--split", default="seeded", choices=("seeded", "table5", "released"))
    p.add_argument("--turns", default="all", choices=("all", "last"))
    p.add_argument("--prompt-style", default="paper", choices=("paper", "clean"))
    p.add_argument("--limit", type=int, default=None, help="at most N samples per task")
    p.add_argument("--decoding", default="greedy", choices=DECODINGS,
                   help="greedy (default, reproducible) or paper (top_p 0.5, temperature 0.7, 512 tokens)")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--repetition-penalty", type=float, default=None,
                   help="> 1 penalises tokens already in the prompt or output (vllm, hf, vLLM servers); default off "
                        "(the embedded default: %s)" % DEFAULT_RUN.get("repetition_penalty", "off"))
    p.add_argument("--frequency-penalty", type=float, default=None,
                   help="> 0 penalises a token by how often the output already holds it, prompt excluded "
                        "(vllm, hf, openai); default off (the embedded default: %s)"
                        % DEFAULT_RUN.get("frequency_penalty", "off"))
    p.add_argument("--mode", default="both", choices=(*METRIC_MODES, "both"), help="metric mode(s)")
    p.add_argument("--metrics", default=None, metavar="NAMES",
                   help="comma-separated generation metrics (default: each task's `metrics:`, Table 5's; "
                        "`psybench metrics` lists all, e.g. chrf)")
    p.add_argument("--bertscore-model", default=None, help="encoder name, path or alias (minilm, mpnet, e5)")
    p.add_argument("--bertscore-layer", type=int, default=None)
    p.add_argument("--no-reference-cache", action="store_true",
                   help="encode the references again instead of reading their BERTScore embeddings from the cache")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"run directory (default: {DEFAULT_OUT})")
    p.add_argument("--stage", default="all", choices=STAGES,
                   help="generate (predictions.jsonl), score (scores.jsonl, results.json), or all")
    p.add_argument("--overwrite", action="store_true", help="discard what the run directory holds")
    p.add_argument("--cache", type=Path, default=None, help="generation cache file (SQLite)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the generation cache")
    p.add_argument("--dry-run", action="store_true", help="print sample counts and one prompt; load no model")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--verbose", action="store_true",
                   help="print every metric key, and third-party start-up output (vLLM, transformers)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report (runs/NAME/report/)")
    p.add_argument("--chunk-size", type=int, default=0,
                   help="requests per generate call (0: a whole task at once)")
    add_executor_args(p)
    add_backend_option_args(p)
    g = p.add_argument_group("judge (a stage after scoring; docs/JUDGE.md)")
    g.add_argument("--judge-model", action="append", default=[], metavar="M",
                   help="judge the replies with this model after scoring (repeatable); BACKEND:M for another "
                        "backend than --judge-backend, e.g. openai:NAME, replay:FILE")
    g.add_argument("--judge-backend", default="vllm")
    g.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE",
                   help="a backend option of the judges, e.g. dtype=float32, base_url=URL")
    g.add_argument("--judge-repeats", type=int, default=1)
    g.add_argument("--rubric", type=Path, default=None, help="judge rubric file (default rubrics/psy_insight_{lang}.yaml)")
    add_task_option_args(p)
    add_data_dir_arg(p)
    p.set_defaults(func=handle)


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """--executor, --ray-address, --replicas (psybench.executors; `run` and `judge`)."""
    group = p.add_argument_group("where the engines run (docs/SCALING.md)")
    group.add_argument("--executor", default="local", choices=EXECUTORS,
                       help="local: one engine in this process; ray: --replicas engines as Ray actors, each with "
                            "its GPUs reserved (tensor x pipeline parallel size)")
    group.add_argument("--ray-address", default=None,
                       help="ray: the cluster's HOST:PORT, 'auto' (the running one) or 'local' (start one here); "
                            "default: the running cluster, else a local one")
    group.add_argument("--replicas", type=int, default=None,
                       help="ray: engine replicas (default: as many as the cluster's GPUs allow; 1 without GPUs)")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    return RunConfig(
        model=args.model, backend=args.backend, tasks=tasks,
        lang=args.lang, split=args.split, turns=args.turns, prompt_style=args.prompt_style, limit=args.limit,
        decoding=args.decoding, max_tokens=args.max_tokens, seed=args.seed,
        repetition_penalty=args.repetition_penalty,
        frequency_penalty=args.frequency_penalty,
        modes=METRIC_MODES if args.mode == "both" else (args.mode,),
        metrics=parse_metrics(args.metrics), reference_cache=not args.no_reference_cache,
        bertscore_model=args.bertscore_model, bertscore_layer=args.bertscore_layer, out=args.out,
        data_dir=args.data_dir or env_data_dir(), strict=args.strict, stage=args.stage, overwrite=args.overwrite,
        cache=args.cache, use_cache=not args.no_cache, chunk_size=args.chunk_size, progress=not args.no_progress,
        executor=args.executor, ray_address=args.ray_address, replicas=args.replicas,
        task_options=checked_task_options(args, tasks), judge_models=tuple(args.judge_model),
        judge_backend=args.judge_backend, judge_options=tuple(args.judge_option), judge_repeats=args.judge_repeats,
        judge_rubric=args.rubric,
        **{option.name: _flag_value(args, option) for option, _ in cli_options()})


def _flag_value(args: argparse.Namespace, option):
    value = getattr(args, option.name)
    return tuple(value) if option.multiple and value is not None else value


def add_backend_option_args(parser: argparse.ArgumentParser) -> None:
    """One flag per backend option the backends declare (backends/options.py), with the backends taking
    it; unset flags stay None so the backend's own default applies."""
    group = parser.add_argument_group("backend options (declared by each backend; another backend's is an error)")
    for option, names in cli_options():
        text = f"{option.help} [{', '.join(names)}]"
        if option.type is bool:
            action = "store_false" if option.default is True else "store_true"
            group.add_argument(option.flag, dest=option.name, action=action, default=None, help=text)
        elif option.multiple:
            group.add_argument(option.flag, dest=option.name, type=option.type, action="append", default=None,
                               help=text + " (repeatable)")
        else:
            group.add_argument(option.flag, dest=option.name, type=option.type, default=None, help=text)


def quiet_third_party() -> None:
    """Hide output a user cannot act on: vLLM's start-up INFO/WARNING lines, transformers' load reports
    and progress bars (e.g. the GGUF conversion), other libraries' Python warnings, in this process and
    in the engine processes it starts. psybench's own warnings and every error stay visible."""
    import logging
    import os
    import warnings

    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # children: engine core, resource tracker
    os.environ.setdefault("TQDM_DISABLE", "1")  # bars that pass no `disable` (GGUF conversion); psybench's pass one
    os.environ.setdefault("TORCH_LOGS", "-torch")  # torch's Python warnings in the engine process ("Triton not available")
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # torch's C++ warnings there ("NUMA binding: ...")
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"psybench(\.|$)")
    for name in ("transformers", "sentence_transformers", "vllm", "torch", "jieba", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _exit_on_sigterm() -> object:
    """SIGTERM -> SystemExit, so the runner's finally blocks run: predictions flushed, engine shut down
    (else vLLM's engine-core process outlives us). Returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def handle(args: argparse.Namespace) -> int:
    from psybench import runner

    config = config_from_args(args)
    if not args.verbose:
        quiet_third_party()
    if args.dry_run:
        print(runner.dry_run(config))
        return 0
    previous = _exit_on_sigterm()
    try:
        run_dir = runner.run(config)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    results_path = run_dir / RESULTS_FILE
    if config.stage == "generate":
        print(f"predictions written to {run_dir / PREDICTIONS_FILE}; score them with "
              f"`psybench run --stage score --out {run_dir}` (same flags)", file=sys.stderr)
        return 0
    results = read_json(results_path)
    if args.verbose:
        from psybench.report.summary import results_table

        results_table(results)
    report_path = None
    if not args.no_report:
        from psybench.report.page import build_report

        report_path = build_report([run_dir], run_dir / REPORT_DIR, data_dir=config.data_dir)
    from psybench.report.summary import print_summary

    print_summary(results, run_dir, report_path)
    if config.judge_models:
        from psybench.report.summary import judge_table

        print(judge_table(run_dir))
    return 0
