"""What `psybench run` prints when it ends: per task, Table 5's six columns in both metric modes side
by side (value, 95% CI, N), or the headline classification metrics; what happened to the outputs
(truncated at the token limit, no speaker marker, dropped by paper mode); then where the full results,
the per-sample file and the HTML report are, and the command that opens the report. The full key list
stays in results.json (`psybench run --verbose` prints it)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from psybench.constants import TABLE5_COLUMNS
from psybench.report.keys import table5_keys
from psybench.runfiles import RunResults, TaskResults

CLASSIFICATION_HEADLINE = ("cls.accuracy", "cls.macro_f1", "cls.example_f1", "cls.unparseable_rate")


def _cell(metric: dict[str, Any] | None) -> str:
    if not isinstance(metric, dict) or metric.get("value") is None:
        return "-"
    text = f"{metric['value']:.3f}"
    if metric.get("ci_low") is not None and metric.get("ci_high") is not None:
        text += f" [{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]"
    return text


def _n(metrics: dict[str, Any], keys: list[str]) -> str:
    ns = {metrics[k].get("n") for k in keys if isinstance(metrics.get(k), dict)}
    return "/".join(str(n) for n in sorted(x for x in ns if x is not None)) or "-"


def outcome_line(res: TaskResults) -> str:
    """How the outputs ended: N, truncated, extraction statuses of both modes."""
    n = res.get("n", 0)
    parts = [f"N {n}"]
    if res.get("truncated") is not None:
        parts.append(f"truncated at the token limit {res['truncated']}")
    for label, key in (("corrected", "status_counts"), ("paper", "paper_status_counts")):
        counts = {k: v for k, v in (res.get(key) or {}).items() if k != "ok" and v}
        if counts:
            parts.append(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=str)))
    return " · ".join(parts)


def print_summary(results: RunResults, run_dir: Path, report_path: Path | None = None,
                  console: Any = None) -> None:
    """Print the short summary of a scored run (see the module doc)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    for task, res in results.get("tasks", {}).items():
        metrics = res.get("metrics", {})
        title = escape(f"{results.get('model')} · {task} ({res.get('lang')}, {res.get('split')} split, "
                       f"turns {res.get('turns')})")
        table = Table(title=title, caption=escape(outcome_line(res)))
        paper = table5_keys("paper", metrics)
        corrected = table5_keys("corrected", metrics)
        if paper or corrected:
            table.add_column("Table 5 column")
            table.add_column("paper mode [95% CI]", justify="right")
            table.add_column("N", justify="right")
            table.add_column("corrected mode [95% CI]", justify="right")
            table.add_column("N", justify="right")
            for column in TABLE5_COLUMNS:
                p, c = paper.get(column), corrected.get(column)
                table.add_row(column, escape(_cell(metrics.get(p))), _n(metrics, [p] if p else []),
                              escape(_cell(metrics.get(c))), _n(metrics, [c] if c else []))
        else:
            table.add_column("metric")
            table.add_column("value [95% CI]", justify="right")
            table.add_column("N", justify="right")
            for key in CLASSIFICATION_HEADLINE:
                if key in metrics:
                    table.add_row(escape(key), escape(_cell(metrics[key])), _n(metrics, [key]))
        console.print(table)
    # plain prints: rich would wrap long paths at the terminal width, and these lines are for copying
    run_dir = Path(run_dir)
    print(f"full results (every metric key): {run_dir / 'results.json'}")
    print(f"per sample: {run_dir / 'predictions.jsonl'} (outputs), {run_dir / 'scores.jsonl'} (scores)")
    if report_path is not None:
        print(f"HTML report: {report_path}")
        print(f"open it: python -m webbrowser -t {Path(report_path).resolve().as_uri()}")


