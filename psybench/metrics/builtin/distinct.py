"""Distinct-1 and Distinct-2 over the corpus of generated replies: distinct n-grams / all n-grams.

paper: the authors' computation, nltk-padded n-grams ('<s>' left context) on 13a tokens, divided once
more by the number of samples (`distinct{1,2}_corpus_div_n`). corrected: unpadded n-grams, 13a tokens
(jieba words for Chinese), not divided (`distinct{1,2}_corpus`). The CI is the percentile interval
shifted by the bootstrap's bias and clamped to [0, 1] (psybench.metrics._bootstrap says why)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psybench.metrics import tokenize as tk
from psybench.metrics.registry import UNIT, KeySpec, Metric, MetricInput, MetricOutput, per_mode, register

ORDERS = (1, 2)


@dataclass
class DistinctStats:
    totals: np.ndarray  # per sample: number of n-grams
    pair_sample: np.ndarray  # (sample, n-gram id) pairs, one per distinct n-gram of a sample, sorted by id
    pair_id: np.ndarray

    @property
    def value(self) -> float:
        total = self.totals.sum()
        return float(len(np.unique(self.pair_id)) / total) if total else 0.0

    def bootstrap(self, counts: np.ndarray, block: int = 100) -> np.ndarray:
        """Distinct-n of each resample: unique n-grams among drawn samples / n-grams drawn (with repeats)."""
        if counts.shape[0] == 0:
            return np.zeros(0)
        totals = counts @ self.totals
        if self.pair_id.size == 0:
            return np.zeros(counts.shape[0])
        starts = np.flatnonzero(np.r_[True, self.pair_id[1:] != self.pair_id[:-1]])
        uniques = np.empty(counts.shape[0])
        for b in range(0, counts.shape[0], block):
            present = counts[b:b + block][:, self.pair_sample] > 0
            uniques[b:b + block] = np.logical_or.reduceat(present, starts, axis=1).sum(axis=1)
        return np.divide(uniques, totals, out=np.zeros_like(uniques), where=totals > 0)


def distinct_stats(token_lists: list[list[str]], n: int, pad: bool) -> DistinctStats:
    """pad: one '<s>' per missing left context (nltk.ngrams pad_left, as the authors' Distinct-2 did)."""
    vocab: dict[tuple[str, ...], int] = {}
    totals = np.zeros(len(token_lists))
    samples, ids = [], []
    for i, tokens in enumerate(token_lists):
        seq = (["<s>"] * (n - 1) + list(tokens)) if (pad and tokens) else list(tokens)
        grams = [tuple(seq[j:j + n]) for j in range(len(seq) - n + 1)]
        totals[i] = len(grams)
        for gram in set(grams):
            samples.append(i)
            ids.append(vocab.setdefault(gram, len(vocab)))
    pair_id = np.asarray(ids, dtype=np.int64)
    order = np.argsort(pair_id, kind="stable")
    return DistinctStats(totals, np.asarray(samples, dtype=np.int64)[order], pair_id[order])


@dataclass
class CorpusDistinct:
    """Corpus Distinct-n; `divide_by_n` reproduces the authors' extra division by the sample count."""

    stats: DistinctStats
    divide_by_n: bool = False

    def estimate(self, counts: np.ndarray) -> tuple[float, tuple[float, float]]:
        from psybench.metrics._bootstrap import shifted_interval

        m = len(self.stats.totals)
        if not m:
            return float("nan"), (float("nan"), float("nan"))
        value = self.stats.value
        # shifted and clamped on the corpus Distinct-n (range [0, 1]), then divided: paper's stays in [0, 1/N]
        lo, hi = shifted_interval(value, self.stats.bootstrap(counts), UNIT)
        div = m if self.divide_by_n else 1
        return value / div, (lo / div, hi / div)

    def resampled(self, counts: np.ndarray) -> np.ndarray | None:
        return None if self.divide_by_n else self.stats.bootstrap(counts)


def _compute(mode: str, hyps: list[str], refs: list[str], inp: MetricInput) -> MetricOutput:
    if mode == "paper":
        toks = [tk.tokens_13a(h) for h in hyps]
        return MetricOutput(corpus={f"distinct{o}_corpus_div_n": CorpusDistinct(distinct_stats(toks, o, pad=True), True)
                                    for o in ORDERS})
    toks = [tk.words(h, inp.lang) if inp.lang == "zh" else tk.tokens_13a(h) for h in hyps]
    return MetricOutput(corpus={f"distinct{o}_corpus": CorpusDistinct(distinct_stats(toks, o, pad=False))
                                for o in ORDERS})


METRIC = register(Metric(
    name="distinct",
    description="Distinct-1 and Distinct-2 of the generated corpus (paper: padded, divided by N)",
    keys=(KeySpec("paper", "distinct1_corpus_div_n", "corpus"),
          KeySpec("paper", "distinct2_corpus_div_n", "corpus", table5="Distinct-2"),
          KeySpec("corrected", "distinct1_corpus", "corpus"),
          KeySpec("corrected", "distinct2_corpus", "corpus", table5="Distinct-2")),
    compute=per_mode(_compute), worker=True, doc="docs/METRICS.md#distinct"))
