"""The HTML report's content (fast; the browser test checks it renders and sorts)."""
from __future__ import annotations

import base64
import re

from psybench.cli import main
from test_report_helpers import metric, write_run


def _run(tmp_path):
    scores = {f"{600000 + i:06d}/{i + 1}": {"corrected.meteor": 0.1 * i} for i in range(4)}
    return write_run(tmp_path, "r<1>", model="smol", scores=scores,
                     metrics={"corrected.meteor": metric(0.15), "corrected.distinct2_corpus": metric(0.5)},
                     status_counts={"ok": 2, "repeated": 1, "empty": 1}, truncated=1)


def test_report_is_self_contained_and_escaped(tmp_path, capsys):
    run = _run(tmp_path)
    out = tmp_path / "report"
    assert main(["report", str(run), "--out", str(out), "--no-prompts"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "index.html")
    page = (out / "index.html").read_text()
    # no network: nothing loads from http(s), every image is an inline PNG data URI
    assert not re.search(r"""(src|href)=["']https?:""", page)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5  # 2 metric bars, 1 histogram, by topic, by psychotherapy
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "bar_corrected.distinct2_corpus.png", "bar_corrected.meteor.png", "by_psychotherapy_corrected.meteor.png",
        "by_topic_corrected.meteor.png", "hist_corrected.meteor.png"]
    assert page.count("<script>") == 1 and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "r&lt;1&gt;" in page and "r<1>" not in page
    # leaderboard: one corrected row; topic breakdown: Family has samples 0 and 2 -> mean 0.1
    assert re.search(r'<table class="sortable" id="leaderboard">.*?<tbody><tr>.*?</tr></tbody>', page)
    family = re.search(r'<tr><td data-v="Family">Family</td><td class="num" data-v="2\.0">2</td>'
                       r'<td class="num" data-v="([0-9.]+)">', page)
    assert family and float(family.group(1)) == 0.1
    # extraction status counts and an example turn with its context
    status = re.search(r'<table id="status">.*?</table>', page, re.S).group(0)
    assert "<th>truncated</th><th>ok</th><th>repeated</th><th>no_marker</th><th>empty</th>" in status
    # corrected row: truncated 1, ok 2, repeated 1, no_marker 0, empty 1, unparseable 0
    assert re.search(r'data-v="corrected">corrected</td>' + "".join(
        rf'<td class="num" data-v="{v}\.0">{v}</td>' for v in (1, 2, 1, 0, 1, 0)), status), status
    assert "Client: I feel stuck 0." in page and "Therapist: reference &lt;b&gt;0&lt;/b&gt; &amp; more" in page


def test_examples_show_the_rebuilt_prompt(tmp_path, data_dir):
    import html

    from psybench.report.page import build_report
    from psybench.tasks import build_samples

    sample = build_samples("dialog", "en", "table5", "last", data_dir=data_dir, limit=1)[0]
    sid = sample.id.split("/", 1)[1]
    run = write_run(tmp_path, "real-ids", scores={sid: {"corrected.meteor": 0.5}},
                    metrics={"corrected.meteor": metric(0.5)})
    page = build_report([run], tmp_path / "report", data_dir=data_dir).read_text()
    last = sample.messages[-1]["content"]
    assert html.escape(f"[{sample.messages[-1]['role']}] {last}"[-60:], quote=True) in page


def test_first_screen_is_table5_with_the_papers_rows_then_the_baseline(tmp_path, capsys):
    """Two runs of task 1 (en): the page opens with Table 5's six columns per run (both modes, value, CI,
    N) beside the paper's published task-1 rows, then each run against the baseline (paired), then one
    chart per Table 5 column."""
    from test_report_helpers import generation_metrics

    ids = [f"{600000 + i:06d}/{i + 1}" for i in range(6)]
    runs = []
    for name, base, step in (("base", 0.0, 0.05), ("tuned", 0.1, 0.08)):
        scores = {s: {"paper.meteor_swapped_jieba": step * i, "corrected.meteor": step * i} for i, s in enumerate(ids)}
        runs.append(write_run(tmp_path, name, model=name, metrics=generation_metrics(base), scores=scores))
    out = tmp_path / "report"
    assert main(["report", str(runs[1]), "--baseline", str(runs[0]), "--out", str(out), "--no-prompts"]) == 0
    page = (out / "index.html").read_text()
    h2 = re.findall(r"<h2>(.*?)</h2>", page)
    assert h2[:3] == ["Summary: Table 5's columns", "Against the baseline: base", "Runs side by side"]
    summary = page[page.index("<h2>Summary"):page.index("<h2>Against")]
    assert summary.index("<h3>base") < summary.index("<h3>tuned")  # the baseline first
    tuned = summary[summary.index("<h3>tuned"):]
    # METEOR row of the tuned run: paper 0.4 [0.39, 0.41] N 4, corrected 0.35 [...], then the five published
    # task-1 rows (Mistral base/SFT dialog/SFT mix, ChatGPT base/SFT dialog)
    assert ("<tr><th>METEOR</th><td class='num'><b>0.400</b><br><span class='ci'>[0.390, 0.410]</span></td>"
            "<td class='num'>4</td><td class='num'><b>0.350</b><br><span class='ci'>[0.340, 0.360]</span></td>"
            "<td class='num'>4</td><td class='num'>0.098</td><td class='num'>0.379</td><td class='num'>0.285</td>"
            "<td class='num'>0.193</td><td class='num'>0.315</td></tr>") in tuned
    assert "published: Mistral-7B SFT dialog (last turns)" in tuned
    against = page[page.index("<h2>Against"):page.index("<h2>Runs side")]
    assert against.count("<tr>") == 1 + 12  # header + Table 5's six columns in two modes
    meteor = re.search(r"<td data-v=\"corrected.meteor\">corrected.meteor</td>(.*?)</tr>", against).group(1)
    assert 'data-v="0.125">0.1250<' in meteor and '>0.2000<' in meteor and '>0.0750<' in meteor  # means, B - A
    assert len(re.findall(r'src="data:image/png;base64,', page[page.index("<h2>Runs side"):
                                                                page.index("<h2>Leaderboard")])) == 6
