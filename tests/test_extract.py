"""Extraction rules (psybench/extract.py, docs/EXTRACTION.md), one test per rule, on hand-written outputs.
Paper mode row by row: tests/test_extract_paper.py; label answers: tests/test_labels_parse.py."""
from __future__ import annotations

import pytest

from psybench.errors import ConfigError
from psybench.extract import extract, parse_labels, strip_thinking
from psybench.records import Sample


def _sample(extract_kind="response", target="Therapist: fine", choices=()):
    return Sample(id="t/000001/3", task="x", lang="en", kind="generation", messages=(),
                  target=target, reference=target, extract=extract_kind, choices=choices)


TASK1 = _sample()
TASK2 = _sample(target="Reasoning: r\n Therapist: t")
TASK3 = _sample(target="Observation: o\n Reasoning: r\n Therapist: t")
WHOLE = _sample("whole", target="some reasoning")
EMOTION = _sample("labels", target="", choices=("Anxiety", "Sadness", "Fear", "Unknown", "Guilty"))


def test_paper_mode_keeps_prefix_from_first_marker_to_end():
    p = extract("Sure. Therapist: How are you?\nClient: ok", "stop", TASK1, "paper")
    assert (p.response, p.status) == ("Therapist: How are you?\nClient: ok", "ok")


def test_paper_mode_is_case_sensitive_and_drops_nothing_itself():
    p = extract("therapist: hello", "stop", TASK1, "paper")
    assert (p.response, p.status, p.raw) == ("", "no_marker", "therapist: hello")


def test_corrected_mode_is_robust_to_case_spacing_and_cuts_next_turn():
    p = extract("THERAPIST :  How are you?\nClient: fine", "stop", TASK1, "corrected")
    assert (p.response, p.status) == ("How are you?", "ok")
    assert extract("治疗师：你好", "stop", TASK1, "corrected").response == "你好"
    # a second therapist reply: the first is scored, the repeat is a status
    q = extract("THERAPIST :  How are you?\nClient: fine\nTherapist: good", "stop", TASK1, "corrected")
    assert (q.response, q.status) == ("How are you?", "repeated")


def test_corrected_task1_without_marker_takes_whole_output_and_is_not_a_failure():
    p = extract("  I hear you.  ", "stop", TASK1, "corrected")
    assert (p.response, p.status, p.truncated) == ("I hear you.", "ok", False)
    q = extract("I hear you.\nClient: thanks", "stop", TASK1, "corrected")  # the client's turn is cut
    assert (q.response, q.status) == ("I hear you.", "ok")
    r = extract("Client: thanks", "stop", TASK1, "corrected")
    assert (r.response, r.status) == ("", "empty")


def test_corrected_markdown_emphasis_markers():
    for text in ("**Therapist**: Bold", "**Therapist:** Bold", "__Therapist__ ： Bold", "*Therapist*: Bold"):
        p = extract(text, "stop", TASK1, "corrected")
        assert (p.response, p.status) == ("Bold", "ok"), text
    q = extract("**Reasoning**: why\n**Therapist**: Tell me more.", "stop", TASK2, "corrected")
    assert (q.response, q.reasoning, q.status) == ("Tell me more.", "why", "ok")


def test_corrected_repeated_blocks_first_complete_reply():
    text = ("Observation: o\n Reasoning: r\n Therapist: t1\n Observation: o2\n Reasoning: r2\n"
            " Therapist: t2")
    p = extract(text, "stop", TASK3, "corrected")
    assert (p.response, p.observation, p.reasoning, p.status) == ("t1", "o", "r", "repeated")
    q = extract("Reasoning: r\n Therapist: t1\n Reasoning: r2", "stop", TASK2, "corrected")
    assert (q.response, q.reasoning, q.status) == ("t1", "r", "repeated")  # a second block begun
    e = extract("Reasoning: r\n Therapist:\n Therapist: t2", "stop", TASK2, "corrected")
    assert (e.response, e.status) == ("t2", "repeated")  # an empty reply is not a complete one
    s = extract("Reasoning: r\n Therapist: That's right.</s>\nClient: ok", "stop", TASK2, "corrected")
    assert (s.response, s.status) == ("That's right.", "ok")


