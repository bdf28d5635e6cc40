"""The metric registry: every generation metric is declared once, here or in a plugin, as a `Metric`.

A declaration says what the metric writes (its `KeySpec`s: mode, name, per-sample or corpus level,
range, direction, the Table 5 column it fills), which modes and languages it supports, and how it is
computed (`compute(MetricInput) -> {mode: MetricOutput}`). Scoring, results.json, the leaderboard
CSVs, `table5`, `compare`, the report and the CI clamping all read keys and ranges from here.

Built-in metrics live one per module in `psybench/metrics/builtin/` and are found by listing that
package; third-party metrics register through the entry-point group `psybench.metrics` (an entry point
names a `Metric`, or a callable returning one or a list of them) or by calling `register()`.
docs/METRICS.md says how to write one."""
from __future__ import annotations

import importlib
import math
import pkgutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from psybench.constants import JUDGE_KEY_PREFIX, METRIC_MODES, TABLE5_COLUMNS
from psybench.errors import ConfigError

if TYPE_CHECKING:
    from psybench.assets.encoders import EncoderSpec
    from psybench.metrics._generation import MetricSettings

ENTRY_POINT_GROUP = "psybench.metrics"
UNIT = (0.0, 1.0)
UNBOUNDED = (-math.inf, math.inf)
Level = Literal["sample", "corpus"]
Stage = Literal["score", "judge"]


@dataclass(frozen=True)
class KeySpec:
    """One key a metric writes: `{mode}.{name}`, or `{mode}.{name}[MODEL:LN]` when `encoder` is set,
    `judge.{name}[JUDGE]` when `judge` is set."""

    mode: str  # "paper" | "corrected" | "judge"
    name: str  # e.g. "meteor_swapped_jieba", "bertscore_p"
    level: Level  # "sample": a mean of per-sample scores; "corpus": one statistic of the whole corpus
    range: tuple[float, float] = UNIT  # every CI is clamped to it
    higher_is_better: bool = True
    table5: str | None = None  # the Table 5 column this key fills in its mode
    encoder: bool = False  # the key carries the encoder and layer in brackets
    judge: bool = False  # the key carries the judge's label in brackets

    @property
    def bracket(self) -> str:
        """What the key's bracket holds, as `psybench metrics` shows it ("" for none)."""
        return "MODEL:LN" if self.encoder else "JUDGE" if self.judge else ""

    @property
    def pattern(self) -> str:
        """The key without its bracket: `paper.bertscore_p[` matches any encoder; others match exactly."""
        return f"{self.mode}.{self.name}" + ("[" if self.bracket else "")

    def matches(self, key: str) -> bool:
        return key.startswith(self.pattern) if self.bracket else key == self.pattern


class CorpusStatistic(Protocol):
    """A corpus-level value and its bootstrap, from per-sample sufficient statistics."""

    def estimate(self, counts: np.ndarray) -> tuple[float, tuple[float, float]]:
        """(value, CI) under the resample-count matrix `counts` (B, n); B = 0 gives a NaN CI."""

    def resampled(self, counts: np.ndarray) -> np.ndarray | None:
        """The statistic of each resample (rows of `counts`), for paired comparisons; None when the
        statistic cannot be compared that way."""


@dataclass
class MetricInput:
    lang: str
    texts: dict[str, tuple[list[str], list[str]]]  # mode -> (hypotheses, references) as that mode scores them
    settings: MetricSettings
    encoder: EncoderSpec | None = None  # resolved when a selected metric needs one


@dataclass
class MetricOutput:
    per_sample: dict[str, np.ndarray] = field(default_factory=dict)  # key without mode -> one value per pair
    corpus: dict[str, CorpusStatistic] = field(default_factory=dict)  # key without mode -> statistic
    info: dict[str, Any] = field(default_factory=dict)  # facts about the computation, kept in results' info


Compute = Callable[[MetricInput], dict[str, MetricOutput]]


