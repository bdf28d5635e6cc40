"""Task registry: the shipped task files, YAML errors naming file and field, the `tasks` command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from psybench.cli import main
from psybench.errors import ConfigError
from psybench.tasks import get_task, list_tasks
from psybench.tasks.registry import parse_task_file

GOOD = """\
name: toy
description: a toy task
kind: generation
builder: dialogue
langs: [en]
extract: response
defaults: {split: table5, turns: last}
generation: {max_tokens: 32}
options: {variant: dialog}
"""


def test_shipped_tasks() -> None:
    specs = {s.name: s for s in list_tasks()}
    assert {"dialog", "reasoning", "observation", "mix", "emotion", "strategy", "psychotherapy",
            "topic"} <= set(specs)
    assert specs["dialog"].langs == ("en", "zh") and specs["reasoning"].langs == ("en",)
    assert specs["observation"].target == ("observation", "reasoning", "response")
    assert specs["emotion"].kind == "classification" and specs["emotion"].extract == "labels"
    assert specs["dialog"].generation_params().max_tokens == 256
    assert len(specs["dialog"].content_hash) == 64


def test_unknown_task_lists_known() -> None:
    with pytest.raises(ConfigError, match=r"unknown task 'nope' \(known: dialog, .*reasoning"):
        get_task("nope")


def _write(tmp_path: Path, text: str, name: str = "toy") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_good_file_and_tasks_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, GOOD)
    monkeypatch.setenv("PSYBENCH_TASKS_DIR", str(tmp_path))
    spec = get_task("toy")
    assert spec.defaults.split == "table5" and spec.defaults.turns == "last"
    assert spec.defaults.prompt_style == "paper" and spec.generation_params().max_tokens == 32
    assert [s.name for s in list_tasks()] == ["toy"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("kind: generation\n", ""), r"field 'kind': missing"),
    (lambda t: t.replace("langs: [en]", "langs: en"), r"field 'langs': expected a list of strings"),
    (lambda t: t.replace("langs: [en]", "langs: [fr]"), r"field 'langs': 'fr' is not one of en, zh"),
    (lambda t: t.replace("builder: dialogue", "builder: nosuch"), r"field 'builder': no module psybench.tasks.nosuch"),
    (lambda t: t.replace("kind: generation", "kind: ranking"), r"field 'kind': 'ranking' is not one of"),
    (lambda t: t + "colour: red\n", r"field 'colour': unknown field"),
    (lambda t: t.replace("name: toy", "name: other"), r"field 'name': 'other' must equal the file name 'toy'"),
    (lambda t: t.replace("max_tokens: 32", "max_tokens: -1"), r"field 'generation.max_tokens': bad value -1"),
    (lambda t: t.replace("turns: last", "turns: some"), r"field 'defaults.turns': 'some' is not one of all, last"),
    (lambda t: t.replace("description: a toy task", "description: 3"), r"field 'description': expected a non-empty"),
    (lambda t: "name: [unclosed\n", r"not valid YAML"),
    (lambda t: "- a list\n", r"expected a mapping of task fields"),
])
def test_bad_files_name_file_and_field(tmp_path: Path, edit, message: str) -> None:  # noqa: ANN001
    path = _write(tmp_path, edit(GOOD))
    with pytest.raises(ConfigError, match=message) as info:
        parse_task_file(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_bad_file_through_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, GOOD.replace("extract: response", "extract: everything"))
    monkeypatch.setenv("PSYBENCH_TASKS_DIR", str(tmp_path))
    assert main(["tasks"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "toy.yaml: field 'extract': 'everything' is not one of" in err


def test_tasks_command_lists(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    by_name = {t["name"]: t for t in listed}
    assert by_name["mix"]["langs"] == ["en"] and by_name["mix"]["defaults"]["turns"] == "all"
    assert by_name["topic"]["metrics"] == ["accuracy", "macro_f1", "example_f1"]
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dialog ") and "classification" in out
