"""psybench's metrics as an HF `evaluate` module, loaded offline from a local path: the same keys and
values as `psybench score` on the same pairs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import psybench

PAIRS_EN = [("Therapist: How long have you felt this way?", "Therapist: How long has this been going on?"),
            ("I hear that work has been hard for you.", "Therapist: Work sounds very hard for you."),
            ("Can you tell me more about your sister?", "Therapist: Tell me more about her."),
            ("What would help you right now?", "Therapist: What do you need right now?")]
PAIRS_ZH = [("治疗师：你最近睡得怎么样？", "治疗师：最近睡眠怎么样？"), ("听起来你很担心考试。", "治疗师：你对考试很焦虑。"),
            ("我们可以一起想想办法。", "治疗师：我们一起来想办法吧。")]
SCRIPT = """
import json, sys, evaluate, psybench
args = json.loads(sys.argv[1])
metric = evaluate.load(psybench.evaluate_module_path())
print(json.dumps(metric.compute(**args)))
"""


def _evaluate(tmp_path: Path, **args) -> dict:
    """In a fresh process with the hub unreachable by configuration, as a Trainer would call it."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(args)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _score(tmp_path: Path, pairs, lang: str, *flags: str) -> dict:
    from psybench.cli import main

    path = tmp_path / f"{lang}.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "prediction": p, "reference": r}, ensure_ascii=False) + "\n"
                            for i, (p, r) in enumerate(pairs)), encoding="utf-8")
    assert main(["score", str(path), "--lang", lang, "--out", str(tmp_path / f"out-{lang}"), *flags]) == 0
    results = json.loads((tmp_path / f"out-{lang}" / "results.json").read_text())
    return results["tasks"]["default"]["metrics"]


def test_module_path_is_a_folder_with_the_script() -> None:
    path = Path(psybench.evaluate_module_path())
    assert (path / "psybench_generation.py").is_file() and path.name == "psybench_generation"


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("lang, pairs, encoder", [("en", PAIRS_EN, "minilm"), ("zh", PAIRS_ZH, "e5")])
def test_evaluate_equals_psybench_score(tmp_path, lang, pairs, encoder) -> None:
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    got = _evaluate(tmp_path, predictions=preds, references=refs, lang=lang, mode="both", bertscore_model=encoder)
    want = _score(tmp_path, pairs, lang, "--mode", "both", "--bertscore-model", encoder, "--bootstrap", "0")
    assert sorted(got) == sorted(want) and len(got) == 20  # paper 9 keys, corrected 11
    for key, entry in want.items():
        assert got[key] == pytest.approx(entry["value"], abs=1e-9), key


@pytest.mark.slow
def test_evaluate_metric_subset_and_cis(tmp_path) -> None:
    preds, refs = [p for p, _ in PAIRS_EN], [r for _, r in PAIRS_EN]
    got = _evaluate(tmp_path, predictions=preds, references=refs, lang="en", metrics="chrf,meteor",
                    bootstrap=200, return_ci=True)
    want = _score(tmp_path, PAIRS_EN, "en", "--metrics", "chrf,meteor", "--bootstrap", "200")
    assert sorted(k for k in got if "/" not in k) == sorted(want) == [
        "corrected.chrf_corpus", "corrected.chrf_sentence", "corrected.meteor"]
    for key, entry in want.items():
        assert (got[key], got[f"{key}/ci_low"], got[f"{key}/ci_high"]) == pytest.approx(
            (entry["value"], entry["ci_low"], entry["ci_high"]), abs=1e-9)
