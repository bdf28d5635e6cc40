"""Stand-ins for the runner's unit tests, so the runner's own logic (resume, cache, stages, manifest,
errors) is tested fast and deterministically: synthetic samples from a task builder, a deterministic
backend, a toy metric. They enter through the registries users use (register_builder and a tasks
directory, register_backend, the metric registry), never by replacing modules; extraction and scoring
are the real ones. The real engines are exercised by the slow tests (test_resume.py, test_main_job.py).

Also runnable as a script: `python tests/test_runner_fakes.py RUN_FLAGS...` runs `psybench run` with
these stand-ins installed (for the kill -9 test, which needs a separate process)."""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from psybench.backends.options import BackendOption
from psybench.backends.vllm import VLLMBackend
from psybench.errors import BackendError
from psybench.metrics import KeySpec, Metric, MetricOutput, per_mode, register
from psybench.metrics.registry import UNBOUNDED
from psybench.records import Output, Sample

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


STAND_IN_TASKS = ("dialog", "reasoning")
TASK_YAML = """name: {name}
description: stand-in task for the runner's unit tests
kind: generation
builder: runner_stand_in
langs: [en]
extract: response
metrics: [words]
generation: {{max_tokens: 32}}
"""


class StandInBuilder:
    """Builds make_samples(task) whatever the data holds (the sessions and split are the real ones)."""

    @staticmethod
    def build(spec, sessions, split, options):
        return make_samples(spec.name), {}


def write_tasks_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in STAND_IN_TASKS:
        (folder / f"{name}.yaml").write_text(TASK_YAML.format(name=name))
    return folder


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


def _words(mode, hyps, refs, inp) -> MetricOutput:
    return MetricOutput(per_sample={"words": np.array([float(len(h.split())) for h in hyps])})


# A toy metric, registered through the public API as any plugin would: words per scored reply.
WORDS = Metric(name="words", description="words per reply (runner tests)",
               keys=(KeySpec("corrected", "words", "sample", range=UNBOUNDED),
                     KeySpec("paper", "words", "sample", range=UNBOUNDED)),
               compute=per_mode(_words))


def install(tasks_folder: Path, setenv, backend_kwargs=None) -> None:
    """Register the stand-ins (builder, backend as "vllm", toy metric) and point PSYBENCH_TASKS_DIR at a
    tasks directory of stand-in tasks (`setenv(name, value)`: pytest's monkeypatch.setenv, or os.environ's
    __setitem__ in a subprocess). `uninstall()` undoes the registrations."""
    from psybench import backends
    from psybench.tasks import register_builder

    register(WORDS, replace=True)  # before the task files that name it are read
    register_builder("runner_stand_in", StandInBuilder)
    knobs = dict(backend_kwargs or {})
    stand_in = type("ConfiguredFakeBackend", (FakeBackend,),
                    {"__init__": lambda self, model=None, **opts: FakeBackend.__init__(self, model, **{**opts, **knobs})})
    backends.register_backend("vllm", stand_in, replace=True)
    setenv("PSYBENCH_TASKS_DIR", str(write_tasks_dir(tasks_folder)))
    if not os.environ.get("PSYBENCH_DATA_DIR"):  # the builder ignores the data, but a build loads it
        from conftest import _find_data_dir

        found = _find_data_dir()
        if found is not None:
            setenv("PSYBENCH_DATA_DIR", str(found))


def uninstall() -> None:
    from psybench.backends import unregister_backend
    from psybench.metrics import unregister
    from psybench.tasks import unregister_builder

    unregister(WORDS.name)
    unregister_builder("runner_stand_in")
    unregister_backend("vllm", restore="psybench.backends.vllm:VLLMBackend")


if __name__ == "__main__":  # subprocess entry for the kill -9 test
    import tempfile

    delay = float(os.environ.get("FAKE_DELAY", "0"))
    install(Path(tempfile.mkdtemp(prefix="stand-in-tasks-")), os.environ.__setitem__, {"delay": delay})
    from psybench.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
