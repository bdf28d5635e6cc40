"""Pairwise verdicts: two replies to the same turn, judged in both orders (A/B, then B/A). A verdict that
changes with the order is a tie (position bias must not decide), and the share of such flips is reported
as the order inconsistency. Used by `psybench judge --pairwise RUN_A RUN_B` (the shape of the paper's
Table 7) and by `judge validate` (the gold reply against each contrast)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from psybench.judge.engine import JudgeRequest
from psybench.judge.parse import parse_pairwise
from psybench.judge.results import ci_entry
from psybench.judge.rubric import Rubric, pairwise_messages, pairwise_schema

ORDERS = ("xy", "yx")  # x shown as A first, then y as A


def pair_requests(rubric: Rubric, context: str, reply_x: str, reply_y: str, rid: str) -> list[JudgeRequest]:
    def parse(text: str) -> dict[str, str]:
        return parse_pairwise(text, rubric)

    schema = pairwise_schema(rubric)
    return [JudgeRequest(f"{rid}|xy", pairwise_messages(rubric, context, reply_x, reply_y), schema, parse),
            JudgeRequest(f"{rid}|yx", pairwise_messages(rubric, context, reply_y, reply_x), schema, parse)]


@dataclass(frozen=True)
class PairVerdict:
    """x against y on each dimension: 1 x wins, 0.5 tie (or order-dependent), 0 y wins."""

    outcome: dict[str, float]
    consistent: dict[str, bool]  # the two orders agreed (a tie in both counts as agreeing)


def combine(xy: dict[str, str] | None, yx: dict[str, str] | None) -> PairVerdict | None:
    """None when either order's answer was invalid."""
    if xy is None or yx is None:
        return None
    outcome, consistent = {}, {}
    for dim, first in xy.items():
        # in order yx, reply x is shown as B
        second = {"A": "B", "B": "A", "tie": "tie"}[yx.get(dim, "tie")]
        same = first == second
        consistent[dim] = same
        outcome[dim] = (1.0 if first == "A" else 0.0 if first == "B" else 0.5) if same else 0.5
    return PairVerdict(outcome, consistent)


def summarise(verdicts: Sequence[PairVerdict | None], dims: Sequence[str]) -> dict[str, Any]:
    """Per dimension win/tie/loss rates of x with CIs, the preference (wins + ties/2), the order
    inconsistency, and an overall preference (the mean over dimensions per pair)."""
    valid = [v for v in verdicts if v is not None]
    out: dict[str, Any] = {"n_pairs": len(verdicts), "n_valid": len(valid), "invalid": len(verdicts) - len(valid)}
    per_dim = {}
    for dim in dims:
        outcomes = np.array([v.outcome[dim] for v in valid if dim in v.outcome])
        flips = np.array([0.0 if v.consistent[dim] else 1.0 for v in valid if dim in v.consistent])
        entry = {}
        for name, values in (("win", outcomes == 1.0), ("tie", outcomes == 0.5), ("loss", outcomes == 0.0)):
            entry[name] = ci_entry(values.astype(float))
        entry["preference"] = ci_entry(outcomes)
        entry["order_inconsistency"] = ci_entry(flips)
        per_dim[dim] = entry
    out["dimensions"] = per_dim
    overall = np.array([np.mean([v.outcome[d] for d in dims if d in v.outcome]) for v in valid]) if valid else np.array([])
    out["preference"] = ci_entry(overall)
    consistency = np.array([np.mean([v.consistent[d] for d in dims if d in v.consistent]) for v in valid]) \
        if valid else np.array([])
    out["order_consistency"] = ci_entry(consistency)
    return out


