"""A run directory's files, read and written in one place (docs/ARCHITECTURE.md "A run directory"):
predictions.jsonl (appended as outputs arrive), scores.jsonl, results.json and manifest.json.

- One JSONL reader, one error format: `PATH:LINE: problem` (bytes that are not UTF-8 too), a PredictionsError.
- Every whole-file write is atomic (a temporary file, then a rename): a kill never leaves a torn file.
- results.json and manifest.json carry `schema_version` (SCHEMA_VERSION); files written before it existed
  read as version 0.
- `load_run(path) -> RunDir` opens a finished run for the report, leaderboard, table5 and compare."""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypedDict

from psybench.errors import PredictionsError
from psybench.jsonl import iter_jsonl, read_json

PREDICTIONS_FILE = "predictions.jsonl"
SCORES_FILE = "scores.jsonl"
RESULTS_FILE = "results.json"
MANIFEST_FILE = "manifest.json"
JUDGMENTS_FILE = "judgments.jsonl"  # psybench judge: one line per judgment, appended as they arrive
SCHEMA_VERSION = 1  # of results.json and manifest.json; raise it when a field changes meaning
FSYNC_INTERVAL_S = 0.5  # predictions: flush every line (survives kill -9); fsync at most this often


# ---- the records (JSON documents: TypedDicts type them where they flow, with no conversion layer) ----
class MetricValue(TypedDict):
    value: float | None  # None: no sample to average (JSON has no NaN)
    ci_low: float | None
    ci_high: float | None
    n: int
    level: str  # "sample" | "corpus"


class TaskResults(TypedDict, total=False):
    lang: str
    kind: str  # "generation" | "classification"
    split: str | None
    turns: str | None
    prompt_style: str | None
    n: int
    status_counts: dict[str, int]
    paper_status_counts: dict[str, int]
    truncated: int
    n_dropped: int
    n_empty_predictions: int
    n_empty_references: int
    n_unparseable: int
    bertscore: dict[str, Any] | None
    metrics: dict[str, MetricValue]
    info: dict[str, Any]


class RunResults(TypedDict, total=False):
    schema_version: int
    run_id: str
    model: str | None
    backend: str | None
    created: str
    psybench_version: str
    source: str  # `psybench score`: the predictions file
    metric_settings: dict[str, Any]
    tasks: dict[str, TaskResults]


class Manifest(TypedDict, total=False):
    schema_version: int
    run_id: str
    psybench_version: str
    created: str
    config: dict[str, Any]  # RunConfig.generation_identity()
    task_hashes: dict[str, str]
    task_spec_hashes: dict[str, str]
    task_metrics: dict[str, list[str]]
    split_hashes: dict[str, str]
    model_fingerprint: str | None
    backend_info: dict[str, Any] | None
    backend_started: bool
    versions: dict[str, str | None]
    git_commit: str | None
    hardware: dict[str, Any]
    timings: dict[str, float]
    counts: dict[str, Any]
    metric_settings: dict[str, Any]


# ---- reading -------------------------------------------------------------------------------------
def read_jsonl(path: str | Path, *, blank_lines: bool = True) -> list[dict[str, Any]]:
    """Every line of a JSONL file as a dict. `blank_lines=False` makes a blank line an error (files a
    user hands in, where line numbers must stay exact). Errors: `PATH:LINE: problem`."""
    return [row for _, row in numbered_rows(path, blank_lines=blank_lines)]


