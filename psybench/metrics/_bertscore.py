"""BERTScore with one bert_score.BERTScorer per (model, layer, device), loaded once per process and fed
every pair in one call (it sorts by length and batches). idf off, no baseline rescaling: the raw
scores the paper reports. Identical pairs are scored once; pairs with an empty side score 0 (as
bert-score intends; its own empty-string path fails under transformers 5)."""
from __future__ import annotations

import numpy as np

from psybench.assets.encoders import EncoderSpec

_SCORERS: dict[tuple[str, int, str], object] = {}  # per-process cache


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


def bertscore(cands: list[str], refs: list[str], spec: EncoderSpec, device: str | None = None,
              batch_size: int = 64) -> np.ndarray:
    """(n, 3) array of P, R, F1 for each (candidate, reference) pair."""
    out = np.zeros((len(cands), 3))
    unique: dict[tuple[str, str], int] = {}
    where = np.full(len(cands), -1)
    for i, (c, r) in enumerate(zip(cands, refs)):
        if c.strip() and r.strip():
            where[i] = unique.setdefault((c, r), len(unique))
    if not unique:
        return out
    pairs = list(unique)
    scorer = get_scorer(spec, device, batch_size)
    p, r, f = scorer.score([c for c, _ in pairs], [r for _, r in pairs], batch_size=batch_size)
    scores = np.stack([p.numpy(), r.numpy(), f.numpy()], axis=1).astype(np.float64)
    mask = where >= 0
    out[mask] = scores[where[mask]]
    return out
