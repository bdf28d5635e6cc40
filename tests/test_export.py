"""psybench export: the training side of every split, in both languages, with nothing of the test side in it
(ids and turn texts); each format read back by `datasets` and checked against its consumer's schema."""
from __future__ import annotations

import json

import pytest

from psybench.cli import main
from psybench.data import get_split, load_sessions
from psybench.data.splits import MIN_SHARED_CHARS
from psybench.export import export_training_data

SPLITS = [("en", "seeded"), ("zh", "seeded"), ("en", "table5"), ("en", "released")]


def _strings(record: dict) -> list[str]:
    if "messages" in record:
        return [m["content"] for m in record["messages"]]
    if "conversations" in record:
        return [c["value"] for c in record["conversations"]] + [record.get("system", "")]
    return [record["instruction"], record["output"], record.get("system", "")] + [x for pair in record["history"]
                                                                                   for x in pair]


def _forbidden_windows(lang: str, split_name: str, data_dir) -> dict[str, set[str]]:
    """Turn texts of the test side (test and excluded sessions) long enough to identify a turn
    (the splits' own threshold), indexed by their first MIN_SHARED_CHARS characters."""
    split = get_split(split_name, lang, data_dir)
    closed = set(split.test_ids) | set(split.excluded_ids)
    windows: dict[str, set[str]] = {}
    for session in load_sessions(lang, data_dir):
        if session.dialog_id in closed:
            for turn in session.turns:
                if len(turn.content) >= MIN_SHARED_CHARS:
                    windows.setdefault(turn.content[:MIN_SHARED_CHARS], set()).add(turn.content)
    return windows


def _leaks(text: str, windows: dict[str, set[str]]) -> list[str]:
    found = []
    for i in range(len(text) - MIN_SHARED_CHARS + 1):
        for content in windows.get(text[i:i + MIN_SHARED_CHARS], ()):
            if text.startswith(content, i):
                found.append(content)
    return found


@pytest.mark.parametrize("lang, split_name", SPLITS)
def test_nothing_of_the_test_side_is_exported(tmp_path, data_dir, lang, split_name) -> None:
    tasks = ("dialog", "mix") if lang == "en" else ("dialog",)
    report = export_training_data(lang, split_name, tasks, "messages", tmp_path, data_dir=data_dir, val_fraction=0.1)
    split = get_split(split_name, lang, data_dir)
    train, val = set(split.train_ids), set(report.val_sessions)
    windows = _forbidden_windows(lang, split_name, data_dir)
    seen_text: set[str] = set()
    sessions = {"train": set(), "val": set()}
    for task in tasks:
        for part, name in (("train", f"{task}.jsonl"), ("val", f"{task}.val.jsonl")):
            rows = [json.loads(line) for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()]
            assert len(rows) == report.counts[task][part] > 0
            for row in rows:
                dialog_id = row["id"].split("/")[1]
                assert dialog_id in train and (dialog_id in val) == (part == "val"), row["id"]
                sessions[part].add(dialog_id)
                seen_text.update(_strings(row))
    assert sessions["val"] == val and not sessions["train"] & val
    leaks = [hit for text in seen_text for hit in _leaks(text, windows)]
    assert leaks == []
    manifest = json.loads((tmp_path / "export_manifest.json").read_text())
    assert manifest["split_hash"] == split.content_hash and manifest["lang"] == lang
    assert sum(manifest["held_out"].values()) == len(manifest["held_out_examples"])
    assert manifest["test_side"] == {"test_sessions": len(split.test_ids), "excluded_sessions": len(split.excluded_ids)}


