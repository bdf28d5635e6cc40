"""Human calibration of the judge: human ratings of judged items (`read_ratings`), the judge against the
mean human per dimension and the human ceiling (`calibrate`), as a table (`format_calibration`) or JSON
(`CalibrationReport.as_dict`). Also the authors' expert ratings (`read_expert_table`): they rate whole
dialogues without saying which, so they can test the inter-rater statistics but cannot calibrate a judge."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from psybench.constants import CI_LEVEL, JUDGE_DIMENSIONS, JUDGE_SCALE
from psybench.errors import DataError, RatingsError
from psybench.jsonl import iter_jsonl, read_text
from psybench.judge.agreement import (Estimate, icc, kendall_tau_b, krippendorff_alpha, leave_one_out_spearman,
                                      mean_bias, quadratic_weighted_kappa, spearman)


@dataclass(frozen=True)
class Rating:
    """One human score of one item (a judged reply, by the judge's item id) on one dimension."""

    id: str
    dimension: str
    rater: str
    score: float


def read_ratings(path: str | Path) -> list[Rating]:
    """Lines {"id", "dimension", "rater", "score"} (other keys ignored); a bad line, an unknown dimension,
    a score off the scale or a second score for the same (id, dimension, rater) -> RatingsError naming
    PATH:LINE."""
    lo, hi = JUDGE_SCALE
    ratings: list[Rating] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, obj in iter_jsonl(path, RatingsError):
        where = f"{path}:{number}"
        if not isinstance(obj, dict):
            raise RatingsError(f"{where}: expected a JSON object with id, dimension, rater, score")
        missing = [key for key in ("id", "dimension", "rater", "score") if key not in obj]
        if missing:
            raise RatingsError(f"{where}: missing {', '.join(missing)}")
        for key in ("id", "dimension", "rater"):
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise RatingsError(f"{where}: {key} must be a non-empty string, got {obj[key]!r}")
        if obj["dimension"] not in JUDGE_DIMENSIONS:
            raise RatingsError(f"{where}: unknown dimension {obj['dimension']!r}; "
                               f"known: {', '.join(JUDGE_DIMENSIONS)}")
        score = obj["score"]
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score) \
                or not lo <= score <= hi:
            raise RatingsError(f"{where}: score must be a number from {lo} to {hi}, got {score!r}")
        key = (obj["id"], obj["dimension"], obj["rater"])
        if key in seen:
            raise RatingsError(f"{where}: rater {key[2]!r} already scored {key[0]!r} on {key[1]} "
                               f"at line {seen[key]}")
        seen[key] = number
        ratings.append(Rating(*key, float(score)))
    if not ratings:
        raise RatingsError(f"{path}: no ratings (expected JSONL lines with id, dimension, rater, score)")
    return ratings


def rating_matrix(ratings: Sequence[Rating], dimension: str) -> tuple[list[str], list[str], np.ndarray]:
    """(raters, item ids, raters x items scores with NaN where unrated) for one dimension, both sorted,
    so results do not depend on the order of the file."""
    cells = {(r.rater, r.id): r.score for r in ratings if r.dimension == dimension}
    raters, items = sorted({rater for rater, _ in cells}), sorted({item for _, item in cells})
    matrix = np.full((len(raters), len(items)), np.nan)
    row, col = {r: i for i, r in enumerate(raters)}, {item: j for j, item in enumerate(items)}
    for (rater, item), score in cells.items():
        matrix[row[rater], col[item]] = score
    return raters, items, matrix


@dataclass(frozen=True)
class HumanCeiling:
    """How well humans agree with each other: what a judge can hope to reach."""

    n_raters: int
    spearman: Estimate  # each rater vs the mean of the other raters, averaged over raters
    alpha: Estimate  # Krippendorff's alpha (interval) across raters

    def as_dict(self) -> dict:
        return {"n_raters": self.n_raters, "spearman_vs_others": self.spearman.as_dict(),
                "krippendorff_alpha_interval": self.alpha.as_dict()}


