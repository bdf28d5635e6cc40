"""Task 4 retrieval: leakage, determinism, cache keys, prompt budget, errors. The fast tests use a
hashing encoder (logic only); the slow tests repeat the properties with the real embedding models."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest

from psybench import retrieval
from psybench.cli import main
from psybench.data import get_split, load_sessions
from psybench.data.splits import overlap_groups
from psybench.records import Session, Turn
from psybench.tasks import build_samples
from psybench.tasks.rag import _inject, format_example


@dataclass(frozen=True)
class HashEmbedder(retrieval.Embedder):
    """Character-trigram hashing into 256 dims, normalised: deterministic, instant. Logic tests only."""

    def encode(self, texts, kind, max_seq_length=None):  # noqa: ANN001, ANN201
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for i, text in enumerate(texts):
            c = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            if len(c) >= 3:
                grams = (c[:-2] * 1000003 + c[1:-1] * 10007 + c[2:]) % 256
                out[i] = np.bincount(grams.astype(np.int64), minlength=256)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


FAKE = HashEmbedder(name="hash-trigram", path="-", fingerprint="v1")


@pytest.fixture()
def cache(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path))
    return tmp_path / "indexes"


def _queries(sessions, split):  # noqa: ANN001, ANN202
    by_id = {s.dialog_id: s for s in sessions}
    return [(d, t.index) for d in split.test_ids for t in by_id[d].turns if t.is_therapist]


def _assert_no_leak(sessions, split, queries, hits, k):  # noqa: ANN001, ANN202
    groups = {d: set(g) for g in overlap_groups(sessions) for d in g}
    tests, train = set(split.test_ids), set(split.train_ids)
    assert len(hits) == len(queries)
    for (dialog_id, _), found in zip(queries, hits):
        ids = [h.dialog_id for h in found]
        assert len(ids) == k and len(set(ids)) == k
        assert not set(ids) & tests
        assert not set(ids) & groups.get(dialog_id, {dialog_id})
        assert set(ids) <= train
        assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


# ---- fast ------------------------------------------------------------------------------------------

def test_passage_spans_cover_every_turn() -> None:
    params = retrieval.IndexParams(chunk_turns=6, chunk_stride=4)
    assert retrieval.passage_spans(3, params) == [(0, 3)]
    assert retrieval.passage_spans(6, params) == [(0, 6)]
    assert retrieval.passage_spans(13, params) == [(0, 6), (4, 10), (7, 13)]
    assert retrieval.passage_spans(14, params) == [(0, 6), (4, 10), (8, 14)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_leakage_over_whole_split_logic(lang, data_dir, cache) -> None:  # noqa: ANN001
    sessions = load_sessions(lang, data_dir)
    split = get_split("seeded", lang, data_dir)
    index = retrieval.build_index(sessions, split, FAKE)
    assert index.session_ids == sorted(split.train_ids)
    queries = _queries(sessions, split)
    hits = retrieval.retrieve(index, FAKE, sessions, queries, k=3, test_ids=split.test_ids)
    _assert_no_leak(sessions, split, queries, hits, 3)


def test_defence_in_depth_excludes_overlap_group_even_if_in_train(data_dir, cache) -> None:  # noqa: ANN001
    """A split that (wrongly) puts 000619 in train while 000618 is evaluated: 000619 shares 22 turns
    with 000618, the best possible match, and must still never be retrieved for it."""
    sessions = load_sessions("en", data_dir)
    all_ids = tuple(sorted(s.dialog_id for s in sessions))
    bad = replace(get_split("seeded", "en", data_dir), test_ids=("000618",),
                  train_ids=tuple(d for d in all_ids if d != "000618"), excluded_ids=(), content_hash="bad")
    index = retrieval.build_index(sessions, bad, FAKE)
    assert "000619" in index.session_ids
    queries = _queries(sessions, bad)
    hits = retrieval.retrieve(index, FAKE, sessions, queries, k=3, test_ids=bad.test_ids)
    assert all("000619" not in [h.dialog_id for h in found] for found in hits)
    # without the exclusion 000619 is the top hit for most of these queries: the mask does real work
    raw = index.search(FAKE.encode([retrieval.query_text(next(s for s in sessions if s.dialog_id == d), t, 4)
                                    for d, t in queries], "query"), [set()] * len(queries), 1)
    assert sum(found[0].dialog_id == "000619" for found in raw) > len(queries) // 2


def test_cache_hit_and_invalidation(data_dir, cache) -> None:  # noqa: ANN001
    sessions = load_sessions("zh", data_dir)
    split = get_split("seeded", "zh", data_dir)
    first = retrieval.build_index(sessions, split, FAKE)
    again = retrieval.build_index(sessions, split, FAKE)
    assert not first.from_cache and again.from_cache and again.key == first.key
    assert np.array_equal(first.embeddings, again.embeddings)
    queries = _queries(sessions, split)[:25]
    assert retrieval.retrieve(first, FAKE, sessions, queries) == retrieval.retrieve(again, FAKE, sessions, queries)
    new_model = retrieval.build_index(sessions, split, replace(FAKE, fingerprint="v2"))
    assert not new_model.from_cache and new_model.key != first.key
    smaller = replace(split, train_ids=split.train_ids[1:], content_hash="other")
    new_split = retrieval.build_index(sessions, smaller, FAKE)
    assert not new_split.from_cache and new_split.key != first.key
    assert new_split.session_ids == list(split.train_ids[1:])
    new_params = retrieval.build_index(sessions, split, FAKE, retrieval.IndexParams(chunk_turns=4))
    assert not new_params.from_cache
    assert len(list(cache.glob("[0-9a-f]*.npz"))) == 4 and not list(cache.glob("*.tmp"))
    assert len(list(cache.glob("queries-*.npz"))) == 1  # both retrievals used one query set


def _session(lang: str) -> Session:
    turns = tuple(Turn(index=i, speaker="Seeker" if i % 2 == 0 else "Supporter", participant="x",
                       content=f"turn number {i} " + "w" * 100, raw_id=f"0-{i}",
                       observation="obs" if i % 2 == 0 else "", reasoning="" if i % 2 == 0 else "why")
                  for i in range(8))
    return Session(dialog_id="900001", lang=lang, theme="", psychotherapy="", topic="", stage="",
                   guide="g" * 50, is_same_qa=0, is_same_session=0, background="b" * 80, reasoning="",
                   summary="s" * 50, turns=turns)


def test_example_budget_drops_turns_from_the_end() -> None:
    session = _session("en")
    hit = retrieval.Hit("900001", 0.5, 0, 6)
    full = format_example(1, session, hit, explained=False, budget=10_000)
    assert full.count("Therapist: ") == 3 and full.count("Client: ") == 3 and "Session summary" not in full
    short = format_example(1, session, hit, explained=False, budget=400)
    assert len(short) <= 400 and "turn number 0" in short and "turn number 5" not in short
    explained = format_example(1, session, hit, explained=True, budget=10_000)
    assert "(Therapist's reasoning: why)" in explained and "Session summary: " + "s" * 50 in explained
    assert len(format_example(1, session, hit, explained=True, budget=150)) <= 150


def test_inject_places_block_in_system_or_first_user_message() -> None:
    paper = ({"role": "user", "content": "INSTR"}, {"role": "assistant", "content": "A"})
    assert _inject(paper, "BLOCK")[0]["content"] == "BLOCK\n\nINSTR"
    assert paper[0]["content"] == "INSTR"  # shared dicts untouched
    clean = ({"role": "system", "content": "SYS"}, {"role": "user", "content": "U"})
    out = _inject(clean, "BLOCK")
    assert out[0]["content"] == "SYS\n\nBLOCK" and out[1]["content"] == "U"


def test_missing_model_cli_error(data_dir, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv("PSYBENCH_RETRIEVAL_MODEL", "/nonexistent/encoder-folder")
    code = main(["tasks", "show", "rag_dialog", "--lang", "en", "--data-dir", str(data_dir)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "retrieval model" in err and "/nonexistent/encoder-folder" in err


def test_english_only_model_refused_for_chinese(data_dir) -> None:  # noqa: ANN001
    from psybench.errors import ConfigError

    with pytest.raises(ConfigError, match="English-only"):
        build_samples("rag_dialog", "zh", data_dir=data_dir, retrieval_model="minilm")


# ---- slow: the real embedding models -----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_real_model_determinism_and_cache(lang, data_dir, cache) -> None:  # noqa: ANN001
    sessions = load_sessions(lang, data_dir)
    split = get_split("seeded", lang, data_dir)
    small = replace(split, train_ids=split.train_ids[:40], content_hash=split.content_hash + "-first40")
    embedder = retrieval.resolve_embedder(None, lang)
    assert embedder.query_prefix == ("query: " if lang == "zh" else "")
    fresh = retrieval.build_index(sessions, small, embedder)
    cached = retrieval.build_index(sessions, small, embedder)
    assert not fresh.from_cache and cached.from_cache
    queries = _queries(sessions, split)[:12]
    texts = [retrieval.query_text(next(s for s in sessions if s.dialog_id == d), t, 4) for d, t in queries]
    a = retrieval.encode_queries(embedder, texts, fresh.params.max_seq_length, cache=False)
    b = retrieval.encode_queries(embedder, texts, fresh.params.max_seq_length, cache=False)
    assert np.array_equal(a, b)  # bit-identical encodings
    first = retrieval.retrieve(fresh, embedder, sessions, queries, test_ids=split.test_ids)
    assert first == retrieval.retrieve(fresh, embedder, sessions, queries, test_ids=split.test_ids)
    assert first == retrieval.retrieve(cached, embedder, sessions, queries, test_ids=split.test_ids)
    assert all(0.2 < h.score <= 1.0 for found in first for h in found)


def _retrieved_bytes(samples) -> list[bytes]:  # noqa: ANN001
    return [json.dumps(s.meta["retrieved"], sort_keys=True).encode() for s in samples]


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_real_model_end_to_end_whole_split(lang, data_dir, cache) -> None:  # noqa: ANN001
    """Both variants on the whole seeded split with the real model, from an empty cache: leakage over
    every sample, prompts carry the excerpts. A sample's stored `retrieved` meta is a function of that
    sample alone: `--limit 5` and the whole split write byte-identical entries for the shared samples,
    cold (each query set encoded fresh, in different company) and warm (both read back from disk)."""
    assert not cache.exists()  # the `cache` fixture points PSYBENCH_CACHE_DIR at an empty folder
    cold_few = _retrieved_bytes(build_samples("rag_dialog", lang, data_dir=data_dir, limit=5))
    sessions = load_sessions(lang, data_dir)
    split = get_split("seeded", lang, data_dir)
    by_id = {s.dialog_id: s for s in sessions}
    groups = {d: set(g) for g in overlap_groups(sessions) for d in g}
    dialog = build_samples("rag_dialog", lang, data_dir=data_dir)
    plain = build_samples("dialog", lang, data_dir=data_dir)
    assert len(dialog) == {"en": 547, "zh": 455}[lang]
    assert [s.id.split("/", 1)[1] for s in dialog] == [s.id.split("/", 1)[1] for s in plain]
    for sample, base in zip(dialog, plain):
        retrieved = sample.meta["retrieved"]
        ids = {r["dialog_id"] for r in retrieved}
        assert len(ids) == 3 and not ids & set(split.test_ids) and ids <= set(split.train_ids)
        assert not ids & groups.get(sample.meta["dialog_id"], {sample.meta["dialog_id"]})
        assert sample.reference == base.reference and sample.messages[1:] == base.messages[1:]
        top = by_id[retrieved[0]["dialog_id"]]
        start, _ = retrieved[0]["turns"]
        assert top.turns[start].content[:30] in sample.messages[0]["content"]
        assert sample.messages[0]["content"].endswith(base.messages[0]["content"])
    cold_all = _retrieved_bytes(dialog)
    assert len(list(cache.glob("queries-*.npz"))) == 2  # two query sets, each encoded from scratch
    explained = build_samples("rag_explained", lang, data_dir=data_dir, limit=5)
    label = "Session summary" if lang == "en" else "会谈总结"
    assert all(label in s.messages[0]["content"] for s in explained)
    warm_all = _retrieved_bytes(build_samples("rag_dialog", lang, data_dir=data_dir))
    warm_few = _retrieved_bytes(build_samples("rag_dialog", lang, data_dir=data_dir, limit=5))
    assert len(list(cache.glob("queries-*.npz"))) == 2  # nothing new encoded
    assert cold_few == cold_all[:5] == warm_few == warm_all[:5] == _retrieved_bytes(explained)
    assert cold_all == warm_all
