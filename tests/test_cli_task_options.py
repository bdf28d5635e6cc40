"""--task-option KEY=VALUE and the named task-4 flags reach the task builders as typed options."""
from __future__ import annotations

import argparse
import json

import pytest

from psybench.cli import main
from psybench.commands import add_task_option_args, raw_task_options
from psybench.commands.tasks import checked_task_options
from psybench.errors import ConfigError


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_task_option_args(parser)
    return parser.parse_args(argv)


def test_values_are_typed_by_the_task_declaration_and_named_flags_win() -> None:
    args = _parse(["--task-option", "rag_k=5", "--task-option", "rag_explanations=true",
                   "--task-option", "retrieval_model=minilm", "--retrieval-model", "e5", "--rag-k", "2"])
    raw, flags = raw_task_options(args)
    assert raw == {"rag_k": 2, "rag_explanations": "true", "retrieval_model": "e5"}
    assert flags["rag_k"] == "--rag-k 2" and flags["rag_explanations"] == "--task-option rag_explanations=true"
    assert checked_task_options(args, ["rag_dialog"]) == {"rag_k": 2, "rag_explanations": True,
                                                           "retrieval_model": "e5"}
    assert checked_task_options(_parse(["--task-option", "max_chars=300"]), ["topic"]) == {"max_chars": 300}
    with pytest.raises(ConfigError, match=r"--task-option max_chars=1.5: expected an integer for option max_chars "
                                          r"of task topic"):
        checked_task_options(_parse(["--task-option", "max_chars=1.5"]), ["topic"])


def test_malformed_task_option_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        raw_task_options(_parse(["--task-option", "=3"]))
    assert main(["run", "--task-option", "nokey", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["psybench: error: --task-option 'nokey': expected KEY=VALUE"]


def test_typed_option_reaches_the_builder(data_dir, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    def prompt(*flags: str) -> str:
        assert main(["tasks", "show", "topic", "--json", "--data-dir", str(data_dir), *flags]) == 0
        return json.loads(capsys.readouterr().out)["sample"]["messages"][0]["content"]

    # '300' on the command line is the int 300 in the builder, which budgets the transcript with it
    assert len(prompt("--task-option", "max_chars=300")) < len(prompt())
