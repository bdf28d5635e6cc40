"""psybench.runfiles: one reader with one error format, atomic writes, a schema version in results.json
and manifest.json."""
from __future__ import annotations

import json

import pytest

from psybench.errors import PredictionsError
from psybench.runfiles import (SCHEMA_VERSION, load_run, read_jsonl, read_manifest, read_predictions,
                               write_manifest, write_results, write_scores)


def test_one_error_format_for_every_jsonl_problem(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    cases = [('{"id": "a"}\n{oops\n', ":2: not valid JSON (Expecting property name enclosed in double quotes, column 2)"),
             ('{"id": "a"}\n[1]\n', ":2: expected a JSON object, got list"),
             (b'{"id": "a"}\n{"id": "\xff"}\n', ":2: not UTF-8 text (byte 0xff at byte offset 20); save the file as UTF-8")]
    for content, expected in cases:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(PredictionsError) as err:
            read_jsonl(path)
        assert str(err.value) == f"{path}{expected}"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\n')
    assert [r["id"] for r in read_jsonl(path)] == ["a", "b"]
    with pytest.raises(PredictionsError, match=r"p.jsonl:2: blank line"):
        read_jsonl(path, blank_lines=False)


def test_predictions_ids_checked_and_torn_line_repaired(tmp_path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(PredictionsError, match=r"predictions.jsonl:2: id 'a' already on line 1$"):
        read_predictions(path)
    path.write_text('{"id": "a"}\n{"id": "b"')
    with pytest.raises(PredictionsError, match=r"predictions.jsonl:2: incomplete last line"):
        read_predictions(path)
    assert [r["id"] for r in read_predictions(path, repair=True)] == ["a"]
    assert path.read_text() == '{"id": "a"}\n'


def test_writes_are_atomic_and_versioned(tmp_path) -> None:
    write_manifest(tmp_path, {"run_id": "x", "config": {}})
    write_results(tmp_path, {"run_id": "x", "tasks": {"dialog": {"metrics": {}}}})
    write_scores(tmp_path, [{"id": "a", "scores": {"m": 1.0}}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "results.json", "scores.jsonl"]
    manifest, results = read_manifest(tmp_path), json.loads((tmp_path / "results.json").read_text())
    assert list(manifest)[0] == "schema_version" and manifest["schema_version"] == SCHEMA_VERSION
    assert results["schema_version"] == SCHEMA_VERSION and load_run(tmp_path).schema_version == SCHEMA_VERSION
    (tmp_path / "results.json").write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "tasks": {}}))
    with pytest.raises(PredictionsError, match=r"results.json: schema_version 2 is newer than this psybench reads"):
        load_run(tmp_path)
