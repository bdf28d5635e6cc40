"""Leaderboard CSVs under leaderboards/: one row per (model, task, lang, split, turns, prompt style,
metric mode, metric model, metric config), one CSV per task kind (generation, classification).

Writes are read-modify-write under an fcntl lock file and land with os.replace from a temp file in
the same directory, so concurrent writers serialise and a crash never leaves a half-written CSV."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from psybench.constants import EXTRACTION_FAILURES
from psybench.errors import ConfigError, PredictionsError
from psybench.paths import repo_root
from psybench.report.keys import parse_key
from psybench.runfiles import RunDir, load_run

# ---- The schema, in one place -------------------------------------------------------------------
KEY_COLUMNS = ("model", "task", "lang", "split", "turns", "prompt_style", "metric_mode", "metric_model",
               "metric_config")
INFO_COLUMNS = ("n", "n_scored", "extraction_failure_rate", "status_counts", "run_id", "date",
                "psybench_version", "backend")
CI_SUFFIXES = ("_ci_low", "_ci_high")
KINDS = ("generation", "classification")
LOCK_NAME = ".leaderboard.lock"
# metric_settings fields that change how fast scores are computed, not what they are
CONFIG_IGNORED = ("batch_size", "device", "workers", "progress", "modes")


def default_dir() -> Path:
    return repo_root() / "leaderboards"


def csv_path(directory: Path, kind: str) -> Path:
    return Path(directory) / f"{kind}.csv"


def metric_config_id(settings: Any) -> str:
    """Short stable hash of the run's metric settings: rows scored differently never share a key."""
    if isinstance(settings, dict):
        settings = {k: v for k, v in settings.items() if k not in CONFIG_IGNORED}
    blob = json.dumps(settings or {}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def _failure_rate(counts: dict[str, int] | None) -> tuple[float | None, str]:
    if not counts:
        return None, ""
    total = sum(int(v) for v in counts.values())
    failed = sum(int(counts.get(status, 0)) for status in EXTRACTION_FAILURES)
    rate = failed / total if total else None
    return rate, json.dumps(counts, sort_keys=True)


def rows_from_run(run: RunDir) -> list[tuple[str, dict[str, Any]]]:
    """(kind, row) for every task x metric mode x metric model of a run."""
    out = []
    settings_id = metric_config_id(run.results.get("metric_settings"))
    for task, res in run.tasks.items():
        groups: dict[str, dict[str, dict]] = {}  # mode -> key -> metric record
        for key, rec in res["metrics"].items():
            if not isinstance(rec, dict) or "value" not in rec:
                raise PredictionsError(f"{run.path / 'results.json'}: tasks.{task}.metrics.{key} lacks 'value'")
            groups.setdefault(parse_key(key).mode, {})[key] = rec
        for mode, metrics in sorted(groups.items()):
            kind = "classification" if mode == "cls" else "generation"
            parsed = {k: parse_key(k) for k in metrics}
            models = sorted({p.metric_model for p in parsed.values() if p.is_encoder_metric}) or [""]
            counts = res.get("paper_status_counts") if mode == "paper" else res.get("status_counts")
            rate, counts_text = _failure_rate(counts)
            for model in models:  # two encoders in one run -> two rows, never one mixed row
                row: dict[str, Any] = {
                    "model": run.model, "task": task, "lang": res.get("lang", ""), "split": res.get("split", ""),
                    "turns": res.get("turns", ""), "prompt_style": res.get("prompt_style", ""),
                    "metric_mode": mode, "metric_model": model, "metric_config": settings_id,
                    "n": res.get("n"), "extraction_failure_rate": rate, "status_counts": counts_text,
                    "run_id": run.run_id, "date": run.results.get("created", ""),
                    "psybench_version": run.results.get("psybench_version", ""),
                    "backend": run.results.get("backend", ""),
                }
                ns = []
                for key, rec in metrics.items():
                    p = parsed[key]
                    if p.is_encoder_metric and p.metric_model != model:
                        continue
                    row[p.column] = rec.get("value")
                    row[p.column + "_ci_low"] = rec.get("ci_low")
                    row[p.column + "_ci_high"] = rec.get("ci_high")
                    if rec.get("n") is not None:
                        ns.append(int(rec["n"]))
                row["n_scored"] = min(ns) if ns else res.get("n")
                out.append((kind, row))
    return out


def order_columns(columns: Iterable[str]) -> list[str]:
    """Key columns, info columns, then each metric followed by its CI bounds, metrics sorted."""
    columns = list(dict.fromkeys(columns))
    fixed = [*KEY_COLUMNS, *INFO_COLUMNS]
    metrics = sorted(c for c in columns if c not in fixed and not c.endswith(CI_SUFFIXES))
    ordered = list(fixed)
    for m in metrics:
        ordered += [m, m + "_ci_low", m + "_ci_high"]
    return ordered


def read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame(columns=list(KEY_COLUMNS + INFO_COLUMNS))
    try:
        frame = pd.read_csv(path, dtype={c: str for c in KEY_COLUMNS + ("run_id", "status_counts")},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise PredictionsError(f"{path}: not a readable leaderboard CSV ({str(err).splitlines()[0]})") from None
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise PredictionsError(f"{path}: not a psybench leaderboard (missing columns {', '.join(missing)})")
    for c in KEY_COLUMNS:
        frame[c] = frame[c].fillna("")
    return frame


def merge(frame: pd.DataFrame, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Add rows: a run's old rows go first, then any row with the same key (the newest wins)."""
    new = pd.DataFrame(rows)
    for c in KEY_COLUMNS:
        new[c] = new[c].fillna("").astype(str)
    if len(frame):
        frame = frame[~frame["run_id"].isin(set(new["run_id"]))]
        frame = pd.concat([frame, new], ignore_index=True) if len(frame) else new
    else:
        frame = new
    frame = frame.drop_duplicates(subset=list(KEY_COLUMNS), keep="last")
    frame = frame.reindex(columns=order_columns([*frame.columns]))
    return frame.sort_values(list(KEY_COLUMNS[:3]) + ["metric_mode"], kind="stable").reset_index(drop=True)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Exclusive inter-process lock for the leaderboard directory (blocks until free)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_NAME, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV via a temp file in the same directory and os.replace; the temp file never survives
    an exception, and the old file stays whole until the rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, float_format="%.6g")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remove_stale_temps(directory: Path) -> None:
    # Only called under the lock: a temp file now can only be left by a writer that was killed.
    for stale in directory.glob(".*.csv.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def add_runs(run_dirs: Iterable[Path | str], directory: Path | None = None) -> dict[str, int]:
    """Merge runs into the leaderboard CSVs; returns rows written per kind."""
    directory = Path(directory) if directory else default_dir()
    by_kind: dict[str, list[dict]] = {}
    for run_dir in run_dirs:  # read every run before touching any CSV
        for kind, row in rows_from_run(load_run(run_dir)):
            by_kind.setdefault(kind, []).append(row)
    with locked(directory):
        _remove_stale_temps(directory)
        for kind, rows in by_kind.items():
            path = csv_path(directory, kind)
            write_atomic(merge(read_csv(path), rows), path)
    return {kind: len(rows) for kind, rows in by_kind.items()}


def load(directory: Path | None = None, task: str | None = None) -> pd.DataFrame:
    directory = Path(directory) if directory else default_dir()
    frames = [read_csv(csv_path(directory, k)).assign(kind=k) for k in KINDS if csv_path(directory, k).is_file()]
    if not frames:
        raise ConfigError(f"{directory}: no leaderboard CSVs yet (run `psybench leaderboard add runs/NAME`)")
    frame = pd.concat(frames, ignore_index=True)
    if task:
        frame = frame[frame["task"] == task]
        if frame.empty:
            raise ConfigError(f"{directory}: no leaderboard rows for task {task!r}")
    return frame


def show(directory: Path | None = None, task: str | None = None, sort: str | None = None,
         ascending: bool = False) -> str:
    """The leaderboard as text: key columns, N, failure rate, then metric values (CIs left out)."""
    frame = load(directory, task)
    if sort:
        if sort not in frame.columns:
            metrics = [c for c in frame.columns if c not in KEY_COLUMNS + INFO_COLUMNS and not c.endswith(CI_SUFFIXES)]
            raise ConfigError(f"--sort {sort}: no such metric column (have: {', '.join(metrics)})")
        frame = frame.sort_values(sort, ascending=ascending, na_position="last")
    frame = frame.dropna(axis=1, how="all")
    cols = [c for c in frame.columns if not c.endswith(CI_SUFFIXES)
            and c not in ("status_counts", "metric_config", "date", "psybench_version", "backend", "kind")]
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 40):
        return frame[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
