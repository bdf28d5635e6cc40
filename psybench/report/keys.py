"""Metric key names (docs/ARCHITECTURE.md "Metric keys"): `MODE.metric[VARIANT]`.

The bracket names an encoder (`bertscore_p[roberta-large:L17]`), which is part of the metric's
configuration, or a label (`cls.f1[Anxiety]`), which is just part of the column name."""
from __future__ import annotations

import re
from dataclasses import dataclass

from psybench.constants import TABLE5_COLUMNS

_KEY = re.compile(r"^(?P<mode>[A-Za-z0-9_]+)\.(?P<name>[^\[\]]+?)(?:\[(?P<variant>[^\]]*)\])?$")
ENCODER_METRICS = ("bertscore_",)  # metric names whose bracket names a model, not a label

# Fallback for psybench.metrics.table5_keys while that module has not landed (same patterns).
_TABLE5_PATTERNS = {
    "paper": ("bertscore_p[", "bleu1_sentence_cumulative", "bleu3_sentence_cumulative", "meteor_swapped_jieba",
              "rougeL_f_default_tokenizer", "distinct2_corpus_div_n"),
    "corrected": ("bertscore_p[", "bleu1_corpus", "bleu3_corpus", "meteor", "rougeL_f", "distinct2_corpus"),
}


@dataclass(frozen=True)
class MetricKey:
    mode: str  # "paper" | "corrected" | "cls" | ...
    name: str  # "bleu1_corpus", "bertscore_p", "f1"
    variant: str | None  # "roberta-large:L17", "Anxiety", None

    @property
    def is_encoder_metric(self) -> bool:
        return self.name.startswith(ENCODER_METRICS)

    @property
    def column(self) -> str:
        """Leaderboard column: the mode and an encoder go to their own key columns; labels stay."""
        if self.variant is None or self.is_encoder_metric:
            return self.name
        return f"{self.name}[{self.variant}]"

    @property
    def metric_model(self) -> str:
        return (self.variant or "") if self.is_encoder_metric else ""


def parse_key(key: str) -> MetricKey:
    match = _KEY.match(key)
    if not match:
        return MetricKey(mode="", name=key, variant=None)
    return MetricKey(match["mode"], match["name"], match["variant"])


def _fallback_table5_keys(mode: str, keys) -> dict[str, str]:
    found: dict[str, str] = {}
    for column, pattern in zip(TABLE5_COLUMNS, _TABLE5_PATTERNS[mode]):
        prefix = f"{mode}.{pattern}"
        matches = sorted(k for k in keys if (k.startswith(prefix) if pattern.endswith("[") else k == prefix))
        if matches:
            found[column] = matches[0]
    return found


def table5_keys(mode: str, keys) -> dict[str, str]:
    """Table 5 column -> metric key present in `keys` (an aggregates dict or any iterable of keys) for
    metric mode `mode` ("paper"/"corrected"); psybench.metrics' mapping once it exists."""
    aggregates = keys if isinstance(keys, dict) else {k: {} for k in keys}
    try:
        from psybench.metrics import table5_keys as metrics_table5_keys
    except ImportError:
        return _fallback_table5_keys(mode, aggregates)
    return metrics_table5_keys(mode, aggregates)
