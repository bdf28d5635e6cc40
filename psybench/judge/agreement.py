"""Agreement statistics between raters (judges, repeats, humans), each with a seeded bootstrap CI over
items: Krippendorff's alpha, Spearman, Kendall tau-b, quadratic-weighted kappa, ICC and mean bias.

Conventions: a rating matrix is raters x items (NaN = not rated); paired functions take two aligned
vectors (judge, human). Every CI resamples items with psybench's shared bootstrap (BOOTSTRAP_RESAMPLES,
BOOTSTRAP_SEED, CI_LEVEL percentile interval), so equal inputs give equal intervals. A resample on which
a statistic is undefined (e.g. one distinct value, so no correlation) is left out of its interval."""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import krippendorff
import numpy as np
from scipy import stats

from psybench.constants import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, JUDGE_SCALE
from psybench.errors import ConfigError
from psybench.metrics import aggregate, interval, resample_counts

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
ICC_FORMS = ("ICC(2,1)", "ICC(3,1)")
_NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A statistic, its bootstrap CI over items and the number of items it used."""

    value: float
    ci_low: float
    ci_high: float
    n: int

    def as_dict(self) -> dict:
        """results.json's metric entry shape (NaN -> null)."""
        return aggregate(self.value, (self.ci_low, self.ci_high), self.n, "corpus")


