"""The judge on the REAL vLLM engine (CPU, SmolLM2-135M-Instruct, float32, structured output): a run's
replies judged, a second pass with 0 judge calls and no engine started, `kill -9` in the middle of judging
then the same command (every judgment exactly once), and `judge validate` on a few turns."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_resume import VLLM_ENV, kill_9_after_lines

REPO = Path(__file__).resolve().parent.parent
N = 8
JUDGE = ["--judge-model", "smollm2", "--judge-option", "dtype=float32", "--judge-option", "max_model_len=4096"]


def _judge(run_dir: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "psybench", "judge", str(run_dir), *JUDGE, "--data-dir",
                           str(data_dir), *extra], env={**os.environ, **VLLM_ENV}, capture_output=True, text=True,
                          timeout=900)


def _lines(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_vllm_judge_scores_a_run_then_a_second_pass_costs_nothing(scored_run, tmp_path, data_dir) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(scored_run, run_dir)
    cache = tmp_path / "judge.sqlite"
    done = _judge(run_dir, data_dir, "--judge-cache", str(cache), "--limit", "4")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _lines(run_dir)
    assert len(lines) == 4 and len({x["key"] for x in lines}) == 4
    for x in lines:  # structured output: JSON in the schema's shape, or an invalid line after 3 attempts
        assert x["valid"] or x["attempts"] == 3, x
        if x["valid"]:
            assert set(x["scores"]) == {"interactivity", "helpfulness", "comfort", "explainability"}
            assert x["scores"]["explainability"] is None and all(1 <= x["scores"][d] <= 5 for d in
                                                                   ("interactivity", "helpfulness", "comfort"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    first = manifest["judge"]["SmolLM2-135M-Instruct"]["counts"]
    assert first["calls"] >= 4 and first["backend_started"]
    results = json.loads((run_dir / "results.json").read_text())
    key = "judge.invalid_rate[SmolLM2-135M-Instruct]"
    assert results["tasks"]["dialog"]["metrics"][key]["n"] == 4
    assert results["judges"]["SmolLM2-135M-Instruct"]["structured_output"] is True

    (run_dir / "judgments.jsonl").unlink()  # judged again from the cache: 0 calls, no engine
    again = _judge(run_dir, data_dir, "--judge-cache", str(cache), "--limit", "4")
    assert again.returncode == 0, again.stderr[-3000:]
    counts = json.loads((run_dir / "manifest.json").read_text())["judge"]["SmolLM2-135M-Instruct"]["counts"]
    assert counts["calls"] == 0 and counts["cache_hits"] == first["calls"] and not counts["backend_started"]
    assert [(x["key"], x["raw_output"]) for x in _lines(run_dir)] == [(x["key"], x["raw_output"]) for x in lines]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_9_mid_judging_then_the_same_command_judges_each_reply_once(scored_run, tmp_path, data_dir) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(scored_run, run_dir)
    # two answers per engine call, so judgments reach the file while others are still being made
    cmd = [sys.executable, "-m", "psybench", "judge", str(run_dir), *JUDGE, "--judge-option", "chunk_size=2",
           "--no-judge-cache", "--data-dir", str(data_dir)]
    path = run_dir / "judgments.jsonl"
    n_before = kill_9_after_lines(cmd, {**os.environ, **VLLM_ENV}, path, 2, wait_s=600)
    assert 2 <= n_before < N, f"killed with {n_before} judgments: not mid-judging"
    kept = path.read_text().splitlines()[:n_before]
    again = subprocess.run(cmd, env={**os.environ, **VLLM_ENV}, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    lines = _lines(run_dir)
    keys = [x["key"] for x in lines]
    assert len(keys) == len(set(keys)) == N
    assert path.read_text().splitlines()[:n_before] == kept  # what was written stays, once
    counts = json.loads((run_dir / "manifest.json").read_text())["judge"]["SmolLM2-135M-Instruct"]["counts"]
    assert counts["calls"] >= N - n_before


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_validate_on_a_few_turns(tmp_path, data_dir) -> None:
    env = {**os.environ, **VLLM_ENV, "PSYBENCH_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "psybench", "judge", "validate", *JUDGE, "--lang", "en", "--limit", "2",
                           "--data-dir", str(data_dir), "--json"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    # 2 gold + 2 x 3 contrasts pointwise, 2 x 3 x 2 orders pairwise, 2 risk replies
    assert summary["counts"]["requests"] == 2 + 6 + 12 + 2 and summary["n_turns"] == 2
    assert set(summary["contrasts"]) == {"other_session", "truncated", "generic"}
    assert summary["risk"]["n_risk_replies"] == 2
    assert (summary["warning"] is None) == summary["fit"]
    assert not (tmp_path / "cache" / "judgments" / "validation").exists()  # a --limit look is not stored


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_hf_judge_free_text_is_parsed_or_counted_invalid(scored_run, tmp_path, data_dir) -> None:
    """transformers generate as the judge: no schema enforced, the answer read as free text; a reply is
    judged once, valid or invalid after 3 attempts."""
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(scored_run, run_dir)
    done = subprocess.run([sys.executable, "-m", "psybench", "judge", str(run_dir), "--judge-model", "hf:smollm2",
                           "--judge-option", "dtype=float32", "--judge-max-tokens", "96", "--limit", "2",
                           "--no-judge-cache", "--data-dir", str(data_dir)],
                          env={**os.environ, **VLLM_ENV}, capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _lines(run_dir)
    assert len(lines) == 2 and all(x["valid"] or (x["attempts"] == 3 and x["problem"]) for x in lines)
    results = json.loads((run_dir / "results.json").read_text())
    info = results["judges"]["SmolLM2-135M-Instruct"]
    assert info["backend"] == "hf" and info["structured_output"] is False
    invalid = sum(not x["valid"] for x in lines) / 2
    assert results["tasks"]["dialog"]["metrics"]["judge.invalid_rate[SmolLM2-135M-Instruct]"]["value"] == invalid
