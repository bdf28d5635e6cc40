"""BLEU-1 and BLEU-3.

paper: nltk sentence_bleu, cumulative weights, smoothing method1, on the authors' tokens, averaged
(`bleu{1,3}_sentence_cumulative`). corrected: sacrebleu (13a, or zh for Chinese), corpus BLEU from summed
statistics (`bleu{1,3}_corpus`, bootstrapped on the statistics) and sentence BLEU with effective order
(`bleu{1,3}_sentence`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psybench.metrics import tokenize as tk
from psybench.metrics.registry import KeySpec, Metric, MetricInput, MetricOutput, ResampledStatistic, per_mode, register

ORDERS = (1, 3)
_NO_LOG = -9999999999.0  # sacrebleu's log(0)


def bleu_from_stats(stats: np.ndarray, order: int, effective_order: bool) -> np.ndarray:
    """sacrebleu BLEU (exp smoothing) on rows of [hyp_len, ref_len, correct_1..K, total_1..K], using the
    first `order` n-gram orders; returns values in [0, 1]. Equals sacrebleu's corpus_score on summed
    rows (effective_order False) and sentence_score on single rows (effective_order True)."""
    stats = np.atleast_2d(np.asarray(stats, dtype=np.float64))
    k = (stats.shape[1] - 2) // 2
    sys_len, ref_len = stats[:, 0], stats[:, 1]
    correct, total = stats[:, 2:2 + order], stats[:, 2 + k:2 + k + order]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len >= ref_len, 1.0, np.where(sys_len > 0, np.exp(1 - ref_len / np.maximum(sys_len, 1e-300)), 0.0))
    rows = stats.shape[0]
    smooth = np.ones(rows)
    logsum = np.zeros(rows)
    eff = np.full(rows, float(order))
    alive = np.ones(rows, dtype=bool)  # sacrebleu stops at the first order with no n-grams
    for n in range(order):
        alive &= total[:, n] > 0
        zero = correct[:, n] == 0
        smooth = np.where(alive & zero, smooth * 2, smooth)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = np.where(zero, 100.0 / (smooth * total[:, n]), 100.0 * correct[:, n] / total[:, n])
            logp = np.where(alive, np.log(np.where(alive, prec, 1.0)), _NO_LOG)
        if effective_order:
            eff = np.where(alive, n + 1.0, eff)
            logsum += np.where(alive, logp, 0.0)
        else:
            logsum += logp
    score = bp * np.exp(logsum / eff) / 100.0
    return np.where(correct.sum(axis=1) == 0, 0.0, score)


def sacrebleu_stats(hyps: list[str], refs: list[str], lang: str, order: int = 3) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    bleu = BLEU(max_ngram_order=order, tokenize="zh" if lang == "zh" else "13a")
    if not hyps:
        return np.zeros((0, 2 + 2 * order))
    return np.asarray(bleu._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)


@dataclass
class CorpusBleu(ResampledStatistic):
    """Corpus BLEU of each resample, from the per-sample statistics."""

    stats: np.ndarray
    order: int

    @property
    def n(self) -> int:
        return self.stats.shape[0]

    def statistic(self, counts: np.ndarray) -> np.ndarray:
        return bleu_from_stats(counts @ self.stats, self.order, effective_order=False)


def _compute(mode: str, hyps: list[str], refs: list[str], inp: MetricInput) -> MetricOutput:
    n = len(hyps)
    if mode == "paper":
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

        smooth = SmoothingFunction().method1
        out = {f"bleu{o}_sentence_cumulative": np.zeros(n) for o in ORDERS}
        for i, (hyp, ref) in enumerate(zip(hyps, refs)):
            h_tok, r_tok = tk.paper_bleu_tokens(hyp), tk.paper_bleu_tokens(ref)
            for o in ORDERS:
                out[f"bleu{o}_sentence_cumulative"][i] = sentence_bleu([r_tok], h_tok, weights=(1 / o,) * o,
                                                                       smoothing_function=smooth)
        return MetricOutput(per_sample=out)
    stats = sacrebleu_stats(hyps, refs, inp.lang, order=max(ORDERS))
    per_sample = {f"bleu{o}_sentence": bleu_from_stats(stats, o, effective_order=True) if n else np.zeros(0)
                  for o in ORDERS}
    corpus = {f"bleu{o}_corpus": CorpusBleu(stats, o) for o in ORDERS} if n else {}
    return MetricOutput(per_sample=per_sample, corpus=corpus)


METRIC = register(Metric(
    name="bleu",
    description="BLEU-1 and BLEU-3: nltk sentence BLEU (paper); sacrebleu corpus and sentence BLEU (corrected)",
    keys=(KeySpec("paper", "bleu1_sentence_cumulative", "sample", table5="BLEU-1"),
          KeySpec("paper", "bleu3_sentence_cumulative", "sample", table5="BLEU-3"),
          KeySpec("corrected", "bleu1_corpus", "corpus", table5="BLEU-1"),
          KeySpec("corrected", "bleu3_corpus", "corpus", table5="BLEU-3"),
          KeySpec("corrected", "bleu1_sentence", "sample"),
          KeySpec("corrected", "bleu3_sentence", "sample")),
    compute=per_mode(_compute), worker=True, doc="docs/METRICS.md#bleu"))
