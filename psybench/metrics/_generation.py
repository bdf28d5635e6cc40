"""score_generation: every generation metric in the requested modes, per sample and aggregated with
bootstrap CIs. The n-gram metrics (METEOR dominates) run in a worker process while the encoder runs
here, so both cores work; the encoder scores both modes' pairs in one call."""
from __future__ import annotations

import atexit
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np

from psybench.constants import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, METRIC_MODES
from psybench.errors import ConfigError
from psybench.metrics import tokenize as tk
from psybench.metrics._bootstrap import aggregate, mean_cis, resample_counts
from psybench.metrics.registry import Metric, MetricInput, MetricOutput, get_metric, metric_of, select_metrics, spec_of

AUTO_WORKER_MIN_SAMPLES = 200  # below this a worker's start-up (WordNet load) costs more than it saves


@dataclass
class MetricSettings:
    modes: tuple[str, ...] = ("corrected",)
    bertscore_model: str | None = None  # alias (minilm, mpnet, e5), hub id or local folder; None = the paper's
    bertscore_layer: int | None = None  # None = the encoder's default layer
    allow_lang_mismatch: bool = False  # allow an English-only encoder on Chinese (and vice versa)
    bertscore: bool = True  # False: n-gram metrics only (no encoder)
    batch_size: int = 64
    device: str = "auto"  # "cpu", "cuda" or "auto"
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED
    workers: int | None = None  # worker processes for n-gram metrics: 0 inline, None auto
    metrics: tuple[str, ...] | None = None  # registry names (--metrics, a task's `metrics:`); None = DEFAULT_METRICS
    reference_cache: bool = True  # keep the references' BERTScore embeddings between runs (_reference_cache)

    def __post_init__(self) -> None:
        self.modes = tuple(self.modes)
        if self.metrics is not None:
            self.metrics = tuple(self.metrics)
        bad = [m for m in self.modes if m not in METRIC_MODES]
        if bad or not self.modes:
            raise ConfigError(f"metric mode {bad or '(none)'}: choose from {', '.join(METRIC_MODES)}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class MetricResult:
    per_sample: list[dict[str, float]]
    aggregates: dict[str, dict]
    info: dict = field(default_factory=dict)


# ---- the worker process (a per-process cache) ------------------------------------------------------
_POOL: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        _POOL.submit(warm_up)  # WordNet + jieba load there while the encoder loads here
        atexit.register(_POOL.shutdown, wait=False, cancel_futures=True)
    return _POOL


def _use_worker(settings: MetricSettings, n: int, encoder_on_cpu: bool) -> bool:
    """A worker only pays when it has a core of its own: the CPU encoder already uses every core torch
    gives it, and on 2 cores a worker beside it slowed the whole scoring down (97 s vs 80 s, 1,000 pairs)."""
    if settings.workers is None:
        spare = (multiprocessing.cpu_count() or 1) - (torch_threads() if encoder_on_cpu else 0)
        return n >= AUTO_WORKER_MIN_SAMPLES and spare >= 1
    return settings.workers > 0


def torch_threads() -> int:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:
        return 0


# ---- scoring ---------------------------------------------------------------------------------------------
def _texts_for(metric: Metric, texts: dict[str, tuple[list[str], list[str]]]) -> dict[str, tuple[list[str], list[str]]]:
    return {mode: pair for mode, pair in texts.items() if mode in metric.modes}


def compute_metrics(names: list[str], lang: str, texts: dict[str, tuple[list[str], list[str]]],
                    settings: MetricSettings, encoder=None) -> dict[str, dict[str, MetricOutput]]:
    """metric name -> mode -> output, for the named registered metrics. Safe to run in a worker process
    (the registry loads there from the same modules and plugins)."""
    if any(get_metric(n).needs_wordnet for n in names):
        from psybench.assets.wordnet import ensure_wordnet

        ensure_wordnet()
    out = {}
    for name in names:
        metric = get_metric(name)
        mine = _texts_for(metric, texts)
        out[name] = metric.compute(MetricInput(lang, mine, settings, encoder)) if mine else {}
    return out


def warm_up() -> None:
    """Load WordNet and jieba in a fresh worker while the encoder loads in the main process."""
    from nltk.corpus import wordnet

    from psybench.assets.wordnet import ensure_wordnet

    ensure_wordnet()
    wordnet.ensure_loaded()
    tk.jieba_tokens("预热")


def _selected(settings: MetricSettings, lang: str) -> list[Metric]:
    metrics = select_metrics(settings.metrics, lang)
    if not settings.bertscore:
        metrics = [m for m in metrics if not m.needs_encoder]
    return metrics


def score_generation(predictions: list[str], references: list[str], lang: str, settings: MetricSettings,
                     paper_predictions: list[str] | None = None,
                     paper_mask: list[bool] | None = None) -> MetricResult:
    """Score generated texts against references with the selected metrics (settings.metrics, default
    constants.DEFAULT_METRICS) in settings.modes.

    Corrected mode scores every sample with speaker prefixes stripped. Paper mode scores
    paper_predictions (default: predictions) as given, only where paper_mask is True (the authors
    dropped outputs without "Therapist:"), and counts the others."""
    n = len(predictions)
    if len(references) != n or (paper_predictions is not None and len(paper_predictions) != n) \
            or (paper_mask is not None and len(paper_mask) != n):
        raise ValueError("predictions, references, paper_predictions and paper_mask must have equal lengths")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    modes = settings.modes
    metrics = _selected(settings, lang)
    spec = None
    if any(m.needs_encoder for m in metrics):
        from psybench.assets.encoders import resolve_encoder

        spec = resolve_encoder(settings.bertscore_model, lang, num_layers=settings.bertscore_layer,
                               allow_lang_mismatch=settings.allow_lang_mismatch)
    corr = ([tk.strip_speaker(p) for p in predictions], [tk.strip_speaker(r) for r in references]) \
        if "corrected" in modes else None
    paper_idx = [i for i in range(n) if paper_mask is None or paper_mask[i]]
    src = paper_predictions if paper_predictions is not None else predictions
    paper = ([src[i] for i in paper_idx], [references[i] for i in paper_idx]) if "paper" in modes else None
    # paper first: the encoder sees both modes' pairs in one call, in this order
    texts = {mode: pair for mode, pair in (("paper", paper), ("corrected", corr)) if pair is not None}

    if any(m.needs_wordnet for m in metrics):
        from psybench.assets.wordnet import ensure_wordnet

        ensure_wordnet()  # fail before the encoder runs, not after (METEOR needs it; no fallback)
    inline = [m.name for m in metrics if not m.needs_encoder]
    future: Future | None = None
    encoder_on_cpu = False
    if spec is not None:
        from psybench.metrics._bertscore import resolve_device

        encoder_on_cpu = resolve_device(settings.device) == "cpu"
    if _use_worker(settings, n, encoder_on_cpu):
        in_worker = [name for name in inline if get_metric(name).worker]
        inline = [name for name in inline if name not in in_worker]
        if in_worker:
            future = _pool().submit(compute_metrics, in_worker, lang, texts, settings)
    outputs: dict[str, dict[str, MetricOutput]] = {}
    encoded = [m.name for m in metrics if m.needs_encoder]
    if encoded:
        tb = time.perf_counter()
        outputs.update(compute_metrics(encoded, lang, texts, settings, spec))
        timings["bertscore_s"] = time.perf_counter() - tb
    tn = time.perf_counter()
    outputs.update(compute_metrics(inline, lang, texts, settings))
    if future is not None:
        outputs.update(future.result())
    timings["ngram_wait_s" if future is not None else "ngram_s"] = time.perf_counter() - tn

    per_sample: list[dict[str, float]] = [{} for _ in range(n)]
    aggregates: dict[str, dict] = {}
    for mode, pair, rows in (("paper", paper, paper_idx), ("corrected", corr, list(range(n)))):
        if pair is None:
            continue
        columns: dict[str, np.ndarray] = {}
        corpus: dict[str, object] = {}
        for metric in metrics:
            result = outputs.get(metric.name, {}).get(mode)
            if result is None:
                continue
            columns.update({f"{mode}.{k}": np.asarray(v, dtype=np.float64) for k, v in result.per_sample.items()})
            corpus.update({f"{mode}.{k}": stat for k, stat in result.corpus.items()})
        keys = sorted(columns)
        m = len(rows)
        for key in keys:
            if len(columns[key]) != m:
                raise ValueError(f"metric key {key}: {len(columns[key])} per-sample values for {m} samples")
            for pos, i in enumerate(rows):
                per_sample[i][key] = float(columns[key][pos])
        counts = resample_counts(m, settings.bootstrap_resamples, settings.seed)
        # one matrix per mode: every key's CI from the same (paired) resamples
        matrix = np.stack([columns[k] for k in keys], axis=1) if m and keys else np.zeros((0, len(keys)))
        for key, ci in zip(keys, mean_cis(matrix, counts)):
            aggregates[key] = aggregate(matrix[:, keys.index(key)].mean() if m else float("nan"), ci, m, "sample", key)
        for key, stat in corpus.items():
            value, ci = stat.estimate(counts)
            aggregates[key] = aggregate(value, ci, m, "corpus", key)
    timings["total_s"] = time.perf_counter() - t0
    info = {
        "lang": lang, "modes": list(modes), "n": n, "metrics": [m.name for m in metrics],
        "n_empty_predictions": sum(1 for p in predictions if not tk.strip_speaker(p)),
        "n_empty_references": sum(1 for r in references if not tk.strip_speaker(r)),
        "paper": {"n_scored": len(paper_idx), "n_dropped": n - len(paper_idx),
                  "n_empty_predictions": sum(1 for p in (paper[0] if paper else []) if not p.strip())}
        if paper is not None else None,
        "bertscore": {"model": spec.name, "layer": spec.num_layers, "path": spec.path, "label": spec.label,
                      "idf": False, "rescale_with_baseline": False,
                      **next((o.info for o in outputs.get("bertscore", {}).values() if o.info), {})}
        if spec is not None else None,
        "bootstrap": {"resamples": settings.bootstrap_resamples, "seed": settings.seed},
        "timings": timings,
    }
    return MetricResult(per_sample, dict(sorted(aggregates.items())), info)


def corpus_statistic(key: str, predictions: list[str], references: list[str], lang: str):
    """The corpus statistic behind a corrected-mode corpus key (e.g. "corrected.bleu1_corpus"), computed
    on these pairs as scoring does (speaker prefixes stripped); None for any other key. Used by
    `psybench compare` to recompute it on paired resamples."""
    spec, metric = spec_of(key), metric_of(key)
    if spec is None or metric is None or spec.level != "corpus" or spec.mode != "corrected":
        return None
    texts = {"corrected": ([tk.strip_speaker(p) for p in predictions], [tk.strip_speaker(r) for r in references])}
    out = compute_metrics([metric.name], lang, texts, MetricSettings(bertscore=False))
    return out[metric.name]["corrected"].corpus.get(key.split(".", 1)[1])
