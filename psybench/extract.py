"""Turn a raw model output into the scored prediction: `extract(text, finish_reason, sample, mode)`.

Rules, applied in order (both modes unless said):

1. Reasoning-model thinking is removed: every closed `<think>...</think>` block, everything before a
   stray `</think>` (templates that open the block inside the prompt), and everything from an
   unclosed `<think>` on (the output ran out while thinking: status `truncated`).
2. Nothing visible left -> response "", status `truncated` if the output was cut (finish_reason
   "length" or an unclosed `<think>`), else `empty`.
3. `sample.extract == "whole"` (auxiliary reasoning-/observation-only instructions): the whole
   visible output, stripped.
4. `sample.extract == "labels"` (classification): every label of `sample.choices` that occurs in the
   output as whole words, ignoring case and punctuation (CJK labels: as substrings); several labels
   allowed, returned sorted. None found -> labels None, status `no_marker`.
5. `sample.extract == "response"` (dialogue tasks 1-3):
   - paper mode (the authors' rule, PROTOCOL.md): the response runs from the first case-sensitive
     "Therapist:" to the end of the output, prefix kept, nothing else touched. No marker ->
     response "" and status `no_marker` (the paper-mode scorer drops and counts those).
   - corrected mode: markers are found ignoring case and spaces ("therapist :", "THERAPIST:",
     full-width colon, Chinese "治疗师"). The response is the text after the first therapist
     marker that follows the Observation/Reasoning sections, without the prefix, stopped where the
     model starts writing the client's next turn (a line starting "Client:", "Seeker:", "User:",
     "Patient:", "来访者:" or another therapist marker). No marker: task 1 -> the whole output;
     tasks 2/3 -> the output with its Observation/Reasoning sections removed (what is left, often
     ""); status `no_marker` either way.
   - Observation and reasoning (tasks 2/3): the text after "Observation:" / "Reasoning:" up to the
     next marker.
6. Status precedence: paper mode `empty` > `no_marker` > `truncated` > `ok` (a truncated output with
   no marker must read `no_marker` so paper mode drops it, as the authors did); corrected mode
   `empty` > `truncated` > `no_marker` > `ok`. Nothing is ever dropped here.
"""
from __future__ import annotations

import re
import unicodedata

from psybench.constants import OBSERVATION_MARKER, REASONING_MARKER, THERAPIST_PREFIX
from psybench.errors import ConfigError
from psybench.records import ExtractStatus, Prediction, Sample

MODES = ("corrected", "paper")

