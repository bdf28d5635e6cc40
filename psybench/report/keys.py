"""Metric key names (docs/ARCHITECTURE.md "Metric keys"): `MODE.metric[VARIANT]`.

The bracket names an encoder (`bertscore_p[roberta-large:L17]`), which is part of the metric's
configuration (the registry's KeySpec.encoder says which), or a label (`cls.f1[Anxiety]`), which is
just part of the column name."""
from __future__ import annotations

import re
from dataclasses import dataclass

from psybench.metrics import table5_keys  # noqa: F401  (re-exported: Table 5 column -> key, from the registry)
from psybench.metrics.registry import is_encoder_key

_KEY = re.compile(r"^(?P<mode>[A-Za-z0-9_]+)\.(?P<name>[^\[\]]+?)(?:\[(?P<variant>[^\]]*)\])?$")


@dataclass(frozen=True)
class MetricKey:
    mode: str  # "paper" | "corrected" | "cls" | ...
    name: str  # "bleu1_corpus", "bertscore_p", "f1"
    variant: str | None  # "roberta-large:L17", "Anxiety", None
    is_encoder_metric: bool = False  # the variant names an encoder

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
    return MetricKey(match["mode"], match["name"], match["variant"],
                     match["variant"] is not None and is_encoder_key(key))
