"""ROUGE-L F-measure with Google's rouge-score.

paper: the default tokenizer, which drops every non-ASCII character (Chinese scores 0 unless the text
has Latin words: the authors' quirk, `rougeL_f_default_tokenizer`). corrected: the default tokenizer for
English, jieba words for Chinese (`rougeL_f`)."""
from __future__ import annotations

import numpy as np

from psybench.metrics import tokenize as tk
from psybench.metrics.registry import KeySpec, Metric, MetricInput, MetricOutput, per_mode, register


class _ZhRougeTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return tk.rouge_zh_tokens(text)


def _compute(mode: str, hyps: list[str], refs: list[str], inp: MetricInput) -> MetricOutput:
    from rouge_score import rouge_scorer

    zh = mode == "corrected" and inp.lang == "zh"
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_ZhRougeTokenizer() if zh else None)
    values = np.zeros(len(hyps))
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        values[i] = scorer.score(ref, hyp)["rougeL"].fmeasure
    return MetricOutput(per_sample={"rougeL_f_default_tokenizer" if mode == "paper" else "rougeL_f": values})


METRIC = register(Metric(
    name="rouge",
    description="ROUGE-L F (rouge-score); paper mode keeps its default tokenizer, corrected segments Chinese",
    keys=(KeySpec("paper", "rougeL_f_default_tokenizer", "sample", table5="ROUGE-L"),
          KeySpec("corrected", "rougeL_f", "sample", table5="ROUGE-L")),
    compute=per_mode(_compute), worker=True, doc="docs/METRICS.md#rouge"))
