"""The run pipeline: build samples -> generate (streamed to predictions.jsonl, cached) -> score.

Two stages joined by files (docs/ARCHITECTURE.md "A run directory"):
  generate: appends one predictions.jsonl line per Output as it arrives (extraction in both modes done
            at write time), so a killed run loses at most the line being written; on restart the
            existing lines are kept, a torn last line is cut, and only missing ids are generated.
  score:    reads predictions.jsonl, scores it with psybench.metrics, writes scores.jsonl and
            results.json atomically.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psybench import __version__
from psybench.cache import GenerationCache, sample_key
from psybench.constants import (DEFAULT_MAX_TOKENS, DEFAULT_SEED, METRIC_MODES, PAPER_DECODING)
from psybench.errors import BackendError, ConfigError, PredictionsError
from psybench.manifest import config_differences, git_commit, hardware, samples_hash, versions
from psybench.runfiles import (PREDICTIONS_FILE, RESULTS_FILE, SCORES_FILE, Manifest, PredictionsWriter, RunResults,
                               TaskResults, read_manifest,
                               read_predictions, with_schema, write_manifest, write_results, write_scores)
from psybench.records import GenerationParams, Output, Request, Sample

if TYPE_CHECKING:  # imported where used: `psybench run --help` should not pay for them
    from psybench.executors import ExecutorSettings
    from psybench.metrics import MetricSettings
    from psybench.tasks import BuildReport, TaskSpec

STAGES = ("generate", "score", "all")
DECODINGS = ("greedy", "paper")

# The embedded default (`python run_bench.py` with no --model): a quick, fully offline slice.
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
# The other defaults of RunConfig (vllm, dialog, en, seeded, turns all, paper prompts) already fit it.
# float32: on CPU, bf16 falls back to slow kernels and its greedy output differs from transformers'.
# Its encoder follows the language (assets.encoders.embedded_default_encoder: minilm for en, e5 for zh).
# Greedy decoding loops in a 135M model: on the first 40 English dialog samples, plain greedy stops in 21
# (19 within 128 tokens) and the rest loop at any budget up to 512. A repetition penalty (1.15) also
# penalises the prompt's "Therapist:", so the model stops writing the speaker marker. A frequency penalty
# counts output tokens only: at 1.0 all 40 stop within 256 tokens (median 99), the marker kept as often.
DEFAULT_RUN = {"limit": 40, "max_tokens": 256, "frequency_penalty": 1.0, "dtype": "float32"}
DEFAULT_OUT = Path("runs/default")

# Config fields that decide what is generated: a resumed run must agree on all of them.
GENERATION_KEYS = ("model", "backend", "tasks", "lang", "split", "turns", "prompt_style", "limit",
                   "decoding", "max_tokens", "seed", "repetition_penalty", "frequency_penalty", "lora", "dtype", "max_model_len", "task_options")
# Engine options that change outputs without changing the weights: part of the cache key.
CACHE_KEY_OPTIONS = ("dtype", "max_model_len", "lora")
FSYNC_INTERVAL_S = 0.5  # flush every line (survives kill -9); fsync at most this often (survives power loss)


@dataclass
class RunConfig:
    model: str | None = None  # None: the embedded default (SmolLM2-135M-Instruct, see DEFAULT_RUN)
    backend: str = "vllm"
    tasks: tuple[str, ...] = ("dialog",)
    lang: str = "en"
    split: str = "seeded"
    turns: str = "all"
    prompt_style: str = "paper"
    limit: int | None = None
    decoding: str = "greedy"
    max_tokens: int | None = None  # None: the task's setting, else DEFAULT_MAX_TOKENS (paper: 512)
    seed: int = DEFAULT_SEED
    repetition_penalty: float | None = None  # None: off (1.0), unless the embedded default sets it
    frequency_penalty: float | None = None  # None: off (0.0), unless the embedded default sets it
    modes: tuple[str, ...] = METRIC_MODES
    metrics: tuple[str, ...] | None = None  # generation metrics (registry names); None: each task's `metrics:`
    reference_cache: bool = True  # BERTScore: the references' embeddings kept between runs
    bertscore_model: str | None = None  # None: the paper's model when available (metrics decides)
    bertscore_layer: int | None = None
    out: Path = DEFAULT_OUT
    data_dir: Path | None = None
    strict: bool = False
    stage: str = "all"
    overwrite: bool = False
    cache: Path | None = None  # None: paths.cache_subdir("generations")
    use_cache: bool = True
    # backend options (passed to create_backend when set)
    lora: str | None = None
    base_url: tuple[str, ...] | None = None  # openai: one server, or a fleet serving one model (a str is taken too)
    base_urls_file: str | None = None
    tensor_parallel_size: int | None = None
    data_parallel_size: int | None = None
    max_model_len: int | None = None
    dtype: str | None = None
    enforce_eager: bool | None = None
    prefix_caching: bool | None = None  # vllm: None = on
    concurrency: int | None = None
    pipeline_parallel_size: int | None = None
    # where the engines run (psybench.executors); not generation identity: outputs are the same
    executor: str = "local"
    ray_address: str | None = None
    replicas: int | None = None
    chunk_size: int = 0  # requests per backend.generate call; 0 = a whole task at once (vLLM schedules it)
    task_options: dict[str, Any] = field(default_factory=dict)
    # the judge stage after scoring (psybench/judge): none unless a judge model is named
    judge_models: tuple[str, ...] = ()
    judge_backend: str = "vllm"
    judge_options: tuple[str, ...] = ()  # KEY=VALUE backend options of the judges
    judge_repeats: int = 1
    judge_rubric: Path | None = None
    progress: bool = True

    def resolved(self) -> RunConfig:
        """Fill the embedded default's settings when no model was named; check the values."""
        cfg = dataclasses.replace(self, tasks=tuple(self.tasks), modes=tuple(self.modes))
        if cfg.base_url is not None:
            cfg.base_url = (cfg.base_url,) if isinstance(cfg.base_url, str) else tuple(cfg.base_url)
        if cfg.model is None:  # explicit flags still win (e.g. --limit 8)
            for key in DEFAULT_RUN:
                if getattr(cfg, key) is None:
                    setattr(cfg, key, DEFAULT_RUN[key])
            if cfg.bertscore_model is None:
                from psybench.assets.encoders import embedded_default_encoder

                cfg.bertscore_model = embedded_default_encoder(cfg.lang)
        if cfg.stage not in STAGES:
            raise ConfigError(f"--stage {cfg.stage!r}: choose one of {', '.join(STAGES)}")
        if cfg.decoding not in DECODINGS:
            raise ConfigError(f"--decoding {cfg.decoding!r}: choose one of {', '.join(DECODINGS)}")
        bad = [m for m in cfg.modes if m not in METRIC_MODES]
        if bad or not cfg.modes:
            raise ConfigError(f"--mode {','.join(cfg.modes)!r}: choose from {', '.join(METRIC_MODES)} or both")
        if not cfg.tasks:
            raise ConfigError("--tasks is empty: name at least one task (see `psybench tasks`)")
        if cfg.metrics is not None:
            from psybench.metrics import select_metrics

            cfg.metrics = tuple(cfg.metrics)
            if not select_metrics(cfg.metrics):  # unknown names: an error listing the known ones
                raise ConfigError("--metrics is empty: name at least one metric (see `psybench metrics`)")
        if cfg.repetition_penalty is not None and cfg.repetition_penalty <= 0:
            raise ConfigError(f"--repetition-penalty {cfg.repetition_penalty}: must be > 0 (1.0 = off)")
        if cfg.frequency_penalty is not None and not -2.0 <= cfg.frequency_penalty <= 2.0:
            raise ConfigError(f"--frequency-penalty {cfg.frequency_penalty}: must be within [-2, 2] (0 = off)")
        from psybench.backends import check_options

        check_options(cfg.backend, backend_options(cfg))  # an option the backend does not take: say so now
        if cfg.data_parallel_size not in (None, 1):
            from psybench.backends.vllm import DATA_PARALLEL_REMOVED

            raise ConfigError(f"--data-parallel-size {cfg.data_parallel_size}: {DATA_PARALLEL_REMOVED}")
        cfg.executor_settings().check(cfg.backend)
        if cfg.limit is not None and cfg.limit < 1:
            raise ConfigError(f"--limit {cfg.limit}: must be a positive number of samples")
        cfg.judge_models, cfg.judge_options = tuple(cfg.judge_models), tuple(cfg.judge_options)
        if cfg.judge_models:
            judge_settings(cfg)  # a judge flag that cannot work: say so before generating
        return cfg

    def executor_settings(self) -> ExecutorSettings:
        from psybench.executors import ExecutorSettings

        return ExecutorSettings(self.executor, self.ray_address, self.replicas)

    @property
    def model_label(self) -> str:
        return DEFAULT_MODEL_NAME if self.model is None else self.model

    def generation_identity(self) -> dict[str, Any]:
        """The config as recorded in the manifest, JSON-ready, with the embedded default by name."""
        data = dataclasses.asdict(self)
        data["model"] = self.model_label
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
            elif isinstance(value, tuple):
                data[key] = list(value)
        data.pop("progress", None)
        return data


