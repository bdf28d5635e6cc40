"""Extraction rules (psybench/extract.py), one test per rule, on hand-written outputs."""
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
    p = extract("THERAPIST :  How are you?\nClient: fine\nTherapist: good", "stop", TASK1, "corrected")
    assert (p.response, p.status) == ("How are you?", "ok")
    assert extract("治疗师：你好", "stop", TASK1, "corrected").response == "你好"


def test_corrected_task1_without_marker_takes_whole_output():
    p = extract("  I hear you.  ", "stop", TASK1, "corrected")
    assert (p.response, p.status) == ("I hear you.", "no_marker")


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
    assert (p.response, p.status) == ("Therapist: Hi.", "ok")
    q = extract("hidden plan</think>\nTherapist: Hi.", "stop", TASK1, "corrected")
    assert q.response == "Hi."
    r = extract("<think>still thinking Therapist:", "length", TASK1, "corrected")
    assert (r.response, r.status) == ("", "truncated")
    assert strip_thinking("a<think>b") == ("a", True)


def test_truncated_and_empty_statuses():
    assert extract("Therapist: I was going to", "length", TASK1, "corrected").status == "truncated"
    assert extract("Therapist: I was going to", "length", TASK1, "paper").status == "truncated"
    # paper mode: a truncated output without marker must read no_marker so the scorer drops it
    assert extract("I was going", "length", TASK1, "paper").status == "no_marker"
    assert extract("I was going", "length", TASK1, "corrected").status == "truncated"
    assert extract("   \n", "stop", TASK1, "corrected").status == "empty"
    assert extract("", "stop", TASK1, "paper").status == "empty"


def test_whole_output_for_auxiliary_instructions():
    p = extract(" The client feels unheard. Therapist: x ", "stop", WHOLE, "paper")
    assert (p.response, p.status) == ("The client feels unheard. Therapist: x", "ok")


def test_labels_case_punctuation_insensitive_multiple_sorted():
    p = extract("Emotion: ANXIETY; also sadness.", "stop", EMOTION, "corrected")
    assert (p.labels, p.status) == (("Anxiety", "Sadness"), "ok")
    assert parse_labels("fearful, unknowns", EMOTION.choices) is None  # whole words only
    q = extract("I cannot tell.", "stop", EMOTION, "corrected")
    assert (q.labels, q.status) == (None, "no_marker")
    assert parse_labels("我觉得是焦虑。", ("焦虑", "悲伤")) == ("焦虑",)
    assert parse_labels("Cognitive-behaviour therapy", ("Cognitive Behaviour Therapy",)) == (
        "Cognitive Behaviour Therapy",)


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError):
        extract("x", "stop", TASK1, "strict")