def judge_pairwise(run_a, run_b, settings, out_dir) -> dict[str, Any]:
    """Every reply both runs gave to the same sample, judged pairwise in both orders by each judge; the
    judgments appended to OUT/judgments.jsonl (resumable), the summary written to OUT/pairwise.json."""
    import json
    from pathlib import Path

    from psybench.errors import PredictionsError
    from psybench.judge.engine import Judge
    from psybench.judge.items import items_from_predictions
    from psybench.judge.rubric import context_text, load_rubric
    from psybench.runfiles import JUDGMENTS_FILE, PREDICTIONS_FILE, PredictionsWriter, atomic_write_text, read_predictions

    run_a, run_b, out_dir = Path(run_a), Path(run_b), Path(out_dir)
    loaded = []
    for run in (run_a, run_b):
        path = run / PREDICTIONS_FILE
        records = read_predictions(path)
        if not records:
            raise PredictionsError(f"{path}: no predictions to judge")
        loaded.append((path, records))
    items_a, _ = items_from_predictions(loaded[0][1], loaded[0][0], settings.data_dir)
    items_b = {i.id: i for i in items_from_predictions(loaded[1][1], loaded[1][0], settings.data_dir)[0]}
    shared = [i for i in items_a if i.id in items_b]
    if settings.limit is not None:
        shared = shared[:settings.limit]
    if not shared:
        raise PredictionsError(f"{run_a} and {run_b}: no sample judged in both (different tasks, languages or splits?)")
    lang = shared[0].lang
    rubric = load_rubric(lang, settings.rubric)
    dims = [d.name for d in rubric.dimensions if not d.needs_reasoning]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / JUDGMENTS_FILE
    existing = read_predictions(path, repair=True, key="key")
    summary: dict[str, Any] = {"run_a": str(run_a), "run_b": str(run_b), "rubric": rubric.describe(), "judges": {}}
    for spec in settings.judges:
        judge = Judge(spec, rubric, cache_path=settings.cache, use_cache=settings.use_cache, structured=settings.structured,
                      max_tokens=settings.max_tokens, executor=settings.executor)
        prefix = judge.line_prefix()
        done = {line["key"]: line for line in existing if line["key"].startswith(prefix)}
        requests = []
        for item in shared:
            context = context_text(rubric, item.background, item.history, item.omitted)
            requests += pair_requests(rubric, context, item.reply, items_b[item.id].reply, item.id)
        todo = [r for r in requests if prefix + r.id not in done]
        writer = PredictionsWriter(path, set(done), key="key")
        try:
            def on_answer(answer) -> None:
                line = {"key": prefix + answer.request.id, "id": answer.request.id.rsplit("|", 1)[0],
                        "request_id": answer.request.id, "kind": "pairwise", "judge": spec.label,
                        "rubric_sha256": rubric.sha256, "valid": answer.value is not None, "verdicts": answer.value,
                        "attempts": answer.attempts, "problem": answer.problem, "cached": answer.cached,
                        "raw_output": answer.raw}
                writer.write(line)
                done[line["key"]] = line

            if todo:
                judge.answer(todo, on_answer)
            info = judge.info()
            counts = {"calls": judge.tally.calls, "cache_hits": judge.tally.cache_hits, "retries": judge.tally.retries}
        finally:
            writer.close()
            judge.close()
        verdicts = [combine(done.get(f"{prefix}{i.id}|xy", {}).get("verdicts"), done.get(f"{prefix}{i.id}|yx", {}).get("verdicts"))
                    for i in shared]
        summary["judges"][spec.label] = {"judge": info, "counts": counts, **summarise(verdicts, dims)}
    atomic_write_text(out_dir / "pairwise.json", json.dumps(summary, ensure_ascii=False, indent=1))
    return summary


def format_pairwise(summary: dict[str, Any]) -> str:
    lines = [f"A = {summary['run_a']}   B = {summary['run_b']}   (each pair judged in both orders; a verdict that "
             "changes with the order is a tie)"]
    for label, s in summary["judges"].items():
        lines.append(f"judge {label}: {s['n_valid']} of {s['n_pairs']} pairs valid")
        lines.append(f"  {'dimension':<16} {'A wins':<22} {'tie':<22} {'B wins':<22} order flips")
        for dim, e in s["dimensions"].items():
            def cell(x: dict[str, Any]) -> str:
                return "-" if x["value"] is None else f"{x['value']:.2f} [{x['ci_low']:.2f}, {x['ci_high']:.2f}]"
            lines.append(f"  {dim:<16} {cell(e['win']):<22} {cell(e['tie']):<22} {cell(e['loss']):<22} "
                         f"{cell(e['order_inconsistency'])}")
    return "\n".join(lines)
