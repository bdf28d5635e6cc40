"""METEOR with NLTK's meteor_score and WordNet 3.0.

paper: the authors' call, arguments swapped (the reference scored as the hypothesis) on jieba tokens,
spaces kept (`meteor_swapped_jieba`). corrected: hypothesis and reference in their places, on words
(`meteor`)."""
from __future__ import annotations

import numpy as np

from psybench.metrics import tokenize as tk
from psybench.metrics.registry import KeySpec, Metric, MetricInput, MetricOutput, per_mode, register


def _compute(mode: str, hyps: list[str], refs: list[str], inp: MetricInput) -> MetricOutput:
    from nltk.translate.meteor_score import meteor_score

    values = np.zeros(len(hyps))
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        if mode == "paper":
            values[i] = meteor_score([list(tk.jieba_tokens(hyp))], list(tk.jieba_tokens(ref)))
        else:
            values[i] = meteor_score([tk.words(ref, inp.lang)], tk.words(hyp, inp.lang))
    return MetricOutput(per_sample={"meteor_swapped_jieba" if mode == "paper" else "meteor": values})


METRIC = register(Metric(
    name="meteor",
    description="METEOR (NLTK, WordNet 3.0); paper mode swaps hypothesis and reference as the authors did",
    keys=(KeySpec("paper", "meteor_swapped_jieba", "sample", table5="METEOR"),
          KeySpec("corrected", "meteor", "sample", table5="METEOR")),
    compute=per_mode(_compute), needs_wordnet=True, worker=True, doc="docs/METRICS.md#meteor"))
