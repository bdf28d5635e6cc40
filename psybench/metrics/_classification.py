"""Classification metrics for the label tasks (emotion, strategy, topic, psychotherapy).

A single-label answer is right when it is in the gold set (gold may hold several labels); a multi-label
answer is right when it is non-empty and every label is gold, and also gets example-based F1.
Unparseable answers (None) are wrong, never mapped to a class, and reported as a rate. Per-label
precision/recall/F1 count set membership (TP: label predicted and gold); macro-F1 averages the labels
that occur in gold or predictions (sklearn's default label set)."""
from __future__ import annotations

import numpy as np

from psybench.metrics._bootstrap import aggregate, interval, mean_cis, resample_counts
from psybench.metrics._generation import MetricResult, MetricSettings


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
        r = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1e-300), 0.0)
        f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0.0)
    return p, r, f


def score_classification(predicted: list[tuple[str, ...] | None], gold: list[tuple[str, ...]],
                         choices: tuple[str, ...], settings: MetricSettings) -> MetricResult:
    n = len(predicted)
    if len(gold) != n:
        raise ValueError("predicted and gold must have equal lengths")
    labels = list(choices) + sorted({lab for g in gold for lab in g} - set(choices))
    col = {lab: j for j, lab in enumerate(labels)}
    pred_m = np.zeros((n, len(labels)))
    gold_m = np.zeros((n, len(labels)))
    correct = np.zeros(n)
    ex_f1 = np.zeros(n)
    unparseable = np.zeros(n)
    extra = set()
    for i, (pred, gl) in enumerate(zip(predicted, gold)):
        gset = set(gl)
        for lab in gset:
            gold_m[i, col[lab]] = 1
        if pred is None:
            unparseable[i] = 1
            continue
        pset = set(pred)
        for lab in pset:
            if lab not in col:  # a label outside the choices: a wrong answer, tracked as its own class
                extra.add(lab)
                col[lab] = len(labels)
                labels.append(lab)
                pred_m = np.pad(pred_m, ((0, 0), (0, 1)))
                gold_m = np.pad(gold_m, ((0, 0), (0, 1)))
            pred_m[i, col[lab]] = 1
        correct[i] = float(bool(pset) and pset <= gset)
        ex_f1[i] = 2 * len(pset & gset) / (len(pset) + len(gset)) if (pset or gset) else 1.0
    tp_s, fp_s, fn_s = pred_m * gold_m, pred_m * (1 - gold_m), (1 - pred_m) * gold_m
    active = (gold_m.sum(axis=0) + pred_m.sum(axis=0)) > 0
    counts = resample_counts(n, settings.bootstrap_resamples, settings.seed)

    per_sample = [{"cls.accuracy": float(correct[i]), "cls.example_f1": float(ex_f1[i]),
                   "cls.unparseable_rate": float(unparseable[i])} for i in range(n)]
    aggregates: dict[str, dict] = {}
    cols = np.stack([correct, ex_f1, unparseable], axis=1)
    for j, (key, ci) in enumerate(zip(("cls.accuracy", "cls.example_f1", "cls.unparseable_rate"),
                                      mean_cis(cols, counts))):
        aggregates[key] = aggregate(cols[:, j].mean() if n else float("nan"), ci, n, "sample")
    p, r, f = _prf(tp_s.sum(0), fp_s.sum(0), fn_s.sum(0))
    if counts.size:
        bp, br, bf = _prf(counts @ tp_s, counts @ fp_s, counts @ fn_s)  # (B, labels)
        bactive = ((counts @ gold_m) + (counts @ pred_m)) > 0
        bmacro = np.where(bactive, bf, 0).sum(1) / np.maximum(bactive.sum(1), 1)
    else:
        bp = br = bf = np.zeros((0, len(labels)))
        bmacro = np.zeros(0)
    macro = f[active].mean() if active.any() else 0.0
    aggregates["cls.macro_f1"] = aggregate(macro if n else float("nan"), interval(bmacro), n, "corpus")
    for j, lab in enumerate(labels):
        if lab in extra:
            continue
        support = int(gold_m[:, j].sum())
        for name, value, boot in (("f1", f, bf), ("precision", p, bp), ("recall", r, br)):
            agg = aggregate(value[j], interval(boot[:, j]), n, "corpus")
            agg["support"] = support
            aggregates[f"cls.{name}[{lab}]"] = agg
    info = {"n": n, "n_unparseable": int(unparseable.sum()), "labels": labels,
            "n_multi_label_gold": int((gold_m.sum(1) > 1).sum()),
            "n_multi_label_answers": int((pred_m.sum(1) > 1).sum()),
            "out_of_choice_answers": sorted(extra),
            "bootstrap": {"resamples": settings.bootstrap_resamples, "seed": settings.seed}}
    return MetricResult(per_sample, dict(sorted(aggregates.items())), info)
