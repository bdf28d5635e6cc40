"""kill -9 mid-generation on the REAL vLLM engine (CPU, SmolLM2-135M-Instruct, fp32 greedy), then the
same command again: every sample id exactly once, outputs equal to an uninterrupted run's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N = 24
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cmd(out: Path, data_dir: Path) -> list[str]:
    from psybench.assets.chat_models import smollm2_dir

    return [sys.executable, str(REPO / "run_bench.py"), "--model", str(smollm2_dir()), "--backend", "vllm",
            "--tasks", "dialog", "--limit", str(N), "--max-tokens", "24", "--chunk-size", "4", "--dtype", "float32",
            "--enforce-eager", "--stage", "generate", "--no-cache", "--no-progress", "--data-dir", str(data_dir),
            "--out", str(out)]


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_9_mid_generation_resumes_exactly_once(tmp_path, data_dir):
    env = {**os.environ, **VLLM_ENV}
    ref_out, out = tmp_path / "uninterrupted", tmp_path / "killed"
    done = subprocess.run(_cmd(ref_out, data_dir), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    reference = {r["id"]: r for r in _records(ref_out)}
    assert len(reference) == N

    # its own session, so that kill -9 reaches vLLM's engine-core child too (no orphan keeps the CPU)
    proc = subprocess.Popen(_cmd(out, data_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    path = out / "predictions.jsonl"
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if path.is_file() and path.read_bytes().count(b"\n") >= 4:
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    n_before = path.read_bytes().count(b"\n")
    assert 4 <= n_before < N, f"killed with {n_before} lines: not mid-generation"

    again = subprocess.run(_cmd(out, data_dir), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    records = _records(out)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == N and set(ids) == set(reference)
    for r in records:
        assert (r["raw_output"], r["finish_reason"], r["prediction"], r["status"]) == (
            reference[r["id"]]["raw_output"], reference[r["id"]]["finish_reason"],
            reference[r["id"]]["prediction"], reference[r["id"]]["status"]), r["id"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["predictions"] == N and manifest["counts"]["resumed_from"] >= n_before
