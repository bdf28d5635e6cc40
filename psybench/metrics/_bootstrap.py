"""Seeded, vectorised bootstrap: one resample-count matrix per sample set, shared by every metric of that
set (paired resamples), so a CI costs a matrix product, never a re-run of a model."""
from __future__ import annotations

import numpy as np

from psybench.constants import CI_LEVEL


def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) matrix: how often each sample is drawn in each resample."""
    if n == 0 or resamples <= 0:
        return np.zeros((0, n), dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    flat = idx + (np.arange(resamples)[:, None] * n)
    return np.bincount(flat.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def interval(stats: np.ndarray) -> tuple[float, float]:
    """Percentile interval of bootstrap statistics (CI_LEVEL, e.g. 95%)."""
    if stats.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - CI_LEVEL) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def shifted_interval(value: float, stats: np.ndarray) -> tuple[float, float]:
    """Percentile interval moved by the bootstrap's bias (value - mean of the resampled statistics).

    Distinct-n is biased under resampling: drawing sentences with replacement repeats them, so every
    resample has fewer distinct n-grams than the corpus and the plain percentile interval can lie
    entirely below the value. Shifting by the estimated bias centres the interval on the value."""
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = interval(stats)
    bias = float(np.mean(stats)) - value
    return lo - bias, hi - bias


def mean_cis(values: np.ndarray, counts: np.ndarray) -> list[tuple[float, float]]:
    """CIs of the mean of each column of values (n, m) under the resamples in counts (B, n)."""
    if counts.shape[0] == 0 or values.size == 0:
        return [(float("nan"), float("nan"))] * (values.shape[1] if values.ndim == 2 else 0)
    means = counts @ values / values.shape[0]
    return [interval(means[:, j]) for j in range(values.shape[1])]


def _num(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)  # JSON has no NaN


def aggregate(value: float, ci: tuple[float, float], n: int, level: str) -> dict:
    return {"value": _num(value), "ci_low": _num(ci[0]), "ci_high": _num(ci[1]), "n": int(n), "level": level}
