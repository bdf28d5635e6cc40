"""Table 5 side by side: for each row and metric, the paper's value, psybench's paper-mode value,
psybench's corrected-mode value, and psybench paper-mode minus paper, with N and 95% CIs.

Runs are mapped to Table 5 rows explicitly (ROW=runs/X), by name (a run called `...ROW`, as
`psybench table5 --checkpoint` names them) or, when it is the only candidate, by (task, turns, lang)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from psybench.constants import TABLE5_COLUMNS, TABLE5_ROWS
from psybench.errors import ConfigError
from psybench.report.keys import table5_keys
from psybench.runfiles import RunDir, load_run

# Table 5's English rows use the authors' 81-row split; it has no Chinese rows, so the Chinese
# retrieval rows run on the seeded Chinese test split (the authors' Chinese split is unknown).
ROW_SPLIT = {"en": "table5", "zh": "seeded"}
MODES = ("paper", "corrected")
CSV_COLUMNS = ("row", "model", "training", "task", "lang", "turns", "metric", "paper",
               *(f"psybench_{m}{s}" for m in MODES for s in ("", "_ci_low", "_ci_high", "_n", "_key")),
               "diff_paper_mode", "run_id", "split")


@dataclass(frozen=True)
class RowRun:
    row: str
    run: RunDir
    task: str


def row_spec(row_id: str) -> dict[str, Any]:
    if row_id not in TABLE5_ROWS:
        raise ConfigError(f"unknown Table 5 row {row_id!r} (rows: {', '.join(TABLE5_ROWS)})")
    return TABLE5_ROWS[row_id]


def check_fits(row_id: str, run: RunDir) -> RowRun:
    row = row_spec(row_id)
    if row["task"] not in run.tasks:
        raise ConfigError(f"{run.path}: has no task {row['task']!r} needed by Table 5 row {row_id} "
                          f"(tasks: {', '.join(sorted(run.tasks))})")
    res = run.tasks[row["task"]]
    got = (res.get("turns"), res.get("lang"))
    if got != (row["turns"], row["lang"]):
        raise ConfigError(f"{run.path}: task {row['task']} ran with turns={got[0]} lang={got[1]}, but Table 5 row "
                          f"{row_id} needs turns={row['turns']} lang={row['lang']}")
    return RowRun(row_id, run, row["task"])


def map_runs(runs: list[Path | str], explicit: dict[str, Path | str] | None = None) -> dict[str, RowRun]:
    """Table 5 row id -> the run (and task) that fills it."""
    mapping: dict[str, RowRun] = {}
    for row_id, path in (explicit or {}).items():
        mapping[row_id] = check_fits(row_id, load_run(path))
    explicit_paths = {Path(p).resolve() for p in (explicit or {}).values()}
    for path in runs:
        if Path(path).resolve() in explicit_paths:
            continue
        run = load_run(path)
        named = [r for r in TABLE5_ROWS if run.run_id.endswith(r) or run.path.name.endswith(r)]
        if named:
            row_id = max(named, key=len)  # "x-mistral-sft-dialog" is that row, not a shorter suffix
        else:
            candidates = [r for r, row in TABLE5_ROWS.items() if row["task"] in run.tasks
                          and (run.tasks[row["task"]].get("turns"), run.tasks[row["task"]].get("lang"))
                          == (row["turns"], row["lang"])]
            if len(candidates) != 1:
                what = f"fits rows {', '.join(candidates)}" if candidates else "fits no Table 5 row (task, turns, lang)"
                raise ConfigError(f"{path}: {what}; name the row with --row ROW={path}")
            row_id = candidates[0]
        if row_id in mapping:
            raise ConfigError(f"{path}: Table 5 row {row_id} already has run {mapping[row_id].run.path}")
        mapping[row_id] = check_fits(row_id, run)
    return mapping


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def build_table5(mapping: dict[str, RowRun]) -> pd.DataFrame:
    """One line per (Table 5 row, metric), every row of the paper; psybench cells empty without a run."""
    lines = []
    for row_id, row in TABLE5_ROWS.items():
        filled = mapping.get(row_id)
        metrics = filled.run.tasks[filled.task]["metrics"] if filled else {}
        keys = {m: table5_keys(m, metrics) for m in MODES} if filled else {m: {} for m in MODES}
        for column, paper in zip(TABLE5_COLUMNS, row["values"]):
            line: dict[str, Any] = {"row": row_id, "model": row["model"], "training": row["training"],
                                    "task": row["task"], "lang": row["lang"], "turns": row["turns"],
                                    "metric": column, "paper": paper}
            for mode in MODES:
                key = keys[mode].get(column)
                rec = metrics.get(key, {}) if key else {}
                line[f"psybench_{mode}"] = _num(rec.get("value"))
                line[f"psybench_{mode}_ci_low"] = _num(rec.get("ci_low"))
                line[f"psybench_{mode}_ci_high"] = _num(rec.get("ci_high"))
                line[f"psybench_{mode}_n"] = rec.get("n")
                line[f"psybench_{mode}_key"] = key or ""
            ours = line["psybench_paper"]
            line["diff_paper_mode"] = None if ours is None or paper is None else round(ours - paper, 6)
            line["run_id"] = filled.run.run_id if filled else ""
            line["split"] = filled.run.tasks[filled.task].get("split", "") if filled else ""
            lines.append(line)
    frame = pd.DataFrame(lines, columns=list(CSV_COLUMNS))
    for mode in MODES:
        frame[f"psybench_{mode}_n"] = frame[f"psybench_{mode}_n"].astype("Int64")
    return frame


def _fmt(value: Any, digits: int = 3, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _cell(line: pd.Series, mode: str) -> str:
    value = line[f"psybench_{mode}"]
    if pd.isna(value):
        return "–"
    lo, hi, n = line[f"psybench_{mode}_ci_low"], line[f"psybench_{mode}_ci_high"], line[f"psybench_{mode}_n"]
    ci = f" [{_fmt(lo)}, {_fmt(hi)}]" if not pd.isna(lo) and not pd.isna(hi) else ""
    return f"{_fmt(value)}{ci}" + (f" (N={n})" if not pd.isna(n) else "")


def table5_markdown(frame: pd.DataFrame) -> str:
    out = ["# Table 5: the paper beside psybench", "",
           "psybench paper mode reproduces the authors' metric code (quirks included); corrected mode computes "
           "each metric the textbook way. Δ = psybench paper mode − paper. Cells: value [95% CI] (N). "
           "English rows use the `table5` split (the authors' 81 test rows); the Chinese RAG rows use the "
           "`seeded` zh split (Table 5's split is English-only). BERTScore depends on the encoder named in the "
           "key column of table5.csv (the paper used roberta-large L17).", "",
           "| row | task | turns | metric | paper | psybench (paper mode) | psybench (corrected) | Δ |",
           "|---|---|---|---|---|---|---|---|"]
    for _, line in frame.iterrows():
        label = f"{line['model']} {line['training']}" + (f" (`{line['run_id']}`)" if line["run_id"] else "")
        out.append(f"| {label} | {line['task']} ({line['lang']}) | {line['turns']} | {line['metric']} | "
                   f"{_fmt(line['paper'])} | {_cell(line, 'paper')} | {_cell(line, 'corrected')} | "
                   f"{_fmt(line['diff_paper_mode'], signed=True)} |")
    return "\n".join(out) + "\n"


def write_table5(frame: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "table5.csv", out_dir / "table5.md"
    frame.to_csv(csv_path, index=False, float_format="%.6g", lineterminator="\n")
    md_path.write_text(table5_markdown(frame), encoding="utf-8")
    return md_path, csv_path