def prediction_record(sample: Sample, output: Output) -> dict[str, Any]:
    """One predictions.jsonl line: the output, extracted in both modes (ARCHITECTURE.md field names)."""
    from psybench.extract import extract

    corrected = extract(output.text, output.finish_reason, sample, "corrected")
    paper = extract(output.text, output.finish_reason, sample, "paper")
    meta = dict(sample.meta)
    meta.setdefault("kind", sample.kind)
    if sample.choices:
        meta.setdefault("choices", list(sample.choices))
    meta.update(prompt_tokens=output.prompt_tokens, completion_tokens=output.completion_tokens)
    record = {
        "id": sample.id, "task": sample.task, "lang": sample.lang,
        "dialog_id": sample.meta.get("dialog_id"), "turn_index": sample.meta.get("turn_index"),
        "reference": sample.reference, "raw_output": output.text, "finish_reason": output.finish_reason,
        "prediction": corrected.response, "status": corrected.status,
        "paper_prediction": paper.response, "paper_status": paper.status, "truncated": corrected.truncated,
        "observation": corrected.observation, "reasoning": corrected.reasoning,
        "labels": None if corrected.labels is None else list(corrected.labels),
        "gold_labels": list(sample.gold_labels),
        "history_turns_cut": output.history_turns_cut, "cached": output.cached, "meta": meta,
    }
    if "retrieved" in sample.meta:
        record["retrieved"] = sample.meta["retrieved"]
    return record


