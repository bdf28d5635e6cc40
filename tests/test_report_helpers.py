"""Hand-written fixture run directories with known numbers (no real data), shared by the report,
leaderboard, table5, compare and browser tests."""
from __future__ import annotations

import json
from pathlib import Path

TOPICS = ("Family", "Work")
THERAPIES = ("Cognitive Behaviour Therapy", "Person-Centred Therapy")


def metric(value: float, half_width: float = 0.01, n: int = 4) -> dict:
    return {"value": value, "ci_low": round(value - half_width, 6), "ci_high": round(value + half_width, 6),
            "n": n, "level": 0.95}


def write_run(root: Path, name: str, *, model: str = "m", task: str = "dialog", lang: str = "en",
              split: str = "table5", turns: str = "last", metrics: dict | None = None,
              scores: dict[str, dict[str, float]] | None = None, status_counts: dict | None = None,
              paper_status_counts: dict | None = None, metric_settings: dict | None = None,
              created: str = "2026-11-22T03:00:00Z", extra_tasks: dict | None = None,
              texts: dict[str, str] | None = None, truncated: int | None = None) -> Path:
    """A run dir holding one task. `scores` maps sample id suffix -> {key: value}; `texts` optionally
    sets the prediction of a sample id suffix."""
    run = root / name
    run.mkdir(parents=True)
    scores = scores or {}
    n = len(scores) or 4
    task_res = {"lang": lang, "split": split, "turns": turns, "prompt_style": "paper", "n": n,
                "status_counts": status_counts or {"ok": n}, "paper_status_counts": paper_status_counts or {"ok": n},
                "metrics": metrics or {}}
    if truncated is not None:
        task_res["truncated"] = truncated
    results = {"run_id": name, "model": model, "backend": "replay", "created": created,
               "psybench_version": "0.1.0", "metric_settings": metric_settings or {"bertscore": "minilm"},
               "tasks": {task: task_res, **(extra_tasks or {})}}
    (run / "results.json").write_text(json.dumps(results, indent=1))
    (run / "manifest.json").write_text(json.dumps({"config": {"name": name}}))
    with (run / "scores.jsonl").open("w") as fh, (run / "predictions.jsonl").open("w") as ph:
        for i, (sid, per) in enumerate(scores.items()):
            fh.write(json.dumps({"id": f"{task}/{sid}", "task": task, "scores": per}) + "\n")
            ph.write(json.dumps({
                "id": f"{task}/{sid}", "task": task, "lang": lang, "dialog_id": sid.split("/")[0],
                "turn_index": int(sid.split("/")[1]), "reference": f"Therapist: reference <b>{i}</b> & more",
                "raw_output": f"Therapist: prediction {i} <script>alert(1)</script>", "finish_reason": "stop",
                "prediction": (texts or {}).get(sid, f"prediction {i} <script>alert(1)</script>"), "status": "ok",
                "paper_prediction": f"Therapist: prediction {i}", "paper_status": "ok",
                "observation": "", "reasoning": "", "labels": None, "gold_labels": [],
                "history_turns_cut": 0, "cached": False,
                "meta": {"topic": TOPICS[i % 2], "psychotherapy": THERAPIES[i % 2],
                         "context": f"Client: I feel stuck {i}."}}) + "\n")
    return run


def generation_metrics(base: float, encoder: str = "all-MiniLM-L6-v2:L5") -> dict:
    """Both metric modes, every Table 5 column; values base + offsets, so cells are predictable."""
    return {
        f"paper.bertscore_p[{encoder}]": metric(base + 0.8),
        "paper.bleu1_sentence_cumulative": metric(base + 0.1),
        "paper.bleu3_sentence_cumulative": metric(base + 0.02),
        "paper.meteor_swapped_jieba": metric(base + 0.3),
        "paper.rougeL_f_default_tokenizer": metric(base + 0.2),
        "paper.distinct2_corpus_div_n": metric(base + 0.005),
        f"corrected.bertscore_p[{encoder}]": metric(base + 0.7),
        "corrected.bleu1_corpus": metric(base + 0.15),
        "corrected.bleu3_corpus": metric(base + 0.03),
        "corrected.meteor": metric(base + 0.25),
        "corrected.rougeL_f": metric(base + 0.22),
        "corrected.distinct2_corpus": metric(base + 0.5),
    }
