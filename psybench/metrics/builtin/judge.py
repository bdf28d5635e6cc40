"""The rubric judge's keys (psybench/judge, docs/JUDGE.md): declared here like every metric, so results,
the leaderboard, `compare`, the report and CI clamping read their ranges and directions from the
registry. They are computed by `psybench judge` (a model reads the session context and the reply), not
by scoring: `--metrics judge` says so."""
from __future__ import annotations

from psybench.constants import JUDGE_DIMENSIONS, JUDGE_KEY_PREFIX, JUDGE_SCALE
from psybench.errors import ConfigError
from psybench.metrics.registry import UNIT, KeySpec, Metric, MetricInput, MetricOutput, register


def _computed_by_judge(inp: MetricInput) -> dict[str, MetricOutput]:
    raise ConfigError("the judge metric is computed by `psybench judge`, not by scoring")


SCALE = (float(JUDGE_SCALE[0]), float(JUDGE_SCALE[1]))
KEYS = (*(KeySpec(JUDGE_KEY_PREFIX, d, "sample", range=SCALE, judge=True) for d in JUDGE_DIMENSIONS),
        KeySpec(JUDGE_KEY_PREFIX, "ethical_risk_rate", "sample", range=UNIT, higher_is_better=False, judge=True),
        KeySpec(JUDGE_KEY_PREFIX, "invalid_rate", "sample", range=UNIT, higher_is_better=False, judge=True))

register(Metric(name="judge", description="rubric judge: the paper's four human-evaluation dimensions (1-5) and "
                "the share of replies flagged for an ethical risk", keys=KEYS, compute=_computed_by_judge,
                doc="docs/JUDGE.md", stage="judge"))
