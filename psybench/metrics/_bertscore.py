"""BERTScore with bert-score's model, tokenizer, weighting and greedy matching (one BERTScorer per
(model, layer, device), loaded once per process); idf off, no baseline rescaling: the raw scores the paper
reports. Identical pairs are scored once; pairs with an empty side score 0 (as bert-score intends; its own
empty-string path fails under transformers 5).

psybench does the encoding itself so that a sentence's token embeddings do not depend on which other
sentences share its batch: every batch has a fixed shape (ENCODE_ROWS rows, the width rounded up to a
multiple of WIDTH_STEP), and every pair is matched alone. bert-score sorts all sentences of a call by length
and pads each batch to its longest, so an embedding there moves in the 7th digit with the company it keeps.
Batch invariance is what lets the reference side be cached between runs (psybench.metrics._reference_cache)
with scores identical to the last digit, and keeps a score independent of the other samples of the run;
it agrees with bert-score's own numbers to about 1e-7."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psybench.assets.encoders import EncoderSpec

ENCODE_ROWS = 8  # sentences per encoder call (short batches are filled with copies)
WIDTH_STEP = 16  # token widths are rounded up to a multiple of this (8 rows x 16: 1.1x bert-score's own time)
ENCODING_SCHEME = f"fixed-shape-{ENCODE_ROWS}x{WIDTH_STEP}"  # part of the reference cache key
_SCORERS: dict[tuple[str, int, str], object] = {}  # per-process cache


@dataclass
class EncodingStats:
    """How the reference side was obtained in one call (recorded in the results' info)."""

    references: int = 0  # unique non-empty references
    cached: int = 0  # of them, read from the reference cache
    encoded: int = 0  # sentences encoded (outputs + references not cached)


def resolve_device(device: str | None) -> str:
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def get_scorer(spec: EncoderSpec, device: str | None = None, batch_size: int = 64):
    from bert_score import BERTScorer

    dev = resolve_device(device)
    key = (spec.path, spec.num_layers, dev)
    scorer = _SCORERS.get(key)
    if scorer is None:
        scorer = BERTScorer(model_type=spec.path, num_layers=spec.num_layers, idf=False,
                            rescale_with_baseline=False, device=dev, batch_size=batch_size)
        _SCORERS[key] = scorer
    return scorer


def encoder_id(spec: EncoderSpec) -> str:
    """What a cached embedding belongs to: the encoder (name and files), its layer, the code that made it."""
    from psybench import __version__

    return f"{spec.name}|{spec.path}|L{spec.num_layers}|psybench {__version__}|{ENCODING_SCHEME}"


def _encode(scorer, token_ids: list[list[int]]) -> list[np.ndarray]:
    """Token embeddings (tokens, dim) float32 of each id list, batch-invariant (fixed-shape batches)."""
    import torch
    from bert_score.utils import bert_encode

    pad = scorer._tokenizer.pad_token_id
    out: list[np.ndarray | None] = [None] * len(token_ids)
    by_width: dict[int, list[int]] = {}
    for i, ids in enumerate(token_ids):
        by_width.setdefault(-(-len(ids) // WIDTH_STEP) * WIDTH_STEP, []).append(i)
    for width, members in sorted(by_width.items()):
        for start in range(0, len(members), ENCODE_ROWS):
            chunk = members[start:start + ENCODE_ROWS]
            rows = chunk + [chunk[0]] * (ENCODE_ROWS - len(chunk))  # fill: same shape for every batch
            x = torch.full((ENCODE_ROWS, width), pad, dtype=torch.long)
            mask = torch.zeros((ENCODE_ROWS, width), dtype=torch.long)
            for r, i in enumerate(rows):
                x[r, :len(token_ids[i])] = torch.tensor(token_ids[i], dtype=torch.long)
                mask[r, :len(token_ids[i])] = 1
            emb = bert_encode(scorer._model, x.to(scorer.device), attention_mask=mask.to(scorer.device)).float().cpu()
            for r, i in enumerate(chunk):
                out[i] = emb[r, :len(token_ids[i])].numpy().copy()
    return out  # type: ignore[return-value]


def _match(ref: np.ndarray, ref_ids: list[int], hyp: np.ndarray, hyp_ids: list[int], idf) -> tuple[float, float, float]:
    """bert-score's greedy cosine matching of one pair (no padding: nothing else in the batch)."""
    import torch
    from bert_score.utils import greedy_cos_idf

    ref_t, hyp_t = torch.from_numpy(ref.copy()).unsqueeze(0), torch.from_numpy(hyp.copy()).unsqueeze(0)
    ref_idf = torch.tensor([[idf[i] for i in ref_ids]], dtype=torch.float)
    hyp_idf = torch.tensor([[idf[i] for i in hyp_ids]], dtype=torch.float)
    p, r, f = greedy_cos_idf(ref_t, torch.ones(1, len(ref_ids), dtype=torch.long), ref_idf,
                             hyp_t, torch.ones(1, len(hyp_ids), dtype=torch.long), hyp_idf)
    return float(p[0]), float(r[0]), float(f[0])


def bertscore(cands: list[str], refs: list[str], spec: EncoderSpec, device: str | None = None,
              batch_size: int = 64, reference_cache=None, stats: EncodingStats | None = None) -> np.ndarray:
    """(n, 3) array of P, R, F1 for each (candidate, reference) pair. With `reference_cache`
    (a ReferenceEmbeddingCache), the references' embeddings are read from it and the missing ones added."""
    from collections import defaultdict

    from bert_score.utils import sent_encode

    from psybench.metrics._reference_cache import embedding_key

    stats = stats if stats is not None else EncodingStats()
    out = np.zeros((len(cands), 3))
    unique: dict[tuple[str, str], int] = {}
    where = np.full(len(cands), -1)
    for i, (c, r) in enumerate(zip(cands, refs)):
        if c.strip() and r.strip():
            where[i] = unique.setdefault((c, r), len(unique))
    if not unique:
        return out
    scorer = get_scorer(spec, device, batch_size)
    tokenizer = scorer._tokenizer
    idf = defaultdict(lambda: 1.0)  # bert-score's weights with idf off: 1, but 0 for [CLS] and [SEP]
    idf[tokenizer.sep_token_id] = 0
    idf[tokenizer.cls_token_id] = 0
    ref_texts = list(dict.fromkeys(r for _, r in unique))
    sentences = list(dict.fromkeys([*ref_texts, *(c for c, _ in unique)]))
    ids = {s: sent_encode(tokenizer, s) for s in sentences}
    embeddings: dict[str, np.ndarray] = {}
    stats.references = len(ref_texts)
    owner = encoder_id(spec)
    keys = {s: embedding_key(owner, s) for s in ref_texts}
    if reference_cache is not None:
        found = reference_cache.get_many(keys.values())
        embeddings.update({s: found[k] for s, k in keys.items() if k in found})
        stats.cached = len(embeddings)
    todo = [s for s in sentences if s not in embeddings]
    stats.encoded = len(todo)
    for s, emb in zip(todo, _encode(scorer, [ids[s] for s in todo])):
        embeddings[s] = emb
    if reference_cache is not None:
        new = {keys[s]: embeddings[s] for s in ref_texts if s in todo}
        if new:
            reference_cache.put_many(new)
    scores = np.array([_match(embeddings[r], ids[r], embeddings[c], ids[c], idf) for c, r in unique], dtype=np.float64)
    mask = where >= 0
    out[mask] = scores[where[mask]]
    return out
