"""The content-addressed generation cache: keys, the sharing rule (which samples may share an output) for
every backend and decoding, round trip, persistence, WAL, and real runs that must never hand a sample
another sample's output."""
from __future__ import annotations

import json
import sqlite3

import pytest

from psybench.backends import BACKENDS, backend_class, create_backend, offline_fingerprint
from psybench.backends.common import request_seed
from psybench.cache import GenerationCache, cache_key, sample_key, shares_outputs
from psybench.records import GenerationParams, Output
from psybench.runner import DECODINGS, RunConfig, generation_params
from psybench.tasks import get_task

MSGS = ({"role": "user", "content": "I can't sleep before exams."},)
# The sharing rule, written out: which (backend, decoding) pairs may serve one output to two samples
# that send the same model the same messages with the same settings.
SHARED = {("vllm", "greedy"): True, ("hf", "greedy"): True, ("openai", "greedy"): True,
          ("replay", "greedy"): False, ("vllm", "paper"): False, ("hf", "paper"): False,
          ("openai", "paper"): False, ("replay", "paper"): False}


def test_key_depends_on_model_messages_params_and_scope():
    k = cache_key("fp1", MSGS, GenerationParams(max_tokens=64), None)
    assert len(k) == 64 and k == cache_key("fp1", [dict(m) for m in MSGS], GenerationParams(max_tokens=64), None)
    assert k != cache_key("fp2", MSGS, GenerationParams(max_tokens=64), None)
    assert k != cache_key("fp1", MSGS, GenerationParams(max_tokens=65), None)
    assert k != cache_key("fp1", MSGS, GenerationParams(max_tokens=64, seed=1), None)
    assert k != cache_key("fp1", ({"role": "user", "content": "I can't sleep before exams"},),
                          GenerationParams(max_tokens=64), None)
    scoped = cache_key("fp1", MSGS, GenerationParams(max_tokens=64), "dialog/000001/1")
    assert scoped not in (k, cache_key("fp1", MSGS, GenerationParams(max_tokens=64), "reasoning/000001/1"))
    assert scoped == cache_key("fp1", MSGS, GenerationParams(max_tokens=64), "dialog/000001/1")


def test_each_backend_declares_whether_its_output_is_a_function_of_the_prompt():
    assert {name: backend_class(name).prompt_determined for name in BACKENDS} == {
        "vllm": True, "openai": True, "hf": True, "replay": False}


@pytest.mark.parametrize("decoding", DECODINGS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sharing_rule_for_every_backend_and_decoding(backend, decoding):
    """The issue's collision: dialog/000876/0 and reasoning/000876/0 send the same messages; under
    --max-tokens (or paper decoding) their settings are equal too."""
    prompt_determined = backend_class(backend).prompt_determined
    config = RunConfig(model="m", backend=backend, decoding=decoding, max_tokens=64)
    p_dialog = generation_params(config, get_task("dialog"))
    p_reasoning = generation_params(config, get_task("reasoning"))
    assert p_dialog == p_reasoning and (p_dialog.temperature == 0.0) == (decoding == "greedy")
    assert shares_outputs(prompt_determined, p_dialog) is SHARED[backend, decoding]
    a = sample_key("fp engine", "dialog/000876/0", MSGS, p_dialog, prompt_determined)
    b = sample_key("fp engine", "reasoning/000876/0", MSGS, p_reasoning, prompt_determined)
    assert (a == b) is SHARED[backend, decoding]
    # the same sample in a later run always finds its own output
    assert a == sample_key("fp engine", "dialog/000876/0", MSGS, p_dialog, prompt_determined)
    # without --max-tokens the tasks' own limits differ (256 vs 512): nothing is shared
    own = RunConfig(model="m", backend=backend, decoding="greedy")
    assert sample_key("fp", "dialog/000876/0", MSGS, generation_params(own, get_task("dialog")), prompt_determined) != \
        sample_key("fp", "reasoning/000876/0", MSGS, generation_params(own, get_task("reasoning")), prompt_determined)
    if decoding == "paper":  # why sampled outputs are never shared: each sample has its own seed
        assert request_seed(p_dialog, "dialog/000876/0") != request_seed(p_dialog, "reasoning/000876/0")


def test_round_trip_relabels_and_marks_cached(tmp_path):
    path = tmp_path / "gen.sqlite"
    out = Output(id="dialog/1/1", text="Therapist: Tell me more.", finish_reason="length", prompt_tokens=12,
                 completion_tokens=5, history_turns_cut=2)
    with GenerationCache(path) as cache:
        assert cache.get("k", "x") is None and len(cache) == 0
        cache.put("k", out)
        cache.put("k", out)  # idempotent
        assert len(cache) == 1
    with GenerationCache(path) as cache:  # persisted across processes/handles
        got = cache.get("k", "dialog/9/3")
    assert got == Output(id="dialog/9/3", text="Therapist: Tell me more.", finish_reason="length", prompt_tokens=12,
                         completion_tokens=5, history_turns_cut=2, cached=True)
    with GenerationCache(path) as cache:
        assert cache.get_many([("k", "a"), ("missing", "b")]).keys() == {"a"}
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_engine_info_round_trip(tmp_path):
    with GenerationCache(tmp_path / "gen.sqlite") as cache:
        assert cache.get_engine("fp {}") is None
        cache.put_engine("fp {}", {"backend": "vllm", "vllm_version": "0.0"})
        cache.put_engine("fp {}", {"backend": "vllm", "vllm_version": "0.1"})  # the last engine wins
    with GenerationCache(tmp_path / "gen.sqlite") as cache:
        assert cache.get_engine("fp {}") == {"backend": "vllm", "vllm_version": "0.1"}


def test_default_path_under_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path))
    with GenerationCache() as cache:
        assert cache.path == tmp_path / "generations" / "generations.sqlite"