def numbered_rows(path: str | Path, *, blank_lines: bool = True) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each line of a JSONL file (read_jsonl's rules)."""
    rows = []
    for number, row in iter_jsonl(path, PredictionsError, blank_lines=blank_lines):
        if not isinstance(row, dict):
            raise PredictionsError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def read_json_object(path: str | Path, hint: str = "") -> dict[str, Any]:
    """A JSON file holding one object. Errors: `PATH:LINE: problem`."""
    data = read_json(path, PredictionsError, hint)
    if not isinstance(data, dict):
        raise PredictionsError(f"{path}:1: expected a JSON object at the top level")
    return data


def repair_torn_line(path: Path, repair: bool) -> None:
    """A last line without its newline is a write cut by a kill: cut it away (`repair`: it is generated
    again) or name it."""
    with path.open("rb") as fh:  # the last byte first: a whole file is read only when its last line is torn
        if fh.seek(0, os.SEEK_END) == 0:
            return
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
    data = path.read_bytes()
    if not repair:
        line = data.count(b"\n") + 1
        raise PredictionsError(f"{path}:{line}: incomplete last line (generation was interrupted); rerun the "
                               "generate stage to finish it")
    with path.open("r+b") as fh:
        fh.truncate(data.rfind(b"\n") + 1)
        fh.flush()
        os.fsync(fh.fileno())


def read_predictions(path: str | Path, repair: bool = False, key: str = "id") -> list[dict[str, Any]]:
    """A run's predictions.jsonl ([] when absent): every record an object with a string `id`, no id
    twice; a torn last line repaired or named (repair_torn_line). judgments.jsonl: key="key"."""
    path = Path(path)
    if not path.is_file():
        return []
    repair_torn_line(path, repair)
    records = []
    seen: dict[str, int] = {}
    for number, record in numbered_rows(path):
        if not isinstance(record.get(key), str):
            raise PredictionsError(f"{path}:{number}: expected a JSON object with a string {key!r}")
        if record[key] in seen:
            raise PredictionsError(f"{path}:{number}: {key} {record[key]!r} already on line {seen[record[key]]}")
        seen[record[key]] = number
        records.append(record)
    return records


def read_manifest(run_dir: str | Path) -> Manifest | None:
    path = Path(run_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    return read_json_object(path, "; fix it or rerun with --overwrite")  # type: ignore[return-value]


# ---- writing -------------------------------------------------------------------------------------
def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write through a temporary file in the same folder, then rename: readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def with_schema(data: dict[str, Any]) -> dict[str, Any]:
    """The object with `schema_version` first (results.json, manifest.json)."""
    return {"schema_version": SCHEMA_VERSION, **{k: v for k, v in data.items() if k != "schema_version"}}


def write_manifest(run_dir: str | Path, manifest: Manifest) -> Path:
    return write_json(Path(run_dir) / MANIFEST_FILE, with_schema(manifest))


def write_results(run_dir: str | Path, results: RunResults) -> Path:
    return write_json(Path(run_dir) / RESULTS_FILE, with_schema(results))


def write_scores(run_dir: str | Path, lines: Iterable[dict[str, Any]]) -> Path:
    return atomic_write_text(Path(run_dir) / SCORES_FILE,
                             "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))


class PredictionsWriter:
    """Appends one JSON line per record to predictions.jsonl (or judgments.jsonl: `key` names the field
    that identifies a line); thread-safe; never writes a key twice."""

    def __init__(self, path: Path, done: Iterable[str] = (), key: str = "id") -> None:
        self.path = path
        self.key = key
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._written = set(done)
        self._last_sync = time.monotonic()

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._written

    def write(self, record: dict[str, Any]) -> bool:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if record[self.key] in self._written:
                return False
            self._fh.write(line)
            self._fh.flush()
            if time.monotonic() - self._last_sync >= FSYNC_INTERVAL_S:
                os.fsync(self._fh.fileno())
                self._last_sync = time.monotonic()
            self._written.add(record[self.key])
            return True

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


# ---- a finished run ----------------------------------------------------------------------------------
@dataclass
class RunDir:
    path: Path
    results: RunResults
    manifest: Manifest = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.results.get("run_id") or self.path.name)

    @property
    def model(self) -> str:
        return str(self.results.get("model", ""))

    @property
    def schema_version(self) -> int:
        return int(self.results.get("schema_version", 0))

    @property
    def tasks(self) -> dict[str, TaskResults]:
        return self.results["tasks"]

    def task(self, name: str | None) -> tuple[str, TaskResults]:
        """(task name, task results); `name=None` is allowed when the run holds one task."""
        if name is None:
            if len(self.tasks) != 1:
                raise PredictionsError(f"{self.path / RESULTS_FILE}: holds tasks {sorted(self.tasks)}; "
                                       "choose one with --task")
            name = next(iter(self.tasks))
        if name not in self.tasks:
            raise PredictionsError(f"{self.path / RESULTS_FILE}: no task {name!r} "
                                   f"(tasks: {', '.join(sorted(self.tasks))})")
        return name, self.tasks[name]

    @cached_property
    def predictions(self) -> list[dict[str, Any]]:
        path = self.path / PREDICTIONS_FILE
        return read_jsonl(path) if path.is_file() else []

    @cached_property
    def scores(self) -> list[dict[str, Any]]:
        """scores.jsonl lines; each is checked for `id` and a `scores` object."""
        path = self.path / SCORES_FILE
        if not path.is_file():
            return []
        rows = read_jsonl(path)
        for number, row in enumerate(rows, 1):
            if "id" not in row or not isinstance(row.get("scores"), dict):
                raise PredictionsError(f"{path}:{number}: lacks 'id' or a 'scores' object")
        return rows


def load_run(path: Path | str) -> RunDir:
    """Open a run directory; it must hold results.json with a `tasks` object."""
    path = Path(path)
    if not path.is_dir():
        raise PredictionsError(f"{path}: no such run directory")
    results_path = path / RESULTS_FILE
    if not results_path.is_file():
        raise PredictionsError(f"{path}: no results.json (the run did not finish scoring; "
                               "run `psybench run` again to resume)")
    results = read_json_object(results_path)
    version = results.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise PredictionsError(f"{results_path}: schema_version {version!r} is newer than this psybench reads "
                               f"({SCHEMA_VERSION}); upgrade psybench")
    tasks = results.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        raise PredictionsError(f"{results_path}: field 'tasks' is missing or empty")
    for name, task in tasks.items():
        if not isinstance(task, dict) or not isinstance(task.get("metrics"), dict):
            raise PredictionsError(f"{results_path}: tasks.{name}.metrics is missing or not an object")
    manifest = read_manifest(path) or {}
    return RunDir(path=path, results=results, manifest=manifest)
