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
from psybench.metrics._bootstrap import aggregate, interval, mean_cis, metric_range, resample_counts, shifted_interval
from psybench.metrics._ngram import bleu_from_stats, compute_ngram, warm_up

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

    def __post_init__(self) -> None:
        self.modes = tuple(self.modes)
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
def score_generation(predictions: list[str], references: list[str], lang: str, settings: MetricSettings,
                     paper_predictions: list[str] | None = None,
                     paper_mask: list[bool] | None = None) -> MetricResult:
    """Score generated texts against references in settings.modes.

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
    spec = None
    if settings.bertscore:
        from psybench.assets.encoders import resolve_encoder

        spec = resolve_encoder(settings.bertscore_model, lang, num_layers=settings.bertscore_layer,
                               allow_lang_mismatch=settings.allow_lang_mismatch)
    corr = ([tk.strip_speaker(p) for p in predictions], [tk.strip_speaker(r) for r in references]) \
        if "corrected" in modes else None
    paper_idx = [i for i in range(n) if paper_mask is None or paper_mask[i]]
    src = paper_predictions if paper_predictions is not None else predictions
    paper = ([src[i] for i in paper_idx], [references[i] for i in paper_idx]) if "paper" in modes else None

    from psybench.assets.wordnet import ensure_wordnet

    ensure_wordnet()  # fail before the encoder runs, not after (METEOR needs it; no fallback)
    future: Future | None = None
    encoder_on_cpu = False
    if spec is not None:
        from psybench.metrics._bertscore import resolve_device

        encoder_on_cpu = resolve_device(settings.device) == "cpu"
    if _use_worker(settings, n, encoder_on_cpu):
        future = _pool().submit(compute_ngram, lang, paper, corr)
    bert = {}
    if spec is not None:
        from psybench.metrics._bertscore import bertscore, resolve_device

        sets = [(m, texts) for m, texts in (("paper", paper), ("corrected", corr)) if texts is not None]
        cands = [c for _, texts in sets for c in texts[0]]
        refs = [r for _, texts in sets for r in texts[1]]
        tb = time.perf_counter()
        prf = bertscore(cands, refs, spec, settings.device, settings.batch_size)
        timings["bertscore_s"] = time.perf_counter() - tb
        start = 0
        for mode, texts in sets:
            bert[mode] = prf[start:start + len(texts[0])]
            start += len(texts[0])
    tn = time.perf_counter()
    ngram = future.result() if future is not None else compute_ngram(lang, paper, corr)
    timings["ngram_wait_s" if future is not None else "ngram_s"] = time.perf_counter() - tn

    per_sample: list[dict[str, float]] = [{} for _ in range(n)]
    aggregates: dict[str, dict] = {}
    for mode, texts, rows in (("paper", paper, paper_idx), ("corrected", corr, list(range(n)))):
        if texts is None:
            continue
        result = ngram[mode]
        columns: dict[str, np.ndarray] = {f"{mode}.{k}": v for k, v in result["per_sample"].items()}
        if mode in bert:
            for j, part in enumerate(("p", "r", "f1")):
                columns[f"{mode}.bertscore_{part}[{spec.label}]"] = bert[mode][:, j]
        keys = sorted(columns)
        m = len(rows)
        for key in keys:
            for pos, i in enumerate(rows):
                per_sample[i][key] = float(columns[key][pos])
        counts = resample_counts(m, settings.bootstrap_resamples, settings.seed)
        matrix = np.stack([columns[k] for k in keys], axis=1) if m else np.zeros((0, len(keys)))
        for key, ci in zip(keys, mean_cis(matrix, counts)):
            aggregates[key] = aggregate(matrix[:, keys.index(key)].mean() if m else float("nan"), ci, m, "sample", key)
        if mode == "corrected" and m:
            stats = result["bleu_stats"]
            for order in (1, 3):
                value = bleu_from_stats(stats.sum(axis=0), order, effective_order=False)[0]
                boot = bleu_from_stats(counts @ stats, order, effective_order=False) if counts.size else np.zeros(0)
                aggregates[f"corrected.bleu{order}_corpus"] = aggregate(value, interval(boot), m, "corpus",
                                                                        f"corrected.bleu{order}_corpus")
        for order, dstats in result["distinct"].items():
            div = m if mode == "paper" else 1  # the authors divided the corpus value by N
            key = f"paper.distinct{order}_corpus_div_n" if mode == "paper" else f"corrected.distinct{order}_corpus"
            # shifted and clamped on the corpus Distinct-n (range [0, 1]), then divided: paper's stays in [0, 1/N]
            lo, hi = shifted_interval(dstats.value, dstats.bootstrap(counts), metric_range(f"distinct{order}_corpus"))
            value, ci = (dstats.value / div, (lo / div, hi / div)) if m else (float("nan"), (float("nan"),) * 2)
            aggregates[key] = aggregate(value, ci, m, "corpus", key)
    timings["total_s"] = time.perf_counter() - t0
    info = {
        "lang": lang, "modes": list(modes), "n": n,
        "n_empty_predictions": sum(1 for p in predictions if not tk.strip_speaker(p)),
        "n_empty_references": sum(1 for r in references if not tk.strip_speaker(r)),
        "paper": {"n_scored": len(paper_idx), "n_dropped": n - len(paper_idx),
                  "n_empty_predictions": sum(1 for p in (paper[0] if paper else []) if not p.strip())}
        if paper is not None else None,
        "bertscore": {"model": spec.name, "layer": spec.num_layers, "path": spec.path, "label": spec.label,
                      "idf": False, "rescale_with_baseline": False} if spec is not None else None,
        "bootstrap": {"resamples": settings.bootstrap_resamples, "seed": settings.seed},
        "timings": timings,
    }
    return MetricResult(per_sample, dict(sorted(aggregates.items())), info)
