"""`psybench score` on bad input: one line naming file and line, exit 2, no traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from psybench.cli import main
from psybench.errors import PredictionsError
from psybench.metrics import validate_records


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _rec(i: str, pred="I hear you.", ref="Therapist: How do you feel?", **extra) -> str:
    return json.dumps({"id": i, "prediction": pred, "reference": ref, **extra}, ensure_ascii=False)


@pytest.mark.parametrize("lines, lang, expected", [
    ([_rec("a"), "{not json"], "en", "preds.jsonl:2: not valid JSON"),
    ([_rec("a"), json.dumps({"id": "b", "prediction": "x"})], "en", "preds.jsonl:2: missing field 'reference'"),
    ([], "en", "no predictions (empty file)"),
    ([_rec("a"), _rec("b"), _rec("a")], "en", "preds.jsonl:3: duplicate id 'a' (first on line 1)"),
    ([_rec("a", pred=3)], "en", "preds.jsonl:1: field 'prediction' must be a string, got int"),
    ([_rec("a", ref=None)], "en", "preds.jsonl:1: field 'reference' must be a string, got NoneType"),
    ([_rec("a"), _rec("b", ref="治疗师：你最近感觉怎么样？")], "en", "preds.jsonl:2: reference is mostly Chinese"),
    ([_rec("a")], "zh", "preds.jsonl:1: reference has no Chinese characters but --lang zh"),
    ([_rec("a"), "[1, 2]"], "en", "preds.jsonl:2: expected a JSON object"),
    ([_rec("a"), ""], "en", "preds.jsonl:2: blank line"),
    ([_rec("a", lang="zh")], "en", "preds.jsonl:1: record lang 'zh' differs from --lang en"),
])
def test_bad_predictions_exit_2_one_line(tmp_path: Path, capsys, lines, lang, expected) -> None:
    path = _write(tmp_path, lines)
    code = main(["score", str(path), "--lang", lang, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"psybench: error: {path}") and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert main(["score", str(tmp_path / "nope.jsonl"), "--lang", "en", "--out", str(tmp_path / "o")]) == 2
    assert "no such predictions file" in capsys.readouterr().err


def test_local_encoder_folder_needs_layer(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, [_rec("a")])
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert main(["score", str(path), "--lang", "en", "--bertscore-model", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "pass --bertscore-layer N" in capsys.readouterr().err


def test_english_encoder_refused_on_chinese(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, [_rec("a", pred="我明白", ref="治疗师：你最近感觉怎么样？")])
    assert main(["score", str(path), "--lang", "zh", "--bertscore-model", "minilm", "--out", str(tmp_path / "o")]) == 2
    assert "English-only" in capsys.readouterr().err


def test_validate_records_for_runner_names_source() -> None:
    with pytest.raises(PredictionsError, match=r"^runs/x/predictions.jsonl:1: field 'labels' must be a list"):
        validate_records([{"id": "a", "prediction": "", "reference": "", "gold_labels": ["Fear"], "labels": "Fear"}],
                         "en", "runs/x/predictions.jsonl")
