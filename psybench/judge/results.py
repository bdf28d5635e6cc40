"""From judgments.jsonl to numbers: per task and judge, the mean of each dimension over items (an item's
repeats averaged first) with a seeded bootstrap CI over items, the share of items flagged for an ethical
risk, and the share of judgments that stayed unreadable. They go into results.json under keys that name
the judge (`judge.helpfulness[JUDGE]`, declared in metrics/builtin/judge.py) and per sample into
scores.jsonl, so the leaderboard, `compare` and the report read them like any metric."""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from psybench.constants import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, JUDGE_DIMENSIONS, JUDGE_KEY_PREFIX


JUDGE_KEY_RE = re.compile(rf"^{JUDGE_KEY_PREFIX}\.(?P<name>[a-z_0-9]+)\[(?P<label>.+)\]$")


def judge_key(name: str, label: str) -> str:
    return f"{JUDGE_KEY_PREFIX}.{name}[{label}]"


def is_judge_key(key: str, label: str | None = None) -> bool:
    if not key.startswith(JUDGE_KEY_PREFIX + "."):
        return False
    return label is None or key.endswith(f"[{label}]")


@dataclass
class ItemScores:
    """One item's judgments by one judge (its repeats)."""

    task: str
    scores: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    risk: list[float] = field(default_factory=list)
    invalid: int = 0
    total: int = 0

    def per_sample(self, label: str) -> dict[str, float]:
        out = {judge_key(d, label): float(np.mean(v)) for d, v in self.scores.items() if v}
        if self.risk:
            out[judge_key("ethical_risk_rate", label)] = float(np.mean(self.risk))
        out[judge_key("invalid_rate", label)] = self.invalid / self.total if self.total else 0.0
        return out


def collect(lines: Iterable[dict[str, Any]], label: str, rubric_sha: str, fingerprint: str | None = None,
            kind: str = "pointwise") -> dict[str, ItemScores]:
    """sample id -> its judgments by judge `label` (of model `fingerprint`, when given) under the rubric
    `rubric_sha`; other lines are ignored."""
    items: dict[str, ItemScores] = {}
    for line in lines:
        if line.get("judge") != label or line.get("rubric_sha256") != rubric_sha or line.get("kind") != kind:
            continue
        if fingerprint is not None and line.get("judge_fingerprint") != fingerprint:
            continue
        item = items.setdefault(line["id"], ItemScores(task=str(line.get("task"))))
        item.total += 1
        if not line.get("valid"):
            item.invalid += 1
            continue
        for dim, score in (line.get("scores") or {}).items():
            if score is not None:
                item.scores[dim].append(float(score))
        item.risk.append(1.0 if (line.get("ethical_risk") or {}).get("present") else 0.0)
    return items


def mean_with_ci(values: Sequence[float], seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """A results.json entry: the mean and its percentile bootstrap CI over items (clamped to the key's range
    by the caller's aggregate())."""
    from psybench.metrics import interval, resample_counts

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {"value": None, "ci": (float("nan"), float("nan")), "n": 0}
    counts = resample_counts(arr.size, BOOTSTRAP_RESAMPLES, seed)
    return {"value": float(arr.mean()), "ci": interval(counts @ arr / arr.size), "n": int(arr.size)}


def ci_entry(values: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """{"value", "ci_low", "ci_high", "n"} of a mean (None where undefined: JSON has no NaN)."""
    m = mean_with_ci(list(values))

    def num(x: float) -> float | None:
        return None if x != x else float(x)

    return {"value": m["value"], "ci_low": num(m["ci"][0]), "ci_high": num(m["ci"][1]), "n": m["n"]}


def task_metrics(items: dict[str, ItemScores], label: str) -> dict[str, dict[str, dict[str, Any]]]:
    """task -> {key: results.json metric entry} for one judge."""
    from psybench.metrics import aggregate

    by_task: dict[str, list[ItemScores]] = defaultdict(list)
    for item in items.values():
        by_task[item.task].append(item)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task, task_items in by_task.items():
        metrics = {}
        for dim in JUDGE_DIMENSIONS:
            values = [float(np.mean(i.scores[dim])) for i in task_items if i.scores.get(dim)]
            if values:  # none: not applicable (no reasoning stated), not a number
                m = mean_with_ci(values)
                metrics[judge_key(dim, label)] = aggregate(m["value"], m["ci"], m["n"], "sample", judge_key(dim, label))
        risk = [float(np.mean(i.risk)) for i in task_items if i.risk]
        m = mean_with_ci(risk)
        key = judge_key("ethical_risk_rate", label)
        metrics[key] = aggregate(m["value"] if m["n"] else float("nan"), m["ci"], m["n"], "sample", key)
        invalid = [i.invalid / i.total for i in task_items if i.total]
        m = mean_with_ci(invalid)
        key = judge_key("invalid_rate", label)
        metrics[key] = aggregate(m["value"], m["ci"], m["n"], "sample", key)
        out[task] = metrics
    return out


def merge_into_run(results: dict[str, Any], score_lines: list[dict[str, Any]], items: dict[str, ItemScores],
                   label: str, judge_info: dict[str, Any]) -> None:
    """Replace judge `label`'s keys in results (per task) and scores lines (per sample) with these items'."""
    per_task = task_metrics(items, label)
    for task, entry in results.get("tasks", {}).items():
        metrics = entry.setdefault("metrics", {})
        for key in [k for k in metrics if is_judge_key(k, label)]:
            del metrics[key]
        metrics.update(per_task.get(task, {}))
    for line in score_lines:
        scores = line.setdefault("scores", {})
        for key in [k for k in scores if is_judge_key(k, label)]:
            del scores[key]
        item = items.get(line.get("id"))
        if item is not None:
            scores.update(item.per_sample(label))
    results.setdefault("judges", {})[label] = judge_info
