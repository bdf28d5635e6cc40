"""Generation backends behind one batch-first protocol (base.py). Engines are imported lazily:
`import psybench.backends` costs nothing, `create_backend("vllm", ...)` imports vLLM."""
from __future__ import annotations

import importlib

from psybench.backends.base import Backend, OnOutput
from psybench.errors import ConfigError

# name -> (module, class)
_REGISTRY = {
    "vllm": ("psybench.backends.vllm", "VLLMBackend"),
    "openai": ("psybench.backends.openai_compat", "OpenAIBackend"),
    "hf": ("psybench.backends.hf", "HFBackend"),
    "replay": ("psybench.backends.replay", "ReplayBackend"),
}
BACKENDS = tuple(_REGISTRY)


def create_backend(name: str, model=None, **options) -> Backend:
    """Build a backend. `model`: a path, a hub id, "smollm2" or None (= the embedded SmolLM2) for
    vllm/hf; the server's model name for openai; the predictions file for replay (or `path=`).
    Options with value None are dropped so callers can pass CLI flags through unchanged."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    options = {key: value for key, value in options.items() if value is not None}
    module_name, class_name = _REGISTRY[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    if name in ("vllm", "hf"):
        from psybench.assets.chat_models import resolve_chat_model

        model = resolve_chat_model(model)
    return cls(model, **options)


__all__ = ["BACKENDS", "Backend", "OnOutput", "create_backend"]