def results_table(results: RunResults, console: Any = None) -> None:
    """Every metric key of every task (value, CI, N, level): what `psybench score` prints and
    `psybench run --verbose` adds after the summary. One renderer for both."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    for task, res in results.get("tasks", {}).items():
        where = ", ".join(str(x) for x in (res.get("lang"), res.get("split") and f"{res['split']} split",
                                           res.get("turns") and f"turns {res['turns']}") if x)
        model = f"{results['model']} · " if results.get("model") else ""
        table = Table(title=escape(f"{model}{task} ({where})"), caption=escape(outcome_line(res)))
        for col in ("metric", "value", "95% CI", "n", "level"):
            table.add_column(col, justify="left" if col in ("metric", "level") else "right")
        for key, m in res.get("metrics", {}).items():
            if not isinstance(m, dict):
                table.add_row(escape(key), escape(_fmt(m)), "", "", "")
                continue
            ci = f"[{_fmt(m.get('ci_low'))}, {_fmt(m.get('ci_high'))}]" if m.get("ci_low") is not None else ""
            # escape: "[all-MiniLM-L6-v2:L5]" in a key would otherwise be read as rich markup and vanish
            table.add_row(escape(key), _fmt(m.get("value")), escape(ci), str(m.get("n", "")), str(m.get("level", "")))
        console.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def judge_rows(results: RunResults) -> list[tuple[str, str, dict[str, Any]]]:
    """(task, judge label, {dimension or rate: metric entry}) for every judge key in results."""
    from psybench.judge.results import JUDGE_KEY_RE

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for task, res in results.get("tasks", {}).items():
        for key, metric in res.get("metrics", {}).items():
            match = JUDGE_KEY_RE.match(key)
            if match:
                rows.setdefault((task, match["label"]), {})[match["name"]] = metric
    return [(task, label, entries) for (task, label), entries in sorted(rows.items())]


def judge_table(run_dir: Path, summary: Any = None) -> str:
    """What `psybench judge` prints: per task and judge, each dimension's mean [CI] (n), the share of
    replies flagged for an ethical risk and of judgments left unreadable; then the judge's validation."""
    from psybench.constants import JUDGE_DIMENSIONS
    from psybench.runfiles import load_run

    run = load_run(run_dir)
    lines = [f"{run.path}  ({run.model})"]
    header = ["task", "judge", *JUDGE_DIMENSIONS, "ethical risk", "invalid"]
    table = [header]
    for task, label, entries in judge_rows(run.results):
        cells = [task, label]
        for name in (*JUDGE_DIMENSIONS, "ethical_risk_rate", "invalid_rate"):
            m = entries.get(name)
            cells.append("n/a" if m is None and name == "explainability" else
                         "-" if m is None or m.get("value") is None else
                         f"{m['value']:.2f} [{m['ci_low']:.2f}, {m['ci_high']:.2f}] n={m['n']}")
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in table]
    for label, info in (run.results.get("judges") or {}).items():
        counts = info.get("counts", {})
        validation = info.get("validation") or {}
        status = validation["warning"] if validation.get("warning") else \
            ("validated" if validation.get("status") == "validated" else
             f"not validated (run `psybench judge validate --judge-model ... --lang {info.get('rubric', {}).get('lang', 'en')}`)")
        lines.append(f"judge {label}: {counts.get('calls', 0)} calls, {counts.get('cache_hits', 0)} cache hits, "
                     f"{counts.get('retries', 0)} retries this pass; rubric {info.get('rubric', {}).get('sha256', '')[:12]}; "
                     f"{status}")
        flags = info.get("flags") or {}
        if flags.get("flagged"):
            lines.append(f"  {flags['flagged']} replies flagged for an ethical risk; the quoted span is in the reply "
                         f"for {flags.get('span_in_reply', 0)} of them")
        lines += [f"  warning: {w}" for w in info.get("warnings") or ()]
    if run.results.get("judge_agreement"):
        lines.append("agreement across judges/repeats: results.json `judge_agreement`")
    lines.append(f"judgments: {run.path / 'judgments.jsonl'}")
    return "\n".join(lines)