def human_ceiling(matrix: np.ndarray) -> HumanCeiling:
    """The inter-rater statistics of a raters x items matrix (NaN = unrated)."""
    return HumanCeiling(int(np.isfinite(matrix).any(axis=1).sum()), leave_one_out_spearman(matrix),
                        krippendorff_alpha(matrix, "interval"))


@dataclass(frozen=True)
class DimensionCalibration:
    """The judge against the mean human rating on one dimension, and the human ceiling."""

    dimension: str
    n_rated: int  # items with at least one human rating
    n_matched: int  # of those, items the judge scored
    spearman: Estimate
    kendall_tau_b: Estimate
    qwk: Estimate  # quadratic-weighted kappa on the scale's levels (means rounded half up)
    icc_2_1: Estimate
    icc_3_1: Estimate
    mean_bias: Estimate  # judge minus mean human
    humans: HumanCeiling

    @property
    def n_rated_not_judged(self) -> int:
        return self.n_rated - self.n_matched

    def as_dict(self) -> dict:
        return {"n_rated": self.n_rated, "n_matched": self.n_matched, "n_rated_not_judged": self.n_rated_not_judged,
                "spearman": self.spearman.as_dict(), "kendall_tau_b": self.kendall_tau_b.as_dict(),
                "qwk": self.qwk.as_dict(), "icc_2_1": self.icc_2_1.as_dict(), "icc_3_1": self.icc_3_1.as_dict(),
                "mean_bias": self.mean_bias.as_dict(), "human_ceiling": self.humans.as_dict()}


@dataclass(frozen=True)
class CalibrationReport:
    """Per dimension (in JUDGE_DIMENSIONS order, those the ratings cover) and overall id counts."""

    dimensions: tuple[DimensionCalibration, ...]
    n_rated_ids: int  # distinct item ids in the ratings
    n_judged_ids: int  # distinct item ids the judge scored
    n_matched_ids: int  # ids rated and judged on at least one common dimension

    def as_dict(self) -> dict:
        return {"n_rated_ids": self.n_rated_ids, "n_judged_ids": self.n_judged_ids,
                "n_matched_ids": self.n_matched_ids, "n_rated_not_judged_ids": self.n_rated_ids - self.n_matched_ids,
                "dimensions": {d.dimension: d.as_dict() for d in self.dimensions}}


def calibrate(judge_scores: Mapping[tuple[str, str], float], ratings: Sequence[Rating]) -> CalibrationReport:
    """judge_scores: (item id, dimension) -> the judge's score (averaged over its repeats by the caller;
    NaN = not scored, e.g. explainability where a task has no reasoning). Items rated but not judged are
    counted, not an error, unless no rated item was judged at all (RatingsError, one line)."""
    judged = {key: float(v) for key, v in judge_scores.items() if math.isfinite(v)}
    rated_ids, judged_ids = sorted({r.id for r in ratings}), sorted({item for item, _ in judged})
    matched_ids = {r.id for r in ratings if (r.id, r.dimension) in judged}
    if not matched_ids:
        example = {name: repr(ids[0]) if ids else "none" for name, ids in (("rated", rated_ids), ("judged", judged_ids))}
        raise RatingsError(f"no rated item was judged: {len(rated_ids)} ids rated (e.g. {example['rated']}), "
                           f"{len(judged_ids)} judged (e.g. {example['judged']}); the ratings' ids must be the "
                           f"judged items' ids")
    rows = []
    for dimension in (d for d in JUDGE_DIMENSIONS if any(r.dimension == d for r in ratings)):
        _, items, matrix = rating_matrix(ratings, dimension)
        with np.errstate(all="ignore"):
            human = np.nanmean(matrix, axis=0)
        judge = np.array([judged.get((item, dimension), np.nan) for item in items])
        both = np.isfinite(judge)
        j, h = judge[both], human[both]
        rows.append(DimensionCalibration(
            dimension, len(items), int(both.sum()), spearman(j, h), kendall_tau_b(j, h),
            quadratic_weighted_kappa(j, h), icc(np.vstack([j, h]), "ICC(2,1)"), icc(np.vstack([j, h]), "ICC(3,1)"),
            mean_bias(j, h), human_ceiling(matrix)))
    return CalibrationReport(tuple(rows), len(rated_ids), len(judged_ids), len(matched_ids))


