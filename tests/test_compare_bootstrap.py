"""Paired bootstrap on constructed data with known answers; `psybench compare` on fixture runs."""
from __future__ import annotations

import math

import numpy as np
import pytest

from psybench.cli import main
from psybench.report.compare import compare_runs, paired_bootstrap
from test_report_helpers import metric, write_run


def test_constant_shift_has_zero_width_ci_and_tiny_p():
    a = np.random.default_rng(1).uniform(size=200)
    res = paired_bootstrap(a, a + 0.1, resamples=1000)
    assert res.diff == pytest.approx(0.1) and res.n == 200
    assert res.ci_low == pytest.approx(0.1) and res.ci_high == pytest.approx(0.1)
    assert res.p_value == pytest.approx(1 / 1001)


def test_identical_runs_p_is_one():
    a = np.random.default_rng(2).uniform(size=50)
    res = paired_bootstrap(a, a.copy())
    assert (res.diff, res.ci_low, res.ci_high, res.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_noisy_difference_matches_normal_theory_and_is_seeded():
    rng = np.random.default_rng(3)
    a = rng.normal(size=400)
    d = rng.normal(loc=0.05, scale=1.0, size=400)
    res = paired_bootstrap(a, a + d, resamples=2000, seed=7)
    se = d.std(ddof=1) / np.sqrt(400)
    assert res.diff == pytest.approx(d.mean())
    assert res.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.2 * se)
    assert res.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.2 * se)
    assert res == paired_bootstrap(a, a + d, resamples=2000, seed=7)
    # the p-value agrees with the normal approximation (z = diff / SE)
    assert res.p_value == pytest.approx(math.erfc(abs(d.mean() / se) / math.sqrt(2)), abs=0.02)


def _pair_runs(tmp_path, shift=0.1, split_b="table5"):
    ids = [f"{600000 + i:06d}/{2 * i + 1}" for i in range(10)]
    sa = {sid: {"paper.meteor_swapped_jieba": 0.1 * (i % 5), "corrected.meteor": 0.05 * i} for i, sid in enumerate(ids)}
    sb = {sid: {"paper.meteor_swapped_jieba": 0.1 * (i % 5) + shift, "corrected.meteor": 0.05 * i} for i, sid in enumerate(ids)}
    sb[ids[0]].pop("paper.meteor_swapped_jieba")  # paper mode dropped this sample in B
    sb_extra = dict(sb, **{"999999/1": {"paper.meteor_swapped_jieba": 1.0, "corrected.meteor": 1.0}})
    ms = {"paper.meteor_swapped_jieba": metric(0.2), "corrected.meteor": metric(0.2), "corrected.bleu1_corpus": metric(0.3)}
    a = write_run(tmp_path, "A", scores=sa, metrics=ms)
    b = write_run(tmp_path, "B", scores=sb_extra, metrics=dict(ms, **{"corrected.bleu1_corpus": metric(0.4)}), split=split_b)
    return a, b


def test_compare_runs_on_shared_samples(tmp_path):
    a, b = _pair_runs(tmp_path)
    task, n_shared, rows = compare_runs(a, b)
    assert (task, n_shared) == ("dialog", 10)  # B's extra sample is not shared
    by = {r.metric: r for r in rows}
    paper = by["paper.meteor_swapped_jieba"]
    assert paper.n == 9 and paper.result.diff == pytest.approx(0.1) and paper.result.p_value < 0.01
    assert "1 shared sample(s) unscored" in paper.note
    same = by["corrected.meteor"]
    assert same.result.diff == 0.0 and same.result.p_value == 1.0
    corpus = by["corrected.bleu1_corpus"]
    # recomputed on the shared samples' texts (identical here), not taken from results.json (0.3 vs 0.4)
    assert (corpus.result.diff, corpus.result.p_value) == (0.0, 1.0) and corpus.mean_a == corpus.mean_b != 0.3
    assert corpus.note == "corpus-level, recomputed on the shared samples"


def test_compare_cli(tmp_path, capsys):
    a, b = _pair_runs(tmp_path)
    assert main(["compare", str(a), str(b), "--metric", "paper.meteor_swapped_jieba"]) == 0
    out = capsys.readouterr().out
    assert "10 shared samples" in out
    line = next(l for l in out.splitlines() if l.startswith("paper.meteor_swapped_jieba"))
    assert line.split()[1:5] == ["9", "0.2222", "0.3222", "+0.1000"] and "[+0.1000, +0.1000]" in line


def test_compare_cli_errors(tmp_path, capsys):
    a, b = _pair_runs(tmp_path, split_b="seeded")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "split=table5" in err and "split=seeded" in err
    c = write_run(tmp_path, "C", task="reasoning", scores={"600000/1": {"corrected.meteor": 0.1}})
    assert main(["compare", str(a), str(c)]) == 2
    assert "share tasks none" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "half").mkdir()
    assert main(["compare", str(a), str(tmp_path / "half")]) == 2
    assert "no results.json" in capsys.readouterr().err
    d = write_run(tmp_path, "D", scores={"123456/1": {"corrected.meteor": 0.1}})
    assert main(["compare", str(a), str(d)]) == 2
    assert "no shared sample ids" in capsys.readouterr().err
    assert main(["compare", str(a), str(a), "--metric", "nope"]) == 2
    assert "--metric nope: not in either run" in capsys.readouterr().err


def test_corpus_metrics_recomputed_on_shared_samples(tmp_path):
    import sacrebleu

    ids = [f"{600000 + i:06d}/1" for i in range(4)]
    scores = {s: {"corrected.meteor": 0.5} for s in ids}
    ms = {"corrected.bleu1_corpus": metric(0.3), "corrected.distinct1_corpus": metric(0.2),
          "paper.distinct2_corpus_div_n": metric(0.01), "corrected.meteor": metric(0.5)}
    a = write_run(tmp_path, "A", scores=scores, metrics=ms, texts={s: "Therapist: a a a a" for s in ids})
    b = write_run(tmp_path, "B", scores=scores, metrics=ms,
                  texts={s: f"Therapist: reference {i} and more" for i, s in enumerate(ids)})
    _, _, rows = compare_runs(a, b)
    by = {r.metric: r for r in rows}
    distinct = by["corrected.distinct1_corpus"]
    # A: 1 unique of 16 tokens; B: "reference", "0".."3", "and", "more" = 7 unique of 16
    assert (distinct.mean_a, distinct.mean_b) == (1 / 16, 7 / 16)
    assert distinct.result.diff == pytest.approx(6 / 16) and distinct.result.p_value < 0.01
    # a resample drawing k distinct samples gives B - A = (2 + k) / 16: k = 2..4 inside the 95% interval
    assert (distinct.result.ci_low, distinct.result.ci_high) == (4 / 16, 6 / 16)
    refs = [f"reference <b>{i}</b> & more" for i in range(4)]
    hyp_b = [f"reference {i} and more" for i in range(4)]
    bleu = by["corrected.bleu1_corpus"]
    expected_b = sacrebleu.BLEU(max_ngram_order=1).corpus_score(hyp_b, [refs]).score / 100
    assert bleu.mean_b == pytest.approx(expected_b) and bleu.result.diff == pytest.approx(expected_b - bleu.mean_a)
    assert by["paper.distinct2_corpus_div_n"].result is None
    assert by["paper.distinct2_corpus_div_n"].note.startswith("not compared: corpus-level")
    same = compare_runs(a, a)[2]
    assert {r.metric: r.result.p_value for r in same if r.result} == {
        "corrected.bleu1_corpus": 1.0, "corrected.distinct1_corpus": 1.0, "corrected.meteor": 1.0}
