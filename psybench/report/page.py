"""The HTML report: one self-contained page (inline CSS and JS, charts as base64 PNG data URIs; no
network needed to view it) plus the PNG charts saved beside it."""
from __future__ import annotations

import base64
import html
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from psybench import __version__
from psybench.constants import TABLE5_COLUMNS, TABLE5_ROWS
from psybench.report import charts
from psybench.report.keys import parse_key, table5_keys
from psybench.report.leaderboard import CI_SUFFIXES, rows_from_run
from psybench.runfiles import RunDir, load_run

N_EXAMPLES = 5  # example turns shown per run and task
MAX_CHARTS = 24  # per section, so a classification run with 40 labels stays readable
STATUS_COLUMNS = ("ok", "repeated", "no_marker", "empty", "unparseable")
BREAKDOWNS = (("topic", "Topic"), ("psychotherapy", "Psychotherapy"))
TABLE_COLUMNS = ("model", "task", "lang", "split", "turns", "metric_mode", "metric_model", "n", "n_scored",
                 "extraction_failure_rate", "run_id")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:2em}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:12px}.charts figure{margin:0;width:min(560px,100%)}
.charts img{width:100%;height:auto;border:1px solid #eee}
h3{font-size:1.05em;margin:1.2em 0 .3em}
table.summary th{font-weight:600}table.summary tbody th{background:#fafafa;white-space:nowrap}
table.summary td.num{white-space:nowrap}.ci{color:#666;font-size:11px}
@media (max-width:640px){body{margin:10px}table{font-size:12px}th,td{padding:3px 5px}}
.wide{overflow-x:auto}
.example{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0;background:#fafafa}
.example pre{white-space:pre-wrap;margin:2px 0 8px;font-size:12px}.muted{color:#777;font-size:12px}
"""

_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y), c;
        if (x === '' && y === '') c = 0; else if (x === '') c = 1; else if (y === '') c = -1;
        else if (!isNaN(nx) && !isNaN(ny)) c = asc ? nx - ny : ny - nx;
        else c = asc ? x.localeCompare(y) : y.localeCompare(x);
        return c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _fmt(value: Any) -> str:
    if _is_num(value):
        return f"{value:.4f}" if isinstance(value, float) else str(value)
    return "" if value is None else str(value)


def _table(headers: list[str], rows: list[list[Any]], sortable: bool = False, table_id: str = "") -> str:
    """An HTML table; cells carry data-v (the raw value) so the sorter compares numbers as numbers."""
    attrs = (' class="sortable"' if sortable else "") + (f' id="{_e(table_id)}"' if table_id else "")
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for v in row:
            raw = repr(float(v)) if _is_num(v) else ("" if v is None or (isinstance(v, float)) else str(v))
            cls = ' class="num"' if _is_num(v) else ""
            cells.append(f'<td{cls} data-v="{_e(raw)}">{_e(_fmt(v))}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='wide'><table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            "</table></div>")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80]


class _Charts:
    """Collects PNGs: saved under out_dir/charts/, embedded as data URIs."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / "charts"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def figure(self, name: str, png: bytes, caption: str) -> str:
        path = self.dir / f"{_slug(name)}.png"
        path.write_bytes(png)
        self.saved.append(path)
        data = base64.b64encode(png).decode("ascii")
        return (f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
                f'<figcaption class="muted">{_e(caption)}</figcaption></figure>')


def _label(run: RunDir, task: str, multi_task: bool) -> str:
    return f"{run.run_id}/{task}" if multi_task else run.run_id


def _headline_keys(per_sample_keys: set[str]) -> list[str]:
    """Per-sample metrics shown in breakdowns: the Table 5 ones when present, else the first few."""
    keys = [k for m in ("corrected", "paper") for k in table5_keys(m, per_sample_keys).values()]
    return keys[:4] or sorted(per_sample_keys)[:4]


CONTEXT_CHARS = 800  # the tail of the prompt shown with an example turn


def _rebuilt_prompts(run: RunDir, data_dir: Path | None) -> dict[str, str]:
    """Sample id -> the last messages of its prompt, rebuilt with psybench.tasks from the run's own task
    settings (predictions.jsonl does not store prompts). Empty when the data or the task is unavailable:
    the examples then name the dialog and turn instead."""
    from psybench.errors import PsybenchError

    prompts: dict[str, str] = {}
    try:
        from psybench.tasks import build_samples

        for task, res in run.tasks.items():
            options = (run.manifest.get("config") or {}).get("task_options") or {}
            for sample in build_samples(task, res.get("lang", "en"), res.get("split"), res.get("turns"),
                                        res.get("prompt_style"), data_dir=data_dir, **options):
                tail = "\n".join(f"[{m['role']}] {m['content']}" for m in sample.messages[-2:])
                prompts[sample.id] = ("…" + tail[-CONTEXT_CHARS:]) if len(tail) > CONTEXT_CHARS else tail
    except (PsybenchError, ImportError, TypeError):
        return {}
    return prompts


def _context(pred: dict[str, Any], prompts: dict[str, str]) -> str:
    if pred.get("id") in prompts:
        return prompts[pred["id"]]
    meta = pred.get("meta") or {}
    for field in ("context", "prompt"):
        if meta.get(field):
            return str(meta[field])
    messages = pred.get("messages") or []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if users:
        return users[-1]
    return f"dialog {pred.get('dialog_id', '?')}, turn {pred.get('turn_index', '?')} (run the task to see the prompt)"


def _cell(metric: dict[str, Any] | None) -> str:
    """value and CI as HTML: the value, its CI beneath in small type (narrow columns on a phone)."""
    if not metric or not _is_num(metric.get("value")):
        return "<td class='num'>–</td>"
    ci = (f"<br><span class='ci'>[{metric['ci_low']:.3f}, {metric['ci_high']:.3f}]</span>"
          if _is_num(metric.get("ci_low")) and _is_num(metric.get("ci_high")) else "")
    return f"<td class='num'><b>{metric['value']:.3f}</b>{ci}</td>"


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    """A table of ready HTML cells (each a <td>...</td>)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<div class='wide'><table class='summary'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _plain(value: Any, digits: int = 3) -> str:
    text = "–" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))
    return f"<td class='num'>{_e(text)}</td>"


def _paper_rows(task: str, lang: str) -> list[tuple[str, dict[str, Any]]]:
    """The paper's Table 5 rows for this task and language (model, training, values)."""
    return [(row_id, row) for row_id, row in TABLE5_ROWS.items() if row["task"] == task and row["lang"] == lang]


def summary_section(runs: list[RunDir], multi_task: bool) -> str:
    """The first screen: per run and task, Table 5's six columns in both modes (value [CI], N), with the
    paper's own rows for the same task beside them."""
    blocks = []
    for run in runs:
        for task, res in run.tasks.items():
            metrics = res["metrics"]
            paper, corrected = table5_keys("paper", metrics), table5_keys("corrected", metrics)
            label = _label(run, task, multi_task)
            if not paper and not corrected:
                keys = [k for k in ("cls.accuracy", "cls.macro_f1", "cls.example_f1", "cls.unparseable_rate")
                        if k in metrics]
                rows = [[f"<th>{_e(k)}</th>", _cell(metrics[k]), _plain(metrics[k].get("n"))] for k in keys]
                blocks.append(f"<h3>{_e(label)}</h3>" + _html_table(["metric", "value [95% CI]", "N"], rows))
                continue
            published = _paper_rows(task, res.get("lang", ""))
            headers = ["Table 5 column", "paper mode", "N", "corrected mode", "N",
                       *[f"published: {row['model']} {row['training']} ({row['turns']} turns)"
                         for _, row in published]]
            rows = []
            for j, column in enumerate(TABLE5_COLUMNS):
                p, c = metrics.get(paper.get(column, "")), metrics.get(corrected.get(column, ""))
                rows.append([f"<th>{_e(column)}</th>", _cell(p), _plain((p or {}).get("n")), _cell(c),
                             _plain((c or {}).get("n")), *[_plain(row["values"][j]) for _, row in published]])
            where = f"{res.get('lang')}, {res.get('split')} split, turns {res.get('turns')}, N {res.get('n')}"
            blocks.append(f"<h3>{_e(label)} <span class='muted'>({_e(where)})</span></h3>"
                          + _html_table(headers, rows))
    note = ("<p class='muted'>Value in bold, its 95% CI beneath. Paper mode reproduces the authors' computation "
            "(their quirks included); corrected mode is the textbook one. The published columns are the paper's "
            "Table 5 rows for the same task, with other models, splits and decoding "
            "(leaderboards/paper_table5.csv): they place a run, they are not its target.</p>")
    return "<h2>Summary: Table 5's columns</h2>" + note + "".join(blocks)


def column_charts(runs: list[RunDir], multi_task: bool, figs: _Charts) -> str:
    """Several runs: one chart per Table 5 column, runs side by side, both modes, with CIs."""
    entries = [(run, task, res) for run in runs for task, res in run.tasks.items()
               if table5_keys("paper", res["metrics"]) or table5_keys("corrected", res["metrics"])]
    if len(entries) < 2:
        return ""
    labels = [_label(run, task, multi_task) for run, task, _ in entries]
    figures = []
    for column in TABLE5_COLUMNS:
        series = {}
        for mode in ("paper", "corrected"):
            values, lows, highs = [], [], []
            for _, _, res in entries:
                m = res["metrics"].get(table5_keys(mode, res["metrics"]).get(column, "")) or {}
                values.append(m.get("value"))
                lows.append(m.get("ci_low"))
                highs.append(m.get("ci_high"))
            if any(v is not None for v in values):
                series[f"{mode} mode"] = (values, lows, highs)
        if series:
            figures.append(figs.figure(f"column_{_slug(column)}", charts.runs_with_ci(column, labels, series),
                                       f"{column}: runs side by side, 95% CIs"))
    return "<h2>Runs side by side</h2><div class='charts'>" + "".join(figures) + "</div>"


def judge_section(runs: list[RunDir], multi_task: bool, figs: _Charts) -> str:
    """The judge's dimensions per run and judge (bars with 95% CIs, explainability absent where the task
    states no reasoning), each judge's validation status, and every reply flagged for an ethical risk with
    its category and the quoted span."""
    from psybench.constants import JUDGE_DIMENSIONS
    from psybench.report.summary import judge_rows
    from psybench.runfiles import JUDGMENTS_FILE, read_jsonl

    entries = [(run, task, label, metrics) for run in runs for task, label, metrics in judge_rows(run.results)]
    if not entries:
        return ""
    labels = [f"{_label(run, task, multi_task)} · {label}" for run, task, label, _ in entries]
    series = {}
    for dim in JUDGE_DIMENSIONS:
        values = [(m.get(dim) or {}).get("value") for _, _, _, m in entries]
        if any(v is not None for v in values):
            series[dim] = (values, [(m.get(dim) or {}).get("ci_low") for _, _, _, m in entries],
                           [(m.get(dim) or {}).get("ci_high") for _, _, _, m in entries])
    chart = figs.figure("judge_dimensions", charts.runs_with_ci("judge: mean score (1-5)", labels, series),
                        "the judge's dimensions, 95% CIs")
    rows = []
    for (run, task, label, m), name in zip(entries, labels):
        info = (run.results.get("judges") or {}).get(label, {})
        validation = info.get("validation") or {}
        status = validation.get("warning") or ("validated" if validation.get("status") == "validated" else "not validated")
        rows.append([name, *((m.get(d) or {}).get("value") for d in (*JUDGE_DIMENSIONS, "ethical_risk_rate",
                                                                        "invalid_rate")),
                     (m.get("helpfulness") or {}).get("n"), status, "; ".join(info.get("warnings") or ())])
    table = _table(["run · judge", *JUDGE_DIMENSIONS, "ethical risk rate", "invalid rate", "n", "validation",
                    "warnings"], rows, table_id="judge")
    flagged = []
    for run in runs:
        path = Path(run.path) / JUDGMENTS_FILE
        if not path.is_file():
            continue
        replies = {p.get("id"): p.get("prediction") for p in run.predictions}
        for line in read_jsonl(path):
            risk = line.get("ethical_risk") or {}
            if line.get("valid") and line.get("kind") == "pointwise" and risk.get("present"):
                flagged.append([run.run_id, line.get("judge"), line.get("id"), risk.get("category"),
                                risk.get("span") or "", replies.get(line.get("id"), "")])
    flagged_html = (_table(["run", "judge", "sample", "category", "quoted span", "reply"], flagged, sortable=True,
                           table_id="flagged") if flagged else "<p class='muted'>No reply was flagged.</p>")
    return ("<h2>Judge</h2><p class='muted'>A model judge's scores on the rubric in rubrics/ (docs/JUDGE.md); "
            "read them with the judge's validation.</p>" + table + f"<div class='charts'>{chart}</div>"
            + f"<h3>Replies flagged for an ethical risk ({len(flagged)})</h3>" + flagged_html)


def baseline_section(runs: list[RunDir], baseline: RunDir | None) -> str:
    """Each other run against the baseline on their shared samples: Table 5's keys, paired bootstrap."""
    from psybench.errors import PsybenchError
    from psybench.report.compare import compare_runs

    if baseline is None or len(runs) < 2:
        return ""
    rows = []
    for run in runs:
        if run.path == baseline.path:
            continue
        for task in sorted(set(run.tasks) & set(baseline.tasks)):
            metrics = run.tasks[task]["metrics"]
            keys = [k for mode in ("paper", "corrected") for k in table5_keys(mode, metrics).values()
                    if k in baseline.tasks[task]["metrics"]]
            try:
                _, n_shared, comparisons = compare_runs(baseline.path, run.path, task=task, metrics=keys)
            except PsybenchError as err:
                rows.append([run.run_id, task, "–", "", "", "", "", "", f"not compared: {err}"])
                continue
            for c in comparisons:
                r = c.result
                rows.append([run.run_id, task, c.metric, c.mean_a, c.mean_b, None if r is None else r.diff,
                             "" if r is None else f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]",
                             None if r is None else r.p_value, c.note or f"{n_shared} shared samples"])
    headers = ["run", "task", "metric", "baseline", "run", "run − baseline", "95% CI", "p", "note"]
    return (f"<h2>Against the baseline: {_e(baseline.run_id)}</h2><p class='muted'>Paired bootstrap on the samples "
            "both runs scored (psybench compare).</p><div class='wide'>" + _table(headers, rows) + "</div>")


def build_report(run_paths: list[Path | str], out_dir: Path | str, data_dir: Path | None = None,
                 rebuild_prompts: bool = True, baseline: Path | str | None = None) -> Path:
    """Write out_dir/index.html (self-contained) and out_dir/charts/*.png; returns the HTML path.
    The first screen: Table 5's columns per run (both modes, CIs, N) beside the paper's rows; with several
    runs, one chart per column and the paired comparison against `baseline` (default: the first run).
    With the data at hand (data_dir or $PSYBENCH_DATA_DIR), example turns show their prompt's last
    messages, rebuilt from the run's task settings."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = [load_run(p) for p in run_paths]
    base = load_run(baseline) if baseline is not None else (runs[0] if len(runs) > 1 else None)
    if baseline is not None and all(Path(r.path).resolve() != Path(base.path).resolve() for r in runs):
        runs.insert(0, base)
    figs = _Charts(out_dir)
    multi_task = len({task for r in runs for task in r.tasks}) > 1  # then every label names its task
    sections: list[str] = [summary_section(runs, multi_task), baseline_section(runs, base),
                           column_charts(runs, multi_task, figs), judge_section(runs, multi_task, figs)]

    # ---- leaderboard table (sortable) -------------------------------------------------------
    lb_rows = [row for run in runs for _, row in rows_from_run(run)]
    metric_cols = sorted({k for row in lb_rows for k in row
                          if k not in TABLE_COLUMNS and not k.endswith(CI_SUFFIXES) and _is_num(row.get(k))
                          and k not in ("n", "n_scored")})
    sections.append("<h2>Leaderboard</h2><p class='muted'>Click a column header to sort. One row per run, task and "
                    "metric mode; the CIs are in the charts below and in the leaderboard CSVs.</p>"
                    + _table([*TABLE_COLUMNS, *metric_cols],
                             [[row.get(c) for c in (*TABLE_COLUMNS, *metric_cols)] for row in lb_rows],
                             sortable=True, table_id="leaderboard"))

    # ---- per-metric bars with CI whiskers ----------------------------------------------------
    bars = []
    metric_keys = sorted({k for run in runs for t in run.tasks.values() for k in t["metrics"]
                          if parse_key(k).variant is None or parse_key(k).is_encoder_metric})
    for key in metric_keys[:MAX_CHARTS]:
        labels, values, lows, highs = [], [], [], []
        for run in runs:
            for task, res in run.tasks.items():
                rec = res["metrics"].get(key)
                if rec and _is_num(rec.get("value")):
                    labels.append(_label(run, task, multi_task))
                    values.append(rec["value"])
                    lows.append(rec.get("ci_low"))
                    highs.append(rec.get("ci_high"))
        if labels:
            bars.append(figs.figure(f"bar_{key}", charts.bar_with_ci(key, labels, values, lows, highs),
                                    f"{key}: value with 95% CI"))
    sections.append("<h2>Every metric with its 95% CI</h2><div class='charts'>" + "".join(bars) + "</div>")

    # ---- per-sample distributions and breakdowns ---------------------------------------------
    per_sample: dict[str, dict[str, dict[str, float]]] = {}  # label -> id -> scores
    meta_by_label: dict[str, dict[str, dict]] = {}
    for run in runs:
        preds = {p.get("id"): p for p in run.predictions}
        for task in run.tasks:
            label = _label(run, task, multi_task)
            per_sample[label] = {row["id"]: row["scores"] for row in run.scores if row.get("task", task) == task}
            meta_by_label[label] = {i: (preds.get(i) or {}).get("meta") or {} for i in per_sample[label]}
    sample_keys = sorted({k for rows in per_sample.values() for s in rows.values() for k, v in s.items()
                          if _is_num(v)})
    hists = []
    for key in sample_keys[:MAX_CHARTS]:
        series = {label: [s[key] for s in rows.values() if _is_num(s.get(key))] for label, rows in per_sample.items()}
        series = {k: v for k, v in series.items() if v}
        if series:
            hists.append(figs.figure(f"hist_{key}", charts.histograms(key, series), f"{key}: per-sample distribution"))
    sections.append("<h2>Score distributions</h2><div class='charts'>" + ("".join(hists) or
                    "<p class='muted'>No per-sample scores (scores.jsonl) in these runs.</p>") + "</div>")

    headline = _headline_keys(set(sample_keys))
    for field, title in BREAKDOWNS:
        groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))  # group -> label -> scores
        for label, rows in per_sample.items():
            for sid, scores in rows.items():
                groups[str(meta_by_label[label].get(sid, {}).get(field) or "(none)")][label].append(scores)
        if not groups or not headline:
            sections.append(f"<h2>By {title.lower()}</h2><p class='muted'>No {field} in the predictions' meta.</p>")
            continue
        names = sorted(groups)
        labels = list(per_sample)
        headers = [title] + [f"{lab} {h}" for lab in labels for h in ("N", *headline)]
        table_rows = []
        for g in names:
            row: list[Any] = [g]
            for lab in labels:
                scores = groups[g].get(lab, [])
                row.append(len(scores))
                for key in headline:
                    vals = [s[key] for s in scores if _is_num(s.get(key))]
                    row.append(float(np.mean(vals)) if vals else None)
            table_rows.append(row)
        key = headline[0]
        series = {lab: [float(np.mean([s[key] for s in groups[g].get(lab, []) if _is_num(s.get(key))] or [np.nan]))
                        for g in names] for lab in labels}
        chart = figs.figure(f"by_{field}_{key}", charts.grouped_bars(f"{key} by {field}", names, series),
                            f"mean {key} by {field}")
        sections.append(f"<h2>By {title.lower()}</h2>" + _table(headers, table_rows, sortable=True,
                                                                   table_id=f"by-{field}")
                        + f"<div class='charts'>{chart}</div>")

    # ---- extraction status ----------------------------------------------------------------------
    status_rows = []
    for run in runs:
        for task, res in run.tasks.items():
            for mode, field in (("corrected", "status_counts"), ("paper", "paper_status_counts")):
                counts = Counter(res.get(field) or {})
                status_rows.append([run.run_id, task, mode, res.get("truncated", ""),
                                    *(counts.get(status, 0) for status in STATUS_COLUMNS),
                                    json.dumps({k: v for k, v in counts.items() if k not in STATUS_COLUMNS})
                                    if set(counts) - set(STATUS_COLUMNS) else ""])
    sections.append("<h2>Extraction status</h2><p class='muted'>truncated: outputs cut at the token limit (a "
                    "generation fact, counted apart from the extraction statuses; see docs/EXTRACTION.md)</p>"
                    + _table(["run", "task", "mode", "truncated", *STATUS_COLUMNS, "other"], status_rows,
                             table_id="status"))

    # ---- example turns ----------------------------------------------------------------------------
    examples = []
    for run in runs:
        scores = {row["id"]: row["scores"] for row in run.scores}
        prompts = _rebuilt_prompts(run, data_dir) if rebuild_prompts else {}
        for pred in sorted(run.predictions, key=lambda p: str(p.get("id")))[:N_EXAMPLES]:
            sc = scores.get(pred.get("id"), {})
            score_text = ", ".join(f"{k} = {v:.3f}" for k, v in sorted(sc.items()) if _is_num(v)) or "(not scored)"
            examples.append(
                f"<div class='example'><div class='muted'>{_e(run.run_id)} · {_e(pred.get('id'))} · status "
                f"{_e(pred.get('status'))} / paper {_e(pred.get('paper_status'))}</div>"
                f"<b>Prompt context</b><pre>{_e(_context(pred, prompts))}</pre>"
                f"<b>Reference</b><pre>{_e(pred.get('reference'))}</pre>"
                f"<b>Prediction</b><pre>{_e(pred.get('prediction'))}</pre>"
                + (f"<b>Prediction (paper mode)</b><pre>{_e(pred.get('paper_prediction'))}</pre>"
                   if pred.get("paper_prediction") not in (None, pred.get("prediction")) else "") +
                f"<b>Scores</b><pre>{_e(score_text)}</pre></div>")
    sections.append("<h2>Example turns</h2>" + ("".join(examples) or "<p class='muted'>No predictions.</p>"))

    title = "psybench report: " + ", ".join(r.run_id for r in runs)
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<link rel='icon' href='data:,'><meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"
            f"<p class='muted'>psybench {_e(__version__)} · runs: "
            + ", ".join(f"{_e(r.run_id)} ({_e(r.model)}, {_e(r.results.get('created', ''))})" for r in runs)
            + "</p>" + "".join(sections) + f"<script>{_JS}</script></body></html>")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
