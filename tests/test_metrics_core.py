"""Fast unit tests of the metric engine's arithmetic (no encoder, no WordNet): BLEU from sufficient
statistics against sacrebleu, Distinct-n by hand, bootstrap determinism, tokenisation, Table 5 keys."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import sacrebleu

from psybench.metrics import table5_keys
from psybench.metrics import tokenize as tk
from psybench.metrics._bootstrap import mean_cis, resample_counts
from psybench.metrics.builtin.bleu import bleu_from_stats, sacrebleu_stats
from psybench.metrics.builtin.distinct import distinct_stats

WORDS = "the cat sat on mat a dog ran to house is big small you feel".split()


def _corpus(seed: int, n: int = 120) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    hyps = [" ".join(rnd.choices(WORDS, k=rnd.randint(0, 12))) for _ in range(n)]
    refs = [" ".join(rnd.choices(WORDS, k=rnd.randint(1, 12))) for _ in range(n)]
    return hyps, refs


@pytest.mark.parametrize("order", [1, 3])
def test_bleu_from_stats_equals_sacrebleu_corpus_and_sentence(order: int) -> None:
    hyps, refs = _corpus(1)
    stats = sacrebleu_stats(hyps, refs, "en", order=3)
    corpus = sacrebleu.metrics.BLEU(max_ngram_order=order).corpus_score(hyps, [refs]).score / 100
    assert bleu_from_stats(stats.sum(0), order, effective_order=False)[0] == pytest.approx(corpus, abs=1e-12)
    sent = sacrebleu.metrics.BLEU(max_ngram_order=order, effective_order=True)
    expected = np.array([sent.sentence_score(h, [r]).score / 100 for h, r in zip(hyps, refs)])
    np.testing.assert_allclose(bleu_from_stats(stats, order, effective_order=True), expected, atol=1e-12)


def test_corpus_bleu_hand_computed() -> None:
    # hyp "the cat the mat" vs ref "the cat sat on the mat": p1 4/4, p2 2/3, p3 0/2 (exp smoothing: 1/(2*2)),
    # brevity penalty exp(1 - 6/4)
    stats = sacrebleu_stats(["the cat the mat"], ["the cat sat on the mat"], "en", order=3)
    assert stats.tolist() == [[4, 6, 4, 2, 0, 4, 3, 2]]
    bp = math.exp(1 - 6 / 4)
    assert bleu_from_stats(stats.sum(0), 1, False)[0] == pytest.approx(bp)
    assert bleu_from_stats(stats.sum(0), 3, False)[0] == pytest.approx(bp * (1 * 2 / 3 * 0.25) ** (1 / 3))


def test_chinese_bleu_uses_zh_tokenisation() -> None:
    stats = sacrebleu_stats(["我很难过"], ["我很难过啊"], "zh", order=3)
    assert stats[0, :2].tolist() == [4, 5]  # characters, not one 13a token


def test_distinct_by_hand_corpus_and_paper_padding() -> None:
    toks = [["a", "b", "a", "b"], ["a", "c"]]
    assert distinct_stats(toks, 1, pad=False).value == pytest.approx(3 / 6)
    assert distinct_stats(toks, 2, pad=False).value == pytest.approx(3 / 4)  # ab, ba, ab, ac
    # the authors': one <s> left pad per sentence -> <s>a, ab, ba, ab, <s>a, ac: 4 unique of 6
    assert distinct_stats(toks, 2, pad=True).value == pytest.approx(4 / 6)
    assert distinct_stats([[], []], 2, pad=True).value == 0.0


def test_distinct_bootstrap_equals_naive_recomputation() -> None:
    hyps, _ = _corpus(2, 60)
    toks = [h.split() for h in hyps]
    ds = distinct_stats(toks, 2, pad=False)
    counts = resample_counts(len(toks), 50, seed=3)
    fast = ds.bootstrap(counts, block=7)
    for b in range(50):
        grams = [tuple(t[j:j + 2]) for i, t in enumerate(toks) for _ in range(int(counts[b, i]))
                 for j in range(len(t) - 1)]
        assert fast[b] == pytest.approx(len(set(grams)) / len(grams) if grams else 0.0)


def test_bootstrap_deterministic_for_a_seed() -> None:
    values = np.random.default_rng(0).random((200, 2))
    a = mean_cis(values, resample_counts(200, 500, seed=7))
    b = mean_cis(values, resample_counts(200, 500, seed=7))
    c = mean_cis(values, resample_counts(200, 500, seed=8))
    assert a == b and a != c
    counts = resample_counts(200, 500, seed=7)
    assert counts.shape == (500, 200) and (counts.sum(1) == 200).all()
    for (lo, hi), mean in zip(a, values.mean(0)):
        assert lo < mean < hi and hi - lo < 0.2


def test_tokenisation() -> None:
    assert tk.strip_speaker("Therapist: How are you?") == "How are you?"
    assert tk.strip_speaker("治疗师：你好") == "你好"
    assert tk.strip_speaker("I said Therapist: no") == "I said Therapist: no"
    assert tk.paper_bleu_tokens("Therapist: I don't know.") == ["Therapist", ":", "I", "don", "'", "t", "know", "."]
    assert tk.words("I don't know, ok.", "en") == ["I", "don't", "know", ",", "ok", "."]
    assert tk.words("我 很难过。", "zh") == ["我", "很", "难过", "。"]
    assert tk.jieba_tokens("a b") == ("a", " ", "b")
    assert tk.rouge_zh_tokens("我很难过。") == ["我", "很", "难过"]


def test_table5_keys() -> None:
    keys = ["paper.bertscore_p[roberta-large:L17]", "paper.bleu1_sentence_cumulative", "paper.distinct2_corpus_div_n",
            "corrected.bertscore_p[roberta-large:L17]", "corrected.bleu1_corpus", "corrected.bleu1_sentence",
            "corrected.distinct2_corpus", "corrected.meteor"]
    assert table5_keys("paper", keys) == {"BERTScore-P": "paper.bertscore_p[roberta-large:L17]",
                                          "BLEU-1": "paper.bleu1_sentence_cumulative",
                                          "Distinct-2": "paper.distinct2_corpus_div_n"}
    assert table5_keys("corrected", keys) == {"BERTScore-P": "corrected.bertscore_p[roberta-large:L17]",
                                              "BLEU-1": "corrected.bleu1_corpus", "METEOR": "corrected.meteor",
                                              "Distinct-2": "corrected.distinct2_corpus"}


def test_distinct_ci_contains_its_value() -> None:
    """Resampling with replacement repeats sentences, deflating Distinct-n: the plain percentile
    interval lies below the corpus value; the bias-shifted one must contain it."""
    from psybench.metrics._bootstrap import interval, resample_counts, shifted_interval

    toks = [f"w{i} w{i + 1} w{i + 2} shared words here".split() for i in range(40)]
    ds = distinct_stats(toks, 2, pad=False)
    boot = ds.bootstrap(resample_counts(len(toks), 500, 0))
    plain = interval(boot)
    assert plain[1] < ds.value  # the defect being corrected
    lo, hi = shifted_interval(ds.value, boot)
    assert lo < ds.value < hi
    assert hi - lo == pytest.approx(plain[1] - plain[0])


# ---- intervals stay in their metric's range (issue 14 part 6) ------------------------------------------
# Two corpora that reproduce the reported corrected.distinct2_corpus intervals (default bootstrap: 1,000
# resamples, seed 0): every bigram unique (value 1.0, [0.746, 1.272], the reasoning run) and eleven
# sentences sharing one bigram (value 106/111 = 0.955, [0.750, 1.163], the zh dialog run).
REASONING_LIKE = [[f"r{i}w{j}" for j in range(n + 1)] for i, n in enumerate([38, 9, 35, 37, 39, 38])]
ZH_DIALOG_LIKE = [[f"z{i}w{j}" for j in range(n - 1)] + ["common", "pair"]
                  for i, n in enumerate([36, 35, 13, 15, 7, 33, 21, 8, 19, 23, 12])]


@pytest.mark.parametrize("toks, value, unbounded, clamped", [
    (REASONING_LIKE, 1.0, (0.7460600934863566, 1.2723555683594743), (0.7460600934863566, 1.0)),
    (ZH_DIALOG_LIKE, 106 / 111, (0.7497203779797479, 1.1634760028103255), (0.7497203779797479, 1.0)),
])
def test_reported_distinct_intervals_are_clamped_to_unit(toks, value, unbounded, clamped) -> None:
    from psybench.metrics._bootstrap import aggregate, metric_range, shifted_interval

    ds = distinct_stats(toks, 2, pad=False)
    boot = ds.bootstrap(resample_counts(len(toks), 1000, 0))
    assert ds.value == pytest.approx(value, abs=1e-15)
    assert shifted_interval(ds.value, boot) == pytest.approx(unbounded, abs=1e-12)  # the reported defect
    assert shifted_interval(ds.value, boot, metric_range("corrected.distinct2_corpus")) == pytest.approx(
        clamped, abs=1e-12)
    agg = aggregate(ds.value, shifted_interval(ds.value, boot), len(toks), "corpus", "corrected.distinct2_corpus")
    assert (agg["ci_low"], agg["ci_high"]) == pytest.approx(clamped, abs=1e-12)


def test_metric_ranges_declared_for_every_key() -> None:
    from psybench.metrics._bootstrap import UNBOUNDED, metric_range

    unit = (0.0, 1.0)
    expected = {
        "corrected.bleu1_corpus": unit, "corrected.bleu3_sentence": unit, "paper.bleu3_sentence_cumulative": unit,
        "corrected.meteor": unit, "paper.meteor_swapped_jieba": unit, "corrected.rougeL_f": unit,
        "paper.rougeL_f_default_tokenizer": unit, "corrected.distinct1_corpus": unit,
        "paper.distinct2_corpus_div_n": unit, "corrected.bertscore_p[roberta-large:L17]": (-1.0, 1.0),
        "paper.bertscore_r[all-mpnet-base-v2:L8]": (-1.0, 1.0), "corrected.bertscore_f1[minilm:L5]": UNBOUNDED,
        "cls.accuracy": unit, "cls.macro_f1": unit, "cls.example_f1": unit, "cls.unparseable_rate": unit,
        "cls.f1[Anxiety]": unit, "cls.precision[Cognitive Behavioral Therapy]": unit, "cls.recall[a.b]": unit,
        "corrected.words": UNBOUNDED,
    }
    assert {key: metric_range(key) for key in expected} == expected


def test_clamp_and_aggregate() -> None:
    from psybench.metrics._bootstrap import aggregate, clamp

    assert clamp((-0.2, 1.3), (0.0, 1.0)) == (0.0, 1.0)
    assert clamp((1.1, 1.3), (0.0, 1.0)) == (1.0, 1.0)  # wholly outside: the nearest end
    assert clamp((-3.0, -2.0), (0.0, 1.0)) == (0.0, 0.0)
    assert clamp((0.2, 0.4), (0.0, 1.0)) == (0.2, 0.4)
    lo, hi = clamp((float("nan"), float("nan")), (0.0, 1.0))
    assert math.isnan(lo) and math.isnan(hi)
    assert aggregate(0.5, (-0.1, 1.2), 3, "sample", "corrected.meteor") == {
        "value": 0.5, "ci_low": 0.0, "ci_high": 1.0, "n": 3, "level": "sample"}
    assert aggregate(0.5, (-0.1, 1.2), 3, "sample", "corrected.bertscore_f1[x:L1]")["ci_low"] == -0.1
    assert aggregate(0.5, (-0.1, 1.2), 3, "sample") == {  # no key: as given
        "value": 0.5, "ci_low": -0.1, "ci_high": 1.2, "n": 3, "level": "sample"}
    assert aggregate(float("nan"), (float("nan"), float("nan")), 0, "corpus", "cls.accuracy") == {
        "value": None, "ci_low": None, "ci_high": None, "n": 0, "level": "corpus"}


@pytest.mark.slow  # METEOR needs WordNet
@pytest.mark.parametrize("lang, toks, value, ci", [
    ("en", REASONING_LIKE, 1.0, (0.7460600934863566, 1.0)),
    ("zh", ZH_DIALOG_LIKE, 106 / 111, (0.7497203779797479, 1.0)),
])
def test_score_generation_distinct_interval_in_range(lang, toks, value, ci) -> None:
    from psybench.metrics import MetricSettings, score_generation

    hyps = [" ".join(t) for t in toks]
    refs = ["Therapist: a reference"] * len(hyps)
    res = score_generation(hyps, refs, lang, MetricSettings(modes=("corrected", "paper"), bertscore=False, workers=0))
    corrected = res.aggregates["corrected.distinct2_corpus"]
    assert corrected["value"] == pytest.approx(value, abs=1e-15)
    assert (corrected["ci_low"], corrected["ci_high"]) == pytest.approx(ci, abs=1e-12)
    paper = res.aggregates["paper.distinct2_corpus_div_n"]  # the authors' value / N: its range is [0, 1/N]
    assert 0.0 <= paper["ci_low"] <= paper["value"] <= paper["ci_high"] <= 1 / len(hyps)
    for key, agg in res.aggregates.items():
        assert agg["ci_low"] <= agg["ci_high"], key
