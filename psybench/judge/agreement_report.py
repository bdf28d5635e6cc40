"""Agreement of several judges (`--judge-model A --judge-model B`) and of one judge's repeats
(`--judge-repeats K`), per task and dimension: Krippendorff's alpha (interval for the 1-5 scores,
nominal for the risk flag) and pairwise Spearman, with bootstrap CIs over items (judge/agreement.py)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from psybench.constants import JUDGE_DIMENSIONS
from psybench.errors import ConfigError
from psybench.judge.agreement import judge_agreement

RISK = "ethical_risk"


def _table(lines: Iterable[dict[str, Any]], rater_of) -> dict[str, dict[str, dict[str, dict[str, list[float]]]]]:
    """task -> measure -> rater -> item id -> values."""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for line in lines:
        if not line.get("valid") or line.get("kind") != "pointwise":
            continue
        rater = rater_of(line)
        if rater is None:
            continue
        task, item = str(line.get("task")), line["id"]
        for dim, score in (line.get("scores") or {}).items():
            if score is not None:
                out[task][dim][rater][item].append(float(score))
        out[task][RISK][rater][item].append(1.0 if (line.get("ethical_risk") or {}).get("present") else 0.0)
    return out


def _agreements(table: dict, nominal_risk: bool = True) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for task, measures in table.items():
        entry = {}
        for measure in (*JUDGE_DIMENSIONS, RISK):
            raters = measures.get(measure) or {}
            if len(raters) < 2:
                continue
            scores = {r: {i: float(np.mean(v)) for i, v in items.items()} for r, items in raters.items()}
            level = "nominal" if measure == RISK and nominal_risk else "interval"
            if level == "nominal":  # a repeat-averaged flag is no category: round it back to one
                scores = {r: {i: float(round(v)) for i, v in s.items()} for r, s in scores.items()}
            try:
                entry[measure] = judge_agreement(scores, level=level).as_dict()
            except ConfigError as err:
                entry[measure] = {"error": str(err)}
        result[task] = entry
    return result


def agreement_by_task(lines: Sequence[dict[str, Any]], fingerprints: dict[str, str], rubric_sha: str,
                      repeats: int) -> dict[str, Any]:
    """fingerprints: judge label -> its model's fingerprint (lines of another model under a label are ignored)."""
    labels = list(fingerprints)
    ours = [line for line in lines if line.get("rubric_sha256") == rubric_sha
            and fingerprints.get(line.get("judge")) == line.get("judge_fingerprint")]
    out: dict[str, Any] = {}
    if len(labels) > 1:  # judges against each other, each judge's repeats averaged
        out["judges"] = _agreements(_table(ours, lambda line: line["judge"]))
    if repeats > 1:
        out["repeats"] = {label: _agreements(_table([x for x in ours if x["judge"] == label],
                                                    lambda line: f"repeat {line.get('repeat', 0)}"))
                          for label in labels}
    return out