# ---------------------------------------------------------------------------------------------
# building samples and decoding settings


def generation_params(config: RunConfig, spec: TaskSpec | None = None) -> GenerationParams:
    """The decoding of a task's samples: the run's flags over the task's `generation:` (max_tokens, stop)."""
    task_gen = dict(spec.generation) if spec is not None else {}
    stop = tuple(task_gen.get("stop") or ())
    penalties = dict(repetition_penalty=float(config.repetition_penalty or 1.0),
                     frequency_penalty=float(config.frequency_penalty or 0.0))
    if config.decoding == "paper":
        max_tokens = config.max_tokens or PAPER_DECODING["max_tokens"]
        return GenerationParams(max_tokens=max_tokens, temperature=PAPER_DECODING["temperature"],
                                top_p=PAPER_DECODING["top_p"], seed=config.seed, stop=stop, **penalties)
    max_tokens = config.max_tokens or task_gen.get("max_tokens") or DEFAULT_MAX_TOKENS
    return GenerationParams(max_tokens=int(max_tokens), temperature=0.0, top_p=1.0, seed=config.seed, stop=stop,
                            **penalties)


@dataclass
class TaskBuild:
    name: str
    spec: TaskSpec
    samples: list[Sample]
    report: BuildReport
    content_hash: str


def build_tasks(config: RunConfig) -> list[TaskBuild]:
    from psybench import tasks as task_registry

    builds = []
    for name in config.tasks:
        spec = task_registry.get_task(name)
        samples, report = task_registry.build_samples_with_report(
            name, config.lang, split=config.split, turns=config.turns, prompt_style=config.prompt_style,
            data_dir=config.data_dir, limit=config.limit, strict=config.strict, **config.task_options)
        builds.append(TaskBuild(name, spec, list(samples), report, samples_hash(samples)))
    return builds


