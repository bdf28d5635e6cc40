"""The one backend protocol: batch-first, like olmo-eval's backends/base.py.

    backend.generate(requests, params, on_output=None) -> list[Output]   (same order as requests)

A backend submits the whole batch to its engine at once (vLLM schedules it), calls `on_output`
for each finished Output as soon as it has it (the runner appends it to disk), and never drops a
request: a failure is an Output with finish_reason="error" or a BackendError for the whole batch."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from psybench.records import GenerationParams, Output, Request

OnOutput = Callable[[Output], None]


@runtime_checkable
class Backend(Protocol):
    name: str  # "vllm" | "openai" | "hf" | "replay"
    # True: the output is a function of (model, messages, params), so greedy outputs may be shared by
    # samples that send the same prompt (psybench.cache.shares_outputs); False: it belongs to the
    # sample id (replay). A class attribute: the runner reads it before starting anything.
    prompt_determined: bool

    def fingerprint(self) -> str:
        """Stable identity of the model behind the backend (weights hash / adapter / server model id);
        part of the generation-cache key and the manifest. A backend that can compute it without
        starting its engine also has `offline_fingerprint(model, **options) -> str | None` (static),
        returning the same value, so a fully cached run starts no engine."""
        ...

    def info(self) -> dict:
        """What the manifest records: model path/name, engine versions, max model length, device."""
        ...

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        ...

    def close(self) -> None:
        ...
