"""Predictions files and records -> scores: the one code path behind `psybench score` and the runner.

A record is a predictions.jsonl line (docs/ARCHITECTURE.md): at least `id`, `prediction`, `reference`;
optional `task`, `lang`, `paper_prediction`, `paper_status`, `status`, `truncated` (bool),
`finish_reason`, and for classification `gold_labels` (non-empty list), `labels` (list, or null when
unparseable) and `choices` (top level or in `meta`).

Paper mode leaves out, and counts as `n_dropped`, the records the authors' extraction dropped:
`paper_status` "no_marker" or "empty" (docs/EXTRACTION.md). Files written before `truncated` existed
still score: there truncation is read from `finish_reason` "length" or the old "truncated" status."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psybench.errors import PredictionsError
from psybench.metrics import tokenize as tk
from psybench.metrics._classification import score_classification
from psybench.metrics._generation import MetricSettings, score_generation

if TYPE_CHECKING:
    from psybench.runfiles import TaskResults

DEFAULT_TASK = "default"
_REQUIRED = ("id", "prediction", "reference")
_OPTIONAL_STR = ("task", "lang", "paper_status", "status")
PAPER_DROPPED = ("no_marker", "empty")  # paper statuses the authors' scripts skipped
_LEGACY_TRUNCATED = "truncated"  # a status before truncation became its own field


def paper_kept(rec: dict) -> bool:
    """Whether paper mode scores this record (the authors dropped outputs without a marker)."""
    status = rec.get("paper_status")
    if status == _LEGACY_TRUNCATED:  # old files: a cut output with nothing visible read "truncated"
        return bool(rec.get("paper_prediction") if "paper_prediction" in rec else rec["prediction"])
    return status not in PAPER_DROPPED


def is_truncated(rec: dict) -> bool:
    """The record's `truncated` field, or for older files finish_reason "length" / the old status."""
    if isinstance(rec.get("truncated"), bool):
        return rec["truncated"]
    return rec.get("finish_reason") == "length" or _LEGACY_TRUNCATED in (rec.get("status"), rec.get("paper_status"))


def _is_classification(rec: dict) -> bool:
    return isinstance(rec.get("gold_labels"), list) and len(rec["gold_labels"]) > 0


def _check_labels(value: Any, where: str, field: str, nullable: bool) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise PredictionsError(f"{where}: field {field!r} must be a list of strings"
                               + (" or null" if nullable else ""))


def check_reference_lang(text: str, lang: str, where: str) -> None:
    """en: at most half of the letters CJK; zh: some CJK when the text has any Latin word."""
    body = tk.strip_speaker(text)
    cjk, latin = tk.cjk_count(body), tk.latin_count(body)
    if lang == "en" and cjk > 0.5 * (cjk + latin):
        raise PredictionsError(f"{where}: reference is mostly Chinese ({cjk} CJK of {cjk + latin} letters) but "
                               "--lang en: pass --lang zh")
    if lang == "zh" and cjk == 0 and latin >= 2:
        raise PredictionsError(f"{where}: reference has no Chinese characters but --lang zh: pass --lang en")


def validate_records(records: list[dict], lang: str | None, source: str = "records") -> None:
    """Raise PredictionsError naming `source` and the 1-based line of the first bad record."""
    if not records:
        raise PredictionsError(f"{source}: no predictions (empty file)")
    seen: dict[str, int] = {}
    for line, rec in enumerate(records, start=1):
        where = f"{source}:{line}"
        if not isinstance(rec, dict):
            raise PredictionsError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        for name in _REQUIRED:
            if name not in rec:
                raise PredictionsError(f"{where}: missing field {name!r} (need id, prediction, reference)")
            if not isinstance(rec[name], str):
                raise PredictionsError(f"{where}: field {name!r} must be a string, got {type(rec[name]).__name__}")
        for name in _OPTIONAL_STR:
            if name in rec and rec[name] is not None and not isinstance(rec[name], str):
                raise PredictionsError(f"{where}: field {name!r} must be a string, got {type(rec[name]).__name__}")
        if rec.get("paper_prediction") is not None and not isinstance(rec["paper_prediction"], str):
            raise PredictionsError(f"{where}: field 'paper_prediction' must be a string or null")
        if rec.get("truncated") is not None and not isinstance(rec["truncated"], bool):
            raise PredictionsError(f"{where}: field 'truncated' must be true, false or null")
        if rec["id"] in seen:
            raise PredictionsError(f"{where}: duplicate id {rec['id']!r} (first on line {seen[rec['id']]})")
        seen[rec["id"]] = line
        rec_lang = rec.get("lang")
        if lang is None and rec_lang not in ("en", "zh"):
            raise PredictionsError(f"{where}: no language: pass --lang en|zh or give each record a 'lang'")
        if lang is not None and rec_lang is not None and rec_lang != lang:
            raise PredictionsError(f"{where}: record lang {rec_lang!r} differs from --lang {lang}")
        if _is_classification(rec):
            _check_labels(rec["gold_labels"], where, "gold_labels", nullable=False)
            _check_labels(rec.get("labels"), where, "labels", nullable=True)
        elif rec["reference"].strip():
            check_reference_lang(rec["reference"], lang or rec_lang, where)