def test_offline_fingerprint_equals_the_started_backends(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "dialog/000001/1", "prediction": "x"}\n')
    assert offline_fingerprint("replay", str(path)) == create_backend("replay", str(path)).fingerprint()
    assert offline_fingerprint("replay", str(tmp_path / "missing.jsonl")) is None
    assert offline_fingerprint("openai", "served-model", base_url="http://127.0.0.1:9/v1") is None  # server's to tell


# ---- real runs: no sample is ever handed another sample's output ------------------------------------------


def _replay_file(path, data_dir, tasks):
    from psybench.tasks import build_samples

    ids = [s.id for task in tasks for s in build_samples(task, "en", split="table5", data_dir=data_dir)]
    path.write_text("".join(json.dumps({"id": sid, "raw_output": f"Therapist: replayed for {sid}"}) + "\n"
                            for sid in ids))
    return len(ids)


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("tasks, options, n_same_prompt", [
    (("reasoning", "observation"), {}, 74),  # issue 14: observation/000432/1 got reasoning's text
    (("dialog", "reasoning"), {"max_tokens": 64}, 81),
    (("dialog", "reasoning"), {"decoding": "paper"}, 81),
])
def test_replay_run_never_serves_another_samples_output(tmp_path, data_dir, tasks, options, n_same_prompt):
    from psybench import runner

    replay = tmp_path / "replay.jsonl"
    n = _replay_file(replay, data_dir, tasks)
    cfg = dict(model=str(replay), backend="replay", tasks=tasks, split="table5", stage="generate",
               data_dir=data_dir, cache=tmp_path / "gen.sqlite", progress=False, **options)
    first = runner.run(RunConfig(out=tmp_path / "first", **cfg))
    # the two tasks do send identical prompts (the old key, without the sample id, collided on them)
    from psybench.tasks import build_samples

    first_prompts = {json.dumps(s.messages) for s in build_samples(tasks[0], "en", split="table5", data_dir=data_dir)}
    second_task = build_samples(tasks[1], "en", split="table5", data_dir=data_dir)
    assert sum(json.dumps(s.messages) in first_prompts for s in second_task) == n_same_prompt

    records = _records(first)
    assert len(records) == n and {r["raw_output"] for r in records} == {f"Therapist: replayed for {r['id']}"
                                                                        for r in records}
    assert all(r["raw_output"] == f"Therapist: replayed for {r['id']}" and r["cached"] is False for r in records)
    manifest = json.loads((first / "manifest.json").read_text())
    assert (manifest["backend_started"], manifest["counts"]["generated"], manifest["counts"]["cache_hits"]) == (
        True, n, 0)

    # a fresh run directory on the same cache: every sample its own output back, no backend started
    second = runner.run(RunConfig(out=tmp_path / "second", **cfg))
    records = _records(second)
    assert len(records) == n
    assert all(r["raw_output"] == f"Therapist: replayed for {r['id']}" and r["cached"] is True for r in records)
    manifest2 = json.loads((second / "manifest.json").read_text())
    assert (manifest2["backend_started"], manifest2["counts"]["generated"], manifest2["counts"]["cache_hits"]) == (
        False, 0, n)
    assert "backend_start_s" not in manifest2["timings"]
    assert manifest2["model_fingerprint"] == manifest["model_fingerprint"]
    assert manifest2["backend_info"] == manifest["backend_info"]  # the engine that made the outputs, from the cache