def dry_run(config: RunConfig) -> str:
    """Sample counts per task and one full prompt; loads no model."""
    from psybench.tasks import format_sample

    config = config.resolved()
    builds = build_tasks(config)
    lines = [f"model: {config.model_label}  backend: {config.backend}  lang: {config.lang}  split: "
             f"{config.split}  turns: {config.turns}  prompt style: {config.prompt_style}  limit: {config.limit}"]
    for b in builds:
        params = generation_params(config, b.spec)
        decoding = {k: v for k, v in params.as_dict().items() if k not in ("seed", "stop", "top_p")}
        lines.append(f"{b.name}: {len(b.samples)} samples  (hash {b.content_hash[:12]}, "
                     + ", ".join(f"{k} {v}" for k, v in decoding.items()) + ")")
    first = next((b.samples[0] for b in builds if b.samples), None)
    if first is not None:
        lines += ["", f"--- first prompt: {first.id} ---", format_sample(first)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the generate stage


def backend_options(config: RunConfig) -> dict[str, Any]:
    """The backend options the run sets: RunConfig fields named like a declared CLI backend option
    (psybench.backends.cli_options), None left out."""
    from psybench.backends import cli_options

    names = [option.name for option, _ in cli_options()]
    return {n: getattr(config, n) for n in names if getattr(config, n, None) is not None}


def _resolve_model(config: RunConfig) -> str:
    if config.model is not None:
        return config.model
    from psybench.assets.chat_models import smollm2_dir

    return str(smollm2_dir())


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, disable=not enabled or total == 0,
                dynamic_ncols=True)


def _restart_clock(bar: Any) -> None:
    """Start the bar's clock (rate, ETA) after the engine start-up, which is no sample's time."""
    if getattr(bar, "disable", True):
        return
    bar.set_description_str("generate", refresh=False)
    bar.initial = bar.n  # tqdm's rate counts from `initial`
    bar.start_t = bar.last_print_t = bar._time()
    bar.refresh()


def _check_resume(run_dir: Path, config: RunConfig, builds: list[TaskBuild]) -> Manifest | None:
    old = read_manifest(run_dir)
    if old is None:
        return None
    new_cfg = config.generation_identity()
    diffs = config_differences(old.get("config", {}), new_cfg, GENERATION_KEYS)
    old_hashes = old.get("task_hashes", {})
    diffs += [f"task {b.name} samples hash: {old_hashes.get(b.name, '')[:12]} -> {b.content_hash[:12]}"
              for b in builds if old_hashes.get(b.name) not in (None, b.content_hash)]
    if diffs:
        raise ConfigError(f"{run_dir / 'manifest.json'}: this run directory holds a different config "
                          f"({'; '.join(diffs)}); use another --out or pass --overwrite")
    return old


