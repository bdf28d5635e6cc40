"""Seeded, vectorised bootstrap: one resample-count matrix per sample set, shared by every metric of that
set (paired resamples), so a CI costs a matrix product, never a re-run of a model.

Every interval lies in its metric's range (KeySpec.range in the registry; CLASSIFICATION_RANGES). Percentile intervals do by construction (each
resampled statistic is a value of the metric); the bias-shifted interval of corpus Distinct-n does not
(value 1.0 gave [0.746, 1.272]), so it is clamped to the range. Range-respecting percentile methods do
not work there: the bias puts (nearly) every resample below the value, so bias-corrected percentiles
(BC/BCa) get an infinite correction and collapse onto the largest resample, and a logit-scale shift is
undefined at the boundary value 1.0."""
from __future__ import annotations

import math

import numpy as np

from psybench.constants import CI_LEVEL

UNBOUNDED = (-math.inf, math.inf)
_UNIT = (0.0, 1.0)
# Classification keys' ranges by name (a key without its "cls." prefix and [label] suffix); the
# generation metrics declare theirs in the registry (KeySpec.range).
CLASSIFICATION_RANGES: dict[str, tuple[float, float]] = dict.fromkeys(
    ("accuracy", "macro_f1", "example_f1", "unparseable_rate", "f1", "precision", "recall"), _UNIT)


def metric_range(key: str) -> tuple[float, float]:
    """(low, high) of a metric key such as "paper.distinct2_corpus_div_n" or "cls.f1[Anxiety]"; a key
    nobody declared is unbounded."""
    from psybench.metrics.registry import spec_of

    spec = spec_of(key)
    if spec is not None:
        return spec.range
    if key.startswith("cls."):
        return CLASSIFICATION_RANGES.get(key.split("[", 1)[0].split(".", 1)[-1], UNBOUNDED)
    return UNBOUNDED


def clamp(ci: tuple[float, float], bounds: tuple[float, float]) -> tuple[float, float]:
    """The interval intersected with the range (NaN stays NaN: no CI)."""
    lo, hi = ci
    if math.isnan(lo) or math.isnan(hi):
        return lo, hi
    return min(max(lo, bounds[0]), bounds[1]), max(min(hi, bounds[1]), bounds[0])


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


def shifted_interval(value: float, stats: np.ndarray, bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float]:
    """Percentile interval moved by the bootstrap's bias (value - mean of the resampled statistics),
    then clamped to `bounds` (the metric's range).

    Distinct-n is biased under resampling: drawing sentences with replacement repeats them, so every
    resample has fewer distinct n-grams than the corpus and the plain percentile interval can lie
    entirely below the value. Shifting by the estimated bias centres the interval on the value, and
    can push its top past 1 (the module docstring says why it is clamped rather than replaced)."""
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = interval(stats)
    bias = float(np.mean(stats)) - value
    return clamp((lo - bias, hi - bias), bounds)


def mean_cis(values: np.ndarray, counts: np.ndarray) -> list[tuple[float, float]]:
    """CIs of the mean of each column of values (n, m) under the resamples in counts (B, n)."""
    if counts.shape[0] == 0 or values.size == 0:
        return [(float("nan"), float("nan"))] * (values.shape[1] if values.ndim == 2 else 0)
    means = counts @ values / values.shape[0]
    return [interval(means[:, j]) for j in range(values.shape[1])]


def _num(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)  # JSON has no NaN


def aggregate(value: float, ci: tuple[float, float], n: int, level: str, key: str | None = None) -> dict:
    """A results.json metric entry; with `key`, the interval is clamped to that metric's range."""
    if key is not None:
        ci = clamp(ci, metric_range(key))
    return {"value": _num(value), "ci_low": _num(ci[0]), "ci_high": _num(ci[1]), "n": int(n), "level": level}
