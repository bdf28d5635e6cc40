"""Classification answers -> labels (psybench.extract.parse_answer, psybench.data.labels names; issue 14
part 5): the Answer: line, spelling variants and abbreviations, inflections, negation, Chinese names,
and the label replays in tests/replays/ scored before/after."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from psybench.data.labels import (
    EMOTIONS, LABEL_ALIASES, PSYCHOTHERAPIES, STRATEGIES, TOPICS, ZH_LABEL_NAMES, label_names, labels_named_in,
)
from psybench.extract import extract, parse_answer, parse_labels
from psybench.records import Output, Sample

REPLAYS = Path(__file__).parent / "replays"
VOCABS = {"emotion": EMOTIONS, "strategy": STRATEGIES, "topic": TOPICS, "psychotherapy": PSYCHOTHERAPIES}
CHOICES = {k: tuple(x for x in v if x != "Unknown") for k, v in VOCABS.items()}  # as the task builder offers them


def _sample(kind: str) -> Sample:
    return Sample(id=f"{kind}/000001/1", task=kind, lang="en", kind="classification", messages=(), target="",
                  reference="", extract="labels", choices=CHOICES[kind])


@pytest.mark.parametrize("text, kind, labels", [
    ("Answer: Cognitive Behaviour Therapy", "psychotherapy", ("Cognitive Behavioral Therapy",)),
    ("Answer: cognitive-behavioural therapy", "psychotherapy", ("Cognitive Behavioral Therapy",)),
    ("Answer: CBT", "psychotherapy", ("Cognitive Behavioral Therapy",)),
    ("Answer: SFBT", "psychotherapy", ("Solution-Focused Brief Therapy",)),
    ("Answer: REBT", "psychotherapy", ("Rational Emotive Behavior Therapy",)),
    ("Answer: Acceptance and Commitment Therapy", "psychotherapy", ("Acceptance Commitment Therapy",)),
    ("Answer: ACT", "psychotherapy", ("Acceptance Commitment Therapy",)),
    ("Answer: Person-Centred Therapy", "psychotherapy", ("Client-Centered Therapy",)),
    ("Answer: Parent-Child Relationship Issues", "topic", ("Child-Parent Relationship Issues",)),
    ("Answer: Sad", "emotion", ("Sadness",)),
    ("Answer: anxious; afraid", "emotion", ("Anxiety", "Fear")),
    ("Answer: angry, guilt, ashamed, depressed, happy, scared", "emotion",
     ("Anger", "Depression", "Fear", "Guilty", "Happiness", "Shame")),
    ("Answer: Questioning", "strategy", ("Question",)),
    ("Answer: Roleplay; paraphrasing", "strategy", ("Restatement or Paraphrasing", "Role-play")),
])
def test_variants_abbreviations_and_inflections(text, kind, labels):
    assert parse_answer(text, CHOICES[kind]) == (labels, True)


def test_abbreviations_are_case_sensitive_and_words_whole():
    assert parse_labels("Answer: act", CHOICES["psychotherapy"]) is None
    assert parse_labels("Answer: Cbt", CHOICES["psychotherapy"]) is None
    assert parse_labels("Answer: sadly, fears", CHOICES["emotion"]) is None


def test_a_matched_name_is_used_once():
    # "Providing Suggestions" is not also the alias "suggestions"; 婚姻家庭系统治疗 is not also 家庭治疗
    assert parse_labels("Answer: Providing Suggestions", CHOICES["strategy"]) == ("Providing Suggestions",)
    assert parse_labels("Answer: Reflection of Feelings", CHOICES["strategy"]) == ("Reflection of Feelings",)
    assert parse_labels("答案：婚姻家庭系统治疗", CHOICES["psychotherapy"]) == ("Marriage and Family Systems Therapy",)
    assert parse_labels("Answer: Appearance Anxiety", CHOICES["topic"]) == ("Appearance Anxiety",)


def test_only_the_answer_line_is_read():
    p = extract("Answer: Question\nNote: no Information or Self-disclosure was given.", "stop",
                _sample("strategy"), "corrected")
    assert (p.labels, p.status) == (("Question",), "ok")
    assert parse_answer("The client seems sad.\nAnswer: Anxiety", CHOICES["emotion"]) == (("Anxiety",), True)
    assert parse_answer("Answer: Anxiety\nAnswer: Fear", CHOICES["emotion"]) == (("Anxiety",), True)  # the first
    assert parse_answer("**Answer:** Shame", CHOICES["emotion"]) == (("Shame",), True)
    assert parse_answer("Answer:\n\nShame\nFear", CHOICES["emotion"]) == (("Shame",), True)  # blank: next line
    assert parse_answer("Answer: none of these\nMaybe Fear.", CHOICES["emotion"]) == (None, True)
    q = extract("Answer: none of these\nMaybe Fear.", "stop", _sample("emotion"), "corrected")
    assert (q.labels, q.status) == (None, "unparseable")


def test_without_an_answer_line_the_whole_output_is_read_skipping_negated_names():
    p = extract("No sadness here, Neutral.", "stop", _sample("emotion"), "corrected")
    assert (p.labels, p.status) == (("Neutral",), "no_marker")
    assert parse_answer("The client is not angry but anxious.", CHOICES["emotion"]) == (("Anxiety",), False)
    assert parse_answer("Sadness, without fear.", CHOICES["emotion"]) == (("Sadness",), False)
    assert parse_answer("来访者不焦虑，而是难过", CHOICES["emotion"]) == (("Sadness",), False)
    assert parse_answer("没有愤怒，只有悲伤", CHOICES["emotion"]) == (("Sadness",), False)


def test_chinese_names_of_every_label():
    for kind, vocab in VOCABS.items():
        for label in vocab:
            assert ZH_LABEL_NAMES.get(label), f"{kind} {label!r} has no Chinese name"
            for name in ZH_LABEL_NAMES[label]:
                assert parse_answer(f"答案：{name}", vocab) == ((label,), True), (kind, name)
    assert parse_answer("Answer: 中性", CHOICES["emotion"]) == (("Neutral",), True)
    assert parse_answer("答案：愤怒；悲伤", CHOICES["emotion"]) == (("Anger", "Sadness"), True)
    assert parse_answer("回答：认知行为疗法", CHOICES["psychotherapy"]) == (("Cognitive Behavioral Therapy",), True)
    assert parse_answer("答案：提问、情感反映", CHOICES["strategy"]) == (("Question", "Reflection of Feelings"), True)


def test_every_english_alias_names_its_label_alone():
    for kind, vocab in VOCABS.items():
        names = label_names(vocab)
        for label in vocab:
            for alias in LABEL_ALIASES.get(label, ()):
                assert names[alias] == label
                assert parse_labels(f"Answer: {alias}", vocab) == (label,), (kind, alias)


def test_labels_named_in_free_text():
    text = "The client, treated with CBT, is not angry; the therapist uses the miracle question."
    assert labels_named_in(text, CHOICES["psychotherapy"]) == ("Cognitive Behavioral Therapy",)
    assert labels_named_in(text, CHOICES["emotion"]) == ()
    assert labels_named_in("来访者长期抑郁，伴有失眠。", CHOICES["topic"]) == ("Ongoing Depression", "Sleep Problems")


def test_custom_choices_keep_working():
    assert parse_labels("我觉得是焦虑。", ("焦虑", "悲伤")) == ("焦虑",)
    assert parse_labels("Cognitive-behaviour therapy", ("Cognitive Behaviour Therapy",)) == (
        "Cognitive Behaviour Therapy",)


# ---- replays: real samples through the runner's record, then classification scores -------------------

def _replayed(name: str, task: str, lang: str, limit: int, data_dir: Path) -> list[dict]:
    from psybench.runner import prediction_record
    from psybench.tasks import build_samples

    rows = {r["id"]: r for r in map(json.loads, (REPLAYS / name).read_text(encoding="utf-8").splitlines())}
    samples = build_samples(task, lang, split="seeded", data_dir=data_dir, limit=limit)
    return [prediction_record(s, Output(s.id, rows[s.id]["prediction"], "stop")) for s in samples]


def _scores(records: list[dict]) -> dict[str, float]:
    from psybench.metrics import MetricSettings, score_classification

    res = score_classification([tuple(r["labels"]) if r["labels"] is not None else None for r in records],
                               [tuple(r["gold_labels"]) for r in records], tuple(records[0]["meta"]["choices"]),
                               MetricSettings(bootstrap_resamples=0))
    return {k: round(res.aggregates[k]["value"], 4) for k in ("cls.accuracy", "cls.unparseable_rate")}


@pytest.mark.parametrize("name, task, lang, limit, statuses, before, after", [
    # before issue 14: CBT in British spelling, "CBT" and the "cognitive-behavioural" spelling unparseable
    ("labels_en.jsonl", "psychotherapy", "en", 6, ["ok"] * 6,
     {"cls.accuracy": 0.1667, "cls.unparseable_rate": 0.6667}, {"cls.accuracy": 0.8333, "cls.unparseable_rate": 0.0}),
    # before: the Note line added Information and Self-disclosure; "Questioning" unparseable
    ("labels_en.jsonl", "strategy", "en", 6, ["ok", "ok", "ok", "no_marker", "ok", "ok"],
     {"cls.accuracy": 0.5, "cls.unparseable_rate": 0.1667}, {"cls.accuracy": 0.8333, "cls.unparseable_rate": 0.0}),
    # before: "Sad", "anxious; afraid" unparseable, "No sadness here" counted Sadness
    ("labels_en.jsonl", "emotion", "en", 6, ["ok", "no_marker", "ok", "ok", "ok", "unparseable"],
     {"cls.accuracy": 0.3333, "cls.unparseable_rate": 0.5}, {"cls.accuracy": 0.8333, "cls.unparseable_rate": 0.1667}),
    # before: every Chinese label name unparseable (only "Answer: Neutral" scored)
    ("emotion_zh.jsonl", "emotion", "zh", 8, ["ok", "ok", "ok", "no_marker", "ok", "ok", "ok", "ok"],
     {"cls.accuracy": 0.125, "cls.unparseable_rate": 0.875}, {"cls.accuracy": 0.875, "cls.unparseable_rate": 0.0}),
])
def test_label_replays(data_dir, name, task, lang, limit, statuses, before, after):
    records = _replayed(name, task, lang, limit, data_dir)
    assert [r["status"] for r in records] == statuses
    assert _scores(records) == after != before
