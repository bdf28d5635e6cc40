"""psybench.judge.agreement: published and hand-computed values, library equivalences, CIs."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from psybench.errors import ConfigError
from psybench.judge.agreement import (Estimate, icc, judge_agreement, kendall_tau_b, krippendorff_alpha,
                                      leave_one_out_spearman, mean_bias, quadratic_weighted_kappa, qwk_value,
                                      rank_correlation, spearman, to_scale)

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units,
# values 1-5, missing data. Published: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_C = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
                           [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
                           [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
                           [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]])
# Section A: binary data, 2 observers x 10 units. Published: alpha = .095.
KRIPPENDORFF_A = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]])


def interval_alpha(matrix: np.ndarray) -> float:
    """Krippendorff's interval alpha written out from the definition, independent of the library:
    D_o = (1/n) sum_u 1/(m_u - 1) sum_{i != j in u} (v_i - v_j)^2, D_e = 1/(n (n - 1)) sum over all pairs
    of pairable values, alpha = 1 - D_o / D_e (units with fewer than two values are not pairable)."""
    units = [col[np.isfinite(col)] for col in np.asarray(matrix, dtype=float).T]
    units = [u for u in units if len(u) >= 2]
    n = sum(len(u) for u in units)
    d_o = sum(((u[:, None] - u[None, :]) ** 2).sum() / (len(u) - 1) for u in units) / n
    values = np.concatenate(units)
    d_e = ((values[:, None] - values[None, :]) ** 2).sum() / (n * (n - 1))
    return 1.0 - d_o / d_e


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849),
                                               ("ratio", 0.797)])
def test_alpha_matches_krippendorff_2011_worked_example(level: str, published: float) -> None:
    est = krippendorff_alpha(KRIPPENDORFF_C, level)
    assert round(est.value, 3) == published
    assert est.n == 11  # unit 12 has one value: not pairable
    assert est.ci_low <= est.value <= est.ci_high


def test_alpha_binary_example_and_independent_formula() -> None:
    assert round(krippendorff_alpha(KRIPPENDORFF_A, "nominal").value, 3) == 0.095
    assert interval_alpha(KRIPPENDORFF_C) == pytest.approx(krippendorff_alpha(KRIPPENDORFF_C).value, abs=1e-12)
    assert round(interval_alpha(KRIPPENDORFF_C), 3) == 0.849


def test_perfect_agreement_is_one_everywhere() -> None:
    x = np.array([1, 2, 3, 4, 5, 3, 2, 4], dtype=float)
    estimates = [krippendorff_alpha(np.vstack([x, x, x]), level) for level in ("nominal", "ordinal", "interval")]
    estimates += [stat(x, x) for stat in (spearman, kendall_tau_b, quadratic_weighted_kappa)]
    estimates += [icc(np.vstack([x, x]), form) for form in ("ICC(2,1)", "ICC(3,1)")]
    for est in estimates:
        assert (est.value, est.ci_low, est.ci_high, est.n) == pytest.approx((1.0, 1.0, 1.0, 8), abs=1e-12)
    assert mean_bias(x, x) == Estimate(0.0, 0.0, 0.0, 8)


def test_qwk_icc_bias_by_hand() -> None:
    judge, human = np.array([1, 2, 3, 4.0]), np.array([2, 2, 4, 4.0])
    # QWK with W_ij = (i-j)^2: sum W*O = 1 + 0 + 1 + 0 = 2; margins judge {1,2,3,4: 1 each}, human {2: 2, 4: 2},
    # sum W*E = (1/4) * sum_i [2 (i-2)^2 + 2 (i-4)^2] = (1/4) * 2 * (10 + 4 + 2 + 4) = 10; kappa = 1 - 2/10.
    assert quadratic_weighted_kappa(judge, human).value == pytest.approx(0.8)
    # ANOVA (n=4 items, k=2 raters): item means 1.5, 2, 3.5, 4, grand mean 2.75, rater means 2.5, 3.
    # MSR = 2 * (1.5625 + .5625 + .5625 + 1.5625) / 3 = 17/6; MSC = 4 * (.0625 + .0625) / 1 = 1/2;
    # residuals all +-0.25 -> SSE = 8 * .0625 = .5, MSE = .5 / 3 = 1/6.
    # ICC(2,1) = (17/6 - 1/6) / (17/6 + 1/6 + 2 (1/2 - 1/6) / 4) = (16/6) / (19/6) = 16/19
    # ICC(3,1) = (17/6 - 1/6) / (17/6 + 1/6) = 8/9
    assert icc(np.vstack([judge, human]), "ICC(2,1)").value == pytest.approx(16 / 19)
    assert icc(np.vstack([judge, human]), "ICC(3,1)").value == pytest.approx(8 / 9)
    assert mean_bias(judge, human).value == -0.5


def test_icc_forms_differ_on_a_constant_offset() -> None:
    human = np.array([1, 2, 3, 4, 2, 3.0])
    assert icc(np.vstack([human + 1, human]), "ICC(3,1)").value == pytest.approx(1.0)  # consistency
    assert icc(np.vstack([human + 1, human]), "ICC(2,1)").value < 0.7  # absolute agreement penalises it
    with pytest.raises(ValueError, match="unknown ICC form"):
        icc(np.vstack([human, human]), "ICC(1,1)")


def test_qwk_equals_sklearn_and_rounds_half_up() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = rng.integers(0, 5, 25)
        b = np.clip(a + rng.integers(-2, 3, 25), 0, 4)
        assert qwk_value(a, b, 5) == pytest.approx(cohen_kappa_score(a, b, labels=range(5), weights="quadratic"),
                                                   abs=1e-12)
    assert to_scale(np.array([2.5, 3.5, 4.49, 0.2, 6.0, 1.0])).tolist() == [3, 4, 4, 1, 5, 1]
    # a mean of 3.5 counts as level 4: agrees with a judge's 4
    assert quadratic_weighted_kappa(np.array([4, 2, 5.0]), np.array([3.5, 1.5, 4.6])).value == 1.0
    assert np.isnan(qwk_value(np.array([3, 3]), np.array([3, 3]), 5))  # one level shared: undefined


def test_rank_statistics_equal_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 40).astype(float)  # many ties
    y = np.clip(x + rng.normal(0, 1.2, 40), 1, 5).round(1)
    assert spearman(x, y).value == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert rank_correlation(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert kendall_tau_b(x, y).value == pytest.approx(stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)
    rows = rank_correlation(np.vstack([x, y]), np.vstack([y, x]))
    assert rows.tolist() == pytest.approx([stats.spearmanr(x, y).statistic] * 2, abs=1e-12)


def test_cis_contain_the_value_and_are_deterministic() -> None:
    rng = np.random.default_rng(11)
    x = rng.integers(1, 6, 60).astype(float)
    y = np.clip(x + rng.integers(-1, 2, 60), 1, 5)
    for stat in (spearman, kendall_tau_b, quadratic_weighted_kappa, mean_bias):
        first, second = stat(x, y), stat(x, y)
        assert first == second
        assert first.ci_low < first.value < first.ci_high
        assert first.n == 60
    matrix = np.vstack([x, y, np.clip(y + rng.integers(-1, 2, 60), 1, 5)])
    for est in (krippendorff_alpha(matrix), icc(matrix[:2]), leave_one_out_spearman(matrix)):
        assert est.ci_low < est.value < est.ci_high
    assert krippendorff_alpha(matrix) == krippendorff_alpha(matrix.copy())


def test_missing_pairs_dropped_and_too_few_items_give_nan() -> None:
    x, y = np.array([1, 2, N, 4, 5.0]), np.array([1, 3, 3, N, 5.0])
    assert spearman(x, y).n == 3
    assert spearman(x, y).value == pytest.approx(1.0)
    small = kendall_tau_b(np.array([1, 2.0]), np.array([2, 1.0]))
    assert small.n == 2 and np.isnan(small.value) and np.isnan(small.ci_low)
    assert np.isnan(krippendorff_alpha(np.array([[3, 3, 3], [3, 3, 3.0]])).value)  # no variation at all


def test_leave_one_out_spearman_equals_direct_loop() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.integers(1, 6, (5, 12)).astype(float)
    matrix[1, 3] = matrix[4, 0] = N
    expected = []
    for r in range(5):
        others = np.nanmean(np.delete(matrix, r, axis=0), axis=0)
        keep = np.isfinite(matrix[r])
        expected.append(stats.spearmanr(matrix[r, keep], others[keep]).statistic)
    assert leave_one_out_spearman(matrix).value == pytest.approx(np.mean(expected), abs=1e-12)
    # two raters: each against the other, so the average is their Spearman
    two = matrix[[0, 2]]
    assert leave_one_out_spearman(two).value == pytest.approx(stats.spearmanr(two[0], two[1]).statistic)


def test_judge_agreement_across_judges() -> None:
    scores = {"A": {"s1": 1, "s2": 2, "s3": 3, "s4": 4, "s5": 5},
              "B": {"s1": 1, "s2": 3, "s3": 3, "s4": 5, "s5": 5},
              "C": {"s1": 2, "s2": 2, "s3": 4, "s4": 4, "s6": 1}}
    result = judge_agreement(scores)
    assert (result.judges, result.n_items, result.n_common) == (("A", "B", "C"), 6, 4)
    matrix = np.array([[scores[j].get(f"s{i}", N) for i in range(1, 7)] for j in "ABC"], dtype=float)
    assert result.alpha.value == pytest.approx(interval_alpha(matrix), abs=1e-12)
    assert result.alpha.n == 5  # s6 was scored once only
    assert list(result.spearman) == [("A", "B"), ("A", "C"), ("B", "C")]
    assert result.spearman["A", "C"].n == 4
    assert result.spearman["A", "B"].value == pytest.approx(stats.spearmanr([1, 2, 3, 4, 5], [1, 3, 3, 5, 5]).statistic)
    blob = json.dumps(result.as_dict(), allow_nan=False)
    assert json.loads(blob)["spearman"]["A vs B"]["n"] == 5
    risk = judge_agreement({"r1": {"a": 0, "b": 1, "c": 0, "d": 1}, "r2": {"a": 0, "b": 1, "c": 0, "d": 1}}, "nominal")
    assert risk.alpha.value == 1.0 and risk.level == "nominal"
    with pytest.raises(ConfigError, match="at least two judges or repeats, got 1"):
        judge_agreement({"A": {"s1": 1}})
