"""Any OpenAI-compatible chat-completions server (vLLM's, or a hosted API), or a fleet of servers
that serve one model (`--base-url` several times, or `--base-urls-file`: routing, health and the
identity check in backends/fleet.py).

Requests run on a bounded thread pool. Our own retry policy (the client's max_retries is 0, so every
retry is ours and logged): 429, 5xx, timeouts and connection errors are retried with exponential
backoff and full jitter up to `max_retries`; then a BackendError names the request and the last
error. 400/422 (e.g. a prompt too long for the server) -> that request's Output has
finish_reason "error"; 401/403/404 (bad key, unknown model) stop the batch at once. In a fleet, an
attempt that fails for an outage (connection, timeout, 5xx) takes its endpoint out and is retried at
once on another one in service (one attempt of the request's budget); with none in service the backoff
applies as for one server. The fingerprint names the model, not the URL: the same model served
anywhere shares cache and resume. The API key is read from OPENAI_API_KEY or PSYBENCH_API_KEY and is
never stored in info(), logs or files."""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from psybench.backends.base import OnOutput
from psybench.backends.options import BackendOption
from psybench.backends.common import is_greedy, request_seed
from psybench.backends.context import chat_token_counter, fit_messages
from psybench.backends.fleet import Endpoint, Fleet, Identity, endpoint_urls, odd_endpoint
from psybench.constants import (FLEET_COOLDOWN_CAP_S, FLEET_COOLDOWN_S, FLEET_HEALTH_TIMEOUT_S, FLEET_PROBE_MAX_TOKENS,
                                FLEET_PROBE_MESSAGES, OPENAI_DEFAULT_BASE_URL)
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
        BackendOption("base_url", str, None, f"OpenAI-compatible server URL; repeat it for a fleet of servers "
                      f"serving one model (default: $OPENAI_BASE_URL, else {OPENAI_DEFAULT_BASE_URL})",
                      multiple=True),
        BackendOption("concurrency", int, DEFAULT_CONCURRENCY, "openai: parallel requests"),
        BackendOption("base_urls_file", str, None, "openai: a file of server URLs, one per line (# comments), "
                      "added to --base-url's"),
        BackendOption("max_retries", int, DEFAULT_MAX_RETRIES, "openai: retries of a failed request", cli=False),
        BackendOption("timeout", float, DEFAULT_TIMEOUT_S, "openai: seconds per request", cli=False),
        BackendOption("backoff_base", float, BACKOFF_BASE_S, "openai: first retry delay (s)", cli=False),
        BackendOption("backoff_cap", float, BACKOFF_CAP_S, "openai: longest retry delay (s)", cli=False),
        BackendOption("tokenizer", str, None, "openai: the served model's tokenizer, to cut long histories",
                      cli=False),
        BackendOption("max_model_len", int, None, "context length (prompt + output); history is cut to fit"),
        BackendOption("cooldown", float, FLEET_COOLDOWN_S, "openai fleet: first time out of a failed endpoint (s)",
                      cli=False),
        BackendOption("cooldown_cap", float, FLEET_COOLDOWN_CAP_S, "openai fleet: longest time out (s)", cli=False),
    )

    def __init__(self, model: str | None = None, *, base_url: str | Sequence[str] | None = None,
                 base_urls_file: str | None = None, concurrency: int = DEFAULT_CONCURRENCY,
                 max_retries: int = DEFAULT_MAX_RETRIES, timeout: float = DEFAULT_TIMEOUT_S,
                 backoff_base: float = BACKOFF_BASE_S, backoff_cap: float = BACKOFF_CAP_S,
                 tokenizer: str | None = None, max_model_len: int | None = None,
                 cooldown: float = FLEET_COOLDOWN_S, cooldown_cap: float = FLEET_COOLDOWN_CAP_S) -> None:
        import openai

        if not model:
            raise ConfigError("the openai backend needs --model (the model name the server serves)")
        self.model = str(model)
        self.base_urls = endpoint_urls(base_url, base_urls_file)
        self.base_url = self.base_urls[0]
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max(0, int(max_retries))
        self.timeout = float(timeout)
        self.backoff_base, self.backoff_cap = float(backoff_base), float(backoff_cap)
        api_key = next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None) or "EMPTY"
        self._openai = openai
        self._fleet = Fleet([Endpoint(url, openai.OpenAI(base_url=url, api_key=api_key, max_retries=0,
                                                         timeout=self.timeout)) for url in self.base_urls],
                            self._probe, cooldown=cooldown, cooldown_cap=cooldown_cap)
        self._client = self._fleet.endpoints[0].client
        self._count = None
        self.max_model_len = max_model_len
        if tokenizer:  # context cutting needs the model's tokenizer and context length
            from transformers import AutoTokenizer

            self._count = chat_token_counter(AutoTokenizer.from_pretrained(tokenizer))
        self._root: str | None = None
        self.retries = 0  # total retries in this backend's life, for the manifest
        self._retries_lock = threading.Lock()
        self._abort = threading.Event()  # set when the batch fails: workers stop retrying
        self._identity: Identity | None = None  # a fleet's model, as its endpoints agree on it
        self._identity_url: str | None = None
        if len(self.base_urls) > 1:  # one server: nothing to compare (its root is asked for lazily)
            try:
                self._check_fleet()
            except BaseException:
                self.close()
                raise

    # -- identity --------------------------------------------------------------------------------
    def _is_outage(self, err: Exception) -> bool:
        """An error that says the endpoint is not serving (not the request's fault)."""
        o = self._openai
        if isinstance(err, (o.APITimeoutError, o.APIConnectionError, o.InternalServerError)):
            return True
        return isinstance(err, o.APIStatusError) and err.status_code >= 500

    def _identify(self, endpoint: Endpoint) -> Identity:
        """What the endpoint serves: its model listing and its greedy answer to the probe prompt.
        Raises the outage error when it does not answer (the probe is tried three times)."""
        listed, root = None, None
        try:
            entries = endpoint.client.with_options(timeout=FLEET_HEALTH_TIMEOUT_S).models.list().data
            listed = tuple(str(entry.id) for entry in entries)
            root = next((str(getattr(e, "root", None) or "") or None for e in entries if e.id == self.model), None)
        except Exception as err:
            if self._is_outage(err):
                raise
            log.debug("model listing failed at %s: %s", endpoint.url, err)  # optional on many servers
        for attempt in range(3):
            try:
                reply = endpoint.client.chat.completions.create(
                    model=self.model, messages=list(FLEET_PROBE_MESSAGES), max_tokens=FLEET_PROBE_MAX_TOKENS,
                    temperature=0.0)
                return Identity(listed, root, reply.choices[0].message.content or "")
            except self._openai.APIStatusError as err:
                if not self._retryable(err):  # e.g. 404: it does not serve --model; the fleet check says so
                    return Identity(listed, root, f"<HTTP {err.status_code}: {_one_line(err)[:80]}>")
                if attempt == 2:
                    raise
            except Exception as err:
                if not self._retryable(err) or attempt == 2:
                    raise
            time.sleep(self.backoff_base * 2 ** attempt)
        raise AssertionError("unreachable")

    def _check_fleet(self) -> None:
        """Every endpoint serves the same model (by id and root, and by the probe prompt's greedy
        answer), else ConfigError naming the odd one; endpoints that do not answer are kept out."""
        def identify(endpoint: Endpoint) -> Identity | Exception:
            try:
                return self._identify(endpoint)
            except Exception as err:  # outages only: the rest return an Identity
                return err

        with ThreadPoolExecutor(max_workers=min(16, len(self.base_urls))) as pool:
            found = dict(zip(self._fleet.endpoints, pool.map(identify, self._fleet.endpoints)))
        answered = {e.url: i for e, i in found.items() if isinstance(i, Identity)}
        if not answered:
            raise BackendError("openai backend: no endpoint of the fleet answers: "
                               + "; ".join(f"{e.url} ({_describe(err)})" for e, err in found.items()))
        problem = odd_endpoint(self.model, answered)
        if problem:
            raise ConfigError(problem)
        self._identity_url, self._identity = next(iter(answered.items()))
        for endpoint, result in found.items():
            if not isinstance(result, Identity):
                log.warning("endpoint %s does not answer at start (%s): kept out, checked again later",
                            endpoint.url, _describe(result))
                self._fleet.mark_unreachable(endpoint, _describe(result))

    def _probe(self, endpoint: Endpoint) -> tuple[str, str | None]:
        """The fleet asks whether an endpoint that is out may serve again."""
        if not endpoint.verified:  # never checked: does it serve the fleet's model?
            try:
                identity = self._identify(endpoint)
            except Exception as err:
                return "down", _describe(err)
            problem = odd_endpoint(self.model, {self._identity_url: self._identity, endpoint.url: identity})
            if problem:
                return "retire", problem
            endpoint.verified = True
            return "ok", None
        try:
            endpoint.client.with_options(timeout=FLEET_HEALTH_TIMEOUT_S).models.list()
        except Exception as err:
            if self._is_outage(err):
                return "down", _describe(err)
        return "ok", None  # any other answer (a 404 for an unlisted model list) means it serves

    def _server_root(self) -> str | None:
        if self._identity is not None:
            return self._identity.root
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
        """The model and its root, not the URL: the same model served anywhere shares cache and resume."""
        root = self._server_root()
        return f"openai:{self.model}" + (f"|root={root}" if root else "")

    def info(self) -> dict:
        return {"backend": self.name, "model": self.model, "base_url": self.base_url, "base_urls": list(self.base_urls),
                "engine": "openai-compatible", "openai_version": self._openai.__version__,
                "server_model_root": self._server_root(), "probe_answer": self._identity and self._identity.probe,
                "concurrency": self.concurrency, "max_retries": self.max_retries, "timeout_s": self.timeout,
                "max_model_len": self.max_model_len, "retries": self.retries, "endpoints": self._fleet.records()}

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
        last, last_url = None, self.base_url
        for attempt in range(self.max_retries + 1):
            if self._abort.is_set():
                raise BackendError(f"openai backend: request {request.id} abandoned: the batch failed")
            endpoint = self._fleet.acquire()  # a Lease: .url, .client
            try:
                reply = endpoint.client.chat.completions.create(**kwargs)
                choice = reply.choices[0]
                usage = reply.usage
                self._fleet.release(endpoint)
                return Output(request.id, choice.message.content or "", choice.finish_reason or "stop",
                              prompt_tokens=getattr(usage, "prompt_tokens", None),
                              completion_tokens=getattr(usage, "completion_tokens", None), history_turns_cut=cut)
            except self._openai.APIStatusError as err:
                if not self._retryable(err):
                    self._fleet.release(endpoint)  # it answered: the request is at fault, not the endpoint
                    if err.status_code in (400, 422):
                        log.warning("request %s rejected by %s (HTTP %s): %s", request.id, endpoint.url,
                                    err.status_code, _one_line(err))
                        return Output(request.id, "", "error", history_turns_cut=cut)
                    raise BackendError(f"openai backend: request {request.id} failed at {endpoint.url} "
                                       f"(model {self.model}): HTTP {err.status_code}: {_one_line(err)}") from None
                last = err
            except Exception as err:
                if not self._retryable(err):
                    self._fleet.release(endpoint)
                    raise
                last = err
            last_url = endpoint.url
            outage = self._is_outage(last)
            self._fleet.release(endpoint, _describe(last), outage=outage)
            if attempt < self.max_retries:
                if outage and self._fleet.in_service():
                    delay = 0.0  # another endpoint serves: retry there now
                else:
                    delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))  # full jitter
                with self._retries_lock:
                    self.retries += 1
                log.warning("request %s: %s at %s; retry %d/%d in %.2fs", request.id, _describe(last), endpoint.url,
                            attempt + 1, self.max_retries, delay)
                time.sleep(delay)
        where = self.base_url if len(self.base_urls) == 1 else f"every endpoint ({', '.join(self.base_urls)})"
        raise BackendError(f"openai backend: request {request.id} failed after {self.max_retries + 1} attempts "
                           f"at {where} (model {self.model}); last error at {last_url}: {_describe(last)}")

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        results: dict[int, Output] = {}
        self._abort.clear()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="psybench-openai")
        try:
            pending = {pool.submit(self._one, request, params): index for index, request in enumerate(requests)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)  # each output streamed as it comes
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
        for endpoint in self._fleet.endpoints:
            endpoint.client.close()


def _one_line(err: Exception) -> str:
    text = str(getattr(err, "message", None) or err)
    return " ".join(text.split())[:300]


def _describe(err: Exception | None) -> str:
    if err is None:
        return "unknown error"
    status = getattr(err, "status_code", None)
    return f"{type(err).__name__}" + (f" (HTTP {status})" if status else "") + f": {_one_line(err)}"