def _quiet(statistic: Callable[[np.ndarray], float], idx: np.ndarray) -> float:
    """statistic(idx) with numpy/scipy's warnings about constant input silenced: those cases are NaN."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return float(statistic(idx))


def bootstrap(statistic: Callable[[np.ndarray], float], n: int, min_items: int = 2,
              resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """statistic(item indices) on all n items and its percentile CI over resampled items."""
    if n < min_items:
        return Estimate(_NAN, _NAN, _NAN, n)
    items = np.arange(n)
    value = _quiet(statistic, items)
    boot = np.array([_quiet(statistic, np.repeat(items, row.astype(np.int64)))
                     for row in resample_counts(n, resamples, seed)])
    lo, hi = interval(boot[np.isfinite(boot)])
    return Estimate(value, lo, hi, n)


def _pairable(ratings: np.ndarray) -> np.ndarray:
    ratings = np.asarray(ratings, dtype=np.float64)
    if ratings.ndim != 2:
        raise ValueError(f"a rating matrix is raters x items, got shape {ratings.shape}")
    return ratings[:, np.sum(np.isfinite(ratings), axis=0) >= 2]  # alpha only uses items rated twice+


def krippendorff_alpha(ratings: np.ndarray, level: str = "interval") -> Estimate:
    """Krippendorff's alpha of a raters x items matrix (NaN = missing), by the `krippendorff` package
    (the coincidence-matrix formula; checked against Krippendorff 2011's worked example). `level`:
    nominal (e.g. the binary risk flag), ordinal, interval or ratio. n = items rated at least twice.
    The value domain is fixed to the full data's values so resamples measure on the same scale."""
    if level not in ALPHA_LEVELS:
        raise ValueError(f"unknown alpha level {level!r}; one of {', '.join(ALPHA_LEVELS)}")
    data = _pairable(ratings)
    domain = np.unique(data[np.isfinite(data)])
    if domain.size < 2:  # one value everywhere: no variation to agree on
        return Estimate(_NAN, _NAN, _NAN, data.shape[1])
    return bootstrap(lambda idx: krippendorff.alpha(reliability_data=data[:, idx], value_domain=domain,
                                                    level_of_measurement=level), data.shape[1])


def _aligned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired scores need two vectors of one length, got {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho as Pearson's r of average ranks, row by row for 2-D input (a float for 1-D): the
    value of scipy.stats.spearmanr (tested), vectorised for bootstrap loops. A constant row gives NaN."""
    rx, ry = stats.rankdata(x, axis=-1), stats.rankdata(y, axis=-1)
    rx, ry = rx - rx.mean(axis=-1, keepdims=True), ry - ry.mean(axis=-1, keepdims=True)
    return np.sum(rx * ry, axis=-1) / np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))


def spearman(x: np.ndarray, y: np.ndarray) -> Estimate:
    """Spearman's rho of paired scores (pairs with a NaN dropped)."""
    x, y = _aligned(x, y)
    return bootstrap(lambda idx: rank_correlation(x[idx], y[idx]), len(x), min_items=3)


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> Estimate:
    """Kendall's tau-b (ties corrected; scipy.stats.kendalltau) of paired scores."""
    x, y = _aligned(x, y)
    return bootstrap(lambda idx: stats.kendalltau(x[idx], y[idx], variant="b").statistic, len(x), min_items=3)


def to_scale(scores: np.ndarray, scale: tuple[int, int] = JUDGE_SCALE) -> np.ndarray:
    """Scores as integer levels of the scale: rounded half up (3.5 -> 4, 2.5 -> 3: a mean of raters is
    never banker's-rounded down), then clipped to the scale's ends."""
    return np.clip(np.floor(np.asarray(scores, dtype=np.float64) + 0.5), scale[0], scale[1]).astype(np.int64)


def qwk_value(a: np.ndarray, b: np.ndarray, levels: int) -> float:
    """Quadratic-weighted kappa of two vectors of level indices 0..levels-1: 1 - sum(W O) / sum(W E), with
    O the confusion counts, E their expectation from the margins and W_ij = (i - j)^2. Equal to sklearn's
    cohen_kappa_score(weights="quadratic") over all levels (tested), without its per-call validation,
    which a bootstrap loop would pay a thousand times. One shared level only: 0/0 = NaN (as sklearn)."""
    observed = np.bincount(a * levels + b, minlength=levels * levels).reshape(levels, levels)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(a)
    weights = (np.arange(levels)[:, None] - np.arange(levels)[None, :]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(1.0 - np.sum(weights * observed) / np.sum(weights * expected))


def quadratic_weighted_kappa(x: np.ndarray, y: np.ndarray, scale: tuple[int, int] = JUDGE_SCALE) -> Estimate:
    """Cohen's kappa with quadratic weights on the integer levels of the scale (all levels weigh in, used
    or not). Kappa counts agreement on categories, so non-integer scores (a mean over human raters or
    over judge repeats) are first rounded half up to the nearest level (`to_scale`); ICC and the
    correlations use the continuous scores themselves."""
    x, y = _aligned(x, y)
    a, b = to_scale(x, scale) - scale[0], to_scale(y, scale) - scale[0]
    levels = scale[1] - scale[0] + 1
    return bootstrap(lambda idx: qwk_value(a[idx], b[idx], levels), len(a))


def icc_value(table: np.ndarray, form: str = "ICC(2,1)") -> float:
    """Shrout & Fleiss (1979) ICC of a complete items x raters table, from the two-way ANOVA mean squares:
    ICC(2,1) (two-way random, absolute agreement, single rater) = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n);
    ICC(3,1) (two-way mixed, consistency, single rater)     = (MSR - MSE) / (MSR + (k-1) MSE)."""
    n, k = table.shape
    grand = table.mean()
    rows, cols = table.mean(axis=1), table.mean(axis=0)
    msr = k * np.sum((rows - grand) ** 2) / (n - 1)
    msc = n * np.sum((cols - grand) ** 2) / (k - 1)
    mse = np.sum((table - rows[:, None] - cols[None, :] + grand) ** 2) / ((n - 1) * (k - 1))
    if form == "ICC(2,1)":
        return float((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))
    if form == "ICC(3,1)":
        return float((msr - mse) / (msr + (k - 1) * mse))
    raise ValueError(f"unknown ICC form {form!r}; one of {', '.join(ICC_FORMS)}")


def icc(ratings: np.ndarray, form: str = "ICC(2,1)") -> Estimate:
    """ICC of a raters x items matrix (e.g. np.vstack([judge, human_mean])); items with a missing
    rating are left out (the ANOVA needs a complete table)."""
    table = np.asarray(ratings, dtype=np.float64).T
    table = table[np.all(np.isfinite(table), axis=1)]
    if form not in ICC_FORMS:
        raise ValueError(f"unknown ICC form {form!r}; one of {', '.join(ICC_FORMS)}")
    return bootstrap(lambda idx: icc_value(table[idx], form), len(table))


def mean_bias(judge: np.ndarray, human: np.ndarray) -> Estimate:
    """Mean of judge minus human (positive: the judge scores higher), with the CI of the mean."""
    x, y = _aligned(judge, human)
    diff = x - y
    return bootstrap(lambda idx: diff[idx].mean(), len(diff), min_items=1)


def leave_one_out_spearman(ratings: np.ndarray) -> Estimate:
    """The human ceiling: each rater's Spearman rho against the mean of the OTHER raters on the items
    both have, averaged over raters (a rater with fewer than 3 such items, or constant scores, is
    skipped). n = items rated at least twice; the CI resamples those items."""
    data = _pairable(ratings)

    def average_rho(idx: np.ndarray) -> float:
        sub = data[:, idx]
        rated = np.isfinite(sub)
        others_n = rated.sum(axis=0) - rated
        others = (np.where(rated, sub, 0.0).sum(axis=0) - np.where(rated, sub, 0.0)) / others_n
        keep = rated & (others_n > 0)
        whole = keep.all(axis=1)  # raters who share every item with someone: one vectorised call
        rhos = list(rank_correlation(sub[whole], others[whole])) if whole.any() else []
        for r in np.flatnonzero(~whole & (keep.sum(axis=1) >= 3)):
            rhos.append(rank_correlation(sub[r, keep[r]], others[r, keep[r]]))
        rhos = [rho for rho in rhos if np.isfinite(rho)]
        return float(np.mean(rhos)) if rhos else _NAN

    return bootstrap(average_rho, data.shape[1], min_items=3)


@dataclass(frozen=True)
class JudgeAgreement:
    """Agreement between several judges (or repeats of one judge) on the items they scored."""

    judges: tuple[str, ...]
    level: str
    n_items: int  # items scored by at least one judge
    n_common: int  # items every judge scored
    alpha: Estimate  # Krippendorff's alpha over the items scored by at least two judges
    spearman: dict[tuple[str, str], Estimate] = field(default_factory=dict)  # per pair, on its common items

    def as_dict(self) -> dict:
        return {"judges": list(self.judges), "level": self.level, "n_items": self.n_items,
                "n_common": self.n_common, "krippendorff_alpha": self.alpha.as_dict(),
                "spearman": {f"{a} vs {b}": est.as_dict() for (a, b), est in self.spearman.items()}}


def judge_agreement(scores: Mapping[str, Mapping[str, float]], level: str = "interval") -> JudgeAgreement:
    """Agreement across judges or repeats: scores is judge label -> item id -> score (NaN or absent =
    not scored). Krippendorff's alpha at `level` (nominal for the risk flag) and pairwise Spearman."""
    judges = tuple(scores)
    if len(judges) < 2:
        raise ConfigError(f"judge agreement needs at least two judges or repeats, got {len(judges)}")
    items = sorted({item for per in scores.values() for item in per})
    matrix = np.array([[scores[j].get(item, _NAN) for item in items] for j in judges], dtype=np.float64)
    scored = np.isfinite(matrix)
    pairs = {(a, b): spearman(matrix[i], matrix[j])
             for (i, a), (j, b) in itertools.combinations(enumerate(judges), 2)}
    return JudgeAgreement(judges, level, int(scored.any(axis=0).sum()), int(scored.all(axis=0).sum()),
                          krippendorff_alpha(matrix, level), pairs)
