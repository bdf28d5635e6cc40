"""psybench's metric engine: generation metrics in `paper` (the authors' computation, quirks included)
and `corrected` (textbook) modes, classification metrics, bootstrap CIs, and the scoring of
predictions files/records shared by `psybench score` and the runner."""
from psybench.metrics._classification import score_classification
from psybench.metrics._generation import MetricResult, MetricSettings, score_generation
from psybench.metrics._keys import table5_keys
from psybench.metrics._records import read_predictions, score_records, validate_records, write_scores

__all__ = ["MetricResult", "MetricSettings", "read_predictions", "score_classification", "score_generation",
           "score_records", "table5_keys", "validate_records", "write_scores"]
