"""`psybench judge RUN_DIR`: every reply of a finished run judged by each judge (and each repeat), the
answers appended to RUN_DIR/judgments.jsonl as they arrive, then aggregated into results.json and
scores.jsonl (judge/results.py). Resumable like generation: a line per judgment, keyed by judge, rubric
hash and request id; a rerun asks only for what is missing and the cache answers what was asked before."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psybench.constants import JUDGE_MAX_TOKENS
from psybench.errors import PredictionsError
from psybench.judge.engine import Judge, JudgeAnswer, JudgeRequest, JudgeSpec
from psybench.judge.items import JudgeItem, items_from_predictions
from psybench.judge.parse import Judgment, parse_pointwise
from psybench.judge.results import collect, merge_into_run
from psybench.judge.rubric import Rubric, context_text, load_rubric, pointwise_messages, pointwise_schema
from psybench.runfiles import (JUDGMENTS_FILE, PREDICTIONS_FILE, PredictionsWriter, load_run, read_jsonl, read_manifest,
                               read_predictions, write_manifest, write_results, write_scores)


@dataclass
class JudgeSettings:
    judges: tuple[JudgeSpec, ...]
    repeats: int = 1
    limit: int | None = None  # the first N judgeable replies of each run
    rubric: Path | None = None  # None: rubrics/psy_insight_{lang}.yaml
    structured: bool = True
    cache: Path | None = None
    use_cache: bool = True
    data_dir: Path | None = None
    max_tokens: int = JUDGE_MAX_TOKENS
    progress: bool = True
    executor: Any = None  # psybench.executors.ExecutorSettings; None: one local engine


@dataclass
class JudgeRunSummary:
    run_dir: Path
    items: int
    skipped: dict[str, int]
    per_judge: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> tally, info, warnings


def item_request(rubric: Rubric, item: JudgeItem, repeat: int) -> JudgeRequest:
    with_reasoning = item.reasoning is not None
    context = context_text(rubric, item.background, item.history, item.omitted)
    messages = pointwise_messages(rubric, context, item.reply, item.reasoning)

    def parse(text: str) -> Judgment:
        return parse_pointwise(text, rubric, with_reasoning)

    rid = item.id if repeat == 0 else f"{item.id}~{repeat}"
    return JudgeRequest(rid, messages, pointwise_schema(rubric, with_reasoning), parse, repeat)


def judgment_line(answer: JudgeAnswer, item: JudgeItem, judge: Judge, kind: str = "pointwise") -> dict[str, Any]:
    value: Judgment | None = answer.value
    line = {"key": judge.line_prefix() + answer.request.id, "id": item.id,
            "request_id": answer.request.id, "kind": kind, "judge": judge.spec.label,
            "judge_fingerprint": judge.fingerprint, "rubric_sha256": judge.rubric.sha256, "task": item.task,
            "repeat": answer.request.repeat, "valid": value is not None, "attempts": answer.attempts,
            "problem": answer.problem, "cached": answer.cached, "raw_output": answer.raw}
    if value is not None:
        line.update(value.as_dict())
        span = value.risk_span
        line["ethical_risk"]["span_in_reply"] = None if span is None else span in item.reply
    return line


def _warn(message: str) -> None:
    print(f"psybench: warning: {message}", file=sys.stderr)


def judge_run(run_dir: Path | str, settings: JudgeSettings) -> JudgeRunSummary:
    from tqdm import tqdm

    from psybench.judge.validate import stored_validation

    run_dir = Path(run_dir)
    run = load_run(run_dir)  # scored first: results.json is where the judge's numbers go
    pred_path = run_dir / PREDICTIONS_FILE
    records = read_predictions(pred_path)
    if not records:
        raise PredictionsError(f"{pred_path}: no predictions to judge")
    lang = records[0].get("lang") or (run.manifest.get("config") or {}).get("lang") or "en"
    rubric = load_rubric(lang, settings.rubric)
    items, skipped = items_from_predictions(records, pred_path, settings.data_dir, settings.limit)
    if not items:
        raise PredictionsError(f"{pred_path}: no reply to judge ({', '.join(f'{k} {v}' for k, v in skipped.items() if v)} "
                               "left out: classification and auxiliary targets are not judged)")
    by_id = {i.id: i for i in items}
    out_path = run_dir / JUDGMENTS_FILE
    existing = read_predictions(out_path, repair=True, key="key")
    summary = JudgeRunSummary(run_dir, len(items), skipped)
    manifest = read_manifest(run_dir) or {}
    for spec in settings.judges:
        judge = Judge(spec, rubric, cache_path=settings.cache, use_cache=settings.use_cache,
                      structured=settings.structured, max_tokens=settings.max_tokens, executor=settings.executor)
        warnings = []
        try:
            prefix = judge.line_prefix()
            done = {line["key"] for line in existing if line["key"].startswith(prefix)}
            requests = [item_request(rubric, item, k) for k in range(settings.repeats) for item in items]
            requests = [r for r in requests if prefix + r.id not in done]
            writer = PredictionsWriter(out_path, done, key="key")
            bar = tqdm(total=len(requests), desc=f"judge {spec.label}", unit="judgment", file=sys.stderr,
                       disable=not settings.progress or not requests, dynamic_ncols=True)

            def on_answer(answer: JudgeAnswer) -> None:
                item = by_id[answer.request.id.split("~", 1)[0]]
                if writer.write(judgment_line(answer, item, judge)):
                    bar.update(1)

            try:
                if requests:
                    judge.answer(requests, on_answer)
            finally:
                bar.close()
                writer.close()
            if judge.fingerprint == manifest.get("model_fingerprint"):
                warnings.append(f"judge {spec.label} is the model that wrote these replies: self-preference "
                                "inflates its scores (docs/JUDGE.md)")
            info = {**judge.info(), "rubric": rubric.describe(), "repeats": settings.repeats,
                    "validation": stored_validation(judge.fingerprint, rubric), "warnings": warnings,
                    "counts": {"items": len(items), "calls": judge.tally.calls, "cache_hits": judge.tally.cache_hits,
                               "retries": judge.tally.retries, "invalid_this_pass": judge.tally.invalid,
                               "backend_started": judge.tally.backend_started}}
        finally:
            judge.close()
        for w in warnings:
            _warn(w)
        summary.per_judge[spec.label] = info
    _aggregate(run_dir, settings, rubric, set(by_id), summary)
    manifest.setdefault("judge", {}).update(
        {label: {k: info[k] for k in ("fingerprint", "backend", "model", "rubric", "repeats", "counts")}
         for label, info in summary.per_judge.items()})
    if manifest:
        write_manifest(run_dir, manifest)
    return summary


def _aggregate(run_dir: Path, settings: JudgeSettings, rubric: Rubric, ids: set[str], summary: JudgeRunSummary) -> None:
    run = load_run(run_dir)
    lines = [line for line in read_jsonl(run_dir / JUDGMENTS_FILE) if line.get("id") in ids]
    score_lines = list(run.scores)
    if not score_lines:  # a run scored before scores.jsonl existed, or a references directory
        score_lines = [{"id": r["id"], "task": r.get("task"), "scores": {}} for r in run.predictions]
    results = json.loads(json.dumps(run.results))
    labels = [s.label for s in settings.judges]
    for label in labels:
        fingerprint = summary.per_judge[label]["fingerprint"]
        items = collect(lines, label, rubric.sha256, fingerprint)
        flags = [x["ethical_risk"] for x in lines if x.get("judge") == label and x.get("judge_fingerprint") == fingerprint
                 and x.get("rubric_sha256") == rubric.sha256 and x.get("valid") and x["ethical_risk"].get("present")]
        # a flag whose quoted span is not in the reply is suspect (a judge copying the format's placeholder)
        summary.per_judge[label]["flags"] = {"flagged": len(flags),
                                             "span_in_reply": sum(1 for f in flags if f.get("span_in_reply"))}
        merge_into_run(results, score_lines, items, label, summary.per_judge[label])
    if len(labels) > 1 or settings.repeats > 1:
        from psybench.judge.agreement_report import agreement_by_task

        results["judge_agreement"] = agreement_by_task(
            lines, {label: summary.per_judge[label]["fingerprint"] for label in labels}, rubric.sha256, settings.repeats)
    write_scores(run_dir, score_lines)
    write_results(run_dir, results)
