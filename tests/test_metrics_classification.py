"""Classification metrics on hand-computed cases: multi-label gold, unparseable answers, macro-F1."""
from __future__ import annotations

import pytest

from psybench.metrics import MetricSettings, score_classification

SETTINGS = MetricSettings(bootstrap_resamples=200, seed=0)


def test_hand_computed_classification() -> None:
    predicted = [("Anxiety",), ("Sadness",), None, ("Anxiety", "Fear"), ("Fear",)]
    gold = [("Anxiety", "Fear"), ("Anxiety",), ("Sadness",), ("Anxiety", "Fear"), ("Sadness",)]
    res = score_classification(predicted, gold, ("Anxiety", "Fear", "Sadness", "Anger"), SETTINGS)
    agg = {k: v["value"] for k, v in res.aggregates.items()}
    assert agg["cls.accuracy"] == pytest.approx(2 / 5)  # Anxiety in {Anxiety, Fear}; the exact pair
    assert agg["cls.unparseable_rate"] == pytest.approx(1 / 5)
    assert agg["cls.example_f1"] == pytest.approx((2 / 3 + 0 + 0 + 1 + 0) / 5)
    # Anxiety: TP 2, FP 0, FN 1 -> P 1, R 2/3; Fear: TP 1, FP 1, FN 1; Sadness: TP 0, FP 1, FN 2; Anger unused
    assert agg["cls.precision[Anxiety]"] == pytest.approx(1.0)
    assert agg["cls.recall[Anxiety]"] == pytest.approx(2 / 3)
    assert agg["cls.f1[Anxiety]"] == pytest.approx(0.8)
    assert agg["cls.f1[Fear]"] == pytest.approx(0.5)
    assert agg["cls.f1[Sadness]"] == 0.0
    assert agg["cls.macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)  # labels seen in gold or answers
    assert res.aggregates["cls.f1[Anxiety]"]["support"] == 3
    assert res.info["n_unparseable"] == 1
    assert [s["cls.accuracy"] for s in res.per_sample] == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert res.aggregates["cls.macro_f1"]["level"] == "corpus"
    lo, hi = res.aggregates["cls.accuracy"]["ci_low"], res.aggregates["cls.accuracy"]["ci_high"]
    assert 0.0 <= lo <= 0.4 <= hi <= 1.0


def test_unparseable_never_becomes_a_class_and_out_of_choice_is_wrong() -> None:
    res = score_classification([None, ("Joy",)], [("Neutral",), ("Neutral",)], ("Neutral", "Anger"), SETTINGS)
    assert res.aggregates["cls.accuracy"]["value"] == 0.0
    assert res.aggregates["cls.recall[Neutral]"]["value"] == 0.0
    assert "cls.f1[Joy]" not in res.aggregates and res.info["out_of_choice_answers"] == ["Joy"]