def test_task3_sections_parsed():
    text = "Observation: She is tense.\n Reasoning: Validate first.\n Therapist: That sounds hard."
    p = extract(text, "stop", TASK3, "corrected")
    assert (p.observation, p.reasoning, p.response, p.status) == (
        "She is tense.", "Validate first.", "That sounds hard.", "ok")
    q = extract(text, "stop", TASK3, "paper")
    assert (q.response, q.reasoning) == ("Therapist: That sounds hard.", "Validate first.")


def test_task2_therapist_marker_must_follow_reasoning():
    p = extract("Therapist: draft\nReasoning: why\nTherapist: Tell me more.", "stop", TASK2, "corrected")
    assert (p.response, p.reasoning) == ("Tell me more.", "why")
    q = extract("Therapist: Tell me more.\nReasoning: why", "stop", TASK2, "corrected")
    assert (q.response, q.reasoning) == ("Tell me more.", "why")  # sections in the wrong order


def test_task2_without_marker_removes_sections():
    p = extract("Reasoning: build rapport. I am here for you.", "stop", TASK2, "corrected")
    assert (p.response, p.status, p.reasoning) == ("", "no_marker", "build rapport. I am here for you.")
    q = extract("Okay then. Reasoning: build rapport.", "stop", TASK2, "corrected")
    assert (q.response, q.status) == ("Okay then.", "no_marker")


def test_think_blocks_removed_and_unclosed_think_is_truncated():
    p = extract("<think>plan Therapist: no</think>Therapist: Hi.", "stop", TASK1, "paper")
    assert (p.response, p.status, p.truncated) == ("Therapist: Hi.", "ok", False)
    q = extract("hidden plan</think>\nTherapist: Hi.", "stop", TASK1, "corrected")
    assert q.response == "Hi."
    r = extract("<think>still thinking Therapist:", "stop", TASK1, "corrected")
    assert (r.response, r.status, r.truncated) == ("", "empty", True)
    assert strip_thinking("a<think>b") == ("a", True)


def test_truncation_is_a_flag_not_a_status():
    cut = [extract("Therapist: I was going to", "length", TASK1, m) for m in ("corrected", "paper")]
    assert [(p.response, p.status, p.truncated) for p in cut] == [
        ("I was going to", "ok", True), ("Therapist: I was going to", "ok", True)]
    # paper mode: a cut output without marker is dropped like any other (no_marker); corrected: task 1
    # needs no marker
    assert [(p.status, p.truncated) for p in (extract("I was going", "length", TASK1, "paper"),
                                              extract("I was going", "length", TASK1, "corrected"))] == [
        ("no_marker", True), ("ok", True)]
    assert extract("Therapist: done", "stop", TASK1, "corrected").truncated is False
    assert (extract("   \n", "stop", TASK1, "corrected").status, extract("", "length", TASK1, "paper").status) == (
        "empty", "empty")


def test_whole_output_for_auxiliary_instructions():
    p = extract(" The client feels unheard. Therapist: x ", "stop", WHOLE, "paper")
    assert (p.response, p.status) == ("The client feels unheard. Therapist: x", "ok")
    q = extract(" The client feels", "length", WHOLE, "corrected")
    assert (q.response, q.status, q.truncated) == ("The client feels", "ok", True)


def test_labels_case_punctuation_insensitive_multiple_sorted():
    p = extract("Emotion: ANXIETY; also sadness.", "stop", EMOTION, "corrected")
    assert (p.labels, p.status) == (("Anxiety", "Sadness"), "no_marker")  # no Answer: line
    a = extract("Answer: ANXIETY; sadness.", "length", EMOTION, "paper")
    assert (a.labels, a.status, a.truncated) == (("Anxiety", "Sadness"), "ok", True)
    assert parse_labels("fears, unknowns", EMOTION.choices) is None  # whole words only
    q = extract("I cannot tell.", "stop", EMOTION, "corrected")
    assert (q.labels, q.status) == (None, "unparseable")
    assert parse_labels("我觉得是焦虑。", ("焦虑", "悲伤")) == ("焦虑",)
    assert parse_labels("Cognitive-behaviour therapy", ("Cognitive Behaviour Therapy",)) == (
        "Cognitive Behaviour Therapy",)


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError):
        extract("x", "stop", TASK1, "strict")