def _cell(est: Estimate) -> str:
    if not math.isfinite(est.value):
        return "n/a"
    if not (math.isfinite(est.ci_low) and math.isfinite(est.ci_high)):
        return f"{est.value:+.2f}"
    return f"{est.value:+.2f} [{est.ci_low:+.2f},{est.ci_high:+.2f}]"


def format_calibration(report: CalibrationReport) -> str:
    """A plain-text table for the terminal: judge vs mean human, then the human ceiling."""
    width = 22
    head = ["dimension", "items", "unjudged", "Spearman", "Kendall tau-b", "QWK", "ICC(2,1)", "bias (judge-human)"]
    fmt = "{:<15}{:>6}{:>9}  " + "".join(f"{{:<{width}}}" for _ in range(5))
    title = (f"judge vs mean human: {report.n_matched_ids} of {report.n_rated_ids} rated items judged "
             f"({CI_LEVEL:.0%} bootstrap CIs over items)")
    lines = [title, fmt.format(*head).rstrip()]
    for d in report.dimensions:
        lines.append(fmt.format(d.dimension, d.n_matched, d.n_rated_not_judged, *map(_cell, (
            d.spearman, d.kendall_tau_b, d.qwk, d.icc_2_1, d.mean_bias))).rstrip())
    lines += ["", "human ceiling: each rater vs the mean of the others; Krippendorff's alpha (interval)"]
    fmt = "{:<15}{:>6}{:>9}  " + f"{{:<{width}}}{{:<{width}}}"
    lines.append(fmt.format("dimension", "raters", "items", "Spearman", "alpha").rstrip())
    for d in report.dimensions:
        lines.append(fmt.format(d.dimension, d.humans.n_raters, d.n_rated, _cell(d.humans.spearman),
                                _cell(d.humans.alpha)).rstrip())
    return "\n".join(lines)


# ---- The authors' expert ratings (expert-eval/score.md) ------------------------------------------------
# The table's headers spell two dimensions their own way.
_EXPERT_HEADERS = {"inteactivity": "interactivity", "interactivity": "interactivity", "helpfulness": "helpfulness",
                   "comfort": "comfort", "explanability": "explainability", "explainability": "explainability"}
_RATER = re.compile(r"Evaluator\d+")


