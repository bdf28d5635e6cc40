"""Asking a judge model: any psybench backend (vllm, openai, hf, replay) behind one `Judge`.

A judgment is a generation like any other, so it gets the same guarantees: content-addressed in a cache
of its own (judge fingerprint + rubric hash + the full prompt + decoding; the request id too on replay),
each answer handed back as soon as it is final so the caller appends it to judgments.jsonl (`kill -9`,
then the same command: every judgment exactly once), and a pass the cache covers starts no engine.
Decoding is greedy (repeats after the first are seeded samples) with a JSON schema where the backend
enforces one. An unreadable answer is asked again with its problem named, at most JUDGE_MAX_ATTEMPTS
times in all; then it is final and invalid: counted, never scored as 0, never dropped."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psybench.cache import GenerationCache, sample_key
from psybench.constants import JUDGE_MAX_ATTEMPTS, JUDGE_MAX_TOKENS, JUDGE_REPEAT_TEMPERATURE
from psybench.errors import ConfigError
from psybench.judge.parse import Unreadable
from psybench.judge.rubric import Rubric, repair_messages
from psybench.paths import cache_subdir
from psybench.records import GenerationParams, Output, Request

JUDGE_CACHE_FILE = "judgments.sqlite"
EMBEDDED_JUDGE_LABEL = "SmolLM2-135M-Instruct"


def default_judge_cache() -> Path:
    return cache_subdir("judgments") / JUDGE_CACHE_FILE


@dataclass(frozen=True)
class JudgeSpec:
    """One judge: a backend and its model (and options); `label` names it in result keys."""

    backend: str
    model: str | None
    options: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @classmethod
    def parse(cls, text: str, backend: str = "vllm", options: dict[str, Any] | None = None,
              label: str | None = None) -> JudgeSpec:
        """`--judge-model M`: a model for `backend`, or `BACKEND:M` naming another backend (replay:FILE,
        openai:NAME, hf:PATH). "smollm2" (or "") is the embedded SmolLM2-135M-Instruct."""
        from psybench.backends import BACKENDS, check_options

        name, model = backend, text
        head, sep, rest = text.partition(":")
        if sep and head in BACKENDS:
            name, model = head, rest
        given = check_options(name, dict(options or {}))  # another backend's option: one line naming its flag
        if not model or model == "smollm2":
            if name not in ("vllm", "hf"):
                raise ConfigError(f"--judge-model {text!r}: the {name} backend needs a model")
            model, default_label = None, EMBEDDED_JUDGE_LABEL
        else:
            path = Path(model)
            default_label = path.stem if name == "replay" else (path.name or model)
        return cls(name, model, tuple(sorted(given.items())), label or default_label)

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "backend": self.backend, "model": self.model or EMBEDDED_JUDGE_LABEL,
                "options": {k: v for k, v in self.options}}


def judge_options(backend: str, items: Sequence[str]) -> dict[str, Any]:
    """--judge-option KEY=VALUE, typed by the backend's declared options."""
    from psybench.backends import backend_options

    declared = {o.name: o for o in backend_options(backend)}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--judge-option {item!r}: expected KEY=VALUE")
        option = declared.get(key)
        if option is None:
            raise ConfigError(f"--judge-option {key}: the {backend} backend does not take it "
                              f"(its options: {', '.join(declared)})")
        try:
            typed = (value.lower() in ("1", "true", "yes", "on")) if option.type is bool else option.type(value)
            # an option given several times (base_url: a fleet of judge servers) collects its values
            out[key] = (*out.get(key, ()), typed) if getattr(option, "multiple", False) else typed
        except ValueError:
            raise ConfigError(f"--judge-option {item!r}: {key} takes a {option.type.__name__}") from None
    return out


def judge_specs(models: Sequence[str] | None, backend: str, options: Sequence[str]) -> tuple[JudgeSpec, ...]:
    if not models:
        raise ConfigError("--judge-model: name at least one judge (e.g. --judge-model smollm2, "
                          "--judge-model openai:NAME --judge-option base_url=URL)")
    from psybench.backends import BACKENDS

    specs = []
    for text in models:  # the options go to every judge: each one's backend must take them
        head = text.split(":", 1)[0]
        name = head if ":" in text and head in BACKENDS else backend
        specs.append(JudgeSpec.parse(text, backend, judge_options(name, options)))
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"--judge-model: two judges share the label {labels[0]!r}; give distinct models")
    return tuple(specs)


