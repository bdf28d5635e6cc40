"""The metric engine on real WordNet and real encoders (slow): the PROTOCOL.md METEOR check, hand-computed
values through score_generation, Chinese ROUGE-L, BERTScore equal to bert-score's own scorer, e5 on
Chinese, the worker path equal to the inline path, and `psybench score` end to end."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from psybench.cli import main
from psybench.metrics import MetricSettings, score_generation

pytestmark = pytest.mark.slow
NGRAM_ONLY = dict(bertscore=False, bootstrap_resamples=100, workers=0)


def test_wordnet_is_30_and_meteor_sanity() -> None:
    from nltk.corpus import wordnet as wn
    from nltk.translate.meteor_score import meteor_score

    from psybench.assets.wordnet import ensure_wordnet

    ensure_wordnet()
    assert wn.get_version() == "3.0"
    assert sum(1 for _ in wn.all_synsets()) == 117659
    assert meteor_score([["the", "cat", "sat"]], ["the", "cat", "sits"]) == 0.625


def test_protocol_meteor_check_and_hand_computed_values() -> None:
    res = score_generation(["on the mat sat the cat", "the cat the mat"],
                           ["the cat sat on the mat", "the cat sat on the mat"], "en",
                           MetricSettings(modes=("paper", "corrected"), **NGRAM_ONLY))
    first, second = res.per_sample
    assert first["paper.meteor_swapped_jieba"] == 0.7261457550713748
    assert first["corrected.meteor"] == 0.5  # textbook: right order, whitespace-free word tokens
    bp = math.exp(1 - 6 / 4)
    assert second["paper.bleu1_sentence_cumulative"] == pytest.approx(bp)
    assert second["paper.bleu3_sentence_cumulative"] == pytest.approx(bp * (1 * 2 / 3 * 0.1 / 2) ** (1 / 3))  # method1
    assert second["corrected.bleu3_sentence"] == pytest.approx(bp * (1 * 2 / 3 * 0.25) ** (1 / 3))  # exp smoothing
    assert second["paper.rougeL_f_default_tokenizer"] == pytest.approx(0.8)  # LCS 4: P 1, R 2/3
    assert second["corrected.rougeL_f"] == pytest.approx(0.8)
    agg = res.aggregates
    # Distinct-2, 13a tokens: 5 + 3 bigrams; unique: on-the the-mat mat-sat sat-the the-cat cat-the = 6
    assert agg["corrected.distinct2_corpus"]["value"] == pytest.approx(6 / 8)
    assert agg["corrected.distinct1_corpus"]["value"] == pytest.approx(5 / 10)
    assert agg["corrected.distinct2_corpus"]["level"] == "corpus"
    # paper: one <s> pad per output adds "<s> on", "<s> the" -> 8 unique of 10, then divided by N = 2
    assert agg["paper.distinct2_corpus_div_n"]["value"] == pytest.approx(8 / 10 / 2)
    assert res.info["n"] == 2 and res.info["paper"] == {"n_scored": 2, "n_dropped": 0, "n_empty_predictions": 0}


def test_paper_distinct_is_corpus_distinct_over_n_with_mask_and_prefixes() -> None:
    from nltk.util import ngrams

    from psybench.metrics.tokenize import tokens_13a

    preds = ["I hear you.", "", "That sounds hard, tell me more.", "I hear you, that is hard."]
    paper_preds = ["Therapist: I hear you.", "", "Therapist: That sounds hard, tell me more.", "no marker here"]
    refs = ["Therapist: How are you?", "Therapist: Go on.", "Therapist: Tell me more.", "Therapist: Okay."]
    res = score_generation(preds, refs, "en", MetricSettings(modes=("paper", "corrected"), **NGRAM_ONLY),
                           paper_predictions=paper_preds, paper_mask=[True, True, True, False])
    scored = paper_preds[:3]
    grams = [g for p in scored for g in ngrams(tokens_13a(p), 2, pad_left=True, left_pad_symbol="<s>")]
    assert res.aggregates["paper.distinct2_corpus_div_n"]["value"] == pytest.approx(len(set(grams)) / len(grams) / 3)
    assert res.aggregates["paper.distinct2_corpus_div_n"]["n"] == 3
    assert res.info["paper"]["n_dropped"] == 1 and res.info["n_empty_predictions"] == 1
    assert "paper.meteor_swapped_jieba" not in res.per_sample[3] and "corrected.meteor" in res.per_sample[3]
    assert res.per_sample[1]["corrected.meteor"] == 0.0 and res.per_sample[1]["corrected.bleu1_sentence"] == 0.0


def test_chinese_rouge_zero_in_paper_mode_nonzero_corrected() -> None:
    res = score_generation(["治疗师：我能理解你现在很难过。"], ["治疗师：你现在一定很难过吧。"], "zh",
                           MetricSettings(modes=("paper", "corrected"), **NGRAM_ONLY))
    s = res.per_sample[0]
    assert s["paper.rougeL_f_default_tokenizer"] == 0.0  # the default tokenizer deletes all non-ASCII text
    # jieba: 我能/理解/你/现在/很/难过 vs 你/现在/一定/很/难过/吧 (punctuation dropped) -> LCS 你 现在 很 难过:
    # P = R = 4/6
    assert s["corrected.rougeL_f"] == pytest.approx(4 / 6)
    assert s["corrected.meteor"] > 0 and s["corrected.bleu1_sentence"] > 0


def test_worker_process_equals_inline() -> None:
    preds = [f"I hear that you feel {w} about work." for w in ("sad", "tired", "angry", "lost")] * 3
    refs = [f"Therapist: It sounds like work makes you {w}." for w in ("sad", "worried", "angry", "alone")] * 3
    kw = dict(modes=("paper", "corrected"), bertscore=False, bootstrap_resamples=200)
    inline = score_generation(preds, refs, "en", MetricSettings(workers=0, **kw))
    worker = score_generation(preds, refs, "en", MetricSettings(workers=1, **kw))
    assert inline.per_sample == worker.per_sample and inline.aggregates == worker.aggregates


def test_bertscore_minilm_equals_bert_score_scorer() -> None:
    from bert_score import BERTScorer

    from psybench.assets.encoders import resolve_encoder

    preds = ["Therapist: I hear you, that sounds hard.", "Tell me more about your week.", "Okay."]
    refs = ["Therapist: That must be really difficult for you.", "How was your week?", "Therapist: Go on."]
    res = score_generation(preds, refs, "en", MetricSettings(modes=("paper", "corrected"), bertscore_model="minilm",
                                                             bootstrap_resamples=100, workers=0))
    spec = resolve_encoder("minilm", "en")
    scorer = BERTScorer(model_type=spec.path, num_layers=5)
    from psybench.metrics.tokenize import strip_speaker

    for mode, hyps, rfs in (("paper", preds, refs),
                            ("corrected", [strip_speaker(p) for p in preds], [strip_speaker(r) for r in refs])):
        p, r, f = scorer.score(hyps, rfs)
        got = np.array([[s[f"{mode}.bertscore_{k}[all-MiniLM-L6-v2:L5]"] for k in ("p", "r", "f1")]
                        for s in res.per_sample])
        np.testing.assert_allclose(got, np.stack([p.numpy(), r.numpy(), f.numpy()], 1), atol=1e-6)
    assert res.info["bertscore"]["label"] == "all-MiniLM-L6-v2:L5"
    assert res.aggregates["paper.bertscore_p[all-MiniLM-L6-v2:L5]"]["value"] == pytest.approx(
        np.mean([s["paper.bertscore_p[all-MiniLM-L6-v2:L5]"] for s in res.per_sample]))


def test_e5_scores_chinese_pairs() -> None:
    res = score_generation(["我能理解你现在很难过。", "今天天气很好。"], ["你现在一定很难过吧。", "你现在一定很难过吧。"], "zh",
                           MetricSettings(bertscore_model="e5", bootstrap_resamples=100, workers=0))
    key = "corrected.bertscore_f1[multilingual-e5-small:L9]"
    related, unrelated = (s[key] for s in res.per_sample)
    assert 0.5 < unrelated < related < 1.0


def test_score_cli_end_to_end(tmp_path: Path, capsys) -> None:
    lines = [
        {"id": "d/1/2", "task": "dialog", "prediction": "on the mat sat the cat",
         "reference": "Therapist: the cat sat on the mat", "paper_prediction": "Therapist: on the mat sat the cat",
         "paper_status": "ok", "status": "ok", "extra": 1},
        {"id": "d/1/4", "task": "dialog", "prediction": "", "reference": "Therapist: How are you?",
         "paper_prediction": "", "paper_status": "no_marker", "status": "empty"},
        {"id": "e/1/1", "task": "emotion", "prediction": "Fear", "reference": "", "labels": ["Fear"],
         "gold_labels": ["Fear"]},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out"
    assert main(["score", str(path), "--lang", "en", "--mode", "both", "--bertscore-model", "minilm",
                 "--bootstrap", "50", "--out", str(out)]) == 0
    assert "paper.meteor_swapped_jieba" in capsys.readouterr().out
    scores = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert [s["id"] for s in scores] == ["d/1/2", "d/1/4", "e/1/1"]
    import jieba
    from nltk.translate.meteor_score import meteor_score

    hyp, ref = "Therapist: on the mat sat the cat", "Therapist: the cat sat on the mat"  # paper mode keeps prefixes
    assert scores[0]["scores"]["paper.meteor_swapped_jieba"] == meteor_score([list(jieba.cut(hyp))],
                                                                             list(jieba.cut(ref)))
    assert scores[0]["scores"]["corrected.meteor"] == 0.5
    assert "paper.meteor_swapped_jieba" not in scores[1]["scores"]
    results = json.loads((out / "results.json").read_text())
    dialog = results["tasks"]["dialog"]
    assert (dialog["n"], dialog["n_dropped"], dialog["n_empty_predictions"]) == (2, 1, 1)
    assert dialog["paper_status_counts"] == {"ok": 1, "no_marker": 1}
    assert dialog["metrics"]["paper.meteor_swapped_jieba"]["n"] == 1
    assert dialog["metrics"]["corrected.meteor"]["n"] == 2
    assert set(dialog["metrics"]["corrected.bleu3_corpus"]) == {"value", "ci_low", "ci_high", "n", "level"}
    assert results["tasks"]["emotion"]["metrics"]["cls.accuracy"]["value"] == 1.0
    assert results["metric_settings"]["modes"] == ["corrected", "paper"]
    assert results["metric_settings"]["bertscore_model"] == "minilm"
