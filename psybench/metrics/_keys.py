"""Which metric key fills each Table 5 column, per mode (docs/ARCHITECTURE.md "Metric keys")."""
from __future__ import annotations

from collections.abc import Iterable

from psybench.constants import METRIC_MODES, TABLE5_COLUMNS
from psybench.errors import ConfigError

_COLUMNS = {  # column -> (paper key, corrected key); a trailing "[" matches any encoder label
    "BERTScore-P": ("paper.bertscore_p[", "corrected.bertscore_p["),
    "BLEU-1": ("paper.bleu1_sentence_cumulative", "corrected.bleu1_corpus"),
    "BLEU-3": ("paper.bleu3_sentence_cumulative", "corrected.bleu3_corpus"),
    "METEOR": ("paper.meteor_swapped_jieba", "corrected.meteor"),
    "ROUGE-L": ("paper.rougeL_f_default_tokenizer", "corrected.rougeL_f"),
    "Distinct-2": ("paper.distinct2_corpus_div_n", "corrected.distinct2_corpus"),
}
assert tuple(_COLUMNS) == TABLE5_COLUMNS


def table5_keys(mode: str, aggregate_keys: Iterable[str]) -> dict[str, str]:
    """Map each Table 5 column to the key present in aggregate_keys for `mode` (missing columns left out)."""
    if mode not in METRIC_MODES:
        raise ConfigError(f"metric mode {mode!r}: choose from {', '.join(METRIC_MODES)}")
    keys = sorted(aggregate_keys)
    out = {}
    for column, pair in _COLUMNS.items():
        want = pair[0] if mode == "paper" else pair[1]
        match = [k for k in keys if (k.startswith(want) if want.endswith("[") else k == want)]
        if match:
            out[column] = match[0]
    return out
