"""The replay backend: predictions made elsewhere, served back with exact errors for bad files."""
from __future__ import annotations

import json

import pytest

from psybench.backends import BACKENDS, create_backend
from psybench.backends.fingerprint import file_sha256
from psybench.errors import ConfigError, PredictionsError
from psybench.records import GenerationParams, Output, Request

REQS = [Request("dialog/000001/1", ()), Request("dialog/000001/3", ())]


def _write(path, lines):
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    return path


def test_replay_serves_outputs_in_request_order(tmp_path):
    path = _write(tmp_path / "p.jsonl", [
        {"id": "dialog/000001/3", "prediction": "extracted", "raw_output": "Therapist: raw", "finish_reason": "length"},
        "\n",
        {"id": "dialog/000001/1", "output": "Therapist: hi"},
        {"id": "unused/1", "prediction": "x"},
    ])
    backend = create_backend("replay", str(path))
    streamed = []
    outputs = backend.generate(REQS, GenerationParams(), streamed.append)
    assert outputs == [Output("dialog/000001/1", "Therapist: hi", "stop"),
                       Output("dialog/000001/3", "Therapist: raw", "length")]
    assert streamed == outputs
    assert backend.fingerprint() == "replay:sha256:" + file_sha256(path)
    assert backend.info()["n_predictions"] == 3
    assert set(BACKENDS) == {"vllm", "openai", "hf", "replay"}


@pytest.mark.parametrize("lines, message", [
    ([{"id": "a", "prediction": "x"}, "{not json\n"], "p.jsonl:2: not valid JSON"),
    ([{"prediction": "x"}], "p.jsonl:1: each line needs a string field 'id'"),
    ([{"id": "a", "text": "x"}], "p.jsonl:1: id 'a' has no string 'prediction', 'output' or 'raw_output'"),
    ([{"id": "a", "prediction": "x"}, {"id": "a", "prediction": "y"}], "p.jsonl:2: duplicate id 'a'"),
])
def test_bad_lines_name_file_and_line(tmp_path, lines, message):
    path = _write(tmp_path / "p.jsonl", lines)
    with pytest.raises(PredictionsError) as info:
        create_backend("replay", path=str(path))
    assert str(info.value).startswith(str(path.parent))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_id_and_missing_file(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"id": "dialog/000001/1", "prediction": "x"}])
    backend = create_backend("replay", str(path))
    with pytest.raises(PredictionsError, match=r"p.jsonl: no prediction for id 'dialog/000001/3'$"):
        backend.generate(REQS, GenerationParams())
    with pytest.raises(PredictionsError, match="predictions file not found"):
        create_backend("replay", str(tmp_path / "nope.jsonl"))
    with pytest.raises(ConfigError, match="unknown backend 'vlm'"):
        create_backend("vlm")
