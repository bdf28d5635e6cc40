"""Exact sample counts per task x split x turns x language on the real data, Chinese-only errors,
limit, ids, and `psybench tasks show`."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from psybench.cli import main
from psybench.errors import ConfigError
from psybench.tasks import build_samples, build_samples_with_report, list_tasks

# (task, lang, split, turns) -> (samples, skipped by reason); the same in both prompt styles.
COUNTS = {
    ('dialog', 'en', 'table5', 'all'): (581, {}),
    ('dialog', 'en', 'table5', 'last'): (81, {}),
    ('dialog', 'en', 'released', 'all'): (370, {}),
    ('dialog', 'en', 'released', 'last'): (79, {}),
    ('dialog', 'en', 'seeded', 'all'): (547, {}),
    ('dialog', 'en', 'seeded', 'last'): (78, {}),
    ('dialog', 'zh', 'seeded', 'all'): (455, {}),
    ('dialog', 'zh', 'seeded', 'last'): (65, {}),
    ('emotion', 'en', 'table5', 'all'): (541, {'unknown_only': 80}),
    ('emotion', 'en', 'table5', 'last'): (70, {'unknown_only': 11}),
    ('emotion', 'en', 'released', 'all'): (340, {'unknown_only': 42}),
    ('emotion', 'en', 'released', 'last'): (70, {'unknown_only': 9}),
    ('emotion', 'en', 'seeded', 'all'): (521, {'unknown_only': 52}),
    ('emotion', 'en', 'seeded', 'last'): (69, {'unknown_only': 9}),
    ('emotion', 'zh', 'seeded', 'all'): (374, {'unknown_only': 59}),
    ('emotion', 'zh', 'seeded', 'last'): (59, {'unknown_only': 6}),
    ('mix', 'en', 'table5', 'all'): (2761, {'observation:no_observation': 65, 'observation:no_reasoning': 4, 'observation_only:no_observation': 67, 'reasoning:no_reasoning': 4, 'reasoning_only:no_reasoning': 4}),
    ('mix', 'en', 'table5', 'last'): (389, {'observation:no_observation': 8, 'observation_only:no_observation': 8}),
    ('mix', 'en', 'released', 'all'): (1705, {'observation:no_observation': 69, 'observation:no_reasoning': 2, 'observation_only:no_observation': 70, 'reasoning:no_reasoning': 2, 'reasoning_only:no_reasoning': 2}),
    ('mix', 'en', 'released', 'last'): (379, {'observation:no_observation': 8, 'observation_only:no_observation': 8}),
    ('mix', 'en', 'seeded', 'all'): (2617, {'observation:no_observation': 59, 'observation_only:no_observation': 59}),
    ('mix', 'en', 'seeded', 'last'): (380, {'observation:no_observation': 5, 'observation_only:no_observation': 5}),
    ('observation', 'en', 'table5', 'all'): (512, {'no_observation': 65, 'no_reasoning': 4}),
    ('observation', 'en', 'table5', 'last'): (73, {'no_observation': 8}),
    ('observation', 'en', 'released', 'all'): (299, {'no_observation': 69, 'no_reasoning': 2}),
    ('observation', 'en', 'released', 'last'): (71, {'no_observation': 8}),
    ('observation', 'en', 'seeded', 'all'): (488, {'no_observation': 59}),
    ('observation', 'en', 'seeded', 'last'): (73, {'no_observation': 5}),
    ('psychotherapy', 'en', 'table5', 'all'): (81, {}),
    ('psychotherapy', 'en', 'table5', 'last'): (81, {}),
    ('psychotherapy', 'en', 'released', 'all'): (79, {}),
    ('psychotherapy', 'en', 'released', 'last'): (79, {}),
    ('psychotherapy', 'en', 'seeded', 'all'): (78, {}),
    ('psychotherapy', 'en', 'seeded', 'last'): (78, {}),
    ('psychotherapy', 'zh', 'seeded', 'all'): (65, {}),
    ('psychotherapy', 'zh', 'seeded', 'last'): (65, {}),
    ('reasoning', 'en', 'table5', 'all'): (577, {'no_reasoning': 4}),
    ('reasoning', 'en', 'table5', 'last'): (81, {}),
    ('reasoning', 'en', 'released', 'all'): (368, {'no_reasoning': 2}),
    ('reasoning', 'en', 'released', 'last'): (79, {}),
    ('reasoning', 'en', 'seeded', 'all'): (547, {}),
    ('reasoning', 'en', 'seeded', 'last'): (78, {}),
    ('strategy', 'en', 'table5', 'all'): (588, {'unknown_only': 2}),
    ('strategy', 'en', 'table5', 'last'): (81, {}),
    ('strategy', 'en', 'released', 'all'): (386, {'unknown_only': 1}),
    ('strategy', 'en', 'released', 'last'): (78, {'unknown_only': 1}),
    ('strategy', 'en', 'seeded', 'all'): (564, {'unknown_only': 3}),
    ('strategy', 'en', 'seeded', 'last'): (78, {}),
    ('strategy', 'zh', 'seeded', 'all'): (438, {'unknown_only': 17}),
    ('strategy', 'zh', 'seeded', 'last'): (65, {}),
    ('topic', 'en', 'table5', 'all'): (79, {'no_label': 2}),
    ('topic', 'en', 'table5', 'last'): (79, {'no_label': 2}),
    ('topic', 'en', 'released', 'all'): (76, {'no_label': 3}),
    ('topic', 'en', 'released', 'last'): (76, {'no_label': 3}),
    ('topic', 'en', 'seeded', 'all'): (72, {'no_label': 6}),
    ('topic', 'en', 'seeded', 'last'): (72, {'no_label': 6}),
    ('topic', 'zh', 'seeded', 'all'): (65, {}),
    ('topic', 'zh', 'seeded', 'last'): (65, {}),
}


@pytest.fixture(scope="module")
def built(data_dir: Path) -> dict:
    out = {}
    # the rag tasks embed whole splits with a real encoder (minutes on a cold cache): counted and
    # checked in test_rag_retrieval.py; here only the tasks whose build is pure data handling
    for spec in (s for s in list_tasks() if s.builder != "rag"):
        for lang in spec.langs:
            for split in (("table5", "released", "seeded") if lang == "en" else ("seeded",)):
                for turns in ("all", "last"):
                    out[(spec.name, lang, split, turns)] = build_samples_with_report(
                        spec.name, lang, split, turns, data_dir=data_dir)
    return out


def test_exact_counts(built: dict) -> None:
    got = {key: (report.n_samples, report.skipped) for key, (samples, report) in built.items()
           if key[0] in {k[0] for k in COUNTS}}
    assert got == COUNTS
    for key, (samples, report) in built.items():
        assert len(samples) == report.n_samples == report.n_built


def test_clean_style_same_targets(data_dir: Path) -> None:
    for task, lang in (("dialog", "en"), ("dialog", "zh"), ("observation", "en"), ("mix", "en")):
        paper = build_samples(task, lang, "seeded", "all", "paper", data_dir=data_dir)
        clean = build_samples(task, lang, "seeded", "all", "clean", data_dir=data_dir)
        assert [s.id for s in paper] == [s.id for s in clean]
        assert [s.reference for s in paper] == [s.reference for s in clean]


def test_clean_style_has_no_speaker_names_from_the_session(data_dir: Path) -> None:
    from psybench.data import load_sessions

    for lang in ("en", "zh"):
        by_id = {s.dialog_id: s for s in load_sessions(lang, data_dir)}
        for sample in build_samples("dialog", lang, "seeded", "all", "clean", data_dir=data_dir):
            session = by_id[sample.meta["dialog_id"]]
            names = {t.participant for t in session.turns}
            assert sample.messages[0]["role"] == "system"
            for message in sample.messages[1:] + ({"content": sample.target},):
                # no message opens a line with a speaker name (turn texts themselves may quote one)
                starts = [line for line in message["content"].split("\n")
                          if any(line.startswith(f"{n}: ") for n in names)]
                contents = {t.content for t in session.turns}
                assert all(line in contents or any(line in c for c in contents) for line in starts)
            turns = [t for t in session.turns if t.index in sample.meta["turn_indices"]]
            assert sample.target == " ".join(t.content for t in turns)


def test_ids_unique_and_stable(built: dict, data_dir: Path) -> None:
    for (task, lang, split, turns), (samples, _) in built.items():
        ids = [s.id for s in samples]
        assert len(ids) == len(set(ids)), (task, lang, split, turns)
        assert all(i.count("/") == 2 and i.split("/")[0].split(".")[0] == task for i in ids)
    ids = "\n".join(s.id for s in built[("dialog", "en", "table5", "all")][0])
    assert hashlib.sha256(ids.encode()).hexdigest()[:16] == "fe84884e560a3073"
    samples = built[("dialog", "en", "table5", "all")][0]
    assert samples[0].id == "dialog/000876/0" and samples[0].meta["chunk"] == 1
    assert samples[0].meta["n_chunks"] == 1


def test_limit_takes_the_first_samples(built: dict, data_dir: Path) -> None:
    full = built[("mix", "en", "table5", "all")][0]
    samples, report = build_samples_with_report("mix", "en", "table5", "all", limit=7, data_dir=data_dir)
    assert samples == full[:7] and report.n_samples == 7 and report.n_built == len(full)


def test_classification_gold_and_choices(built: dict) -> None:
    for task in ("emotion", "strategy", "psychotherapy", "topic"):
        for (name, *_), (samples, _) in built.items():
            if name != task:
                continue
            for s in samples:
                assert s.gold_labels and set(s.gold_labels) <= set(s.choices) and "Unknown" not in s.choices
                assert s.target == "Answer: " + "; ".join(s.gold_labels)
                assert "; ".join(s.choices) in s.messages[-1]["content"]
    zh = built[("emotion", "zh", "seeded", "all")][0][0]
    assert "来访者在标出的这句话中表达了哪种" in zh.messages[0]["content"]


@pytest.mark.parametrize("task", ["reasoning", "observation", "mix"])
def test_chinese_tasks_2_3_are_config_errors(task: str, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=f"task '{task}' exists for English only, not Chinese"):
        build_samples(task, "zh", data_dir=data_dir)
    assert main(["tasks", "show", task, "--lang", "zh", "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "English only" in err


def test_tasks_show(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "show", "dialog", "--split", "table5", "--turns", "last", "--index", "0",
                 "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "samples: 81; skipped: none" in out and "=== dialog/000876/" in out
    assert "--- reference (scored)\nTherapist: " in out
    assert main(["tasks", "show", "dialog", "--split", "table5", "--index", "999", "--data-dir", str(data_dir)]) == 2
    assert "--index 999 is out of range" in capsys.readouterr().err