def generate_stage(config: RunConfig, run_dir: Path, manifest: Manifest) -> None:
    """Generate every sample not yet in predictions.jsonl; cache hits cost nothing, and when the cache
    holds every missing sample no backend is started (the model's identity comes from its files)."""
    from psybench import backends as backend_registry

    t0 = time.monotonic()
    builds = build_tasks(config)
    manifest["timings"]["build_s"] = round(time.monotonic() - t0, 3)
    old = _check_resume(run_dir, config, builds)
    manifest["task_hashes"] = {b.name: b.content_hash for b in builds}
    manifest["task_spec_hashes"] = {b.name: b.spec.content_hash for b in builds}
    manifest["task_metrics"] = {b.name: list(b.spec.metrics) for b in builds if b.spec.kind == "generation"}
    manifest["split_hashes"] = {b.name: b.report.split_hash for b in builds}
    manifest["counts"]["samples"] = {b.name: len(b.samples) for b in builds}
    manifest["counts"]["build_report"] = {b.name: json.loads(json.dumps(b.report.as_dict(), default=str)) for b in builds}
    if old:  # a resumed run keeps what the first attempt learnt about the model
        for key in ("model_fingerprint", "backend_info"):
            if manifest.get(key) is None:  # new_manifest holds None: setdefault would keep it
                manifest[key] = old.get(key)
        manifest["created"] = old.get("created", manifest["created"])
    write_manifest(run_dir, manifest)

    pred_path = run_dir / PREDICTIONS_FILE
    existing = read_predictions(pred_path, repair=True)
    by_id = {s.id: s for b in builds for s in b.samples}
    for number, record in enumerate(existing, 1):
        if record["id"] not in by_id:
            raise PredictionsError(f"{pred_path}:{number}: id {record['id']!r} is not a sample of this "
                                   "run's config; use another --out or pass --overwrite")
    done = {r["id"] for r in existing}
    remaining = {b.name: [s for s in b.samples if s.id not in done] for b in builds}
    n_remaining = sum(len(v) for v in remaining.values())
    manifest["counts"]["resumed_from"] = len(done)

    writer = PredictionsWriter(pred_path, done)
    t1 = time.monotonic()
    errors: list[str] = []
    backend = None
    cache = None
    tally = {"generated": 0, "cache_hits": 0}  # this invocation's
    manifest["backend_started"] = False
    try:
        if n_remaining:
            model, options = _resolve_model(config), backend_options(config)
            engine = json.dumps({k: getattr(config, k) for k in CACHE_KEY_OPTIONS}, sort_keys=True)
            cache = GenerationCache(config.cache) if config.use_cache else None
            bar = _progress(n_remaining, "generate", config.progress)

            def todo_of(b: TaskBuild) -> list[Sample]:
                return [s for s in remaining[b.name] if s.id not in writer]

            def keys_of(b: TaskBuild, fingerprint: str, prompt_determined: bool) -> dict[str, str]:
                params = generation_params(config, b.spec)
                return {s.id: sample_key(f"{fingerprint} {engine}", s.id, s.messages, params, prompt_determined)
                        for s in todo_of(b)}

            def serve_cached(b: TaskBuild, fingerprint: str, prompt_determined: bool) -> None:
                keys, samples = keys_of(b, fingerprint, prompt_determined), {s.id: s for s in todo_of(b)}
                for sid, out in cache.get_many((key, sid) for sid, key in keys.items()).items():
                    if writer.write(prediction_record(samples[sid], out)):
                        tally["cache_hits"] += 1
                        bar.update(1)

            try:
                # The model's identity without starting the backend (its files; the replay file), so a run
                # the cache covers starts no engine. Registries without it (test stand-ins) start one.
                fingerprint = backend_registry.offline_fingerprint(config.backend, model, **options) \
                    if cache is not None else None
                if fingerprint is not None:
                    prompt_determined = backend_registry.backend_class(config.backend).prompt_determined
                    for b in builds:
                        serve_cached(b, fingerprint, prompt_determined)
                    manifest["model_fingerprint"] = fingerprint
                    manifest["backend_info"] = cache.get_engine(f"{fingerprint} {engine}") or {
                        "backend": config.backend, "model": str(model)}  # the engine that made the outputs
                if any(todo_of(b) for b in builds):
                    t_start = time.monotonic()
                    bar.set_description_str(f"starting {config.backend}"
                                            + (f" on {config.executor}" if config.executor != "local" else ""))
                    from psybench.executors import create_engine

                    backend = create_engine(config.executor_settings(), config.backend, model, **options)
                    manifest["timings"]["backend_start_s"] = round(time.monotonic() - t_start, 3)
                    _restart_clock(bar)
                    manifest["backend_started"] = True
                    prompt_determined = bool(getattr(backend, "prompt_determined", False))  # unknown: never share
                    fingerprint = backend.fingerprint()
                    manifest["model_fingerprint"] = fingerprint
                    manifest["backend_info"] = json.loads(json.dumps(backend.info(), default=str))
                    if cache is not None:
                        cache.put_engine(f"{fingerprint} {engine}", manifest["backend_info"])
                write_manifest(run_dir, manifest)
                for b in builds:
                    if backend is None:
                        break
                    if cache is not None:  # again: an earlier task of this run may have made a shareable output
                        serve_cached(b, fingerprint, prompt_determined)
                    todo = todo_of(b)
                    if not todo:
                        continue
                    params = generation_params(config, b.spec)
                    keys = keys_of(b, fingerprint, prompt_determined)
                    samples = {s.id: s for s in todo}

                    def on_output(out: Output) -> None:
                        if out.id not in samples or out.id in writer:
                            return
                        if out.finish_reason == "error":  # not written: a rerun retries it
                            errors.append(out.id)
                            return
                        if cache is not None:
                            cache.put(keys[out.id], out)
                        if writer.write(prediction_record(samples[out.id], out)):
                            tally["generated"] += 1
                            bar.update(1)

                    step = config.chunk_size if config.chunk_size > 0 else max(len(todo), 1)
                    for start in range(0, len(todo), step):
                        chunk = todo[start:start + step]
                        requests = [Request(id=s.id, messages=s.messages) for s in chunk]
                        outputs = backend.generate(requests, params, on_output)
                        for out in outputs or ():  # a backend that did not call back for some outputs
                            if out.id not in writer and out.id not in errors:
                                on_output(out)
            finally:
                bar.close()
    finally:
        writer.close()
        if cache is not None:
            cache.close()
        if backend is not None:
            try:  # again at the end: what happened (a fleet's outages, Ray replicas lost and their samples handed on)
                manifest["backend_info"] = json.loads(json.dumps(backend.info(), default=str))
            finally:
                backend.close()
        manifest["timings"]["generate_s"] = round(time.monotonic() - t1, 3)
        manifest["counts"].update(tally)
        _record_generation_counts(manifest, pred_path)
        write_manifest(run_dir, manifest)
    if errors:
        raise BackendError(f"{config.backend}: {len(errors)} sample(s) failed (first: {errors[0]}); what was "
                           f"generated is saved in {pred_path}: rerun the same command to retry the rest")
    missing = [sid for sid in by_id if sid not in writer]
    if missing:
        raise BackendError(f"{config.backend}: returned no output for {len(missing)} sample(s) (first: "
                           f"{missing[0]}); rerun the same command to retry them")


