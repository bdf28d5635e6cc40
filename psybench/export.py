"""Training data out: the TRAINING side of a split as fine-tuning data, built by the same task builders and
prompt styles as the benchmark (teacher-forced, one example per therapist turn; tasks 2-3 with their
reasoning / observation targets; mix with its auxiliary instructions), so a model trained on it is
benchmarked on exactly the other side.

Leak-free by construction and by check: only train sessions are built (the split's test sessions and the
sessions it excludes for sharing a turn with one are never built), and an example whose prompt carries
the previous session (the authors' rule for continued sessions) is held out when that session is on the
test side or excluded. What was held out, and why, is in export_manifest.json.

Formats: `messages` (chat messages ending with the assistant's target: TRL's SFTTrainer and most trainers),
`sharegpt` and `alpaca` (LLaMA-Factory's two formats)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psybench.errors import ConfigError
from psybench.records import Sample

EXPORT_FORMATS = ("messages", "sharegpt", "alpaca")
EXPORT_BUILDERS = ("dialogue",)  # tasks whose samples are chats with a therapist target (dialog, reasoning, ...)
DEFAULT_EXPORT_TASKS = ("dialog", "reasoning", "observation", "mix")
MANIFEST_FILE = "export_manifest.json"
SHAREGPT_ROLES = {"user": "human", "assistant": "gpt"}


@dataclass
class ExportReport:
    lang: str
    split: str
    split_hash: str
    format: str
    prompt_style: str
    turns: str
    val_fraction: float
    seed: int
    psybench_version: str
    train_sessions: int = 0  # sessions of the split's training side with at least one example
    val_sessions: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> {"train": n, "val": n}
    held_out: dict[str, int] = field(default_factory=dict)  # reason -> examples
    held_out_examples: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"}
    test_side: dict[str, int] = field(default_factory=dict)  # what the benchmark keeps: test / excluded sessions
    files: list[str] = field(default_factory=list)


def to_format(sample: Sample, fmt: str) -> dict[str, Any]:
    """One training example: the prompt messages and the target as the assistant's reply."""
    messages = [dict(m) for m in sample.messages] + [{"role": "assistant", "content": sample.target}]
    if fmt == "messages":
        return {"id": sample.id, "messages": messages}
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    if not turns or turns[0]["role"] != "user" or any(
            a["role"] == b["role"] for a, b in zip(turns, turns[1:])):
        raise ConfigError(f"sample {sample.id}: its messages do not alternate user/assistant from a user turn, "
                          f"which {fmt} needs")
    if fmt == "sharegpt":
        out: dict[str, Any] = {"id": sample.id, "conversations": [
            {"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in turns]}
    elif fmt == "alpaca":
        pairs = [[turns[i]["content"], turns[i + 1]["content"]] for i in range(0, len(turns) - 2, 2)]
        out = {"id": sample.id, "instruction": turns[-2]["content"], "input": "", "output": turns[-1]["content"],
               "history": pairs}
    else:
        raise ConfigError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    if system:
        out["system"] = system
    return out


def _val_sessions(session_ids: list[str], fraction: float, seed: int) -> set[str]:
    """A seeded, session-level validation part: round(fraction x sessions) of them."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"--val-fraction {fraction}: must be in [0, 1)")
    ordered = sorted(session_ids)
    n_val = round(fraction * len(ordered))
    order = np.random.default_rng(seed).permutation(len(ordered))
    return {ordered[i] for i in order[:n_val]}


def export_training_data(lang: str, split: str, tasks: tuple[str, ...] | list[str], fmt: str, out: Path,
                         data_dir: Path | None = None, val_fraction: float = 0.0, seed: int = 0,
                         prompt_style: str = "paper", turns: str = "all", strict: bool = False) -> ExportReport:
    """Write OUT/TASK.jsonl (+ OUT/TASK.val.jsonl with a validation part) and OUT/export_manifest.json."""
    from psybench import __version__
    from psybench.data import get_split
    from psybench.runfiles import atomic_write_text, write_json
    from psybench.tasks import build_samples_with_report, get_task

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
    if not tasks:
        raise ConfigError("--tasks is empty: name at least one of " + ", ".join(DEFAULT_EXPORT_TASKS))
    for task in tasks:
        spec = get_task(task)
        if spec.builder not in EXPORT_BUILDERS:
            raise ConfigError(f"--tasks {task}: only chat tasks with a therapist target export "
                              f"({', '.join(DEFAULT_EXPORT_TASKS)}); {task} is built by {spec.builder}")
    the_split = get_split(split, lang, data_dir)
    test_side = {**{d: "test" for d in the_split.test_ids}, **{d: "excluded" for d in the_split.excluded_ids}}
    report = ExportReport(lang=lang, split=split, split_hash=the_split.content_hash, format=fmt,
                          prompt_style=prompt_style, turns=turns, val_fraction=val_fraction, seed=seed,
                          psybench_version=__version__,
                          test_side={"test_sessions": len(the_split.test_ids),
                                     "excluded_sessions": len(the_split.excluded_ids)})
    kept: dict[str, list[Sample]] = {}
    held: Counter[str] = Counter()
    for task in tasks:
        samples, _ = build_samples_with_report(task, lang, split=split, turns=turns, prompt_style=prompt_style,
                                               data_dir=data_dir, strict=strict, side="train")
        kept[task] = []
        for sample in samples:
            own, previous = sample.meta["dialog_id"], sample.meta.get("previous_dialog_id")
            if own in test_side:  # never: the training side holds no such session (a broken split)
                raise ConfigError(f"split {split}: session {own} is on both sides")
            if previous in test_side:
                reason = f"prompt holds the previous session, which is {test_side[previous]} in split {split}"
                held[reason] += 1
                report.held_out_examples.append({"id": sample.id, "reason": f"{reason} ({previous})"})
                continue
            kept[task].append(sample)
    sessions = sorted({s.meta["dialog_id"] for samples in kept.values() for s in samples})
    val = _val_sessions(sessions, val_fraction, seed)
    report.train_sessions, report.val_sessions = len(sessions) - len(val), sorted(val)
    report.held_out = dict(held)
    out = Path(out)
    for task, samples in kept.items():
        parts = {"train": [s for s in samples if s.meta["dialog_id"] not in val],
                 "val": [s for s in samples if s.meta["dialog_id"] in val]}
        report.counts[task] = {name: len(rows) for name, rows in parts.items()}
        for name, rows in parts.items():
            if name == "val" and not val:
                continue
            path = out / (f"{task}.jsonl" if name == "train" else f"{task}.val.jsonl")
            atomic_write_text(path, "".join(json.dumps(to_format(s, fmt), ensure_ascii=False) + "\n" for s in rows))
            report.files.append(path.name)
    write_json(out / MANIFEST_FILE, asdict(report))
    return report
