"""psybench.judge.calibrate: the ratings file, judge-vs-human calibration, and the authors' expert table."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from psybench.constants import JUDGE_DIMENSIONS
from psybench.errors import DataError, RatingsError
from psybench.judge.calibrate import (Rating, calibrate, format_calibration, human_ceiling, rating_matrix,
                                      read_expert_table, read_ratings)
from tests.test_judge_agreement import interval_alpha


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def test_read_ratings(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [{"id": "s1", "dimension": "comfort", "rater": "ann", "score": 4},
                                         "", {"id": "s1", "dimension": "comfort", "rater": "bo", "score": 3.5,
                                              "note": "extra keys are ignored"}])
    assert read_ratings(path) == [Rating("s1", "comfort", "ann", 4.0), Rating("s1", "comfort", "bo", 3.5)]


@pytest.mark.parametrize("line, problem", [
    ("{not json", "2: not valid JSON (Expecting property name enclosed in double quotes, column 2)"),
    ("[1, 2]", "2: expected a JSON object with id, dimension, rater, score"),
    ({"id": "s2", "dimension": "comfort", "rater": "ann"}, "2: missing score"),
    ({"id": "", "dimension": "comfort", "rater": "ann", "score": 3}, "2: id must be a non-empty string, got ''"),
    ({"id": 7, "dimension": "comfort", "rater": "ann", "score": 3}, "2: id must be a non-empty string, got 7"),
    ({"id": "s2", "dimension": "empathy", "rater": "ann", "score": 3},
     "2: unknown dimension 'empathy'; known: interactivity, helpfulness, comfort, explainability"),
    ({"id": "s2", "dimension": "comfort", "rater": "ann", "score": 6}, "2: score must be a number from 1 to 5, got 6"),
    ({"id": "s2", "dimension": "comfort", "rater": "ann", "score": True},
     "2: score must be a number from 1 to 5, got True"),
    ({"id": "s2", "dimension": "comfort", "rater": "ann", "score": "4"},
     "2: score must be a number from 1 to 5, got '4'"),
    ({"id": "s1", "dimension": "comfort", "rater": "ann", "score": 2},
     "2: rater 'ann' already scored 's1' on comfort at line 1"),
])
def test_bad_ratings_lines_name_file_and_line(tmp_path: Path, line, problem: str) -> None:
    path = _write(tmp_path / "r.jsonl", [{"id": "s1", "dimension": "comfort", "rater": "ann", "score": 4}, line])
    with pytest.raises(RatingsError) as err:
        read_ratings(path)
    assert str(err.value) == f"{path}:{problem}"
    assert "\n" not in str(err.value)


def test_empty_or_missing_ratings_file(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.jsonl", [""])
    with pytest.raises(RatingsError, match="no ratings"):
        read_ratings(empty)
    with pytest.raises(RatingsError, match="no such file"):
        read_ratings(tmp_path / "absent.jsonl")


def _ratings(table: dict[str, list[float]], dimension: str = "helpfulness") -> list[Rating]:
    """rater -> scores of items i0, i1, ... (NaN = unrated)."""
    return [Rating(f"i{j}", dimension, rater, float(v)) for rater, row in table.items()
            for j, v in enumerate(row) if not np.isnan(v)]


def test_calibrate_known_values() -> None:
    ann, bo = [1, 2, 3, 4, 5, 2, 4], [2, 2, 4, 4, 5, 1, 4]
    ratings = _ratings({"ann": ann, "bo": bo}) + _ratings({"ann": [3, 3, 4], "bo": [3, 4, 4]}, "comfort")
    human = (np.array(ann) + np.array(bo)) / 2
    # the judge scored items i0-i5 on helpfulness (i6 rated, not judged); on comfort only i0 and i1
    judge = {(f"i{j}", "helpfulness"): float(v) for j, v in enumerate(human[:6])}
    judge |= {("i0", "comfort"): 3.0, ("i1", "comfort"): 4.0, ("i2", "comfort"): float("nan"), ("zz", "comfort"): 2.0}
    report = calibrate(judge, ratings)
    assert (report.n_rated_ids, report.n_judged_ids, report.n_matched_ids) == (7, 7, 6)  # judged: i0-i5 and zz
    helpful, comfort = report.dimensions
    assert (helpful.dimension, helpful.n_rated, helpful.n_matched, helpful.n_rated_not_judged) == ("helpfulness", 7, 6, 1)
    assert (comfort.dimension, comfort.n_rated, comfort.n_matched, comfort.n_rated_not_judged) == ("comfort", 3, 2, 1)
    # the judge gives exactly the mean human score
    assert helpful.spearman.value == pytest.approx(1.0)
    assert helpful.icc_2_1.value == pytest.approx(1.0)
    assert helpful.mean_bias.value == 0.0
    # QWK on rounded levels: means 1.5, 2, 3.5, 4, 5, 1.5 -> 2, 2, 4, 4, 5, 2 on both sides
    assert helpful.qwk.value == pytest.approx(1.0)
    # two raters: each against the other; alpha from the definition
    assert helpful.humans.n_raters == 2
    assert helpful.humans.spearman.value == pytest.approx(stats.spearmanr(ann, bo).statistic)
    assert helpful.humans.alpha.value == pytest.approx(interval_alpha(np.array([ann, bo], dtype=float)))
    assert np.isnan(comfort.spearman.value) and comfort.spearman.n == 2  # two items: no correlation
    blob = json.loads(json.dumps(report.as_dict(), allow_nan=False))
    assert blob["dimensions"]["helpfulness"]["n_rated_not_judged"] == 1
    assert blob["n_rated_not_judged_ids"] == 1
    assert set(blob["dimensions"]["comfort"]) >= {"spearman", "kendall_tau_b", "qwk", "icc_2_1", "icc_3_1",
                                                  "mean_bias", "human_ceiling"}
    text = format_calibration(report)
    lines = text.splitlines()
    assert lines[0] == "judge vs mean human: 6 of 7 rated items judged (95% bootstrap CIs over items)"
    assert lines[2].startswith("helpfulness         6        1  +1.00 [")
    assert lines[3].startswith("comfort             2        1  n/a")
    assert lines[-2].startswith("helpfulness         2        7  +0.89 [")


def test_calibrate_ignores_the_order_of_the_file() -> None:
    rng = np.random.default_rng(2)
    table = {f"r{k}": rng.integers(1, 6, 12).astype(float) for k in range(4)}
    ratings = _ratings(table)
    judge = {(f"i{j}", "helpfulness"): float(rng.integers(1, 6)) for j in range(12)}
    shuffled = ratings[:]
    random.Random(0).shuffle(shuffled)
    first = calibrate(judge, ratings)
    assert first.as_dict() == calibrate(judge, shuffled).as_dict()
    est = first.dimensions[0].kendall_tau_b
    assert est.ci_low < est.value < est.ci_high


def test_calibrate_with_nothing_in_common_is_one_line() -> None:
    ratings = [Rating("s9-t2", "comfort", "ann", 3.0), Rating("s9-t3", "comfort", "ann", 4.0)]
    with pytest.raises(RatingsError) as err:
        calibrate({("s1-t1", "comfort"): 3.0, ("s9-t2", "helpfulness"): 3.0}, ratings)
    assert str(err.value) == ("no rated item was judged: 2 ids rated (e.g. 's9-t2'), 2 judged (e.g. 's1-t1'); "
                              "the ratings' ids must be the judged items' ids")
    with pytest.raises(RatingsError, match=r"1 ids rated \(e.g. 's9-t2'\), 0 judged \(e.g. none\)"):
        calibrate({}, ratings[:1])


def test_rating_matrix_is_sorted() -> None:
    ratings = [Rating("b", "comfort", "zed", 2.0), Rating("a", "comfort", "amy", 5.0), Rating("a", "helpfulness", "x", 1)]
    raters, items, matrix = rating_matrix(ratings, "comfort")
    assert (raters, items) == (["amy", "zed"], ["a", "b"])
    assert np.array_equal(matrix, np.array([[5.0, np.nan], [np.nan, 2.0]]), equal_nan=True)


def test_expert_table_inter_rater_statistics(data_dir: Path) -> None:
    """The authors' 19 evaluators x 4 row blocks x 4 column groups; they cannot calibrate a judge (no item
    is identified), but they exercise the inter-rater statistics on real, messy data (blank cells)."""
    table = read_expert_table(data_dir / "expert-eval" / "score.md")
    assert table.raters == tuple(f"Evaluator{k}" for k in range(1, 20))
    assert len(table.items) == 16
    assert table.items[:2] == ("unlabelled/g1", "unlabelled/g2")
    assert table.items[4::4] == ("Esconv/g1", "Psy-Insight Chinese/g1", "PsyQa/g1")
    assert list(table.scores) == list(JUDGE_DIMENSIONS)
    assert all(m.shape == (19, 16) for m in table.scores.values())
    blanks = {dim: [(table.raters[i], table.items[j]) for i, j in zip(*np.nonzero(np.isnan(m)))]
              for dim, m in table.scores.items()}
    assert blanks == {"interactivity": [("Evaluator8", "Esconv/g4")], "helpfulness": [], "comfort": [],
                      "explainability": [("Evaluator3", "Psy-Insight Chinese/g4")]}
    assert table.scores["interactivity"][0, 0] == 4.5  # Evaluator1's first cell
    assert table.scores["helpfulness"][0, 0] == 4.8
    assert table.scores["explainability"][18, 15] == 3.0  # Evaluator19's last cell
    assert len(table.ratings()) == 19 * 16 * 4 - 2
    alphas = {}
    for dim, matrix in table.scores.items():
        ceiling = human_ceiling(matrix)
        assert ceiling.n_raters == 19 and ceiling.alpha.n == 16
        assert ceiling.alpha.value == pytest.approx(interval_alpha(matrix), abs=1e-12)
        loo = [stats.spearmanr(matrix[r][np.isfinite(matrix[r])],
                               np.nanmean(np.delete(matrix, r, axis=0), axis=0)[np.isfinite(matrix[r])]).statistic
               for r in range(19)]
        assert ceiling.spearman.value == pytest.approx(np.mean(loo), abs=1e-12)
        alphas[dim] = round(ceiling.alpha.value, 3)
    # low agreement between the authors' raters, least on interactivity and explainability
    assert alphas == {"interactivity": 0.029, "helpfulness": 0.134, "comfort": 0.175, "explainability": 0.04}


@pytest.mark.parametrize("row, problem", [
    ("| Evaluator2 | 4 | x | 3 | 3 |", "3: Evaluator2 helpfulness: not a number: 'x'"),
    ("| Evaluator2 | 4 | 3 | 3 |", "3: 4 cells, the header has 5"),
    ("| Evaluator2 | 4 | 3 | 9 | 3 |", "3: Evaluator2 comfort: 9.0 is off the 1-5 scale"),
    ("| Someone | 4 | 3 | 3 | 3 |", "3: a row of scores needs an EvaluatorN name, got 'Someone'"),
])
def test_bad_expert_table_names_the_line(tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "score.md"
    path.write_text("| Data | Inteactivity | helpfulness | comfort | explanability |\n| --- | --- | --- | --- | --- |\n"
                    f"{row}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_expert_table(path)
    assert str(err.value) == f"{path}:{problem}"
