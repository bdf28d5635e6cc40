"""CLI sub-commands; each module exposes register(subparsers). Shared flag helpers live here."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from psybench.paths import DATA_DIR_ENV


def add_data_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"directory with the Psy-Insight v7 files (default: ${DATA_DIR_ENV}, then the "
                             "cache filled by `psybench data fetch`)")
    parser.add_argument("--strict", action="store_true",
                        help="treat a checksum mismatch of the data files as an error")


def env_data_dir() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None


def add_task_option_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("task options")
    group.add_argument("--task-option", action="append", default=[], metavar="KEY=VALUE",
                       help="override a task option from its YAML (repeatable), e.g. rag_k=5")
    group.add_argument("--retrieval-model", default=None,
                       help="task 4 embedding model: alias (minilm, e5), hub id or local folder "
                            "(default: minilm for English, e5 for Chinese)")
    group.add_argument("--rag-k", type=int, default=None, help="task 4: sessions retrieved per sample (default 3)")


def raw_task_options(args: argparse.Namespace) -> tuple[dict, dict[str, str]]:
    """(name -> value as typed, name -> the flag that gave it) from --task-option KEY=VALUE and the named
    task-4 flags (which win). Only the syntax is checked here: the values are typed by each task's
    declaration (psybench.tasks.check_task_options), the one place options are parsed."""
    from psybench.errors import ConfigError

    raw: dict = {}
    flags: dict[str, str] = {}
    for item in args.task_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--task-option {item!r}: expected KEY=VALUE")
        raw[key.strip()], flags[key.strip()] = value, f"--task-option {item}"
    if args.retrieval_model:
        raw["retrieval_model"], flags["retrieval_model"] = args.retrieval_model, \
            f"--retrieval-model {args.retrieval_model}"
    if args.rag_k is not None:
        raw["rag_k"], flags["rag_k"] = args.rag_k, f"--rag-k {args.rag_k}"
    return raw, flags
