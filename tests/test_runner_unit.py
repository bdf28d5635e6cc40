"""Runner logic with hand-written stand-ins (tests/test_runner_fakes.py): resume, torn lines, stages,
config mismatch, backend failure, manifest fields, dry-run, and CLI errors."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import test_runner_fakes as fakes
from psybench import runner
from psybench.cli import main
from psybench.errors import BackendError, ConfigError, PredictionsError
from psybench.runfiles import read_predictions
from psybench.runner import RunConfig

HERE = Path(__file__).resolve().parent


@pytest.fixture
def stand_ins(monkeypatch, tmp_path):
    fakes.FakeBackend.calls = []

    def install(**backend_kwargs):
        fakes.install(tmp_path / "stand-in-tasks", monkeypatch.setenv, backend_kwargs)

    install()
    yield install
    fakes.uninstall()  # the stand-ins are for these tests only


def cfg(tmp_path: Path, **kw) -> RunConfig:
    base = dict(model="fake-model", backend="vllm", out=tmp_path / "run", cache=tmp_path / "cache.sqlite",
                progress=False)
    base.update(kw)
    return RunConfig(**base)


def lines(run_dir: Path, name: str = "predictions.jsonl") -> list[dict]:
    return [json.loads(x) for x in (run_dir / name).read_text().splitlines()]


def test_full_run_writes_every_file(stand_ins, tmp_path):
    run_dir = runner.run(cfg(tmp_path))
    preds = lines(run_dir)
    assert [p["id"] for p in preds] == [s.id for s in fakes.make_samples("dialog")]
    p0 = preds[0]
    assert p0["raw_output"] == fakes.reply_for(fakes.make_samples("dialog")[0].messages)
    assert p0["prediction"] == p0["raw_output"].removeprefix("Therapist:").strip()
    assert p0["paper_prediction"] == p0["raw_output"] and p0["status"] == "ok" and p0["paper_status"] == "ok"
    assert p0["dialog_id"] == "100000" and p0["turn_index"] == 1 and p0["cached"] is False
    for key in ("id", "task", "lang", "dialog_id", "turn_index", "reference", "raw_output", "finish_reason",
                "prediction", "status", "paper_prediction", "paper_status", "observation", "reasoning", "labels",
                "gold_labels", "history_turns_cut", "cached", "meta"):
        assert key in p0
    scores = lines(run_dir, "scores.jsonl")
    assert len(scores) == fakes.N_SAMPLES and scores[0]["scores"] == {"corrected.words": 4.0, "paper.words": 5.0}
    results = json.loads((run_dir / "results.json").read_text())
    task = results["tasks"]["dialog"]
    assert task["n"] == fakes.N_SAMPLES and task["status_counts"] == {"ok": fakes.N_SAMPLES}
    assert task["metrics"]["corrected.words"]["value"] == 4.0
    assert (task["lang"], task["split"], task["turns"], task["prompt_style"]) == ("en", "seeded", "all", "paper")
    assert results["model"] == "fake-model" and results["backend"] == "vllm"
    assert fakes.FakeBackend.calls == [fakes.N_SAMPLES]  # the whole task in one batch


def test_manifest_fields(stand_ins, tmp_path):
    run_dir = runner.run(cfg(tmp_path, limit=5))
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["config"]["model"] == "fake-model" and m["config"]["limit"] == 5 and m["config"]["tasks"] == ["dialog"]
    assert len(m["split_hashes"]["dialog"]) == 64 and m["timings"]["backend_start_s"] >= 0  # the real seeded split
    assert m["model_fingerprint"] == "fake:fake-model" and m["backend_info"]["engine"] == "fake"
    yaml_sha = hashlib.sha256((Path(os.environ["PSYBENCH_TASKS_DIR"]) / "dialog.yaml").read_bytes()).hexdigest()
    assert len(m["task_hashes"]["dialog"]) == 64 and m["task_spec_hashes"]["dialog"] == yaml_sha
    assert m["counts"]["samples"] == {"dialog": 5} and m["counts"]["predictions"] == 5
    assert m["counts"]["status"] == {"ok": 5} and m["counts"]["cached"] == 0
    report = m["counts"]["build_report"]["dialog"]
    assert (report["n_samples"], report["n_built"], report["limit"], report["skipped"], report["n_test_sessions"]) == (
        5, fakes.N_SAMPLES, 5, {}, 78)  # 78: the English seeded split's test sessions
    assert m["counts"]["history_turns_cut"] == 0
    assert {"build_s", "generate_s", "score_s"} <= set(m["timings"])
    assert {"psybench", "torch", "transformers", "vllm", "python"} <= set(m["versions"])
    assert m["hardware"]["cores"] == os.cpu_count() and m["hardware"]["cpu"]
    assert m["git_commit"] is None or len(m["git_commit"].split("+")[0]) == 40


def test_rerun_is_free_and_resume_skips_done(stand_ins, tmp_path):
    config = cfg(tmp_path)
    run_dir = runner.run(config)
    first = (run_dir / "predictions.jsonl").read_text()
    runner.run(config)  # everything on disk: no backend call at all
    assert fakes.FakeBackend.calls == [fakes.N_SAMPLES]
    assert (run_dir / "predictions.jsonl").read_text() == first
    # a fresh run dir on the same cache: every output is a cache hit, no generation
    other = runner.run(cfg(tmp_path, out=tmp_path / "other"))
    assert fakes.FakeBackend.calls == [fakes.N_SAMPLES]
    preds = lines(other)
    assert all(p["cached"] for p in preds)
    assert [p["raw_output"] for p in preds] == [json.loads(x)["raw_output"] for x in first.splitlines()]
    assert json.loads((other / "manifest.json").read_text())["counts"]["cached"] == fakes.N_SAMPLES


def test_torn_last_line_is_cut_and_regenerated(stand_ins, tmp_path):
    config = cfg(tmp_path, use_cache=False)
    run_dir = runner.run(config)
    path = run_dir / "predictions.jsonl"
    full = path.read_text()
    kept = full.splitlines(keepends=True)[:4]
    path.write_text("".join(kept) + full.splitlines(keepends=True)[4][:25])  # a write cut by kill -9
    with pytest.raises(PredictionsError, match=r"predictions.jsonl:5: incomplete last line"):
        read_predictions(path)  # read-only readers refuse it
    fakes.FakeBackend.calls = []
    runner.run(config)
    assert fakes.FakeBackend.calls == [fakes.N_SAMPLES - 4]
    assert path.read_text() == full  # same lines, same order (greedy fake), each id once


def test_generate_then_score_equals_all(stand_ins, tmp_path):
    a = runner.run(cfg(tmp_path, out=tmp_path / "a"))
    b = runner.run(cfg(tmp_path, out=tmp_path / "b", stage="generate", use_cache=False))
    assert not (b / "results.json").exists() and not (b / "scores.jsonl").exists()
    runner.run(cfg(tmp_path, out=tmp_path / "b", stage="score"))
    assert (a / "scores.jsonl").read_text() == (b / "scores.jsonl").read_text()
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    for r in (ra, rb):
        r.pop("created"), r.pop("run_id")
        for task in r["tasks"].values():
            task["info"].pop("timings")  # seconds: never equal
    assert ra == rb


def test_two_identical_runs_identical(stand_ins, tmp_path):
    a = runner.run(cfg(tmp_path, out=tmp_path / "a", use_cache=False))
    b = runner.run(cfg(tmp_path, out=tmp_path / "b", use_cache=False))
    for name in ("predictions.jsonl", "scores.jsonl"):
        assert (a / name).read_text() == (b / name).read_text()


def test_config_mismatch(stand_ins, tmp_path):
    runner.run(cfg(tmp_path, limit=4))
    with pytest.raises(ConfigError, match=r"manifest.json: this run directory holds a different config "
                                          r"\(limit: 4 -> 5; task dialog samples hash: [0-9a-f]{12} -> [0-9a-f]{12}\)"):
        runner.run(cfg(tmp_path, limit=5))
    with pytest.raises(ConfigError, match="max_tokens: None -> 16"):
        runner.run(cfg(tmp_path, limit=4, max_tokens=16))
    run_dir = runner.run(cfg(tmp_path, limit=5, overwrite=True))
    assert len(lines(run_dir)) == 5


def test_backend_failure_keeps_work_and_resumes(stand_ins, tmp_path, capsys):
    stand_ins(fail_after=5)
    out = tmp_path / "run"
    argv = ["run", "--model", "fake-model", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--no-progress"]
    assert main(argv) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["psybench: error: fake: server returned 500 after 3 retries"]
    assert len(lines(out)) == 5 and not (out / "results.json").exists()
    stand_ins()  # the server is back
    fakes.FakeBackend.calls = []
    assert main(argv) == 0
    assert fakes.FakeBackend.calls == [fakes.N_SAMPLES - 5]
    ids = [p["id"] for p in lines(out)]
    assert sorted(ids) == sorted(s.id for s in fakes.make_samples("dialog")) and len(set(ids)) == len(ids)


def test_error_outputs_are_retried_and_empty_kept(stand_ins, tmp_path):
    samples = fakes.make_samples("dialog")
    stand_ins(error_ids={samples[2].id}, empty_ids={samples[3].id})
    config = cfg(tmp_path)
    with pytest.raises(BackendError, match=r"1 sample\(s\) failed \(first: dialog/100002/5\)"):
        runner.run(config)
    assert len(lines(config.out)) == fakes.N_SAMPLES - 1
    stand_ins(empty_ids={samples[3].id})
    runner.run(config)
    preds = {p["id"]: p for p in lines(config.out)}
    assert len(preds) == fakes.N_SAMPLES
    assert preds[samples[3].id]["status"] == "empty" and preds[samples[3].id]["raw_output"] == ""
    results = json.loads((config.out / "results.json").read_text())
    assert results["tasks"]["dialog"]["status_counts"] == {"ok": fakes.N_SAMPLES - 1, "empty": 1}


@pytest.mark.parametrize("content, message", [
    ('{"id": "dialog/100000/1", "task": "dialog"}\nnot json\n', r"predictions.jsonl:2: not valid JSON"),
    ('{"id": "dialog/100000/1", "task": "dialog"}\n{"id": "dialog/100000/1", "task": "dialog"}\n',
     r"predictions.jsonl:2: id 'dialog/100000/1' already on line 1"),
    ('{"task": "dialog"}\n', r"predictions.jsonl:1: expected a JSON object with a string 'id'"),
    ('{"id": "dialog/999999/1", "task": "dialog"}\n', r"predictions.jsonl:1: id 'dialog/999999/1' is not a sample"),
])
def test_bad_predictions_in_run_dir_one_line_error(stand_ins, tmp_path, capsys, content, message):
    out = tmp_path / "run"
    out.mkdir()
    (out / "predictions.jsonl").write_text(content)
    code = main(["run", "--model", "fake-model", "--out", str(out), "--no-cache", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("psybench: error: ") and __import__("re").search(message, err[0])
    assert (out / "predictions.jsonl").read_text() == content  # nothing lost


def test_score_stage_on_incomplete_run_errors(stand_ins, tmp_path, capsys):
    runner.run(cfg(tmp_path, stage="generate", limit=6))
    path = tmp_path / "run" / "predictions.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    code = main(["run", "--stage", "score", "--model", "fake-model", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "predictions.jsonl: task dialog has 3 of 6 predictions" in capsys.readouterr().err


def test_dry_run(stand_ins, tmp_path, capsys):
    code = main(["run", "--dry-run", "--tasks", "dialog,reasoning", "--limit", "3", "--out", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == 0
    assert "model: SmolLM2-135M-Instruct  backend: vllm" in out
    assert "dialog: 3 samples" in out and "reasoning: 3 samples" in out
    assert "max_tokens 256, temperature 0.0, frequency_penalty 1.0)" in out
    assert ("--- first prompt: dialog/100000/1 ---\n=== dialog/100000/1 (dialog, en, generation, extract=response)\n"
            "--- [0] user\nI feel worried about exam number 0.\n--- target\n") in out
    assert not (tmp_path / "r").exists() and fakes.FakeBackend.calls == []


def test_embedded_default_resolution():
    c = RunConfig().resolved()
    assert (c.model, c.backend, c.tasks, c.lang, c.split, c.turns, c.prompt_style) == (
        None, "vllm", ("dialog",), "en", "seeded", "all", "paper")
    assert (c.limit, c.max_tokens, c.repetition_penalty, c.frequency_penalty, c.bertscore_model, c.decoding,
            c.dtype) == (40, 256, None, 1.0, "minilm", "greedy", "float32")
    assert RunConfig(limit=8).resolved().limit == 8
    assert RunConfig(model="m").resolved().limit is None
    assert RunConfig(model="m").resolved().repetition_penalty is None  # a real model: off unless asked
    assert RunConfig(model="m").resolved().frequency_penalty is None
    assert RunConfig(frequency_penalty=0.0).resolved().frequency_penalty == 0.0  # the flag wins, even to 0
    with pytest.raises(ConfigError, match="--decoding 'beam'"):
        RunConfig(decoding="beam").resolved()


def test_generation_params():
    from psybench.constants import PAPER_DECODING

    import dataclasses

    from psybench.tasks import get_task

    spec = dataclasses.replace(get_task("dialog"), generation={"max_tokens": 32, "stop": ["\nClient:"]})
    g = runner.generation_params(RunConfig(model="m").resolved(), spec)
    assert (g.max_tokens, g.temperature, g.top_p, g.seed, g.stop) == (32, 0.0, 1.0, 0, ("\nClient:",))
    p = runner.generation_params(RunConfig(model="m", decoding="paper", seed=7).resolved(), spec)
    assert (p.max_tokens, p.temperature, p.top_p, p.seed) == (PAPER_DECODING["max_tokens"], 0.7, 0.5, 7)


def test_kill_9_mid_generation_then_resume(tmp_path):
    """kill -9 a real process while it streams (stand-in backend, 0.15 s per output), rerun: every id once."""
    out, cache = tmp_path / "run", tmp_path / "c.sqlite"
    cmd = [sys.executable, str(HERE / "test_runner_fakes.py"), "--model", "fake-model", "--out", str(out),
           "--cache", str(cache), "--no-progress"]
    env = {**os.environ, "FAKE_DELAY": "0.15", "PYTHONPATH": str(HERE)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = out / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = path.read_text().count("\n")
    assert 3 <= n_before < fakes.N_SAMPLES
    env["FAKE_DELAY"] = "0"
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    ids = [p["id"] for p in lines(out)]
    assert sorted(ids) == sorted(s.id for s in fakes.make_samples("dialog")) and len(ids) == len(set(ids))
    assert all(p["raw_output"] == fakes.reply_for(s.messages)
               for p, s in zip(sorted(lines(out), key=lambda p: p["id"]),
                               sorted(fakes.make_samples("dialog"), key=lambda s: s.id)))


def test_cache_key_includes_engine_options(stand_ins, tmp_path):
    runner.run(cfg(tmp_path, out=tmp_path / "a", limit=3))
    runner.run(cfg(tmp_path, out=tmp_path / "b", limit=3, dtype="bfloat16"))  # other numerics: no cache hit
    runner.run(cfg(tmp_path, out=tmp_path / "c", limit=3))  # same as a: all hits
    assert fakes.FakeBackend.calls == [3, 3]
    assert [p["cached"] for p in lines(tmp_path / "c")] == [True] * 3


def test_results_table_prints_the_encoder_in_bertscore_keys() -> None:
    """Keys like bertscore_p[all-MiniLM-L6-v2:L5] must not be eaten as rich markup."""
    import io

    from rich.console import Console

    from psybench.report.summary import results_table

    buf = io.StringIO()
    results = {"model": "m", "tasks": {"dialog": {"lang": "en", "metrics": {
        "corrected.bertscore_p[all-MiniLM-L6-v2:L5]": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 3}}}}}
    results_table(results, Console(file=buf, width=200))
    assert "corrected.bertscore_p[all-MiniLM-L6-v2:L5] │ 0.5000 │ [0.4000, 0.6000] │ 3" in buf.getvalue()


def test_repetition_penalty_reaches_params_and_keys_only_when_on() -> None:
    from psybench.cache import cache_key
    from psybench.records import GenerationParams
    from psybench.runner import RunConfig, generation_params

    off = generation_params(RunConfig(model="m").resolved())
    on = generation_params(RunConfig(model="m", repetition_penalty=1.15).resolved())
    assert off.repetition_penalty == 1.0 and "repetition_penalty" not in off.as_dict()
    assert on.repetition_penalty == 1.15 and on.as_dict()["repetition_penalty"] == 1.15
    assert off.as_dict() == GenerationParams(max_tokens=off.max_tokens, seed=off.seed).as_dict()
    messages = ({"role": "user", "content": "hi"},)
    assert cache_key("fp", messages, off, "s") != cache_key("fp", messages, on, "s")
    with pytest.raises(ConfigError, match="--repetition-penalty 0.0: must be > 0"):
        RunConfig(model="m", repetition_penalty=0.0).resolved()


def test_frequency_penalty_reaches_params_and_keys_only_when_on() -> None:
    from psybench.cache import cache_key
    from psybench.records import GenerationParams
    from psybench.runner import RunConfig, generation_params

    off = generation_params(RunConfig(model="m").resolved())
    on = generation_params(RunConfig(model="m", frequency_penalty=1.0).resolved())
    paper = generation_params(RunConfig(model="m", frequency_penalty=0.5, decoding="paper").resolved())
    assert off.frequency_penalty == 0.0 and "frequency_penalty" not in off.as_dict()
    assert on.frequency_penalty == 1.0 and on.as_dict()["frequency_penalty"] == 1.0
    assert paper.frequency_penalty == 0.5 and paper.temperature == 0.7
    assert off.as_dict() == GenerationParams(max_tokens=off.max_tokens, seed=off.seed).as_dict()
    messages = ({"role": "user", "content": "hi"},)
    assert cache_key("fp", messages, off, "s") != cache_key("fp", messages, on, "s")
    with pytest.raises(ConfigError, match=r"--frequency-penalty 2.5: must be within \[-2, 2\]"):
        RunConfig(model="m", frequency_penalty=2.5).resolved()
