"""The paper's Table 6 (human evaluation: mean rater scores of ChatGLM4-9B variants and the human
therapists on Interactivity, Helpfulness, Comfort, Explainability) beside psybench's judged rows: one
row per run, task and judge, named. The caveat is printed with it: the paper's raters were people (10
students, 5 experts, 60 responses, their own scale normalisation), psybench's are models on the
rubric in rubrics/, so the numbers are side by side, not comparable."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from psybench.constants import JUDGE_DIMENSIONS, TABLE6_ROWS

CAVEAT = ("The paper's rows are human raters' means (10 students and 5 experts on 60 responses, ChatGLM4-9B, zh); "
          "psybench's rows are a model judge's means on its rubric (rubrics/). Raters, items and scale anchors differ: "
          "read them side by side, not as one scale.")


def table6_rows(run_dirs: Sequence[Path | str]) -> list[list[str]]:
    from psybench.report.summary import judge_rows
    from psybench.runfiles import load_run

    rows = [["paper: " + model, "", *(f"{v:.2f}" for v in values), ""] for model, values in TABLE6_ROWS.items()]
    for path in run_dirs:
        run = load_run(path)
        for task, label, entries in judge_rows(run.results):
            cells = []
            for dim in JUDGE_DIMENSIONS:
                m = entries.get(dim)
                cells.append("n/a" if m is None else "-" if m.get("value") is None else
                             f"{m['value']:.2f} [{m['ci_low']:.2f}, {m['ci_high']:.2f}]")
            n = max((m.get("n") or 0) for m in entries.values()) if entries else 0
            rows.append([f"{run.model} ({run.run_id}, {task})", label, *cells, str(n)])
    return rows


def format_table6(run_dirs: Sequence[Path | str]) -> str:
    header = ["model", "judge", "Int.", "Help.", "Com.", "Exp.", "n"]
    rows = [header, *table6_rows(run_dirs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(["Table 6 (paper) beside psybench's judged runs", *lines, "", CAVEAT])
