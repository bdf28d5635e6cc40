"""Report charts with matplotlib (Agg: no display needed). Each function returns PNG bytes; the
report embeds them as data URIs and also saves them beside the page."""
from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

_DPI = 100


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def bar_with_ci(title: str, labels: Sequence[str], values: Sequence[float],
                lows: Sequence[float | None], highs: Sequence[float | None]) -> bytes:
    """One bar per label with asymmetric CI whiskers (a missing bound draws no whisker)."""
    values = np.asarray(values, dtype=float)
    lo = np.array([v - l if l is not None and not np.isnan(l) else 0.0 for v, l in zip(values, lows)])
    hi = np.array([h - v if h is not None and not np.isnan(h) else 0.0 for v, h in zip(values, highs)])
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2), 3.2))
    x = np.arange(len(labels))
    ax.bar(x, values, color="#4C72B0", yerr=[np.clip(lo, 0, None).tolist(), np.clip(hi, 0, None).tolist()],
           capsize=4, ecolor="#222")
    ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def histograms(title: str, series: dict[str, Sequence[float]], bins: int = 20) -> bytes:
    """Overlaid histograms of per-sample scores, one per run."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    all_values = np.concatenate([np.asarray(v, dtype=float) for v in series.values()]) if series else np.array([0.0])
    lo, hi = float(np.nanmin(all_values)), float(np.nanmax(all_values))
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
    for label, vals in series.items():
        ax.hist(np.asarray(vals, dtype=float), bins=edges, alpha=0.55, label=f"{label} (n={len(vals)})")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("per-sample score", fontsize=8)
    ax.legend(fontsize=7)
    return _png(fig)


def grouped_bars(title: str, groups: Sequence[str], series: dict[str, Sequence[float]]) -> bytes:
    """Mean score per group (topic, psychotherapy), one bar colour per run."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(groups) * max(1, len(series)) + 2), 3.4))
    x = np.arange(len(groups))
    width = 0.8 / max(1, len(series))
    for i, (label, vals) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, np.asarray(vals, dtype=float), width, label=label)
    ax.set_xticks(x, groups, rotation=25, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def runs_with_ci(title: str, labels: Sequence[str], series: dict[str, tuple[Sequence[float | None],
                 Sequence[float | None], Sequence[float | None]]]) -> bytes:
    """Runs side by side (x), one bar per series (e.g. metric mode) with its CI whiskers; a missing value
    draws no bar."""
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(labels) * max(1, len(series)) + 2), 3.2))
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(series))
    for i, (name, (values, lows, highs)) in enumerate(series.items()):
        v = np.array([np.nan if a is None else a for a in values], dtype=float)
        lo = np.array([0.0 if (a is None or b is None) else max(a - b, 0.0) for a, b in zip(values, lows)])
        hi = np.array([0.0 if (a is None or b is None) else max(b - a, 0.0) for a, b in zip(values, highs)])
        with warnings.catch_warnings():  # matplotlib's error-bar check on a single bar trips a numpy deprecation
            warnings.simplefilter("ignore", DeprecationWarning)
            ax.bar(x + i * width - 0.4 + width / 2, np.nan_to_num(v), width, label=name, yerr=np.vstack([lo, hi]),
                   capsize=3, ecolor="#222")
    ax.set_xticks(x, labels, rotation=15, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