def test_a_prompt_carrying_a_test_session_is_held_out(tmp_path, data_dir) -> None:
    """The authors' chat prepends the previous session to a continued one: where that session is on the
    test side, the example is held out, and the manifest says which and why."""
    report = export_training_data("en", "seeded", ("dialog",), "messages", tmp_path, data_dir=data_dir)
    test = set(get_split("seeded", "en", data_dir).test_ids)
    assert report.held_out == {"prompt holds the previous session, which is test in split seeded": 34}
    first = report.held_out_examples[0]
    assert first == {"id": "dialog/000509/0",
                     "reason": "prompt holds the previous session, which is test in split seeded (000508)"}
    assert "000508" in test and report.counts["dialog"] == {"train": 2396, "val": 0}
    # the leak check of the test above sees what holding out prevents: test turns in those prompts
    from psybench.tasks import build_samples_with_report

    held = {e["id"] for e in report.held_out_examples}
    samples, _ = build_samples_with_report("dialog", "en", split="seeded", data_dir=data_dir, side="train")
    windows = _forbidden_windows("en", "seeded", data_dir)
    leaking = {s.id for s in samples if s.id in held and any(_leaks(m["content"], windows) for m in s.messages)}
    assert len(leaking) == 34


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca"])
def test_formats_read_back_by_datasets_with_their_consumers_schema(tmp_path, data_dir, fmt) -> None:
    datasets = pytest.importorskip("datasets")
    export_training_data("en", "seeded", ("dialog", "reasoning"), fmt, tmp_path, data_dir=data_dir)
    table = datasets.load_dataset("json", data_files=str(tmp_path / "reasoning.jsonl"), split="train",
                                  cache_dir=str(tmp_path / "hf"))
    first = table[0]
    if fmt == "messages":  # TRL SFTTrainer: a list of {role, content} ending with the assistant's reply
        roles = [m["role"] for m in first["messages"]]
        assert roles[-1] == "assistant" and first["messages"][-1]["content"].startswith("Reasoning: ")
        assert all(a != b for a, b in zip(roles, roles[1:]))
    elif fmt == "sharegpt":  # LLaMA-Factory: human/gpt alternating from human, ending with gpt
        sides = [c["from"] for c in first["conversations"]]
        assert sides[0] == "human" and sides[-1] == "gpt" and all(a != b for a, b in zip(sides, sides[1:]))
        assert "\n Therapist: " in first["conversations"][-1]["value"]
    else:  # LLaMA-Factory alpaca: instruction, input, output, history of [prompt, reply] pairs
        assert set(first) >= {"instruction", "input", "output", "history"} and first["input"] == ""
        assert first["output"].startswith("Reasoning: ") and all(len(pair) == 2 for pair in first["history"])
    assert table.num_rows == sum(1 for _ in (tmp_path / "reasoning.jsonl").open())


def test_validation_part_is_seeded_and_session_level(tmp_path, data_dir) -> None:
    a = export_training_data("en", "table5", ("dialog",), "alpaca", tmp_path / "a", data_dir=data_dir,
                             val_fraction=0.05, seed=3)
    b = export_training_data("en", "table5", ("dialog",), "alpaca", tmp_path / "b", data_dir=data_dir,
                             val_fraction=0.05, seed=3)
    c = export_training_data("en", "table5", ("dialog",), "alpaca", tmp_path / "c", data_dir=data_dir,
                             val_fraction=0.05, seed=4)
    assert a.val_sessions == b.val_sessions != c.val_sessions
    assert len(a.val_sessions) == round(0.05 * (a.train_sessions + len(a.val_sessions)))
    assert (tmp_path / "a" / "dialog.val.jsonl").read_bytes() == (tmp_path / "b" / "dialog.val.jsonl").read_bytes()


def test_bad_export_requests_are_one_line_errors(tmp_path, data_dir, capsys) -> None:
    base = ["export", "--data-dir", str(data_dir), "--out", str(tmp_path / "x")]
    assert main([*base, "--tasks", "rag_dialog"]) == 2
    assert capsys.readouterr().err == ("psybench: error: --tasks rag_dialog: only chat tasks with a therapist target "
                                       "export (dialog, reasoning, observation, mix); rag_dialog is built by rag\n")
    assert main([*base, "--val-fraction", "1.5"]) == 2
    assert "--val-fraction 1.5: must be in [0, 1)" in capsys.readouterr().err
    assert main([*base, "--lang", "zh", "--tasks", "reasoning"]) == 2
    assert "task 'reasoning' exists for English only" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
