"""BERTScore P, R and F1 (bert-score, idf off, no baseline rescaling: the raw scores the paper reports),
one declaration computed once: both modes' pairs go to the encoder in one call. The key names the
encoder and layer: `bertscore_p[roberta-large:L17]`."""
from __future__ import annotations

from psybench.metrics.registry import KeySpec, Metric, MetricInput, MetricOutput, UNBOUNDED, register

PARTS = ("p", "r", "f1")
# cosine similarities (no baseline rescaling); F1 = 2PR/(P+R) is unbounded once P or R is negative
RANGES = {"p": (-1.0, 1.0), "r": (-1.0, 1.0), "f1": UNBOUNDED}


def _compute(inp: MetricInput) -> dict[str, MetricOutput]:
    from dataclasses import asdict

    from psybench.metrics._bertscore import EncodingStats, bertscore

    spec = inp.encoder
    assert spec is not None, "bertscore needs an encoder (score_generation resolves it)"
    modes = list(inp.texts)
    cands = [c for mode in modes for c in inp.texts[mode][0]]
    refs = [r for mode in modes for r in inp.texts[mode][1]]
    cache, stats = _reference_cache(inp), EncodingStats()
    try:
        prf = bertscore(cands, refs, spec, inp.settings.device, inp.settings.batch_size, cache, stats)
    finally:
        if cache is not None:
            cache.close()
    info = {"reference_cache": {"on": cache is not None, **asdict(stats)}}
    out, start = {}, 0
    for mode in modes:
        size = len(inp.texts[mode][0])
        block = prf[start:start + size]
        start += size
        out[mode] = MetricOutput(per_sample={f"bertscore_{part}[{spec.label}]": block[:, j]
                                             for j, part in enumerate(PARTS)}, info=info)
    return out


def _reference_cache(inp: MetricInput):
    """The reference embedding cache (psybench.metrics._reference_cache), unless settings turn it off."""
    if not inp.settings.reference_cache:
        return None
    from psybench.metrics._reference_cache import REFERENCE_CACHE_FILE, ReferenceEmbeddingCache
    from psybench.paths import cache_subdir

    return ReferenceEmbeddingCache(cache_subdir("bertscore") / REFERENCE_CACHE_FILE)


METRIC = register(Metric(
    name="bertscore",
    description="BERTScore precision, recall and F1 (raw, idf off); the key names the encoder and layer",
    keys=tuple(KeySpec(mode, f"bertscore_{part}", "sample", range=RANGES[part], encoder=True,
                       table5="BERTScore-P" if part == "p" else None)
               for mode in ("paper", "corrected") for part in PARTS),
    compute=_compute, needs_encoder=True, doc="docs/METRICS.md#bertscore"))