@dataclass(frozen=True)
class Metric:
    name: str  # what `--metrics` and a task's `metrics:` name
    description: str
    keys: tuple[KeySpec, ...]
    compute: Compute
    langs: tuple[str, ...] = ("en", "zh")
    needs_wordnet: bool = False
    needs_encoder: bool = False
    worker: bool = False  # may run in the n-gram worker process (its module must import there)
    doc: str = ""  # where its computation is described
    stage: Stage = "score"  # "judge": computed by `psybench judge` (a model reads context and reply), not by scoring

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(m for m in METRIC_MODES if any(k.mode == m for k in self.keys))

    def keys_of(self, mode: str) -> tuple[KeySpec, ...]:
        return tuple(k for k in self.keys if k.mode == mode)


def per_mode(fn: Callable[[str, list[str], list[str], MetricInput], MetricOutput]) -> Compute:
    """A compute function from one that scores a single mode's pairs: fn(mode, hyps, refs, inp)."""

    def compute(inp: MetricInput) -> dict[str, MetricOutput]:
        return {mode: fn(mode, hyps, refs, inp) for mode, (hyps, refs) in inp.texts.items()}

    compute.__name__ = getattr(fn, "__name__", "compute")
    compute.__module__ = getattr(fn, "__module__", __name__)
    return compute


# ---- corpus statistics shared by several metrics -------------------------------------------------
class ResampledStatistic:
    """A corpus statistic computed from how often each of the n samples is drawn: `statistic(counts)`
    gives one value per row of counts (B, n); a row of ones is the corpus itself. Percentile CI.
    Subclasses are plain classes (picklable), so a `worker=True` metric can return them."""

    n: int

    def statistic(self, counts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def estimate(self, counts: np.ndarray) -> tuple[float, tuple[float, float]]:
        from psybench.metrics._bootstrap import interval

        value = float(self.statistic(np.ones((1, self.n)))[0]) if self.n else float("nan")
        boot = self.statistic(counts) if counts.size else np.zeros(0)
        return value, interval(boot)

    def resampled(self, counts: np.ndarray) -> np.ndarray | None:
        return self.statistic(counts)


@dataclass
class FunctionStatistic(ResampledStatistic):
    """A ResampledStatistic from a function of the count matrix (not picklable when it is a lambda: for
    metrics computed in the main process)."""

    fn: Callable[[np.ndarray], np.ndarray]
    n: int

    def statistic(self, counts: np.ndarray) -> np.ndarray:
        return self.fn(counts)


# ---- the registry ---------------------------------------------------------------------------------
_METRICS: dict[str, Metric] = {}
_LOADED = False
_LOCK = threading.Lock()


def _check(metric: Metric) -> None:
    if not metric.name or not metric.name.replace("_", "").isalnum():
        raise ConfigError(f"metric name {metric.name!r}: letters, digits and _ only")
    if not metric.keys:
        raise ConfigError(f"metric {metric.name}: declares no keys")
    for spec in metric.keys:
        modes = (JUDGE_KEY_PREFIX,) if metric.stage == "judge" else METRIC_MODES
        if spec.mode not in modes:
            raise ConfigError(f"metric {metric.name}: key {spec.name} has mode {spec.mode!r}; "
                              f"choose from {', '.join(modes)}")
        if spec.table5 is not None and spec.table5 not in TABLE5_COLUMNS:
            raise ConfigError(f"metric {metric.name}: key {spec.name} names Table 5 column {spec.table5!r}")
    for other in _METRICS.values():
        if other.name == metric.name:
            continue
        for spec in metric.keys:
            if any(o.mode == spec.mode and o.name == spec.name for o in other.keys):
                raise ConfigError(f"metric {metric.name}: key {spec.mode}.{spec.name} is already written by "
                                  f"metric {other.name}")
            if spec.table5 and any(o.mode == spec.mode and o.table5 == spec.table5 for o in other.keys):
                raise ConfigError(f"metric {metric.name}: Table 5 column {spec.table5} ({spec.mode}) is already "
                                  f"filled by metric {other.name}")


def register(metric: Metric, replace: bool = False) -> Metric:
    """Add a metric (a plugin's, or a test's). Its keys must not collide with another metric's."""
    with _LOCK:
        if metric.name in _METRICS and not replace and _METRICS[metric.name] is not metric:
            raise ConfigError(f"metric {metric.name!r} is already registered")
        _check(metric)
        _METRICS[metric.name] = metric
    return metric


def unregister(name: str) -> None:
    with _LOCK:
        _METRICS.pop(name, None)


def _load_builtin() -> None:
    from psybench.metrics import builtin

    for info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        importlib.import_module(f"{builtin.__name__}.{info.name}")


def _load_entry_points() -> None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = point.load()
        except Exception as err:  # a broken plugin: say which, do not hide it
            raise ConfigError(f"metric plugin {point.name} ({point.value}) failed to load: "
                              f"{type(err).__name__}: {err}") from err
        found = loaded() if callable(loaded) and not isinstance(loaded, Metric) else loaded
        for metric in ([found] if isinstance(found, Metric) else list(found or ())):
            if not isinstance(metric, Metric):
                raise ConfigError(f"metric plugin {point.name} ({point.value}) gave {type(metric).__name__}, "
                                  "not a psybench.metrics.Metric")
            register(metric, replace=True)


def _ensure_loaded() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True  # first: builtin modules call register() while loading
    _load_builtin()
    _load_entry_points()


def list_metrics() -> list[Metric]:
    """Every registered metric, by name (import order must not matter)."""
    _ensure_loaded()
    return sorted(_METRICS.values(), key=lambda m: m.name)


def get_metric(name: str) -> Metric:
    _ensure_loaded()
    try:
        return _METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(_METRICS))}") from None


