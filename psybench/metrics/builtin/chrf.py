"""chrF (sacrebleu's CHRF: character 6-grams, beta 2, whitespace ignored), so it needs no word
segmentation and works on Chinese as it is. corrected mode only (the paper has no chrF): corpus chrF
from summed statistics (`chrf_corpus`, bootstrapped on them) and sentence chrF (`chrf_sentence`), both
on a 0-1 scale like BLEU."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psybench.metrics.registry import KeySpec, Metric, MetricInput, MetricOutput, ResampledStatistic, per_mode, register


def _chrf():
    from sacrebleu.metrics import CHRF

    return CHRF()


def _f_scores(chrf, rows: np.ndarray) -> np.ndarray:
    return np.array([chrf._compute_f_score(list(row)) / 100.0 for row in rows])


@dataclass
class CorpusChrf(ResampledStatistic):
    """Corpus chrF of each resample, from the per-sample character/word n-gram statistics."""

    stats: np.ndarray

    @property
    def n(self) -> int:
        return self.stats.shape[0]

    def statistic(self, counts: np.ndarray) -> np.ndarray:
        return _f_scores(_chrf(), counts @ self.stats)


def _compute(mode: str, hyps: list[str], refs: list[str], inp: MetricInput) -> MetricOutput:
    chrf = _chrf()
    if not hyps:
        return MetricOutput(per_sample={"chrf_sentence": np.zeros(0)})
    stats = np.asarray(chrf._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)
    return MetricOutput(per_sample={"chrf_sentence": _f_scores(chrf, stats)}, corpus={"chrf_corpus": CorpusChrf(stats)})


METRIC = register(Metric(
    name="chrf",
    description="chrF (sacrebleu, character n-grams: no segmentation needed), corpus and sentence level",
    keys=(KeySpec("corrected", "chrf_corpus", "corpus"), KeySpec("corrected", "chrf_sentence", "sample")),
    compute=per_mode(_compute), worker=True, doc="docs/METRICS.md#chrf"))
