"""`psybench judge --references`: the gold therapist replies of a split, written as a run directory
(predictions = the references, model "Human") so they are judged, reported and compared like a model's
run: the "Human" row of the paper's Table 6."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from psybench import __version__
from psybench.errors import ConfigError
from psybench.judge.items import items_from_samples
from psybench.runfiles import (PREDICTIONS_FILE, RESULTS_FILE, PredictionsWriter, read_manifest, write_manifest,
                               write_results)

HUMAN_MODEL = "Human (gold replies)"


def references_run(out: Path, tasks: tuple[str, ...], lang: str, split: str, turns: str, data_dir: Path | None,
                   limit: int | None) -> Path:
    """Write (or reuse) a run directory of the gold replies; returns it."""
    from psybench.tasks import build_samples

    out.mkdir(parents=True, exist_ok=True)
    config = {"model": HUMAN_MODEL, "backend": "references", "tasks": list(tasks), "lang": lang, "split": split,
              "turns": turns, "limit": limit}
    old = read_manifest(out)
    if old is not None and old.get("config") == config and (out / RESULTS_FILE).is_file():
        return out  # already written: keep the judges' numbers it holds
    per_task = {}
    path = out / PREDICTIONS_FILE
    if path.exists():
        path.unlink()  # another selection: rebuilt from the data
    writer = PredictionsWriter(path)
    try:
        for task in tasks:
            items = items_from_samples(build_samples(task, lang, split=split, turns=turns, data_dir=data_dir),
                                       data_dir, limit)
            if not items:
                raise ConfigError(f"--references --tasks {task}: no therapist replies to judge (a label task?)")
            for i in items:
                writer.write({"id": i.id, "task": task, "lang": lang, "dialog_id": i.dialog_id,
                              "turn_index": i.turn_index, "prediction": i.reply, "reference": i.reply,
                              "reasoning": i.reasoning or "", "status": "ok", "meta": {"kind": "generation"}})
            per_task[task] = {"lang": lang, "split": split, "turns": turns, "n": len(items), "metrics": {}}
    finally:
        writer.close()
    write_results(out, {"run_id": out.name, "model": HUMAN_MODEL, "backend": "references",
                        "created": datetime.now(timezone.utc).isoformat(), "psybench_version": __version__,
                        "tasks": per_task})
    write_manifest(out, {"run_id": out.name, "psybench_version": __version__, "config": config,
                         "model_fingerprint": "references", "counts": {"samples": {t: v["n"] for t, v in per_task.items()}}})
    return out
