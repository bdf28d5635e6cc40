"""Small helpers the backends share."""
from __future__ import annotations

import zlib

from psybench.records import GenerationParams


def request_seed(params: GenerationParams, request_id: str) -> int | None:
    """Per-request sampling seed: reproducible, independent of batch order and composition, and
    different across requests (the same seed everywhere would correlate their random streams)."""
    if params.seed is None:
        return None
    return (params.seed * 1_000_003 + zlib.crc32(request_id.encode())) % (2**31 - 1)


def is_greedy(params: GenerationParams) -> bool:
    return params.temperature <= 0.0
