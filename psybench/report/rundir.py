"""Reading a finished run directory (manifest.json, predictions.jsonl, scores.jsonl, results.json).
Every problem is a PredictionsError naming the file and line, so the CLI reports it in one line."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from psybench.errors import PredictionsError
from psybench.jsonl import iter_jsonl, read_text


def _read_json(path: Path) -> dict[str, Any]:
    text = read_text(path, PredictionsError)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise PredictionsError(f"{path}: not valid JSON (line {err.lineno}: {err.msg})") from None
    if not isinstance(data, dict):
        raise PredictionsError(f"{path}: expected a JSON object at the top level")
    return data


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All lines of a JSONL file as dicts; blank lines skipped, a bad line named by its number."""
    rows = []
    for number, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise PredictionsError(f"{path}:{number}: expected a JSON object")
        rows.append(row)
    return rows


@dataclass
class RunDir:
    path: Path
    results: dict[str, Any]
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.results.get("run_id") or self.path.name)

    @property
    def model(self) -> str:
        return str(self.results.get("model", ""))

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.results["tasks"]

    def task(self, name: str | None) -> tuple[str, dict[str, Any]]:
        """(task name, task results); `name=None` is allowed when the run holds one task."""
        if name is None:
            if len(self.tasks) != 1:
                raise PredictionsError(f"{self.path / 'results.json'}: holds tasks {sorted(self.tasks)}; "
                                       "choose one with --task")
            name = next(iter(self.tasks))
        if name not in self.tasks:
            raise PredictionsError(f"{self.path / 'results.json'}: no task {name!r} "
                                   f"(tasks: {', '.join(sorted(self.tasks))})")
        return name, self.tasks[name]

    @cached_property
    def predictions(self) -> list[dict[str, Any]]:
        path = self.path / "predictions.jsonl"
        return read_jsonl(path) if path.is_file() else []

    @cached_property
    def scores(self) -> list[dict[str, Any]]:
        """scores.jsonl lines; each is checked for `id` and a `scores` object."""
        path = self.path / "scores.jsonl"
        if not path.is_file():
            return []
        rows = read_jsonl(path)
        for number, row in enumerate(rows, 1):
            if "id" not in row or not isinstance(row.get("scores"), dict):
                raise PredictionsError(f"{path}: record {number} lacks 'id' or a 'scores' object")
        return rows


def load_run(path: Path | str) -> RunDir:
    """Open a run directory; it must hold results.json with a `tasks` object."""
    path = Path(path)
    if not path.is_dir():
        raise PredictionsError(f"{path}: no such run directory")
    results_path = path / "results.json"
    if not results_path.is_file():
        raise PredictionsError(f"{path}: no results.json (the run did not finish scoring; "
                               "run `psybench run` again to resume)")
    results = _read_json(results_path)
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise PredictionsError(f"{results_path}: field 'tasks' is missing or empty")
    for name, task in tasks.items():
        if not isinstance(task, dict) or not isinstance(task.get("metrics"), dict):
            raise PredictionsError(f"{results_path}: tasks.{name}.metrics is missing or not an object")
    manifest_path = path / "manifest.json"
    manifest = _read_json(manifest_path) if manifest_path.is_file() else {}
    return RunDir(path=path, results=results, manifest=manifest)
