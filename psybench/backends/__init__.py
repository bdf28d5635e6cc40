"""Generation backends behind one batch-first protocol (base.py). Engines are imported lazily:
`import psybench.backends` costs nothing, `create_backend("vllm", ...)` imports vLLM.

Each backend class declares its options once (`OPTIONS`, backends/options.py); `create_backend`
refuses an option the chosen backend does not take, naming it and listing the ones it does. Other
backends (a test's stand-in, a plugin) enter through `register_backend(name, cls)`, like the built-ins."""
from __future__ import annotations

import importlib
import inspect

from psybench.backends.base import Backend, OnOutput
from psybench.backends.options import BackendOption, describe
from psybench.errors import ConfigError

# name -> "module:Class" (imported on first use) or the class itself
_REGISTRY: dict[str, str | type] = {
    "vllm": "psybench.backends.vllm:VLLMBackend",
    "openai": "psybench.backends.openai_compat:OpenAIBackend",
    "hf": "psybench.backends.hf:HFBackend",
    "replay": "psybench.backends.replay:ReplayBackend",
}
BACKENDS = tuple(_REGISTRY)  # the built-in ones, in `--backend` order
# Backends whose `model` is a chat model folder or hub id ("smollm2" and None: the embedded default)
CHAT_MODEL_BACKENDS = ("vllm", "hf")


def register_backend(name: str, cls: type | str, replace: bool = False) -> None:
    """Make `cls` (a class with the Backend protocol and an OPTIONS tuple, or "module:Class") available
    as `--backend name`."""
    if name in _REGISTRY and not replace:
        raise ConfigError(f"backend {name!r} is already registered")
    _REGISTRY[name] = cls


def unregister_backend(name: str, restore: str | type | None = None) -> None:
    if restore is not None:
        _REGISTRY[name] = restore
    else:
        _REGISTRY.pop(name, None)


def backend_class(name: str) -> type:
    """The backend's class, imported without starting anything (engines are imported on construction)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(_REGISTRY)}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module_name, class_name = target.split(":")
        return getattr(importlib.import_module(module_name), class_name)
    return target


def backend_options(name: str) -> tuple[BackendOption, ...]:
    return tuple(getattr(backend_class(name), "OPTIONS", ()))


def check_options(name: str, options: dict) -> dict:
    """The options with value None dropped; one the backend does not take -> ConfigError naming its flag
    and listing the backend's own."""
    declared = {o.name: o for o in backend_options(name)}
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in declared:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag}: the {name} backend does not take it (its options: "
                              f"{describe(tuple(declared.values()))})")
    return given


def cli_options() -> list[tuple[BackendOption, tuple[str, ...]]]:
    """Every CLI-exposed option of the built-in backends, once by name, with the backends taking it."""
    seen: dict[str, tuple[BackendOption, list[str]]] = {}
    for name in BACKENDS:
        for option in backend_options(name):
            if not option.cli:
                continue
            if option.name in seen:
                first = seen[option.name][0]
                if (first.type, first.default) != (option.type, option.default):
                    raise ConfigError(f"option {option.name}: backends disagree on its type or default")
                seen[option.name][1].append(name)
            else:
                seen[option.name] = (option, [name])
    return [(option, tuple(names)) for option, names in seen.values()]


def _resolve_model(name: str, model):
    if name in CHAT_MODEL_BACKENDS:
        from psybench.assets.chat_models import resolve_chat_model

        return resolve_chat_model(model)
    return model


def offline_fingerprint(name: str, model=None, **options) -> str | None:
    """What `create_backend(name, model, **options).fingerprint()` returns, computed without creating
    the backend (model files, the replay file); None where only a running backend knows it (openai asks
    its server)."""
    compute = getattr(backend_class(name), "offline_fingerprint", None)
    if compute is None:
        return None
    given = check_options(name, options)
    wanted = set(inspect.signature(compute).parameters)  # what identifies the model, e.g. lora
    return compute(_resolve_model(name, model), **{k: v for k, v in given.items() if k in wanted})


def create_backend(name: str, model=None, **options) -> Backend:
    """Build a backend. `model`: a path, a hub id, "smollm2" or None (= the embedded SmolLM2) for
    vllm/hf; the server's model name for openai; the predictions file for replay (or `path=`).
    Options with value None are dropped so callers can pass CLI flags through unchanged; an option the
    backend does not declare is a ConfigError."""
    cls = backend_class(name)
    given = check_options(name, options)
    return cls(_resolve_model(name, model), **given)


__all__ = ["BACKENDS", "Backend", "BackendOption", "OnOutput", "backend_class", "backend_options",
           "check_options", "cli_options", "create_backend", "offline_fingerprint", "register_backend",
           "unregister_backend"]