def select_metrics(names: Iterable[str] | None, lang: str | None = None,
                   source: str = "--metrics") -> list[Metric]:
    """The metrics named (sorted by name), or the default set; an unknown name is an error listing
    the known ones. With `lang`, a metric that does not support it is left out."""
    _ensure_loaded()
    if names is None:
        from psybench.constants import DEFAULT_METRICS

        names = DEFAULT_METRICS
    wanted = [n.strip() for n in names if n and n.strip()]
    scored = sorted(n for n, m in _METRICS.items() if m.stage == "score")
    unknown = [n for n in wanted if n not in _METRICS]
    if unknown:
        raise ConfigError(f"{source}: unknown metric {unknown[0]!r}; known: {', '.join(scored)}")
    judged = [n for n in wanted if _METRICS[n].stage != "score"]
    if judged:
        raise ConfigError(f"{source}: metric {judged[0]!r} is computed by a judge model: use `psybench judge` or "
                          "`psybench run --judge-model M`")
    return [m for m in list_metrics() if m.name in wanted and (lang is None or lang in m.langs)]


def key_specs() -> list[KeySpec]:
    return [spec for metric in list_metrics() for spec in metric.keys]


def spec_of(key: str) -> KeySpec | None:
    """The declaration of a generation metric key (e.g. "corrected.bertscore_p[minilm:L5]"), or None."""
    for spec in key_specs():
        if spec.matches(key):
            return spec
    return None


def metric_of(key: str) -> Metric | None:
    for metric in list_metrics():
        if any(spec.matches(key) for spec in metric.keys):
            return metric
    return None


def table5_keys(mode: str, aggregate_keys: Iterable[str]) -> dict[str, str]:
    """Each Table 5 column -> the key present in aggregate_keys for `mode` (columns without one left out),
    in the column order of Table 5."""
    if mode not in METRIC_MODES:
        raise ConfigError(f"metric mode {mode!r}: choose from {', '.join(METRIC_MODES)}")
    keys = sorted(aggregate_keys)
    specs = {s.table5: s for s in key_specs() if s.mode == mode and s.table5}
    out = {}
    for column in TABLE5_COLUMNS:
        spec = specs.get(column)
        match = [k for k in keys if spec is not None and spec.matches(k)]
        if match:
            out[column] = match[0]
    return out


def is_encoder_key(key: str) -> bool:
    spec = spec_of(key)
    return bool(spec and spec.encoder)


def describe() -> list[dict[str, Any]]:
    """One row per key, for `psybench metrics` and the docs check."""
    rows = []
    for metric in list_metrics():
        for spec in metric.keys:
            rows.append({"metric": metric.name, "key": spec.pattern + (f"{spec.bracket}]" if spec.bracket else ""),
                         "level": spec.level, "range": list(spec.range), "higher_is_better": spec.higher_is_better,
                         "table5": spec.table5, "langs": list(metric.langs)})
    return rows
