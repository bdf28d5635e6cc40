"""Checks a run makes before its first generation, so that a missing resource fails in one line
naming the flag that fixes it, not after every sample was generated (or after minutes of retries):

- the model: a path that is no folder is not sent to vLLM/transformers as a hub id (`--model`, `--lora`);
- the openai backend's server: GET {base_url}/models once, with a short timeout (`--base-url`);
  a fleet (several URLs) needs one that answers, the backend keeps the others out and warns;
  faults during the run are still retried by the backend;
- the replay file (`--model FILE.jsonl`);
- the retrieval model of task 4 (`--retrieval-model`);
- when the run will score (stage all): the BERTScore encoder (`--bertscore-model`) and WordNet (METEOR).

The runner calls check_run(config) with the resolved config; the vllm and hf backends call
check_model_name themselves, so direct API users get the same message."""
from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from psybench.errors import ConfigError, MissingResourceError, PredictionsError, PsybenchError

ENDPOINT_TIMEOUT_S = 2.5  # a live server lists its models in milliseconds; a dead one must fail in seconds
NOTHING_GENERATED = "checked before generating; nothing was generated"


def looks_like_path(text: str) -> bool:
    """A value meant as a local path, not a hub id: ./x, ../x, /x, ~/x, or with more than one separator."""
    return text.startswith(("/", "./", "../", "~")) or text.count(os.sep) > 1


def _valid_hub_id(text: str) -> bool:
    try:
        from huggingface_hub.utils import HFValidationError, validate_repo_id
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return not looks_like_path(text)
    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def check_model_name(model: str | os.PathLike, flag: str = "--model") -> None:
    """An existing path, or a valid Hugging Face hub id; else MissingResourceError (before any engine
    starts: vLLM would report 'HFValidationError: Repo id must be in the form ...')."""
    text = str(model)
    if Path(text).expanduser().exists():
        return
    if looks_like_path(text) or not _valid_hub_id(text):
        raise MissingResourceError(f"{flag} {text}: no such local folder, and not a valid Hugging Face hub id")


def _endpoint_silence(base_url: str, api_key: str | None, timeout: float) -> str | None:
    """None when {base_url}/models gives any HTTP answer; else why not (refused, timed out)."""
    parsed = urllib.parse.urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"--base-url {base_url}: expected an http(s) URL such as http://127.0.0.1:8000/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(base_url.rstrip("/") + "/models", headers=headers),
                                    timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return None


def check_endpoint(base_url: str, api_key: str | None = None, timeout: float = ENDPOINT_TIMEOUT_S) -> None:
    """One GET {base_url}/models. Any HTTP answer will do (a server may not list models, or want a key:
    the backend reports those); no answer at all -> MissingResourceError naming --base-url (exit 2: a bad flag, nothing ran)."""
    reason = _endpoint_silence(base_url, api_key, timeout)
    if reason is not None:
        raise MissingResourceError(f"--base-url {base_url}: no server answers at {base_url.rstrip('/')}/models "
                                   f"({reason}); start the server or fix --base-url ({NOTHING_GENERATED})")


def check_fleet(urls: tuple[str, ...], api_key: str | None = None, timeout: float = ENDPOINT_TIMEOUT_S) -> None:
    """A fleet needs one endpoint that answers (the backend keeps the silent ones out, with a warning);
    none -> MissingResourceError naming each with its reason."""
    silent = []
    for url in urls:
        reason = _endpoint_silence(url, api_key, timeout)
        if reason is None:
            return
        silent.append(f"{url}: {reason}")
    raise MissingResourceError(f"--base-url: no server answers at any of the {len(urls)} endpoints "
                               f"({'; '.join(silent)}); start them or fix --base-url ({NOTHING_GENERATED})")


def _generation_done(config: Any) -> bool:
    """True when the run directory already holds every prediction (a rerun only re-scores): then the
    backend is never started, so it need not be reachable."""
    if config.overwrite:
        return False
    from psybench.runfiles import read_manifest

    manifest = read_manifest(Path(config.out)) or {}
    expected = sum(((manifest.get("counts") or {}).get("samples") or {}).values())
    path = Path(config.out) / "predictions.jsonl"
    if expected <= 0 or not path.is_file():
        return False
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip()) >= expected


def _check_backend(config: Any) -> None:
    if config.backend in ("vllm", "hf"):
        if config.model is not None:
            check_model_name(config.model)
        if config.lora:
            lora = Path(config.lora).expanduser()
            if config.backend == "vllm" or looks_like_path(str(config.lora)):
                if not lora.is_dir():
                    raise MissingResourceError(f"--lora {config.lora}: no such adapter folder")
            if lora.is_dir():
                from psybench.jsonl import read_json

                if not (lora / "adapter_config.json").is_file():
                    raise ConfigError(f"--lora {config.lora}: no adapter_config.json (expected a PEFT LoRA "
                                      "adapter folder)")
                read_json(lora / "adapter_config.json", ConfigError)
    elif config.backend == "openai":
        from psybench.backends.fleet import endpoint_urls
        from psybench.backends.openai_compat import API_KEY_ENVS

        urls = endpoint_urls(config.base_url, getattr(config, "base_urls_file", None))
        key = next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None)
        if len(urls) == 1:
            check_endpoint(urls[0], key)
        else:
            check_fleet(urls, key)
    elif config.backend == "replay":
        if config.model is None:
            raise PredictionsError("--backend replay needs --model FILE.jsonl (the predictions to replay)")
        if not Path(config.model).expanduser().is_file():
            raise PredictionsError(f"--model {config.model}: no such predictions file (--backend replay "
                                   "replays a JSONL file of {\"id\", \"prediction\"})")
        from psybench.backends.replay import ReplayBackend

        ReplayBackend(Path(config.model).expanduser()).close()  # every line read and checked now


def _retrieval_model(config: Any) -> str | None:
    from psybench.tasks.rag import RETRIEVAL_MODEL_ENV

    return config.task_options.get("retrieval_model") or os.environ.get(RETRIEVAL_MODEL_ENV) or None


def check_run(config: Any) -> None:
    """Everything a run (psybench.runner.RunConfig, resolved) will need, checked before it builds or
    generates anything; one-line PsybenchError naming the flag that fixes it."""
    if config.stage not in ("generate", "all"):
        return
    if not _generation_done(config):
        _check_backend(config)
    from psybench import tasks

    specs = [tasks.get_task(name) for name in config.tasks]
    mine = [s for s in specs if config.lang in (getattr(s, "langs", None) or (config.lang,))]
    try:
        if any(getattr(s, "builder", None) == "rag" for s in mine):
            from psybench import retrieval

            retrieval.resolve_embedder(_retrieval_model(config), config.lang)
        if config.stage != "all":
            return
        from psybench.metrics import select_metrics

        generation = [s for s in mine if getattr(s, "kind", "generation") == "generation"]
        names = config.metrics if config.metrics is not None else \
            {m for s in generation for m in (getattr(s, "metrics", None) or ())}
        metrics = select_metrics(names, config.lang) if generation else []
        if any(m.needs_wordnet for m in metrics):  # first: a few file checks, where an encoder may need converting
            from psybench.assets import wordnet

            wordnet.ensure_wordnet()
        if any(m.needs_encoder for m in metrics):
            from psybench.assets.encoders import resolve_encoder

            resolve_encoder(config.bertscore_model, config.lang, num_layers=config.bertscore_layer)
    except PsybenchError as err:
        raise type(err)(f"{err} ({NOTHING_GENERATED})") from None