@pytest.mark.parametrize("decoding, n_requests", [("greedy", 7), ("paper", 8)])
def test_openai_run_shares_only_greedy_outputs(tmp_path, data_dir, decoding, n_requests):
    """The real openai backend against a loopback server: dialog/000876/0 and reasoning/000876/0 send the
    same prompt (the only shared one among the first 4 of each task); greedy asks the server once for both."""
    from psybench import runner
    from tests.fault_server import FaultServer

    with FaultServer(fault_rate=0.0) as server:
        cfg = dict(model=server.model, backend="openai", base_url=server.base_url, tasks=("dialog", "reasoning"),
                   split="table5", limit=4, max_tokens=16, decoding=decoding, stage="generate", data_dir=data_dir,
                   cache=tmp_path / "gen.sqlite", progress=False)
        first = runner.run(RunConfig(out=tmp_path / "first", **cfg))
        assert server.counts["ok"] == n_requests
        records = {r["id"]: r for r in _records(first)}
        assert len(records) == 8
        assert records["reasoning/000876/0"]["cached"] is (decoding == "greedy")
        assert sum(r["cached"] for r in records.values()) == 8 - n_requests
        manifest = json.loads((first / "manifest.json").read_text())
        assert (manifest["counts"]["generated"], manifest["counts"]["cache_hits"]) == (n_requests, 8 - n_requests)

        second = runner.run(RunConfig(out=tmp_path / "second", **cfg))
        assert server.counts["ok"] == n_requests  # nothing asked again
        assert {r["id"]: r["raw_output"] for r in _records(second)} == {i: r["raw_output"] for i, r in records.items()}
        manifest2 = json.loads((second / "manifest.json").read_text())
        # the server names the model's identity, so the backend connects, but generates nothing
        assert (manifest2["backend_started"], manifest2["counts"]["generated"], manifest2["counts"]["cache_hits"]) == (
            True, 0, 8)


@pytest.mark.slow
@pytest.mark.parametrize("decoding, n_generated", [("greedy", 7), ("paper", 8)])
def test_hf_run_shares_only_greedy_outputs_and_warm_cache_starts_nothing(tmp_path, data_dir, decoding,
                                                                         n_generated):
    """The real hf backend (transformers, SmolLM2-135M): same prompts as the openai test above."""
    from psybench import runner
    from psybench.assets.chat_models import smollm2_dir

    cfg = dict(model=str(smollm2_dir()), backend="hf", dtype="float32", tasks=("dialog", "reasoning"),
               split="table5", limit=4, max_tokens=16, decoding=decoding, stage="generate", data_dir=data_dir,
               cache=tmp_path / "gen.sqlite", progress=False)
    first = runner.run(RunConfig(out=tmp_path / "first", **cfg))
    records = {r["id"]: r for r in _records(first)}
    assert len(records) == 8 and records["reasoning/000876/0"]["cached"] is (decoding == "greedy")
    manifest = json.loads((first / "manifest.json").read_text())
    assert (manifest["backend_started"], manifest["counts"]["generated"], manifest["counts"]["cache_hits"]) == (
        True, n_generated, 8 - n_generated)
    second = runner.run(RunConfig(out=tmp_path / "second", **cfg))
    manifest2 = json.loads((second / "manifest.json").read_text())
    assert (manifest2["backend_started"], manifest2["counts"]["generated"], manifest2["counts"]["cache_hits"]) == (
        False, 0, 8)
    # every hit proves the offline fingerprint equals the started backend's; the manifest says so too
    assert manifest2["model_fingerprint"] == manifest["model_fingerprint"] == offline_fingerprint("hf", None)
    assert {r["id"]: r["raw_output"] for r in _records(second)} == {i: r["raw_output"] for i, r in records.items()}