def read_predictions(path: str | Path, lang: str | None = None) -> list[dict]:
    """Read and validate a predictions JSONL file (blank lines are not allowed: line numbers stay exact)."""
    from psybench.runfiles import read_jsonl

    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"{path}: no such predictions file")
    records = read_jsonl(path, blank_lines=False)
    validate_records(records, lang, str(path))
    return records


def _choices(group: list[dict]) -> tuple[str, ...]:
    for rec in group:
        found = rec.get("choices") or (rec.get("meta") or {}).get("choices")
        if found:
            return tuple(found)
    return ()


def score_records(records: list[dict], lang: str | None, settings: MetricSettings,
                  source: str = "records", task_metrics: dict[str, tuple[str, ...]] | None = None
                  ) -> tuple[list[dict], dict[str, TaskResults]]:
    """Score validated records grouped by task -> (scores.jsonl lines in input order, results per task).
    `task_metrics` names the generation metrics of a task (its YAML `metrics:`) where settings.metrics
    is None."""
    validate_records(records, lang, source)
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(rec.get("task") or DEFAULT_TASK, []).append(i)
    lines: list[dict | None] = [None] * len(records)
    results: dict[str, TaskResults] = {}
    for task, idx in groups.items():
        group = [records[i] for i in idx]
        task_lang = lang or group[0]["lang"]
        if any(_is_classification(r) for r in group):
            if not all(_is_classification(r) for r in group):
                raise PredictionsError(f"{source}: task {task!r} mixes classification and generation records")
            res = score_classification([tuple(r["labels"]) if r.get("labels") is not None else None for r in group],
                                       [tuple(r["gold_labels"]) for r in group], _choices(group), settings)
            entry = {"lang": task_lang, "kind": "classification", "n": len(group), "metrics": res.aggregates,
                     "n_unparseable": res.info["n_unparseable"], "info": res.info}
        else:
            paper_preds = None
            if any("paper_prediction" in r for r in group):
                paper_preds = [r.get("paper_prediction") if r.get("paper_prediction") is not None else r["prediction"]
                               for r in group]
            mask = [paper_kept(r) for r in group]
            task_settings = settings
            if settings.metrics is None and task_metrics and task in task_metrics:
                task_settings = replace(settings, metrics=tuple(task_metrics[task]))
            res = score_generation([r["prediction"] for r in group], [r["reference"] for r in group], task_lang,
                                   task_settings, paper_predictions=paper_preds, paper_mask=mask)
            entry = {"lang": task_lang, "kind": "generation", "n": len(group), "metrics": res.aggregates,
                     "n_empty_predictions": res.info["n_empty_predictions"],
                     "n_empty_references": res.info["n_empty_references"],
                     "n_dropped": res.info["paper"]["n_dropped"] if res.info["paper"] else 0,
                     "bertscore": res.info["bertscore"], "info": res.info}
        entry["truncated"] = sum(is_truncated(r) for r in group)  # a generation fact, beside the statuses
        for name, key in (("status", "status_counts"), ("paper_status", "paper_status_counts")):
            if any(name in r for r in group):
                entry[key] = dict(Counter(str(r.get(name)) for r in group))
        results[task] = entry
        for i, scores in zip(idx, res.per_sample):
            lines[i] = {"id": records[i]["id"], "task": task, "scores": scores}
    return lines, results  # type: ignore[return-value]


def write_scores(out_dir: str | Path, lines: list[dict], task_results: dict[str, TaskResults],
                 settings: MetricSettings, extra: dict | None = None) -> tuple[Path, Path]:
    """Write out_dir/scores.jsonl and out_dir/results.json (psybench.runfiles); returns their paths."""
    from psybench import __version__
    from psybench.runfiles import write_results
    from psybench.runfiles import write_scores as write_score_lines

    results = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "psybench_version": __version__,
               **(extra or {}), "metric_settings": settings.as_dict(), "tasks": task_results}
    return write_score_lines(out_dir, lines), write_results(out_dir, results)
