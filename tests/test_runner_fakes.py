"""Hand-written stand-ins for the runner's unit tests (tasks, backend, extract; a toy metric), so the runner's
own logic (resume, cache, stages, manifest, errors) is tested fast and deterministically. The real
pieces are exercised by the slow tests (test_resume.py, test_main_job.py).

Also runnable as a script: `python tests/test_runner_fakes.py RUN_FLAGS...` runs `psybench run` with
these stand-ins installed (for the kill -9 test, which needs a separate process)."""
from __future__ import annotations

import hashlib
import sys
import time
import types
from dataclasses import dataclass

import numpy as np

from psybench.backends.options import BackendOption
from psybench.backends.vllm import VLLMBackend
from psybench.errors import BackendError
from psybench.metrics import KeySpec, Metric, MetricOutput, per_mode, register
from psybench.metrics.registry import UNBOUNDED
from psybench.records import Output, Prediction, Sample

N_SAMPLES = 12


def make_samples(task: str, n: int = N_SAMPLES) -> list[Sample]:
    out = []
    for i in range(n):
        msgs = ({"role": "user", "content": f"I feel worried about exam number {i}."},)
        out.append(Sample(id=f"{task}/{100000 + i}/{2 * i + 1}", task=task, lang="en", kind="generation",
                          messages=msgs, target=f"Therapist: tell me more about exam {i}",
                          reference=f"Therapist: tell me more about exam {i}", extract="response",
                          meta={"dialog_id": str(100000 + i), "turn_index": 2 * i + 1}))
    return out


@dataclass
class FakeSpec:
    name: str
    kind: str = "generation"
    generation: dict | None = None
    metrics: tuple = ()
    content_hash: str = "spec-hash"


@dataclass
class FakeReport:
    sessions: int
    skipped: int = 0


def build_samples_with_report(task, lang, split="seeded", turns="all", prompt_style="paper", data_dir=None,
                              limit=None, strict=False, **options):
    samples = make_samples(task)[:limit] if limit else make_samples(task)
    return samples, FakeReport(sessions=len(samples))


def fake_tasks_module() -> types.ModuleType:
    mod = types.ModuleType("psybench.tasks")
    mod.get_task = lambda name: FakeSpec(name, generation={"max_tokens": 32}, metrics=("words",))
    mod.build_samples_with_report = build_samples_with_report
    mod.format_sample = lambda s: "\n".join(f"[{m['role']}] {m['content']}" for m in s.messages)
    return mod


def reply_for(messages) -> str:
    """Deterministic 'generation': a function of the prompt only."""
    digest = hashlib.sha256(messages[-1]["content"].encode()).hexdigest()[:8]
    return f"Therapist: tell me more {digest}"


class FakeBackend:
    """Calls on_output per request. fail_after=k: raises BackendError after k outputs (of this call);
    empty_ids: those get an empty generation; error_ids: finish_reason 'error'; delay: seconds per output.
    Registered as "vllm" through psybench.backends.register_backend, so runs use it like the real one."""

    name = "fake"
    prompt_determined = True
    calls: list[int] = []  # number of requests per generate call, across instances (per test)
    # what a run may pass to the vllm backend, plus this stand-in's own knobs
    OPTIONS = tuple(o for o in VLLMBackend.OPTIONS) + (
        BackendOption("fail_after", int, None, "", cli=False), BackendOption("empty_ids", tuple, (), "", cli=False),
        BackendOption("error_ids", tuple, (), "", cli=False), BackendOption("delay", float, 0.0, "", cli=False))

    def __init__(self, model=None, fail_after=None, empty_ids=(), error_ids=(), delay=0.0, **vllm_options):
        self.model, self.fail_after, self.delay = model, fail_after, delay
        self.empty_ids, self.error_ids = set(empty_ids), set(error_ids)

    def fingerprint(self) -> str:
        return f"fake:{self.model}"

    def info(self) -> dict:
        return {"model": self.model, "engine": "fake"}

    def generate(self, requests, params, on_output=None):
        FakeBackend.calls.append(len(requests))
        outs = []
        for i, req in enumerate(requests):
            if self.fail_after is not None and i >= self.fail_after:
                raise BackendError("fake: server returned 500 after 3 retries")
            if self.delay:
                time.sleep(self.delay)
            if req.id in self.error_ids:
                out = Output(id=req.id, text="", finish_reason="error")
            elif req.id in self.empty_ids:
                out = Output(id=req.id, text="", finish_reason="stop", completion_tokens=0)
            else:
                out = Output(id=req.id, text=reply_for(req.messages), finish_reason="stop", prompt_tokens=9,
                             completion_tokens=5)
            if on_output:
                on_output(out)
            outs.append(out)
        return outs

    def close(self) -> None:
        pass


def fake_extract(text, finish_reason, sample, mode) -> Prediction:
    if not text.strip():
        return Prediction(id=sample.id, raw=text, response="", status="empty")
    if mode == "paper":
        return Prediction(id=sample.id, raw=text, response=text, status="ok")
    return Prediction(id=sample.id, raw=text, response=text.removeprefix("Therapist:").strip(), status="ok")


def _words(mode, hyps, refs, inp) -> MetricOutput:
    return MetricOutput(per_sample={"words": np.array([float(len(h.split())) for h in hyps])})


# A toy metric, registered through the public API as any plugin would: words per scored reply.
WORDS = Metric(name="words", description="words per reply (runner tests)",
               keys=(KeySpec("corrected", "words", "sample", range=UNBOUNDED),
                     KeySpec("paper", "words", "sample", range=UNBOUNDED)),
               compute=per_mode(_words))


def install(setitem, setattr_, backend_kwargs=None) -> None:
    """Install the stand-ins: `setitem(sys.modules, name, module)`, `setattr_(obj, name, value)` (pytest's
    monkeypatch.setitem/setattr, or plain functions in a subprocess)."""
    import psybench

    from psybench import backends

    tasks = fake_tasks_module()
    knobs = dict(backend_kwargs or {})
    stand_in = type("ConfiguredFakeBackend", (FakeBackend,),
                    {"__init__": lambda self, model=None, **opts: FakeBackend.__init__(self, model, **{**opts, **knobs})})
    backends.register_backend("vllm", stand_in, replace=True)
    extract = types.ModuleType("psybench.extract")
    extract.extract = fake_extract
    register(WORDS, replace=True)
    for name, mod in (("tasks", tasks), ("extract", extract)):
        setitem(sys.modules, f"psybench.{name}", mod)
        setattr_(psybench, name, mod)


if __name__ == "__main__":  # subprocess entry for the kill -9 test
    import os

    delay = float(os.environ.get("FAKE_DELAY", "0"))
    install(lambda d, k, v: d.__setitem__(k, v), lambda o, k, v: setattr(o, k, v), {"delay": delay})
    from psybench.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
