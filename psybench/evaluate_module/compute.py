"""What the evaluate module computes: `psybench score`'s code path (score_records) on plain pairs."""
from __future__ import annotations

from psybench.constants import METRIC_MODES


def compute(predictions: list[str], references: list[str], lang: str = "en", mode: str = "corrected",
            metrics: list[str] | str | None = None, bertscore_model: str | None = None,
            bertscore_layer: int | None = None, allow_lang_mismatch: bool = False, device: str = "auto",
            bootstrap: int = 0, return_ci: bool = False) -> dict[str, float | None]:
    from psybench.errors import ConfigError
    from psybench.metrics import MetricSettings, score_records, select_metrics

    if mode not in (*METRIC_MODES, "both"):
        raise ConfigError(f"mode {mode!r}: choose corrected, paper or both")
    if len(predictions) != len(references):
        raise ConfigError(f"{len(predictions)} predictions for {len(references)} references")
    if isinstance(metrics, str):
        metrics = [m.strip() for m in metrics.split(",") if m.strip()]
    names = tuple(metrics) if metrics is not None else None
    if names is not None:
        select_metrics(names, source="metrics")  # unknown names: an error listing the known ones
    settings = MetricSettings(modes=tuple(METRIC_MODES) if mode == "both" else (mode,), metrics=names,
                              bertscore_model=bertscore_model, bertscore_layer=bertscore_layer,
                              allow_lang_mismatch=allow_lang_mismatch, device=device,
                              bootstrap_resamples=int(bootstrap))
    records = [{"id": str(i), "prediction": p, "reference": r} for i, (p, r) in enumerate(zip(predictions, references))]
    _, results = score_records(records, lang, settings, source="evaluate inputs")
    out: dict[str, float | None] = {}
    for key, entry in next(iter(results.values()))["metrics"].items():
        out[key] = entry["value"]
        if return_ci:
            out[f"{key}/ci_low"], out[f"{key}/ci_high"] = entry["ci_low"], entry["ci_high"]
    return out
