"""Paired comparison of two runs on their shared samples: per metric, B - A with a paired bootstrap
CI and a two-sided p-value (seeded, vectorised numpy). Per-sample metrics come from scores.jsonl.
Corrected-mode corpus metrics (corpus BLEU, Distinct-n) are recomputed on each paired resample from
per-sample sufficient statistics of the shared samples' texts (predictions.jsonl), by the metric's own
declaration (psybench.metrics.corpus_statistic); any other corpus metric (paper-mode Distinct / N) is
listed as not compared rather than approximated."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from psybench.constants import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CI_LEVEL
from psybench.errors import ConfigError
from psybench.runfiles import RunDir, load_run

_CHUNK = 256  # resamples per vectorised block: bounds memory at _CHUNK x n indices


@dataclass(frozen=True)
class BootstrapResult:
    diff: float  # mean(b - a)
    ci_low: float
    ci_high: float
    p_value: float  # two-sided: how often a resampled diff lies as far from the observed as 0 does
    n: int


def _summarise(observed: float, boots: np.ndarray, level: float, n: int) -> BootstrapResult:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    # Centre the bootstrap distribution on 0 (the null) and count diffs at least as extreme.
    extreme = np.count_nonzero(np.abs(boots - observed) >= abs(observed) - 1e-12)
    p = (extreme + 1) / (boots.size + 1)
    return BootstrapResult(observed, float(lo), float(hi), float(min(p, 1.0)), n)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> BootstrapResult:
    """Resample sample indices (the same ones for A and B) and recompute mean(b - a)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = d.size
    if n == 0:
        raise ValueError("paired_bootstrap needs at least one pair")
    rng = np.random.default_rng(seed)
    boots = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        boots[start:start + size] = d[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return _summarise(float(d.mean()), boots, level, n)


# ---- corpus-level metrics: recompute the corpus statistic on each paired resample -------------------
def _corpus_statistic(key: str, hyps: list[str], refs: list[str], lang: str):
    """f(counts (R, n)) -> R corpus values for a corrected-mode corpus metric, from the metric's own
    declaration in the registry; None for a metric that cannot be recomputed so."""
    from psybench.metrics import corpus_statistic

    stat = corpus_statistic(key, hyps, refs, lang)
    if stat is None or stat.resampled(np.ones((1, len(hyps)))) is None:
        return None
    return stat.resampled


def paired_corpus_bootstrap(stat_a, stat_b, n: int, resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = BOOTSTRAP_SEED, level: float = CI_LEVEL) -> BootstrapResult:
    """stat_x(counts) gives the corpus statistic of each resample (rows of a (R, n) count matrix); the
    same resamples are used for A and B, so the difference is paired."""
    from psybench.metrics import resample_counts

    ones = np.ones((1, n))
    observed = float(stat_b(ones)[0] - stat_a(ones)[0])
    counts = resample_counts(n, resamples, seed)
    return _summarise(observed, stat_b(counts) - stat_a(counts), level, n)


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    n: int
    mean_a: float | None
    mean_b: float | None
    result: BootstrapResult | None  # None: not compared (see note)
    note: str = ""


def _task_name(a: RunDir, b: RunDir, task: str | None) -> str:
    if task is None:
        common = sorted(set(a.tasks) & set(b.tasks))
        if len(common) != 1:
            raise ConfigError(f"{a.path} and {b.path} share tasks {common or 'none'}; choose one with --task")
        return common[0]
    for run in (a, b):
        if task not in run.tasks:
            raise ConfigError(f"{run.path}: no task {task!r} (tasks: {', '.join(sorted(run.tasks))})")
    return task


def _per_sample(run: RunDir, task: str) -> dict[str, dict[str, float]]:
    return {row["id"]: row["scores"] for row in run.scores if row.get("task", task) == task}


def _predictions(run: RunDir, task: str) -> dict[str, dict]:
    return {row.get("id"): row for row in run.predictions if row.get("task", task) == task}


def _compare_corpus(key: str, shared: list[str], pa: dict, pb: dict, lang: str, va, vb,
                    resamples: int, seed: int) -> MetricComparison:
    """A corpus metric recomputed on the shared samples' texts (predictions.jsonl), paired resamples."""
    have = all(i in pa and i in pb for i in shared)
    if have:
        refs = [pa[i].get("reference") or "" for i in shared]
        stat_a = _corpus_statistic(key, [pa[i].get("prediction") or "" for i in shared], refs, lang)
        stat_b = _corpus_statistic(key, [pb[i].get("prediction") or "" for i in shared], refs, lang)
        if stat_a is not None:
            res = paired_corpus_bootstrap(stat_a, stat_b, len(shared), resamples, seed)
            ones = np.ones((1, len(shared)))
            return MetricComparison(key, len(shared), float(stat_a(ones)[0]), float(stat_b(ones)[0]), res,
                                    "corpus-level, recomputed on the shared samples")
    why = "no predictions.jsonl texts for the shared samples" if not have else "no per-sample statistics for it"
    return MetricComparison(key, len(shared), va, vb, None, f"not compared: corpus-level, {why}")


def compare_runs(path_a: Path | str, path_b: Path | str, task: str | None = None,
                 metrics: list[str] | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[str, int, list[MetricComparison]]:
    """(task, number of shared samples, one comparison per metric) for run B minus run A."""
    a, b = load_run(path_a), load_run(path_b)
    task = _task_name(a, b, task)
    ra, rb = a.tasks[task], b.tasks[task]
    for field in ("split", "lang"):
        if ra.get(field) != rb.get(field):
            raise ConfigError(f"{a.path} has {field}={ra.get(field)} but {b.path} has {field}={rb.get(field)} "
                              f"for task {task}: compare needs the same split, language and task")
    sa, sb = _per_sample(a, task), _per_sample(b, task)
    pa, pb = _predictions(a, task), _predictions(b, task)
    shared = sorted(set(sa) & set(sb))
    if not shared:
        raise ConfigError(f"{a.path} and {b.path}: no shared sample ids for task {task} in scores.jsonl")
    aggregate_keys = set(ra["metrics"]) | set(rb["metrics"])
    sample_keys = {k for i in shared for k in sa[i]} & {k for i in shared for k in sb[i]}
    wanted = metrics or sorted(aggregate_keys | sample_keys)
    unknown = [m for m in wanted if m not in aggregate_keys and m not in sample_keys]
    if unknown:
        raise ConfigError(f"--metric {unknown[0]}: not in either run (have: {', '.join(sorted(aggregate_keys))})")
    out = []
    for key in wanted:
        if key not in sample_keys:
            va, vb = ra["metrics"].get(key, {}).get("value"), rb["metrics"].get(key, {}).get("value")
            out.append(_compare_corpus(key, shared, pa, pb, ra.get("lang", "en"), va, vb, resamples, seed))
            continue
        pairs = [(sa[i].get(key), sb[i].get(key)) for i in shared]
        pairs = [(x, y) for x, y in pairs if x is not None and y is not None
                 and not (isinstance(x, float) and math.isnan(x)) and not (isinstance(y, float) and math.isnan(y))]
        if not pairs:
            out.append(MetricComparison(key, 0, None, None, None, "not compared: no sample scored in both runs"))
            continue
        arr = np.array(pairs, dtype=float)
        dropped = len(shared) - len(pairs)
        out.append(MetricComparison(key, len(pairs), float(arr[:, 0].mean()), float(arr[:, 1].mean()),
                                    paired_bootstrap(arr[:, 0], arr[:, 1], resamples, seed),
                                    f"{dropped} shared sample(s) unscored in a run" if dropped else ""))
    return task, len(shared), out


def format_comparison(path_a, path_b, task: str, n_shared: int, rows: list[MetricComparison],
                      resamples: int = BOOTSTRAP_RESAMPLES) -> str:
    lines = [f"B - A  (A = {path_a}, B = {path_b}, task {task}, {n_shared} shared samples, "
             f"paired bootstrap {resamples} resamples, {int(CI_LEVEL * 100)}% CI)",
             f"{'metric':<48} {'n':>5} {'A':>8} {'B':>8} {'B-A':>8} {'CI':>19} {'p':>7}"]
    for r in rows:
        fa = "–" if r.mean_a is None else f"{r.mean_a:.4f}"
        fb = "–" if r.mean_b is None else f"{r.mean_b:.4f}"
        if r.result is None:
            lines.append(f"{r.metric:<48} {r.n:>5} {fa:>8} {fb:>8} {'':>8} {'':>19} {'':>7}  {r.note}")
            continue
        res = r.result
        ci = f"[{res.ci_low:+.4f}, {res.ci_high:+.4f}]"
        lines.append(f"{r.metric:<48} {r.n:>5} {fa:>8} {fb:>8} {res.diff:>+8.4f} {ci:>19} {res.p_value:>7.4f}"
                     + (f"  {r.note}" if r.note else ""))
    return "\n".join(lines)
