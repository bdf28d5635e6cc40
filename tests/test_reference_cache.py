"""The reference side's BERTScore embeddings kept between runs: a hit, a miss, a changed encoder, a changed
text, eviction; scores identical to the last digit with the cache off, cold or warm, because encoding is
batch-invariant (a pair's score does not depend on the other pairs of the run)."""
from __future__ import annotations

import numpy as np
import pytest

from psybench.metrics import MetricSettings, score_generation
from psybench.metrics._reference_cache import ReferenceEmbeddingCache, embedding_key

PREDS = ["Therapist: I hear you, that sounds hard.", "Tell me more about your week.", "Okay.",
         "What would help you most right now?", "Therapist: It makes sense that you feel tired."]
REFS = ["Therapist: That must be really difficult for you.", "How was your week?", "Therapist: Go on.",
        "Therapist: What do you need right now?", "Therapist: You sound exhausted."]


def test_cache_keeps_float32_bytes_and_evicts_the_least_recently_used(tmp_path) -> None:
    cache = ReferenceEmbeddingCache(tmp_path / "c.sqlite", max_bytes=3 * 4 * 2 * 4)  # three (2, 4) float32 arrays
    arrays = {f"k{i}": np.arange(8, dtype=np.float32).reshape(2, 4) + i / 3 for i in range(3)}
    cache.put_many(arrays)
    got = cache.get_many(["k0", "k1", "nope"])
    assert sorted(got) == ["k0", "k1"] and got["k1"].tobytes() == arrays["k1"].tobytes()
    cache.put_many({"k3": arrays["k2"] + 1})  # over the bound: k2 (least recently used) goes
    assert sorted(cache.get_many(["k0", "k1", "k2", "k3"])) == ["k0", "k1", "k3"] and len(cache) == 3
    assert cache.total_bytes() == 3 * 32
    assert embedding_key("minilm|L5", "a") != embedding_key("minilm|L6", "a") != embedding_key("minilm|L5", "b")
    cache.close()


def _score(preds, refs, **settings):
    return score_generation(preds, refs, "en", MetricSettings(modes=("paper", "corrected"), bootstrap_resamples=50,
                                                              workers=0, metrics=("bertscore",), **settings))


@pytest.mark.slow
def test_scores_identical_with_the_cache_off_cold_and_warm(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    off = _score(PREDS, REFS, bertscore_model="minilm", reference_cache=False)
    cold = _score(PREDS, REFS, bertscore_model="minilm")
    warm = _score(PREDS, REFS, bertscore_model="minilm")
    assert off.per_sample == cold.per_sample == warm.per_sample and off.aggregates == cold.aggregates == warm.aggregates
    stats = [r.info["bertscore"]["reference_cache"] for r in (off, cold, warm)]
    # 9 unique references (paper keeps "Therapist:", corrected strips it; "How was your week?" is both) and
    # 7 unique outputs (3 read the same in both modes): a second run encodes only the 7 outputs
    assert [(s["on"], s["references"], s["cached"], s["encoded"]) for s in stats] == [
        (False, 9, 0, 16), (True, 9, 0, 16), (True, 9, 9, 7)]
    changed = _score(PREDS, [*REFS[:-1], "Therapist: You sound worn out."], bertscore_model="minilm")
    assert changed.info["bertscore"]["reference_cache"]["cached"] == 7  # the changed reference, in both modes
    other = _score(PREDS, REFS, bertscore_model="mpnet")
    assert other.info["bertscore"]["reference_cache"]["cached"] == 0  # another encoder: its own entries
    assert changed.per_sample[:4] == warm.per_sample[:4]


@pytest.mark.slow
def test_a_pairs_score_does_not_depend_on_the_other_pairs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    many = _score(PREDS * 4 + ["a much longer reply " * 20], REFS * 4 + ["Therapist: and a long reference " * 20],
                  bertscore_model="minilm", reference_cache=False)
    alone = _score(PREDS[1:2], REFS[1:2], bertscore_model="minilm", reference_cache=False)
    assert many.per_sample[1] == alone.per_sample[0] == many.per_sample[6]
