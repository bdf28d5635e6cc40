"""psybench's metric engine: generation metrics in `paper` (the authors' computation, quirks included)
and `corrected` (textbook) modes, declared in a registry (psybench.metrics.registry), classification
metrics, bootstrap CIs, and the scoring of predictions files/records shared by `psybench score` and the
runner."""
from psybench.metrics._bootstrap import aggregate, interval, metric_range, resample_counts
from psybench.metrics._classification import score_classification
from psybench.metrics._generation import MetricResult, MetricSettings, corpus_statistic, score_generation
from psybench.metrics._records import read_predictions, score_records, validate_records, write_scores
from psybench.metrics.registry import (FunctionStatistic, KeySpec, Metric, MetricInput, MetricOutput,
                                       ResampledStatistic, get_metric, list_metrics, per_mode, register,
                                       select_metrics, table5_keys, unregister)

__all__ = ["FunctionStatistic", "aggregate", "interval", "KeySpec", "Metric", "MetricInput", "MetricOutput", "MetricResult", "MetricSettings",
           "ResampledStatistic", "corpus_statistic", "get_metric", "list_metrics", "metric_range", "per_mode",
           "read_predictions", "register", "resample_counts", "score_classification", "score_generation",
           "score_records", "select_metrics", "table5_keys", "unregister", "validate_records", "write_scores"]
