"""The content-addressed generation cache: keys, round trip, persistence, WAL."""
from __future__ import annotations

import sqlite3

from psybench.cache import GenerationCache, cache_key
from psybench.records import GenerationParams, Output

MSGS = ({"role": "user", "content": "I can't sleep before exams."},)


def test_key_depends_on_model_messages_and_params_only():
    k = cache_key("fp1", MSGS, GenerationParams(max_tokens=64))
    assert len(k) == 64 and k == cache_key("fp1", [dict(m) for m in MSGS], GenerationParams(max_tokens=64))
    assert k != cache_key("fp2", MSGS, GenerationParams(max_tokens=64))
    assert k != cache_key("fp1", MSGS, GenerationParams(max_tokens=65))
    assert k != cache_key("fp1", MSGS, GenerationParams(max_tokens=64, seed=1))
    assert k != cache_key("fp1", ({"role": "user", "content": "I can't sleep before exams"},), GenerationParams(max_tokens=64))


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


def test_default_path_under_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path))
    with GenerationCache() as cache:
        assert cache.path == tmp_path / "generations" / "generations.sqlite"