@dataclass(frozen=True)
class JudgeRequest:
    id: str  # unique among this judge's requests (an item id, with a suffix per repeat / order / contrast)
    messages: tuple[dict[str, str], ...]
    schema: dict[str, Any]
    parse: Callable[[str], Any]  # the answer's text -> its value; raises Unreadable
    repeat: int = 0  # > 0: a seeded sample at JUDGE_REPEAT_TEMPERATURE


@dataclass(frozen=True)
class JudgeAnswer:
    request: JudgeRequest
    value: Any | None  # what parse returned; None: invalid
    raw: str  # the last answer's text
    attempts: int
    problem: str | None  # why it is invalid (None when valid)
    cached: bool  # every attempt came from the cache


@dataclass
class JudgeTally:
    calls: int = 0  # answers generated by the judge model in this pass
    cache_hits: int = 0
    retries: int = 0  # attempts after the first
    invalid: int = 0
    backend_started: bool = False
    backend_info: dict[str, Any] = field(default_factory=dict)


class Judge:
    """One judge model. Starts its backend only when the cache lacks an answer."""

    def __init__(self, spec: JudgeSpec, rubric: Rubric, *, cache_path: Path | None = None, use_cache: bool = True,
                 structured: bool = True, max_tokens: int = JUDGE_MAX_TOKENS, progress: bool = False,
                 backend: Any = None, executor: Any = None) -> None:
        """`backend`: an already started backend of spec's model to use (a bench sharing one engine); it is
        not closed by close(). `executor`: psybench.executors.ExecutorSettings (default local); a judge on a
        backend the executor does not run (openai, replay) runs locally."""
        from psybench import backends

        self.spec, self.rubric = spec, rubric
        self.structured, self.max_tokens, self.progress = structured, max_tokens, progress
        self._options = dict(spec.options)
        self._backend = backend
        self._owns_backend = backend is None
        self.executor = executor
        self._prefix: str | None = None
        self._cache = GenerationCache(cache_path or default_judge_cache()) if use_cache else None
        self.tally = JudgeTally()
        cls = backends.backend_class(spec.backend)
        self.prompt_determined = bool(getattr(cls, "prompt_determined", False))
        self.enforces_schema = bool(getattr(cls, "structured_output", False)) and structured
        self._fingerprint = backends.offline_fingerprint(spec.backend, spec.model, **self._options)

    # -- identity ----------------------------------------------------------------------------------
    def _start(self):
        if self._backend is None:
            from psybench.constants import RAY_BACKENDS
            from psybench.executors import ExecutorSettings, create_engine

            executor = self.executor or ExecutorSettings()
            if executor.kind != "local" and self.spec.backend not in RAY_BACKENDS:
                executor = ExecutorSettings()
            self._backend = create_engine(executor, self.spec.backend, self.spec.model, **self._options)
            self._fingerprint = self._backend.fingerprint()
            self.tally.backend_started = True
            self.tally.backend_info = json.loads(json.dumps(self._backend.info(), default=str))
        return self._backend

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:  # only the running backend knows it (openai asks its server)
            self._start()
        return self._fingerprint

    def line_prefix(self) -> str:
        """The start of this judge's keys in judgments.jsonl: label, model and rubric, so a line is only ever
        reused by the same judge model under the same rubric (another model under the same label is new)."""
        if self._prefix is None:  # once: every judgment line asks for it
            import hashlib

            model = hashlib.sha256(self.fingerprint.encode()).hexdigest()[:12]
            self._prefix = f"{self.spec.label}|{model}|{self.rubric.sha256[:12]}|"
        return self._prefix

    def _identity(self) -> str:
        return f"judge {self.fingerprint} rubric={self.rubric.sha256}"

    def params(self, request: JudgeRequest) -> GenerationParams:
        # key order kept: a schema-constrained answer follows it (scores first, the free-text rationale last)
        schema = json.dumps(request.schema, ensure_ascii=False) if self.structured else None
        if request.repeat:
            return GenerationParams(max_tokens=self.max_tokens, temperature=JUDGE_REPEAT_TEMPERATURE, top_p=1.0,
                                    seed=request.repeat, json_schema=schema)
        return GenerationParams(max_tokens=self.max_tokens, temperature=0.0, top_p=1.0, seed=0, json_schema=schema)

    # -- answering ---------------------------------------------------------------------------------
    def answer(self, requests: Sequence[JudgeRequest], on_answer: Callable[[JudgeAnswer], None]) -> None:
        """Ask every request; call on_answer once per request when its answer is final (valid, or invalid
        after JUDGE_MAX_ATTEMPTS attempts). Attempts of all requests go to the backend together."""
        # request id -> (request, messages of this attempt, attempt number, all cached so far)
        pending = {r.id: (r, r.messages, 1, True) for r in requests}
        while pending:
            outputs: dict[str, tuple[Output, bool]] = {}
            keys = {}
            for rid, (request, messages, attempt, _) in pending.items():
                attempt_id = rid if attempt == 1 else f"{rid}#{attempt}"
                if self._cache is not None:
                    keys[rid] = sample_key(self._identity(), attempt_id, messages, self.params(request),
                                           self.prompt_determined)
                    hit = self._cache.get(keys[rid], attempt_id)
                    if hit is not None:
                        outputs[rid] = (hit, True)
                        self.tally.cache_hits += 1
            todo = [rid for rid in pending if rid not in outputs]

            def settle(rid: str, output: Output, cached: bool) -> None:
                request, messages, attempt, all_cached = pending.pop(rid)
                all_cached = all_cached and cached
                if output.finish_reason == "error":
                    self._final(on_answer, JudgeAnswer(request, None, output.text, attempt,
                                                       "the backend could not answer (e.g. prompt too long)", all_cached))
                    return
                try:
                    value = request.parse(output.text)
                except Unreadable as err:
                    if attempt < JUDGE_MAX_ATTEMPTS:
                        retry[rid] = (request, repair_messages(self.rubric, messages, output.text, str(err)),
                                      attempt + 1, all_cached)
                        self.tally.retries += 1
                    else:
                        self._final(on_answer, JudgeAnswer(request, None, output.text, attempt, str(err), all_cached))
                    return
                on_answer(JudgeAnswer(request, value, output.text, attempt, None, all_cached))

            retry: dict[str, tuple[JudgeRequest, tuple[dict[str, str], ...], int, bool]] = {}
            for rid, (output, cached) in outputs.items():
                settle(rid, output, cached)
            if todo:
                self._generate(todo, pending, keys, settle)
            pending = retry

    def _final(self, on_answer: Callable[[JudgeAnswer], None], answer: JudgeAnswer) -> None:
        self.tally.invalid += 1
        on_answer(answer)

    def _generate(self, todo: list[str], pending: dict, keys: dict[str, str], settle) -> None:
        backend = self._start()
        by_params: dict[GenerationParams, list[str]] = {}
        for rid in todo:
            by_params.setdefault(self.params(pending[rid][0]), []).append(rid)
        for params, rids in by_params.items():
            attempt_ids = {}
            requests = []
            for rid in rids:
                request, messages, attempt, _ = pending[rid]
                attempt_id = rid if attempt == 1 else f"{rid}#{attempt}"
                attempt_ids[attempt_id] = rid
                requests.append(Request(id=attempt_id, messages=messages))
                if self._cache is not None and rid not in keys:
                    keys[rid] = sample_key(self._identity(), attempt_id, messages, params, self.prompt_determined)
            seen: set[str] = set()

            def on_output(out: Output) -> None:
                rid = attempt_ids.get(out.id)
                if rid is None or rid in seen:
                    return
                seen.add(rid)
                self.tally.calls += 1
                if self._cache is not None and out.finish_reason != "error":
                    self._cache.put(keys[rid], out)
                settle(rid, out, False)

            for out in backend.generate(requests, params, on_output) or ():
                on_output(out)  # a backend that did not call back

    def info(self) -> dict[str, Any]:
        if self._backend is not None and self._owns_backend:  # what happened: retries, a fleet's outages, Ray deaths
            self.tally.backend_info = json.loads(json.dumps(self._backend.info(), default=str))
        return {**self.spec.describe(), "fingerprint": self.fingerprint, "structured_output": self.enforces_schema,
                "backend_info": self.tally.backend_info or None}

    def close(self) -> None:
        if self._backend is not None and self._owns_backend:
            self._backend.close()
        self._backend = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None
