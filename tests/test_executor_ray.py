"""`--executor ray` on a REAL local Ray cluster of two simulated nodes (one CPU each, loopback only) and
the REAL vLLM engine (CPU build) on a tiny random Llama, fp32 greedy: two replicas produce exactly the
predictions of one plain engine, every sample once; a replica killed mid-run hands its samples to the
other and the manifest says so; the driver killed with kill -9 resumes with the same command, every sample
once, and a third run generates nothing. The cluster is the test's own and is shut down by it.

The first two run each replica's engine in the actor's own process (VLLM_ENABLE_V1_MULTIPROCESSING=0,
which the executor forwards: it starts in a third of the time here); the kill -9 test runs vLLM's default
engine processes under each replica, which it also checks Ray ends with the killed driver."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from psybench import runner
from psybench.runner import RunConfig
from test_backend_vllm import _tiny_llama
from test_resume import VLLM_ENV, kill_9_after_lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
N = 16
GENERATION = dict(tasks=("dialog",), limit=N, max_tokens=24, dtype="float32", max_model_len=512,
                  prefix_caching=False, stage="generate", progress=False)
NODE = dict(num_cpus=1, node_ip_address="127.0.0.1", include_dashboard=False, object_store_memory=150 * 1024**2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return _tiny_llama(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def reference(tiny, data_dir, tmp_path_factory) -> dict[str, dict]:
    """One plain engine in this process."""
    out = tmp_path_factory.mktemp("plain") / "run"
    runner.run(RunConfig(model=tiny, data_dir=data_dir, out=out, use_cache=False, **GENERATION))
    records = _records(out)
    assert len(records) == N
    return {r["id"]: r for r in records}


@pytest.fixture(scope="module")
def cluster():
    for key, value in {**VLLM_ENV, "RAY_USAGE_STATS_ENABLED": "0"}.items():
        os.environ.setdefault(key, value)  # the nodes' processes (and so the replicas) inherit it
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args=NODE)
    try:
        cluster.add_node(**NODE)
        yield cluster
    finally:
        cluster.shutdown()


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def _assert_same_as(records: list[dict], reference: dict[str, dict]) -> None:
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == N and set(ids) == set(reference)  # every sample exactly once
    for r in records:
        expected = reference[r["id"]]
        assert (r["raw_output"], r["finish_reason"], r["prediction"], r["status"]) == (
            expected["raw_output"], expected["finish_reason"], expected["prediction"], expected["status"]), r["id"]


def _ray_info(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend_info"]["executor"] == "ray"
    return manifest["backend_info"]["ray"]


def test_two_replicas_on_two_nodes_equal_one_engine(tiny, data_dir, reference, cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    out = tmp_path / "ray"
    runner.run(RunConfig(model=tiny, data_dir=data_dir, out=out, use_cache=False, executor="ray",
                         ray_address=cluster.address, replicas=2, **GENERATION))
    _assert_same_as(_records(out), reference)
    info = _ray_info(out)
    assert info["replicas"] == 2 and info["actor_deaths"] == 0 and info["failures"] == []
    assert len({p["node_id"] for p in info["placement"]}) == 2  # one replica per simulated node
    assert sorted(p["omp_bind"] for p in info["placement"]) == ["0", "1"]  # one machine: its two cores split
    per_replica = info["samples_per_replica"]
    assert sum(per_replica.values()) == N and all(n > 0 for n in per_replica.values())


def test_a_replica_killed_mid_run_hands_its_samples_on(tiny, data_dir, reference, cluster, tmp_path, monkeypatch):
    import ray

    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

    out = tmp_path / "ray-kill"
    killed: dict[str, int] = {}

    def kill_replica_1_after_the_first_outputs() -> None:
        path, deadline = out / "predictions.jsonl", time.monotonic() + 400
        while time.monotonic() < deadline:
            if path.is_file() and path.read_bytes().count(b"\n") >= 2 and ray.is_initialized():
                [actor] = [a for a in ray.util.list_named_actors(all_namespaces=True)
                           if a["name"].endswith("-replica-1")]
                ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=True)
                killed["lines"] = path.read_bytes().count(b"\n")
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=kill_replica_1_after_the_first_outputs)
    watcher.start()
    try:
        runner.run(RunConfig(model=tiny, data_dir=data_dir, out=out, use_cache=False, executor="ray",
                             ray_address=cluster.address, replicas=2, **GENERATION))
    finally:
        watcher.join()
    assert 2 <= killed["lines"] < N, killed  # killed mid-run
    _assert_same_as(_records(out), reference)
    info = _ray_info(out)
    assert info["actor_deaths"] == 1 and info["live_replicas"] == 1
    [failure] = info["failures"]
    assert failure["replica"] == 1 and failure["node"] == "127.0.0.1"
    assert failure["error"].startswith(("ActorDiedError", "RayActorError"))
    assert failure["requeued_samples"] >= 1 and info["requeued_samples"] == failure["requeued_samples"]
    assert sum(info["samples_per_replica"].values()) == N


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            children = [int(c) for c in task.read_text().split()]
            found += children
            todo += children
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_driver_kill_9_then_the_same_command_resumes_exactly_once(tiny, data_dir, reference, cluster, tmp_path):
    out, cache = tmp_path / "ray-driver", tmp_path / "generations.sqlite"
    cmd = [sys.executable, "-m", "psybench", "run", "--model", tiny, "--tasks", "dialog", "--limit", str(N),
           "--max-tokens", "24", "--dtype", "float32", "--max-model-len", "512", "--no-prefix-caching",
           "--stage", "generate", "--no-progress", "--cache", str(cache), "--data-dir", str(data_dir),
           "--out", str(out), "--executor", "ray", "--ray-address", cluster.address, "--replicas", "2"]
    env = {**os.environ, **VLLM_ENV}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # vLLM's default: engine processes under each replica
    path = out / "predictions.jsonl"
    orphans: list[int] = []

    def note_replicas() -> None:  # the driver's replicas and their engines, to check Ray ends them
        replicas = [p["pid"] for p in _ray_info(out)["placement"]]
        orphans.extend(replicas + [child for pid in replicas for child in _descendants(pid)])

    n_before = kill_9_after_lines(cmd, env, path, 2, wait_s=400, on_reached=note_replicas)
    assert 2 <= n_before < N, f"killed with {n_before} lines: not mid-generation"
    assert len(orphans) > 2  # two replicas and vLLM's engine processes under them

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    _assert_same_as(_records(out), reference)
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["resumed_from"] == n_before and counts["generated"] + counts["cache_hits"] == N - n_before

    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-2000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["generated"] == 0 and manifest["backend_started"] is False
    _assert_same_as(_records(out), reference)
    # Ray ended the dead driver's replicas and their engine processes on its own
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in orphans) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [pid for pid in orphans if _alive(pid)] == []


def test_judging_runs_through_the_ray_executor(data_dir, cluster, tmp_path, monkeypatch):
    """`psybench judge --executor ray`: the judge's engines are Ray replicas; the judgments are those of one
    local engine (SmolLM2, fp32 greedy, structured output, prefix caching off), each once."""
    import shutil

    from psybench.executors import ExecutorSettings
    from psybench.judge.engine import JudgeSpec
    from psybench.judge.pointwise import JudgeSettings, judge_run

    monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    base = tmp_path / "base"
    runner.run(RunConfig(model=str(Path(__file__).parent / "replays" / "dialog_zh.jsonl"), backend="replay", lang="zh",
                         limit=4, metrics=("bleu",), out=base, data_dir=data_dir, use_cache=False, progress=False))
    spec = JudgeSpec.parse("smollm2", "vllm", {"dtype": "float32", "max_model_len": 4096, "prefix_caching": False})
    judged = {}
    for name, executor in (("local", ExecutorSettings()), ("ray", ExecutorSettings("ray", cluster.address, 2))):
        run_dir = tmp_path / name
        shutil.copytree(base, run_dir)
        summary = judge_run(run_dir, JudgeSettings(judges=(spec,), use_cache=False, data_dir=data_dir, progress=False,
                                                   executor=executor))
        judged[name] = {x["key"]: x["raw_output"] for x in
                        map(json.loads, (run_dir / "judgments.jsonl").read_text().splitlines())}
        info = summary.per_judge["SmolLM2-135M-Instruct"]["backend_info"]
        assert (info.get("executor") == "ray") == (name == "ray"), info
    assert len(judged["local"]) == 4 and judged["ray"] == judged["local"]
