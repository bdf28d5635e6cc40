"""Any OpenAI-compatible chat-completions server (vLLM's, or a hosted API).

Requests run on a bounded thread pool. Our own retry policy (the client's max_retries is 0, so every
retry is ours and logged): 429, 5xx, timeouts and connection errors are retried with exponential
backoff and full jitter up to `max_retries`; then a BackendError names the request and the last
error. 400/422 (e.g. a prompt too long for the server) -> that request's Output has
finish_reason "error"; 401/403/404 (bad key, unknown model) stop the batch at once. The API key is
read from OPENAI_API_KEY or PSYBENCH_API_KEY and is never stored in info(), logs or files."""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from psybench.backends.base import OnOutput
from psybench.backends.options import BackendOption
from psybench.backends.common import is_greedy, request_seed
from psybench.backends.context import chat_token_counter, fit_messages
from psybench.constants import OPENAI_DEFAULT_BASE_URL
from psybench.errors import BackendError, ConfigError
from psybench.records import GenerationParams, Output, Request

log = logging.getLogger("psybench.backends.openai")

API_KEY_ENVS = ("PSYBENCH_API_KEY", "OPENAI_API_KEY")
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_RETRIES = 6
DEFAULT_TIMEOUT_S = 120.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


class OpenAIBackend:
    name = "openai"
    prompt_determined = True  # no offline_fingerprint: the model's root is the server's to tell
    structured_output = True  # GenerationParams.json_schema goes out as response_format (vLLM's server enforces it)
    OPTIONS = (
        BackendOption("base_url", str, None, f"OpenAI-compatible server URL (default: $OPENAI_BASE_URL, else "
                      f"{OPENAI_DEFAULT_BASE_URL})"),
        BackendOption("concurrency", int, DEFAULT_CONCURRENCY, "openai: parallel requests"),
        BackendOption("max_retries", int, DEFAULT_MAX_RETRIES, "openai: retries of a failed request", cli=False),
        BackendOption("timeout", float, DEFAULT_TIMEOUT_S, "openai: seconds per request", cli=False),
        BackendOption("backoff_base", float, BACKOFF_BASE_S, "openai: first retry delay (s)", cli=False),
        BackendOption("backoff_cap", float, BACKOFF_CAP_S, "openai: longest retry delay (s)", cli=False),
        BackendOption("tokenizer", str, None, "openai: the served model's tokenizer, to cut long histories",
                      cli=False),
        BackendOption("max_model_len", int, None, "context length (prompt + output); history is cut to fit"),
    )

    def __init__(self, model: str | None = None, *, base_url: str | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT_S,
                 backoff_base: float = BACKOFF_BASE_S, backoff_cap: float = BACKOFF_CAP_S,
                 tokenizer: str | None = None, max_model_len: int | None = None) -> None:
        import openai

        if not model:
            raise ConfigError("the openai backend needs --model (the model name the server serves)")
        self.model = str(model)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.timeout = float(timeout)
        self.backoff_base, self.backoff_cap = float(backoff_base), float(backoff_cap)
        api_key = next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None) or "EMPTY"
        self._openai = openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key, max_retries=0, timeout=self.timeout)
        self._count = None
        self.max_model_len = max_model_len
        if tokenizer:  # context cutting needs the model's tokenizer and context length
            from transformers import AutoTokenizer

            self._count = chat_token_counter(AutoTokenizer.from_pretrained(tokenizer))
        self._root: str | None = None
        self.retries = 0  # total retries in this backend's life, for the manifest
        self._abort = threading.Event()  # set when the batch fails: workers stop retrying

    # -- identity --------------------------------------------------------------------------------
    def _server_root(self) -> str | None:
        if self._root is None:
            try:
                for entry in self._client.models.list().data:
                    if entry.id == self.model:
                        self._root = str(getattr(entry, "root", None) or "")
                        break
            except Exception as err:  # model listing is optional on many servers
                log.debug("model listing failed at %s: %s", self.base_url, err)
                self._root = ""
        return self._root or None

    def fingerprint(self) -> str:
        root = self._server_root()
        return f"openai:{self.base_url}|{self.model}" + (f"|root={root}" if root else "")

    def info(self) -> dict:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url, "engine": "openai-compatible",
                "openai_version": self._openai.__version__, "server_model_root": self._server_root(),
                "concurrency": self.concurrency, "max_retries": self.max_retries, "timeout_s": self.timeout,
                "max_model_len": self.max_model_len, "retries": self.retries}

    # -- generation ------------------------------------------------------------------------------
    def _retryable(self, err: Exception) -> bool:
        o = self._openai
        if isinstance(err, (o.APITimeoutError, o.APIConnectionError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(err, o.APIStatusError) and (err.status_code == 429 or err.status_code >= 500)

    def _one(self, request: Request, params: GenerationParams) -> Output:
        messages, cut = list(request.messages), 0
        if self._count is not None and self.max_model_len:
            fitted, cut, n_tokens = fit_messages(request.messages, self._count, self.max_model_len - params.max_tokens)
            messages = list(fitted)
        kwargs = dict(model=self.model, messages=messages, max_tokens=params.max_tokens)
        if is_greedy(params):
            kwargs["temperature"] = 0.0
        else:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, seed=request_seed(params, request.id))
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if params.repetition_penalty != 1.0:  # not an OpenAI field: vLLM's server reads it from the body
            kwargs["extra_body"] = {"repetition_penalty": params.repetition_penalty}
        if params.frequency_penalty != 0.0:
            kwargs["frequency_penalty"] = params.frequency_penalty
        if params.json_schema is not None:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": json.loads(params.json_schema)}}
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if self._abort.is_set():
                raise BackendError(f"openai backend: request {request.id} abandoned: the batch failed")
            try:
                reply = self._client.chat.completions.create(**kwargs)
                choice = reply.choices[0]
                usage = reply.usage
                return Output(request.id, choice.message.content or "", choice.finish_reason or "stop",
                              prompt_tokens=getattr(usage, "prompt_tokens", None),
                              completion_tokens=getattr(usage, "completion_tokens", None), history_turns_cut=cut)
            except self._openai.APIStatusError as err:
                if err.status_code in (400, 422):
                    log.warning("request %s rejected by %s (HTTP %s): %s", request.id, self.base_url,
                                err.status_code, _one_line(err))
                    return Output(request.id, "", "error", history_turns_cut=cut)
                if not self._retryable(err):
                    raise BackendError(f"openai backend: request {request.id} failed at {self.base_url} "
                                       f"(model {self.model}): HTTP {err.status_code}: {_one_line(err)}") from None
                last = err
            except Exception as err:
                if not self._retryable(err):
                    raise
                last = err
            if attempt < self.max_retries:
                delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))  # full jitter
                self.retries += 1
                log.warning("request %s: %s; retry %d/%d in %.2fs", request.id, _describe(last),
                            attempt + 1, self.max_retries, delay)
                time.sleep(delay)
        raise BackendError(f"openai backend: request {request.id} failed after {self.max_retries + 1} attempts "
                           f"at {self.base_url} (model {self.model}); last error: {_describe(last)}")

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        results: dict[int, Output] = {}
        self._abort.clear()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="psybench-openai")
        try:
            pending = {pool.submit(self._one, request, params): index for index, request in enumerate(requests)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    index = pending.pop(future)
                    output = future.result()  # raises BackendError: finished outputs were already streamed
                    results[index] = output
                    if on_output:  # called on this thread only: the runner's writer needs no lock
                        on_output(output)
        except BaseException:
            self._abort.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [results[i] for i in range(len(requests))]

    def close(self) -> None:
        self._client.close()


def _one_line(err: Exception) -> str:
    text = str(getattr(err, "message", None) or err)
    return " ".join(text.split())[:300]


def _describe(err: Exception | None) -> str:
    if err is None:
        return "unknown error"
    status = getattr(err, "status_code", None)
    return f"{type(err).__name__}" + (f" (HTTP {status})" if status else "") + f": {_one_line(err)}"
