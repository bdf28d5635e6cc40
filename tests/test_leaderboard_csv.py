"""Leaderboard CSVs: merge, replace, dedupe, metric configurations kept apart, atomic and concurrent writes."""
from __future__ import annotations

import multiprocessing
import os

import pandas as pd
import pytest

from psybench.cli import main
from psybench.report import leaderboard
from test_report_helpers import generation_metrics, metric, write_run


def _gen_run(tmp_path, name, base=0.0, **kw):
    return write_run(tmp_path / "runs", name, metrics=generation_metrics(base, kw.pop("encoder", "all-MiniLM-L6-v2:L5")),
                     **kw)


def test_add_writes_one_row_per_mode_with_cis(tmp_path):
    run = _gen_run(tmp_path, "r1", 0.1, model="smol", paper_status_counts={"ok": 3, "no_marker": 1})
    lb = tmp_path / "lb"
    assert main(["leaderboard", "add", str(run), "--dir", str(lb)]) == 0
    frame = pd.read_csv(lb / "generation.csv")
    assert list(frame["metric_mode"]) == ["corrected", "paper"]
    assert list(frame.columns[:9]) == list(leaderboard.KEY_COLUMNS)
    paper = frame[frame["metric_mode"] == "paper"].iloc[0]
    assert paper["model"] == "smol" and paper["metric_model"] == "all-MiniLM-L6-v2:L5"
    assert paper["bleu1_sentence_cumulative"] == pytest.approx(0.2)
    assert paper["bleu1_sentence_cumulative_ci_low"] == pytest.approx(0.19)
    assert paper["bertscore_p_ci_high"] == pytest.approx(0.91)
    assert paper["extraction_failure_rate"] == pytest.approx(0.25)
    assert paper["n"] == 4 and paper["n_scored"] == 4
    assert pd.isna(paper["bleu1_corpus"])  # corrected-only metric stays empty in a paper row
    corrected = frame[frame["metric_mode"] == "corrected"].iloc[0]
    assert corrected["extraction_failure_rate"] == 0.0
    assert corrected["distinct2_corpus"] == pytest.approx(0.6)
    assert not (lb / "classification.csv").exists()


def test_readd_replaces_and_same_key_dedupes(tmp_path):
    lb = tmp_path / "lb"
    r1 = _gen_run(tmp_path, "r1", 0.1, model="a")
    r2 = _gen_run(tmp_path, "r2", 0.2, model="b")
    leaderboard.add_runs([r1, r2], lb)
    leaderboard.add_runs([r1], lb)  # re-adding: still 4 rows
    frame = pd.read_csv(lb / "generation.csv")
    assert len(frame) == 4 and sorted(set(frame["run_id"])) == ["r1", "r2"]
    # a newer run with the same key (model a, same everything) replaces r1's rows
    r3 = _gen_run(tmp_path, "r3", 0.3, model="a")
    leaderboard.add_runs([r3], lb)
    frame = pd.read_csv(lb / "generation.csv")
    assert len(frame) == 4 and sorted(set(frame["run_id"])) == ["r2", "r3"]
    assert frame[(frame.model == "a") & (frame.metric_mode == "paper")]["meteor_swapped_jieba"].item() == pytest.approx(0.6)


def test_other_encoder_or_settings_never_mix(tmp_path):
    lb = tmp_path / "lb"
    leaderboard.add_runs([_gen_run(tmp_path, "mini", 0.1, model="a")], lb)
    leaderboard.add_runs([_gen_run(tmp_path, "mpnet", 0.1, model="a", encoder="all-mpnet-base-v2:L8",
                                   metric_settings={"bertscore": "mpnet"})], lb)
    leaderboard.add_runs([_gen_run(tmp_path, "mini2", 0.1, model="a", metric_settings={"bertscore": "minilm",
                                                                                      "meteor": "x"})], lb)
    frame = pd.read_csv(lb / "generation.csv")
    assert len(frame) == 6
    assert sorted(set(frame["metric_model"])) == ["all-MiniLM-L6-v2:L5", "all-mpnet-base-v2:L8"]
    assert frame["metric_config"].nunique() == 3
    # settings that only change speed (device, batch size) do not split rows
    same = {"bertscore": "minilm", "device": "cuda", "batch_size": 8, "workers": 0, "modes": ["paper"]}
    assert leaderboard.metric_config_id(same) == leaderboard.metric_config_id({"bertscore": "minilm"})


def test_two_encoders_in_one_run_give_two_rows(tmp_path):
    metrics = {"corrected.bertscore_p[x:L1]": metric(0.8), "corrected.bertscore_p[y:L2]": metric(0.9),
               "corrected.meteor": metric(0.3)}
    run = write_run(tmp_path, "two", metrics=metrics)
    rows = [row for _, row in leaderboard.rows_from_run(leaderboard.load_run(run))]
    assert [(r["metric_model"], r["bertscore_p"], r["meteor"]) for r in rows] == [("x:L1", 0.8, 0.3), ("y:L2", 0.9, 0.3)]