def _record_generation_counts(manifest: Manifest, pred_path: Path) -> None:
    records = read_predictions(pred_path, repair=False) if pred_path.is_file() else []
    counts = manifest["counts"]
    counts["predictions"] = len(records)
    counts["cached"] = sum(1 for r in records if r.get("cached"))
    counts["status"] = dict(Counter(r.get("status") for r in records))
    counts["paper_status"] = dict(Counter(r.get("paper_status") for r in records))
    counts["truncated"] = sum(1 for r in records if r.get("truncated", r.get("finish_reason") == "length"))
    counts["history_turns_cut"] = sum(int(r.get("history_turns_cut") or 0) for r in records)
    counts["samples_with_history_cut"] = sum(1 for r in records if r.get("history_turns_cut"))


# ---------------------------------------------------------------------------------------------
# the score stage


def metric_settings(config: RunConfig) -> MetricSettings:
    """psybench.metrics.MetricSettings from the run's flags."""
    from psybench.metrics import MetricSettings

    return MetricSettings(modes=tuple(config.modes), bertscore_model=config.bertscore_model,
                          bertscore_layer=config.bertscore_layer, reference_cache=config.reference_cache,
                          metrics=tuple(config.metrics) if config.metrics is not None else None)


def _settings_dict(settings: MetricSettings) -> dict[str, Any]:
    return json.loads(json.dumps(settings.as_dict(), default=str))


