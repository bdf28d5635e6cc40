"""kill -9 mid-generation on the REAL vLLM engine (CPU, SmolLM2-135M-Instruct, fp32 greedy), then the
same command again: every sample id exactly once, outputs equal to an uninterrupted run's."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
N = 24
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _cmd(out: Path, data_dir: Path) -> list[str]:
    from psybench.assets.chat_models import smollm2_dir

    return [sys.executable, str(REPO / "run_bench.py"), "--model", str(smollm2_dir()), "--backend", "vllm",
            "--tasks", "dialog", "--limit", str(N), "--max-tokens", "24", "--dtype", "float32", "--enforce-eager",
            # one request per engine call, none reusing another's KV blocks: a sample's output is computed the
            # same way in the uninterrupted run and after the resume, whichever samples ran before it
            "--chunk-size", "1", "--no-prefix-caching",
            "--stage", "generate", "--no-cache", "--no-progress", "--data-dir", str(data_dir), "--out", str(out)]


def kill_9_after_lines(cmd: list[str], env: dict, path: Path, lines: int, wait_s: float,
                       on_reached: Callable[[], None] | None = None) -> int:
    """Start `cmd` in its own session, kill -9 the whole session (so vLLM's engine-core children go too: no
    orphan keeps the CPU) once `path` holds `lines` lines (after calling `on_reached`) or after wait_s;
    return the number of lines the file then holds."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if path.is_file() and path.read_bytes().count(b"\n") >= lines:
                if on_reached is not None:
                    on_reached()
                break
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return path.read_bytes().count(b"\n")


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

    path = out / "predictions.jsonl"
    n_before = kill_9_after_lines(_cmd(out, data_dir), env, path, 4, wait_s=400)
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


def _cached_cmd(out: Path, cache: Path, data_dir: Path) -> list[str]:
    from psybench.assets.chat_models import smollm2_dir

    return [sys.executable, str(REPO / "run_bench.py"), "--model", str(smollm2_dir()), "--backend", "vllm",
            "--tasks", "dialog,reasoning", "--split", "table5", "--limit", "4", "--max-tokens", "16",
            "--dtype", "float32", "--enforce-eager", "--stage", "generate",
            "--cache", str(cache), "--no-progress", "--data-dir", str(data_dir), "--out", str(out)]


def _timed_run(cmd: list[str], env: dict) -> float:
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.monotonic() - start


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_warm_cache_run_starts_no_engine(tmp_path, data_dir):
    """A fresh run directory on a warm cache (and a re-run of a finished run) makes 0 generations and
    starts no engine; greedy outputs are shared by samples with the same prompt: dialog/000876/0 and
    reasoning/000876/0 (the only shared prompt among the first 4 of each). Sampled decoding never shares
    (tests/test_cache.py: every backend and decoding, and real openai and replay runs)."""
    env = {**os.environ, **VLLM_ENV}
    cache = tmp_path / "gen.sqlite"
    first, second = tmp_path / "first", tmp_path / "second"
    t_first = _timed_run(_cached_cmd(first, cache, data_dir), env)
    m1 = _manifest(first)
    assert (m1["backend_started"], m1["counts"]["generated"], m1["counts"]["cache_hits"]) == (True, 7, 1)
    records = {r["id"]: r for r in _records(first)}
    assert len(records) == 8 and [i for i, r in records.items() if r["cached"]] == ["reasoning/000876/0"]
    assert records["reasoning/000876/0"]["raw_output"] == records["dialog/000876/0"]["raw_output"]

    t_second = _timed_run(_cached_cmd(second, cache, data_dir), env)
    m2 = _manifest(second)
    assert (m2["backend_started"], m2["counts"]["generated"], m2["counts"]["cache_hits"]) == (False, 0, 8)
    assert "backend_start_s" not in m2["timings"]
    assert (m2["model_fingerprint"], m2["backend_info"]) == (m1["model_fingerprint"], m1["backend_info"])
    assert {r["id"]: (r["raw_output"], r["cached"]) for r in _records(second)} == {
        i: (r["raw_output"], True) for i, r in records.items()}

    t_rerun = _timed_run(_cached_cmd(first, cache, data_dir), env)  # the finished run again: nothing to do
    m3 = _manifest(first)
    assert (m3["backend_started"], m3["counts"]["generated"], m3["counts"]["cache_hits"],
            m3["counts"]["resumed_from"]) == (False, 0, 0, 8)
    assert m3["model_fingerprint"] == m1["model_fingerprint"]

    print(f"\nwarm-cache runs (dialog+reasoning, 8 samples): first {t_first:.1f} s (engine start "
          f"{m1['timings']['backend_start_s']:.1f} s), fresh dir on the warm cache {t_second:.1f} s, "
          f"finished run again {t_rerun:.1f} s")
    assert t_second < t_first and t_rerun < t_first