@dataclass(frozen=True)
class ExpertTable:
    """The authors' expert scores as one raters x items matrix per dimension (NaN = blank cell).

    The table has four row blocks of the same evaluators, each after a label row (the first block has
    none: "unlabelled"; then "Esconv", "Psy-Insight Chinese", "PsyQa"), and four column groups of the
    four dimensions. An item is one (block, group) cell group, id "BLOCK/gN"; which dialogue it was is not
    recorded, so these ratings cannot be matched to judged items and cannot calibrate a judge."""

    raters: tuple[str, ...]
    items: tuple[str, ...]
    scores: dict[str, np.ndarray]  # dimension -> raters x items

    def ratings(self) -> list[Rating]:
        return [Rating(item, dim, rater, float(m[i, j])) for dim, m in self.scores.items()
                for i, rater in enumerate(self.raters) for j, item in enumerate(self.items) if np.isfinite(m[i, j])]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_expert_table(path: str | Path) -> ExpertTable:
    """Parse expert-eval/score.md (see ExpertTable); a malformed table -> DataError naming PATH:LINE."""
    header: list[str] | None = None
    block, blocks, values = "unlabelled", [], {}  # values: (rater, item, dimension) -> score
    lo, hi = JUDGE_SCALE
    for number, line in enumerate(read_text(path, DataError).splitlines(), start=1):
        if not line.lstrip().startswith("|") or set(line) <= set("|-: "):
            continue
        cells, where = _cells(line), f"{path}:{number}"
        if header is None:
            header = [_EXPERT_HEADERS.get(c.lower(), "") for c in cells[1:]]
            if not header or "" in header or len(header) % len(JUDGE_DIMENSIONS):
                raise DataError(f"{where}: expected a header of dimension columns, got {cells[1:]}")
            continue
        if len(cells) != len(header) + 1:
            raise DataError(f"{where}: {len(cells)} cells, the header has {len(header) + 1}")
        if not _RATER.fullmatch(cells[0]):
            if any(cells[1:]):
                raise DataError(f"{where}: a row of scores needs an EvaluatorN name, got {cells[0]!r}")
            block = " ".join(cells[0].split())  # a block label row
            continue
        if block not in blocks:
            blocks.append(block)
        for col, (dim, text) in enumerate(zip(header, cells[1:])):
            item = f"{block}/g{col // len(JUDGE_DIMENSIONS) + 1}"
            if (cells[0], item, dim) in values:
                raise DataError(f"{where}: {cells[0]} appears twice in block {block!r}")
            try:
                score = float(text) if text else np.nan
            except ValueError:
                raise DataError(f"{where}: {cells[0]} {dim}: not a number: {text!r}") from None
            if not (np.isnan(score) or lo <= score <= hi):
                raise DataError(f"{where}: {cells[0]} {dim}: {score} is off the {lo}-{hi} scale")
            values[cells[0], item, dim] = score
    if header is None or not values:
        raise DataError(f"{path}: no score table found (a markdown table of EvaluatorN rows)")
    raters = tuple(sorted({rater for rater, _, _ in values}, key=lambda r: int(r.removeprefix("Evaluator"))))
    groups = len(header) // len(JUDGE_DIMENSIONS)
    items = tuple(f"{b}/g{g}" for b in blocks for g in range(1, groups + 1))
    scores = {dim: np.array([[values.get((rater, item, dim), np.nan) for item in items] for rater in raters])
              for dim in JUDGE_DIMENSIONS}
    return ExpertTable(raters, items, scores)


def calibrate_run(run_dir: str | Path, ratings_path: str | Path, label: str | None = None, as_json: bool = False) -> str:
    """`psybench judge calibrate --ratings FILE RUN_DIR`: the judge's pointwise scores of RUN_DIR (each item's
    repeats averaged; judge `label`, or the run's only judge) against the ratings; the report as text or JSON."""
    import json

    from psybench.errors import ConfigError
    from psybench.judge.results import collect
    from psybench.runfiles import JUDGMENTS_FILE, load_run, read_jsonl

    run = load_run(run_dir)
    judges = run.results.get("judges") or {}
    if not judges:
        raise ConfigError(f"{run.path}: not judged yet (run `psybench judge {run.path} --judge-model M` first)")
    if label is None:
        if len(judges) != 1:
            raise ConfigError(f"{run.path}: judged by {', '.join(judges)}; choose one with --judge-model LABEL")
        label = next(iter(judges))
    if label not in judges:
        raise ConfigError(f"{run.path}: no judge {label!r} (judges: {', '.join(judges)})")
    items = collect(read_jsonl(Path(run.path) / JUDGMENTS_FILE), label, judges[label]["rubric"]["sha256"],
                    judges[label].get("fingerprint"))
    scores = {(item_id, dim): float(np.mean(values)) for item_id, item in items.items()
              for dim, values in item.scores.items() if values}
    report = calibrate(scores, read_ratings(ratings_path))
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=1) if as_json else format_calibration(report)