def _task_metrics(manifest: Manifest, tasks: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each task's `metrics:` (what a run scores unless --metrics): as the manifest recorded it at
    generation, else from the task's YAML (run directories made before the manifest kept it)."""
    from psybench import tasks as task_registry

    recorded = manifest.get("task_metrics") or {}
    out = {}
    for task in tasks:
        if task in recorded:
            names = recorded[task]
        else:
            try:
                names = task_registry.get_task(task).metrics
            except ConfigError:  # a task this psybench does not know: the default metrics
                continue
        if names:
            out[task] = tuple(names)
    return out


def score_run(run_dir: Path | str, settings: MetricSettings) -> RunResults:
    """Score a run directory's predictions.jsonl; write scores.jsonl and results.json; return results."""
    from psybench.metrics import score_records

    run_dir = Path(run_dir)
    pred_path = run_dir / PREDICTIONS_FILE
    if not pred_path.is_file():
        raise PredictionsError(f"{pred_path}: no predictions to score (run the generate stage first)")
    records = read_predictions(pred_path, repair=False)
    if not records:
        raise PredictionsError(f"{pred_path}: empty; run the generate stage first")
    manifest = read_manifest(run_dir) or {}
    config = manifest.get("config", {})
    by_task: dict[str, list[dict[str, Any]]] = {}
    for number, record in enumerate(records, 1):
        task = record.get("task")
        if not isinstance(task, str) or not task:
            raise PredictionsError(f"{pred_path}:{number}: field 'task' is missing")
        by_task.setdefault(task, []).append(record)
    expected = manifest.get("counts", {}).get("samples", {})
    for task, n in expected.items():
        if len(by_task.get(task, [])) != n:
            raise PredictionsError(f"{pred_path}: task {task} has {len(by_task.get(task, []))} of {n} "
                                   "predictions; rerun the generate stage to finish it")

    t0 = time.monotonic()
    lines, task_results = score_records(records, None, settings, source=str(pred_path),
                                        task_metrics=_task_metrics(manifest, by_task))
    tasks_out: dict[str, TaskResults] = {}
    for task, entry in task_results.items():
        task_records = by_task[task]
        tasks_out[task] = {
            "lang": entry.get("lang") or config.get("lang"), "split": config.get("split"),
            "turns": config.get("turns"), "prompt_style": config.get("prompt_style"), "n": len(task_records),
            "status_counts": dict(Counter(r.get("status") for r in task_records)),
            "paper_status_counts": dict(Counter(r.get("paper_status") for r in task_records)),
            **{k: v for k, v in entry.items() if k not in ("lang", "n", "status_counts", "paper_status_counts")}}
    results = {"run_id": run_dir.name, "model": config.get("model", manifest.get("model")),
               "backend": config.get("backend"), "created": datetime.now(timezone.utc).isoformat(),
               "psybench_version": __version__, "metric_settings": _settings_dict(settings), "tasks": tasks_out}
    write_scores(run_dir, lines)
    results = with_schema(results)
    write_results(run_dir, results)
    if manifest:
        manifest.setdefault("timings", {})["score_s"] = round(time.monotonic() - t0, 3)
        manifest["metric_settings"] = results["metric_settings"]
        write_manifest(run_dir, manifest)
    return results


# ---------------------------------------------------------------------------------------------
# the whole run


def judge_settings(config: RunConfig):
    """The judge stage's settings (psybench.judge.pointwise.JudgeSettings) from the run's --judge-* flags."""
    from psybench.judge.engine import judge_specs
    from psybench.judge.pointwise import JudgeSettings

    if config.judge_repeats < 1:
        raise ConfigError(f"--judge-repeats {config.judge_repeats}: must be at least 1")
    return JudgeSettings(judges=judge_specs(config.judge_models, config.judge_backend, config.judge_options),
                         repeats=config.judge_repeats, rubric=config.judge_rubric, data_dir=config.data_dir,
                         progress=config.progress, executor=config.executor_settings())


def new_manifest(config: RunConfig) -> Manifest:
    return {"run_id": config.out.name, "psybench_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(), "config": config.generation_identity(),
            "task_hashes": {}, "model_fingerprint": None, "backend_info": None, "versions": versions(),
            "git_commit": git_commit(), "hardware": hardware(), "timings": {}, "counts": {}}


def run(config: RunConfig) -> Path:
    """Run the configured stage(s); return the run directory."""
    from psybench.preflight import check_run

    config = config.resolved()
    check_run(config)  # model, server, encoder, WordNet, retrieval model: fail before generating
    run_dir = Path(config.out)
    if config.overwrite and config.stage != "score" and run_dir.exists():
        for name in (PREDICTIONS_FILE, SCORES_FILE, RESULTS_FILE, "manifest.json"):
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.stage in ("generate", "all"):
        manifest = new_manifest(config)
        generate_stage(config, run_dir, manifest)
    if config.stage in ("score", "all"):
        old = (read_manifest(run_dir) or {}).get("config", {})
        if config.bertscore_model is None and old.get("bertscore_model"):  # score later as configured
            config = dataclasses.replace(config, bertscore_model=old["bertscore_model"],
                                         bertscore_layer=config.bertscore_layer or old.get("bertscore_layer"))
        if config.stage == "score" and read_manifest(run_dir) is None and not (run_dir / PREDICTIONS_FILE).exists():
            raise PredictionsError(f"{run_dir}: not a run directory (no manifest.json or predictions.jsonl)")
        score_run(run_dir, metric_settings(config))
        if config.judge_models:  # after scoring: the judge's numbers join results.json and scores.jsonl
            from psybench.judge.pointwise import judge_run

            judge_run(run_dir, judge_settings(config))
    return run_dir
