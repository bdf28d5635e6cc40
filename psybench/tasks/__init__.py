"""Task definitions -> Samples.

Public API:
    list_tasks() -> list[TaskSpec]; get_task(name) -> TaskSpec   (registry.py; tasks/*.yaml)
    build_samples(task, lang, split=None, turns=None, prompt_style=None, data_dir=None, limit=None,
                  strict=False, **options) -> list[Sample]
    build_samples_with_report(...same...) -> tuple[list[Sample], BuildReport]
    format_sample(sample) -> str   (human-readable prompt + reference; `tasks show`, `run --dry-run`)
split/turns/prompt_style default to the task's `defaults:` (seeded, all, paper unless the YAML says
otherwise); **options override the YAML's `options:` for this build, parsed to their declared types
('5' -> 5, 'yes' -> True). A name no task declares is a ConfigError; one declared only by other tasks
is ignored (a run passes one option set to all its tasks).
    check_task_options(tasks, options, flags=None) -> dict   (a run's options, checked and typed)

Builder contract (what a `builder:` module must define; dialogue.py, classification.py, rag.py):

    build(spec: TaskSpec, sessions: Sequence[Session], split: Split, options: BuildOptions)
        -> tuple[list[Sample], dict[str, int]]

- `sessions`: EVERY session of the language (train sessions too: the paper chat needs the previous
  session, retrieval needs the train side); `common.test_sessions(sessions, split)` gives the test rows
  in split order with their row meta (table5 chunk info);
- `options`: common.BuildOptions(lang, turns, prompt_style, extra = spec.options + caller options);
- return the samples in a deterministic order (split order, then turn order) and the number of skipped
  items per reason (e.g. {"no_reasoning": 12}); build_samples applies `limit` and makes the BuildReport.
Sample ids are f"{task}/{dialog_id}/{turn_index}" (turn_index -1 for session-level samples) and must be
unique; build_samples checks that. Dialogue prompt helpers for other builders: chat.py
(session_chat, paper_chat, clean_chat, previous_sessions, reference_text, runs).
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from psybench.errors import ConfigError
from psybench.records import Sample
from psybench.tasks.common import BuildOptions
from psybench.tasks.registry import (
    PROMPT_STYLES,
    SPLITS,
    TURNS,
    TaskSpec,
    builder_of,
    get_task,
    list_tasks,
    load_specs,
    parse_option_value,
    register_builder,
    tasks_dir,
    unregister_builder,
)

__all__ = ["BuildOptions", "BuildReport", "TaskSpec", "build_samples", "build_samples_with_report",
           "check_task_options", "format_sample", "get_task", "list_tasks", "register_builder", "tasks_dir",
           "unregister_builder"]

LANG_NAMES = {"en": "English", "zh": "Chinese"}


@dataclass
class BuildReport:
    """What the runner records in the manifest about one build."""

    task: str
    lang: str
    split: str
    split_hash: str
    turns: str
    prompt_style: str
    task_hash: str
    n_samples: int  # after limit
    n_built: int  # before limit
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    limit: int | None = None
    n_test_sessions: int = 0
    seconds: float = 0.0
    # facts about the kept samples, not skips: e.g. background_names_label (classification)
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COUNTED_META = ("background_names_label",)
_SPLITS: dict[tuple, Any] = {}  # per process: (split, lang, data_dir, loaded data identity) -> Split


def _split(name: str, lang: str, data_dir: Path | None, sessions: list) -> Any:
    """get_split, memoised per loaded data version (the loader returns the same Session objects
    while the file is unchanged), so building many tasks computes the seeded split once."""
    from psybench.data import get_split

    key = (name, lang, str(data_dir), id(sessions[0]) if sessions else None)
    if key not in _SPLITS:
        _SPLITS[key] = get_split(name, lang, data_dir)
    return _SPLITS[key]


def _known(specs: Sequence[TaskSpec]) -> str:
    if len(specs) == 1:
        return f"options of {specs[0].name}: {specs[0].describe_options()}"
    return "known options: " + "; ".join(f"{s.name}: {s.describe_options()}" for s in specs)


def _typed(spec: TaskSpec, name: str, value: Any, where: str, specs: Sequence[TaskSpec]) -> Any:
    kind = spec.option_types[name]
    try:
        return parse_option_value(value, kind)
    except ValueError as err:
        raise ConfigError(f"{where}: {err} for option {name} of task {spec.name}, got {value!r} "
                          f"({_known(specs)})") from None


def check_task_options(tasks: Sequence[str], options: Mapping[str, Any],
                       flags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A run's task options, checked before anything is built: each name must be declared by at least
    one of `tasks`, each value parses to its declared type (for every task that declares it). Returns
    the typed options. ConfigError names the flag (`flags[name]`, e.g. '--task-option k=abc') and lists
    the options the tasks know."""
    specs = [get_task(t) for t in dict.fromkeys(tasks)]
    out: dict[str, Any] = {}
    for name, value in options.items():
        where = (flags or {}).get(name) or f"task option {name}={value!r}"
        owners = [s for s in specs if name in s.option_types]
        if not owners:
            problem = (f"task {specs[0].name} has no option {name!r}" if len(specs) == 1 else
                       f"no task of this run ({', '.join(s.name for s in specs)}) has an option {name!r}")
            raise ConfigError(f"{where}: {problem} ({_known(specs)})")
        typed = [_typed(s, name, value, where, specs) for s in owners]
        out[name] = typed[0]
    return out