def test_classification_goes_to_its_own_csv(tmp_path):
    run = write_run(tmp_path, "cls", task="emotion", metrics={"cls.accuracy": metric(0.5), "cls.f1[Anxiety]": metric(0.25)})
    leaderboard.add_runs([run], tmp_path / "lb")
    frame = pd.read_csv(tmp_path / "lb" / "classification.csv")
    assert frame["accuracy"].item() == 0.5 and frame["f1[Anxiety]"].item() == 0.25
    assert frame["metric_mode"].item() == "cls"


def test_crash_mid_write_keeps_old_csv_and_no_temp(tmp_path, monkeypatch):
    lb = tmp_path / "lb"
    leaderboard.add_runs([_gen_run(tmp_path, "r1", 0.1)], lb)
    before = (lb / "generation.csv").read_bytes()

    def crash(src, dst):
        assert os.path.getsize(src) > 0  # the temp file was fully written
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(leaderboard.os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        leaderboard.add_runs([_gen_run(tmp_path, "r2", 0.2, model="other")], lb)
    assert (lb / "generation.csv").read_bytes() == before
    assert sorted(p.name for p in lb.iterdir()) == [".leaderboard.lock", "generation.csv"]


def test_stale_temp_of_killed_writer_is_cleaned(tmp_path):
    lb = tmp_path / "lb"
    lb.mkdir()
    (lb / ".generation.csv.abc123.tmp").write_text("half a csv")
    leaderboard.add_runs([_gen_run(tmp_path, "r1", 0.1)], lb)
    assert sorted(p.name for p in lb.iterdir()) == [".leaderboard.lock", "generation.csv"]


def _writer(run: str, lb: str, times: int) -> None:
    for _ in range(times):
        leaderboard.add_runs([run], lb)


def test_two_concurrent_writers(tmp_path):
    lb = tmp_path / "lb"
    runs = [_gen_run(tmp_path, f"w{i}", 0.1 * i, model=f"model{i}") for i in range(2)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(r), str(lb), 15)) for r in runs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    frame = pd.read_csv(lb / "generation.csv")
    assert sorted(frame["run_id"]) == ["w0", "w0", "w1", "w1"]
    assert sorted(p.name for p in lb.iterdir()) == [".leaderboard.lock", "generation.csv"]


def test_show_sorts_and_filters(tmp_path, capsys):
    lb = tmp_path / "lb"
    leaderboard.add_runs([_gen_run(tmp_path, "r1", 0.1, model="low"), _gen_run(tmp_path, "r2", 0.2, model="high")], lb)
    assert main(["leaderboard", "show", "--dir", str(lb), "--task", "dialog", "--sort", "meteor"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines()[1:] if "corrected" in l]
    assert lines[0].split()[0] == "high" and lines[1].split()[0] == "low"
    assert "0.4500" in out  # corrected.meteor of "high": 0.2 + 0.25


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["leaderboard", "add", str(tmp_path / "nope"), "--dir", str(tmp_path / "lb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such run directory" in err
    (tmp_path / "unfinished").mkdir()
    assert main(["leaderboard", "add", str(tmp_path / "unfinished"), "--dir", str(tmp_path / "lb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no results.json" in err
    assert main(["leaderboard", "show", "--dir", str(tmp_path / "lb")]) == 2
    assert "no leaderboard CSVs" in capsys.readouterr().err
    leaderboard.add_runs([_gen_run(tmp_path, "r1")], tmp_path / "lb")
    assert main(["leaderboard", "show", "--dir", str(tmp_path / "lb"), "--sort", "nonesuch"]) == 2
    assert "no such metric column" in capsys.readouterr().err


def test_malformed_run_files_name_file_and_line(tmp_path, capsys):
    run = _gen_run(tmp_path, "bad", 0.1)
    (run / "results.json").write_text('{"run_id": "bad",\n "tasks": }')
    assert main(["leaderboard", "add", str(run), "--dir", str(tmp_path / "lb")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{run / 'results.json'}:2: not valid JSON (Expecting value, column 11)" in err
    (run / "results.json").write_text('{"run_id": "bad", "tasks": {"dialog": {"metrics": {"x.y": 1}}}}')
    assert main(["leaderboard", "add", str(run), "--dir", str(tmp_path / "lb")]) == 2
    assert "tasks.dialog.metrics.x.y lacks 'value'" in capsys.readouterr().err
    good = _gen_run(tmp_path, "good", 0.1)
    (good / "scores.jsonl").write_text('{"id": "dialog/1/1", "scores": {}}\n{oops\n')
    assert main(["compare", str(good), str(good)]) == 2
    assert f"{good / 'scores.jsonl'}:2: not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "lb" / "generation.csv").exists()


def test_failure_rate_counts_extraction_failures_only() -> None:
    """repeated (the first reply was scored) and an old file's truncated are not extraction failures."""
    from psybench.report.leaderboard import _failure_rate

    assert _failure_rate({"ok": 4, "repeated": 2, "no_marker": 1, "empty": 1, "unparseable": 2})[0] == 0.4
    assert _failure_rate({"ok": 3, "truncated": 1})[0] == 0.0
    assert _failure_rate({}) == (None, "")
