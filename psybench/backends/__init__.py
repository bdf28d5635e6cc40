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


def backend_class(name: str) -> type:
    """The backend's class, imported without starting anything (engines are imported on construction)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    module_name, class_name = _REGISTRY[name]
    return getattr(importlib.import_module(module_name), class_name)


def offline_fingerprint(name: str, model=None, **options) -> str | None:
    """What `create_backend(name, model, **options).fingerprint()` returns, computed without creating
    the backend (model files, the replay file); None where only a running backend knows it (openai asks
    its server)."""
    compute = getattr(backend_class(name), "offline_fingerprint", None)
    if compute is None:
        return None
    if name in ("vllm", "hf"):
        from psybench.assets.chat_models import resolve_chat_model

        model = resolve_chat_model(model)
    return compute(model, **{key: value for key, value in options.items() if value is not None})


def create_backend(name: str, model=None, **options) -> Backend:
    """Build a backend. `model`: a path, a hub id, "smollm2" or None (= the embedded SmolLM2) for
    vllm/hf; the server's model name for openai; the predictions file for replay (or `path=`).
    Options with value None are dropped so callers can pass CLI flags through unchanged."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    options = {key: value for key, value in options.items() if value is not None}
    cls = backend_class(name)
    if name in ("vllm", "hf"):
        from psybench.assets.chat_models import resolve_chat_model

        model = resolve_chat_model(model)
    return cls(model, **options)


__all__ = ["BACKENDS", "Backend", "OnOutput", "backend_class", "create_backend", "offline_fingerprint"]