def _build_options(spec: TaskSpec, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of this build: the YAML defaults overridden by the caller's, typed."""
    extra = dict(spec.options)
    for name, value in options.items():
        if name in spec.option_types:
            if value is not None:  # None: keep the default
                extra[name] = _typed(spec, name, value, f"task option {name}={value!r}", [spec])
        elif not any(name in other.option_types for other in load_specs().values()):
            raise ConfigError(f"task option {name}={value!r}: task {spec.name} has no option {name!r} "
                              f"({_known([spec])})")
    return extra


def _check(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r} (expected one of {', '.join(allowed)})")
    return value


def build_samples_with_report(task: str, lang: str, split: str | None = None, turns: str | None = None,
                              prompt_style: str | None = None, data_dir: Path | None = None,
                              limit: int | None = None, strict: bool = False, side: str = "test", **options: Any
                              ) -> tuple[list[Sample], BuildReport]:
    """The task's samples on the split's test side (the benchmark), or with side="train" on its training
    side (psybench export: the same builders and prompts, for fine-tuning data)."""
    from psybench.data import load_sessions

    start = time.perf_counter()
    spec = get_task(task)
    if lang not in spec.langs:
        known = " and ".join(LANG_NAMES.get(x, x) for x in spec.langs)
        note = f": {spec.lang_note}" if spec.lang_note else ""
        raise ConfigError(f"task {task!r} exists for {known} only, not {LANG_NAMES.get(lang, lang)} "
                          f"(--lang {lang}){note}")
    split = _check("split", split or spec.defaults.split, SPLITS)
    turns = _check("turns", turns or spec.defaults.turns, TURNS)
    prompt_style = _check("prompt style", prompt_style or spec.defaults.prompt_style, PROMPT_STYLES)
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0, got {limit}")
    extra = _build_options(spec, options)  # before loading data: a bad option fails at once
    sessions = load_sessions(lang, data_dir, strict)
    the_split = _split(split, lang, data_dir, sessions)
    if side == "train":  # the builders build split.test_ids: hand them the training side instead
        if spec.builder == "rag":
            raise ConfigError(f"task {task}: retrieval draws on the training side, so it has no training side "
                              "of its own to build")
        the_split = replace(the_split, test_ids=the_split.train_ids, train_ids=the_split.test_ids, rows=())
    elif side != "test":
        raise ConfigError(f"side {side!r}: choose test or train")
    builder = builder_of(spec)
    opts = BuildOptions(lang=lang, turns=turns, prompt_style=prompt_style, extra=extra,
                        limit=limit)
    samples, skipped = builder.build(spec, sessions, the_split, opts)
    dup = [i for i, n in Counter(s.id for s in samples).items() if n > 1]
    if dup:
        raise ConfigError(f"task {task!r}: builder {spec.builder} made duplicate sample ids, e.g. {dup[0]}")
    n_built = len(samples)
    if limit is not None:
        samples = samples[:limit]
    report = BuildReport(task=task, lang=lang, split=split, split_hash=the_split.content_hash, turns=turns,
                         prompt_style=prompt_style, task_hash=spec.content_hash, n_samples=len(samples),
                         n_built=n_built, skipped=dict(sorted(skipped.items())), limit=limit,
                         n_test_sessions=len(the_split.test_ids), seconds=time.perf_counter() - start,
                         counts=_sample_counts(samples))
    return samples, report


def _sample_counts(samples: list[Sample]) -> dict[str, int]:
    """Counts over boolean flags that builders leave in sample meta (COUNTED_META)."""
    return {flag: sum(1 for s in samples if s.meta.get(flag)) for flag in COUNTED_META
            if any(flag in s.meta for s in samples)}


def build_samples(task: str, lang: str, split: str | None = None, turns: str | None = None,
                  prompt_style: str | None = None, data_dir: Path | None = None, limit: int | None = None,
                  strict: bool = False, **options: Any) -> list[Sample]:
    return build_samples_with_report(task, lang, split, turns, prompt_style, data_dir, limit, strict,
                                     **options)[0]


def format_sample(sample: Sample) -> str:
    """A sample as plain text: id, every message with its role, the target and the reference."""
    lines = [f"=== {sample.id} ({sample.task}, {sample.lang}, {sample.kind}, extract={sample.extract})"]
    for i, message in enumerate(sample.messages):
        lines.append(f"--- [{i}] {message['role']}")
        lines.append(message["content"])
    lines.append("--- target")
    lines.append(sample.target)
    if sample.kind == "classification":
        lines.append("--- choices: " + ", ".join(sample.choices))
        lines.append("--- gold labels: " + ", ".join(sample.gold_labels))
    else:
        lines.append("--- reference (scored)")
        lines.append(sample.reference)
    return "\n".join(lines)