_THINK_CLOSED = re.compile(r"<think>.*?</think>", re.S | re.I)
_THINK_OPEN = re.compile(r"<think>", re.I)
_THINK_END = re.compile(r"</think>", re.I)
_COLON = r"\s*[:：]"
_THERAPIST = re.compile(r"(?:\btherapist|治疗师|咨询师)" + _COLON, re.I)
_REASONING = re.compile(r"\breasoning" + _COLON, re.I)
_OBSERVATION = re.compile(r"\bobservation" + _COLON, re.I)
_ANY_MARKER = re.compile(r"(?:\b(?:therapist|reasoning|observation)|治疗师|咨询师)" + _COLON, re.I)
_NEXT_TURN = re.compile(r"\n\s*(?:client|seeker|user|patient|therapist|来访者|求助者|治疗师|咨询师)" + _COLON, re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


def strip_thinking(text: str) -> tuple[str, bool]:
    """Remove reasoning-model thinking; return (visible text, thinking was cut off unfinished)."""
    text = _THINK_CLOSED.sub("", text)
    ends = list(_THINK_END.finditer(text))
    if ends:  # a stray closing tag: the opening one was in the prompt
        text = text[ends[-1].end():]
    opened = _THINK_OPEN.search(text)
    if opened:
        return text[:opened.start()], True
    return text, False


def _normalise_words(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " " + re.sub(r"[\W_]+", " ", text) + " "


def parse_labels(text: str, choices: tuple[str, ...]) -> tuple[str, ...] | None:
    """Labels of `choices` named in `text` (case/punctuation-insensitive, whole words), sorted."""
    haystack = _normalise_words(text)
    found = set()
    for choice in choices:
        needle = _normalise_words(choice)
        if needle.strip() and (needle in haystack or (_CJK.search(choice) and needle.strip() in haystack)):
            found.add(choice)
    return tuple(sorted(found)) or None


def _section(text: str, pattern: re.Pattern[str]) -> str:
    match = pattern.search(text)
    if not match:
        return ""
    rest = text[match.end():]
    following = _ANY_MARKER.search(rest)
    return (rest[:following.start()] if following else rest).strip()


def _is_structured(sample: Sample) -> bool:
    """Tasks 2/3: the target carries Observation/Reasoning sections before the therapist turn."""
    target = sample.target.lstrip()
    return target.startswith(REASONING_MARKER.strip()) or target.startswith(OBSERVATION_MARKER.strip())


def _corrected_response(text: str, structured: bool) -> tuple[str, bool]:
    """(response, marker found)."""
    start = 0
    if structured:  # the therapist marker must come after the reasoning/observation sections
        for pattern in (_REASONING, _OBSERVATION):
            match = pattern.search(text)
            if match:
                start = max(start, match.end())
    marker = _THERAPIST.search(text, start) or _THERAPIST.search(text)
    if marker:
        rest = text[marker.end():]
        next_turn = _NEXT_TURN.search(rest)
        if structured:  # sections written after the response (wrong order) are not the response
            section = _REASONING.search(rest) or _OBSERVATION.search(rest)
            if section and (next_turn is None or section.start() < next_turn.start()):
                next_turn = section
        return (rest[:next_turn.start()] if next_turn else rest).strip(), True
    if not structured:
        return text.strip(), False
    remainder = text
    for pattern in (_OBSERVATION, _REASONING):
        match = pattern.search(remainder)
        if match:  # drop the marker and its section
            rest = remainder[match.end():]
            following = _ANY_MARKER.search(rest)
            remainder = remainder[:match.start()] + (rest[following.start():] if following else "")
    return remainder.strip(), False


def extract(text: str, finish_reason: str | None, sample: Sample, mode: str = "corrected") -> Prediction:
    """Parse one model output for `sample` in `mode` ("corrected" or "paper"); see the module doc."""
    if mode not in MODES:
        raise ConfigError(f"unknown extraction mode {mode!r}: choose one of {', '.join(MODES)}")
    raw = text or ""
    visible, thinking_cut = strip_thinking(raw)
    truncated = thinking_cut or finish_reason == "length"
    if not visible.strip():
        return Prediction(sample.id, raw, "", "truncated" if truncated else "empty")

    if sample.extract == "whole":
        return Prediction(sample.id, raw, visible.strip(), "truncated" if truncated else "ok")

    if sample.extract == "labels":
        labels = parse_labels(visible, sample.choices)
        status: ExtractStatus = "ok" if labels else "no_marker"
        if truncated and (mode == "corrected" or labels):
            status = "truncated"
        return Prediction(sample.id, raw, visible.strip(), status, labels=labels)

    structured = _is_structured(sample)
    observation = _section(visible, _OBSERVATION) if structured else ""
    reasoning = _section(visible, _REASONING) if structured else ""
    if mode == "paper":
        at = visible.find(THERAPIST_PREFIX.strip())
        if at < 0:
            return Prediction(sample.id, raw, "", "no_marker", observation, reasoning)
        return Prediction(sample.id, raw, visible[at:], "truncated" if truncated else "ok", observation, reasoning)

    response, found = _corrected_response(visible, structured)
    status = "truncated" if truncated else ("ok" if found else "no_marker")
    return Prediction(sample.id, raw, response, status, observation, reasoning)
