"""The metric registry: metrics declared once, selected by name, plugged in through the public API or an
entry point; chrF added as one module and seen everywhere keys are read."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from psybench.cli import main
from psybench.errors import ConfigError
from psybench.metrics import (KeySpec, Metric, MetricOutput, MetricSettings, list_metrics, metric_range, per_mode,
                              register, score_generation, select_metrics, table5_keys, unregister)

REPO = Path(__file__).resolve().parents[1]
EN_HYPS = ["Therapist: How long have you felt this way?", "I hear that work has been hard.",
           "Can you tell me more about your sister?", ""]
EN_REFS = ["Therapist: How long has this been going on?", "Therapist: Work sounds very hard for you.",
           "Therapist: Tell me more about her.", "Therapist: What happened next?"]
ZH_HYPS = ["治疗师：你最近睡得怎么样？", "听起来你很担心考试。", "我们可以一起想想办法。"]
ZH_REFS = ["治疗师：最近睡眠怎么样？", "治疗师：你对考试很焦虑。", "治疗师：我们一起来想办法吧。"]
NO_ENCODER = dict(bertscore=False, workers=0, bootstrap_resamples=200)


def _write(path: Path, hyps: list[str], refs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"s{i}", "prediction": h, "reference": r}, ensure_ascii=False) + "\n"
                            for i, (h, r) in enumerate(zip(hyps, refs))), encoding="utf-8")
    return path


def _strip(texts: list[str]) -> list[str]:
    from psybench.metrics.tokenize import strip_speaker

    return [strip_speaker(t) for t in texts]


@pytest.mark.parametrize("lang, hyps, refs", [("en", EN_HYPS, EN_REFS), ("zh", ZH_HYPS, ZH_REFS)])
def test_chrf_equals_sacrebleu(lang, hyps, refs) -> None:
    res = score_generation(hyps, refs, lang, MetricSettings(modes=("corrected", "paper"), metrics=("chrf",),
                                                            **NO_ENCODER))
    h, r = _strip(hyps), _strip(refs)
    chrf = sacrebleu.metrics.CHRF()
    assert sorted(res.aggregates) == ["corrected.chrf_corpus", "corrected.chrf_sentence"]  # no paper chrF
    assert res.aggregates["corrected.chrf_corpus"]["value"] == pytest.approx(chrf.corpus_score(h, [r]).score / 100,
                                                                             abs=1e-12)
    sentence = [chrf.sentence_score(x, [y]).score / 100 for x, y in zip(h, r)]
    assert [s["corrected.chrf_sentence"] for s in res.per_sample] == pytest.approx(sentence, abs=1e-12)
    assert res.aggregates["corrected.chrf_sentence"]["value"] == pytest.approx(np.mean(sentence), abs=1e-12)
    corpus = res.aggregates["corrected.chrf_corpus"]
    assert 0.0 <= corpus["ci_low"] <= corpus["value"] <= corpus["ci_high"] <= 1.0 and corpus["level"] == "corpus"


def test_score_cli_metrics_meteor_chrf_writes_only_their_keys(tmp_path, capsys) -> None:
    path = _write(tmp_path / "p.jsonl", EN_HYPS, EN_REFS)
    code = main(["score", str(path), "--lang", "en", "--mode", "both", "--metrics", "meteor,chrf",
                 "--bootstrap", "50", "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    keys = sorted(results["tasks"]["default"]["metrics"])
    assert keys == ["corrected.chrf_corpus", "corrected.chrf_sentence", "corrected.meteor", "paper.meteor_swapped_jieba"]
    assert results["metric_settings"]["metrics"] == ["meteor", "chrf"]
    lines = [json.loads(x) for x in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert sorted(lines[0]["scores"]) == ["corrected.chrf_sentence", "corrected.meteor", "paper.meteor_swapped_jieba"]


def test_unknown_metric_exit_2_lists_known(tmp_path, capsys) -> None:
    path = _write(tmp_path / "p.jsonl", EN_HYPS, EN_REFS)
    assert main(["score", str(path), "--lang", "en", "--metrics", "nosuch", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == ("psybench: error: --metrics: unknown metric 'nosuch'; known: bertscore, bleu, "
                                       "chrf, distinct, meteor, rouge\n")
    assert main(["run", "--tasks", "dialog", "--metrics", "bleu,nosuch", "--dry-run", "--out", str(tmp_path / "r")]) == 2
    assert "unknown metric 'nosuch'; known: bertscore, bleu, chrf" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "r").exists()


def _words(mode, hyps, refs, inp) -> MetricOutput:
    return MetricOutput(per_sample={"words_toy": np.array([float(len(h.split())) for h in hyps])})


TOY = Metric(name="words_toy", description="words per reply", keys=(KeySpec("corrected", "words_toy", "sample",
                                                                            range=(0.0, 6.0)),),
             compute=per_mode(_words))


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


def test_a_metric_registered_through_the_public_api_is_scored(toy, tmp_path, capsys) -> None:
    assert "words_toy" in [m.name for m in list_metrics()]
    path = _write(tmp_path / "p.jsonl", EN_HYPS, EN_REFS)
    assert main(["score", str(path), "--lang", "en", "--mode", "both", "--metrics", "words_toy,rouge",
                 "--bootstrap", "100", "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["default"]["metrics"]
    assert sorted(metrics) == ["corrected.rougeL_f", "corrected.words_toy", "paper.rougeL_f_default_tokenizer"]
    assert metrics["corrected.words_toy"]["value"] == pytest.approx((7 + 7 + 8 + 0) / 4)  # "Therapist:" stripped
    assert metrics["corrected.words_toy"]["ci_high"] == 6.0  # clamped to the declared range
    assert metric_range("corrected.words_toy") == (0.0, 6.0)


def test_registry_refuses_collisions_and_bad_declarations(toy) -> None:
    with pytest.raises(ConfigError, match="metric 'words_toy' is already registered"):
        register(Metric(name="words_toy", description="", keys=TOY.keys, compute=TOY.compute))
    with pytest.raises(ConfigError, match="key corrected.meteor is already written by metric meteor"):
        register(Metric(name="other", description="", keys=(KeySpec("corrected", "meteor", "sample"),),
                        compute=TOY.compute))
    with pytest.raises(ConfigError, match="Table 5 column METEOR .corrected. is already filled by metric meteor"):
        register(Metric(name="other", description="", keys=(KeySpec("corrected", "m2", "sample", table5="METEOR"),),
                        compute=TOY.compute))
    with pytest.raises(ConfigError, match="mode 'cls'"):
        register(Metric(name="other", description="", keys=(KeySpec("cls", "m2", "sample"),), compute=TOY.compute))
    assert "other" not in [m.name for m in list_metrics()]


def test_table5_columns_and_ranges_come_from_the_registry() -> None:
    keys = ["paper.bertscore_p[minilm:L5]", "paper.bertscore_r[minilm:L5]", "paper.bleu1_sentence_cumulative",
            "corrected.bleu3_corpus", "corrected.chrf_corpus", "corrected.distinct2_corpus"]
    assert table5_keys("paper", keys) == {"BERTScore-P": "paper.bertscore_p[minilm:L5]",
                                          "BLEU-1": "paper.bleu1_sentence_cumulative"}
    assert table5_keys("corrected", keys) == {"BLEU-3": "corrected.bleu3_corpus",
                                              "Distinct-2": "corrected.distinct2_corpus"}
    assert metric_range("corrected.bertscore_f1[x:L1]") == (-np.inf, np.inf)
    assert metric_range("paper.bertscore_p[x:L1]") == (-1.0, 1.0)
    assert metric_range("corrected.chrf_corpus") == (0.0, 1.0)
    assert metric_range("cls.f1[Anxiety]") == (0.0, 1.0)
    assert [m.name for m in select_metrics(None)] == ["bertscore", "bleu", "distinct", "meteor", "rouge"]


def test_every_registered_key_is_documented() -> None:
    text = (REPO / "docs" / "METRICS.md").read_text(encoding="utf-8")
    for metric in list_metrics():
        assert f'<a id="{metric.name}"></a>`{metric.name}`' in text, metric.name
        for spec in metric.keys:
            assert f"`{spec.mode}.{spec.name}" in text or f"`{spec.name.split('_')[0]}" in text, spec


def test_no_module_outside_metrics_imports_a_private_metrics_module() -> None:
    pattern = re.compile(r"psybench\.metrics\._|from psybench\.metrics import _")
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "psybench").rglob("*.py")
                 if "metrics" not in p.relative_to(REPO / "psybench").parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


def test_task_yaml_naming_an_unknown_metric_is_an_error(tmp_path) -> None:
    from psybench.tasks.registry import parse_task_file

    text = (REPO / "tasks" / "dialog.yaml").read_text().replace("metrics: [bertscore, bleu, meteor, rouge, distinct]",
                                                                "metrics: [bleu, nosuch]")
    path = tmp_path / "dialog.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"dialog.yaml: field 'metrics': unknown metric 'nosuch' \(known: bertscore, "
                                          r"bleu, chrf"):
        parse_task_file(path)


def test_entry_point_plugin_is_found(tmp_path) -> None:
    """A package that declares a `psybench.metrics` entry point (an installed dist-info on the path)."""
    (tmp_path / "toy_plugin.py").write_text(
        "import numpy as np\n"
        "from psybench.metrics import KeySpec, Metric, MetricOutput, per_mode\n"
        "def _f(mode, hyps, refs, inp):\n"
        "    return MetricOutput(per_sample={'chars_toy': np.array([float(len(h)) for h in hyps])})\n"
        "CHARS = Metric(name='chars_toy', description='characters per reply',\n"
        "               keys=(KeySpec('corrected', 'chars_toy', 'sample', range=(0.0, float('inf'))),),\n"
        "               compute=per_mode(_f))\n")
    info = tmp_path / "toy_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[psybench.metrics]\nchars_toy = toy_plugin:CHARS\n")
    preds = _write(tmp_path / "p.jsonl", EN_HYPS, EN_REFS)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    listed = subprocess.run([sys.executable, "-m", "psybench", "metrics"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "chars_toy: characters per reply  [en, zh]" in listed.stdout
    scored = subprocess.run([sys.executable, "-m", "psybench", "score", str(preds), "--lang", "en", "--metrics",
                             "chars_toy", "--bootstrap", "0", "--out", str(tmp_path / "out")],
                            env=env, capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    metrics = json.loads((tmp_path / "out" / "results.json").read_text())["tasks"]["default"]["metrics"]
    assert metrics["corrected.chars_toy"]["value"] == pytest.approx(
        np.mean([len(h) for h in _strip(EN_HYPS)]))


def test_chrf_reaches_results_leaderboard_and_report(tmp_path, data_dir, capsys) -> None:
    """chrF was added as one module: a run selecting it carries its keys into results.json, the
    leaderboard CSVs and the HTML report, with no other file of psybench knowing about it."""
    replay = REPO / "tests" / "replays" / "reasoning_table5_en.jsonl"
    run_dir, board = tmp_path / "run", tmp_path / "board"
    assert main(["run", "--backend", "replay", "--model", str(replay), "--tasks", "reasoning", "--split", "table5",
                 "--limit", "16", "--metrics", "bleu,chrf", "--no-progress", "--no-cache", "--data-dir", str(data_dir),
                 "--out", str(run_dir)]) == 0, capsys.readouterr().err
    metrics = json.loads((run_dir / "results.json").read_text())["tasks"]["reasoning"]["metrics"]
    assert sorted(metrics) == ["corrected.bleu1_corpus", "corrected.bleu1_sentence", "corrected.bleu3_corpus",
                               "corrected.bleu3_sentence", "corrected.chrf_corpus", "corrected.chrf_sentence",
                               "paper.bleu1_sentence_cumulative", "paper.bleu3_sentence_cumulative"]
    chrf = metrics["corrected.chrf_corpus"]["value"]
    assert main(["leaderboard", "add", str(run_dir), "--dir", str(board)]) == 0, capsys.readouterr().err
    csv_text = "".join(p.read_text() for p in sorted(board.glob("*.csv")))
    assert "chrf_corpus" in csv_text and "chrf_sentence" in csv_text
    assert f"{chrf:.4f}"[:5] in csv_text or repr(chrf)[:8] in csv_text
    assert main(["report", str(run_dir), "--no-prompts", "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "index.html").read_text()
    assert "corrected.chrf_corpus" in page or "chrf_corpus" in page
