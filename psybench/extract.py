"""Turn a raw model output into the scored prediction: `extract(text, finish_reason, sample, mode)`.

The rules, for users, are in docs/EXTRACTION.md; in short:

1. Thinking is removed in both modes: every closed `<think>...</think>` block, everything before a
   stray `</think>`, everything from an unclosed `<think>` on. `Prediction.truncated` is a generation
   fact (finish_reason "length" or an unclosed `<think>`), never a status.
2. `sample.extract == "whole"` (auxiliary instructions): the visible output, stripped.
3. `sample.extract == "labels"`: the labels named in the first `Answer:` line (status `ok`), else in
   the whole output (status `no_marker`); none -> labels None, status `unparseable`.
4. `sample.extract == "response"`:
   - paper mode, the authors' scripts exactly (PROTOCOL.md): `find` (tasks whose rows the authors
     scored at the last turn) or `rfind` (every-turn rows: reasoning, observation) of the speaker
     marker with its colon, else without it; the response is `out[beg:end]`, end = the first `</s>`
     or the end of the text, prefix kept. No marker -> `no_marker`, nothing visible -> `empty`: the
     paper-mode scorer drops both. Chinese looks for 治疗师 (psybench's rule).
   - corrected mode: markers are found ignoring case, spacing, colon width and markdown emphasis; the
     response is the first complete reply (after the Observation/Reasoning sections for tasks 2/3),
     up to the next marker; several replies -> `repeated`. Task 1 needs no marker.
Statuses: ok, no_marker, empty, repeated, unparseable (records.ExtractStatus). Nothing is dropped here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from psybench.constants import OBSERVATION_MARKER, REASONING_MARKER, THERAPIST_PREFIX
from psybench.data.labels import labels_named_in
from psybench.errors import ConfigError
from psybench.records import ExtractStatus, Prediction, Sample

MODES = ("corrected", "paper")

# Paper mode: which marker the authors' scripts take, per task (mix: per meta["subtask"]).
# "first" = str.find, Merge_simple_no_explore.py (the last-turn rows: Base, SFT-dialog, mix);
# "last" = str.rfind, Merge_simple_explore.py (the every-turn rows: reasoning, observation+reasoning).
# Task 4 (rag_*) has no published code: psybench uses "first", the rule of the reply-only target it shares
# with task 1. A task not listed here (a custom YAML) follows its target's shape: sections -> "last".
PAPER_MARKER_SEARCH: dict[str, str] = {
    "dialog": "first", "rag_dialog": "first", "rag_explained": "first",
    "reasoning": "last", "observation": "last",
}
# Paper mode: speaker markers per language: (with a colon, tried first; the fallback without one).
# Chinese is psybench's rule (the authors published no Chinese extraction): 治疗师 with either colon.
PAPER_MARKERS: dict[str, tuple[tuple[str, ...], str]] = {
    "en": ((THERAPIST_PREFIX.strip(),), THERAPIST_PREFIX.strip(" :")),
    "zh": (("治疗师:", "治疗师："), "治疗师"),
}
EOS_TEXT = "</s>"  # the authors decoded with special tokens: a reply ends at the EOS text (both modes)

_THINK_CLOSED = re.compile(r"<think>.*?</think>", re.S | re.I)
_THINK_OPEN = re.compile(r"<think>", re.I)
_THINK_END = re.compile(r"</think>", re.I)
# Corrected mode: one regex for every marker kind, tolerant of case, spaces, colon width and markdown
# emphasis around the name or the colon ("**Therapist**:", "**Therapist:**", "Therapist ：").
_START = r"(?<![^\W_])"  # a word start where "_" counts as punctuation (markdown "__Therapist__:")
_MARKER = re.compile(
    rf"(?:[*_]{{1,3}}[ \t]*)?(?:(?P<therapist>{_START}therapist|治疗师|咨询师)|(?P<reasoning>{_START}reasoning)"
    rf"|(?P<observation>{_START}observation)|(?P<client>{_START}(?:client|seeker|user|patient)|来访者|求助者))"
    r"[ \t]*[*_]{0,3}[ \t]*[:：][ \t]*[*_]{0,3}", re.I)
_SECTIONS = ("observation", "reasoning")
# Classification answers.
_ANSWER = re.compile(r"(?<![A-Za-z])(?:answer|答案|回答)[ \t]*[*_]{0,3}[ \t]*[:：][ \t]*[*_]{0,3}", re.I)


@dataclass(frozen=True)
class _Marker:
    kind: str  # therapist | reasoning | observation | client
    start: int
    end: int  # where the marked text begins


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


# ---- classification ------------------------------------------------------------------------------

def _answer_text(text: str) -> str | None:
    """The text of the first `Answer:` line (the next non-blank line when it is blank), or None."""
    match = _ANSWER.search(text)
    if match is None:
        return None
    rest = text[match.end():].split("\n")
    first = rest[0].strip()
    if first:
        return first
    return next((line.strip() for line in rest[1:] if line.strip()), "")


def parse_answer(text: str, choices: tuple[str, ...]) -> tuple[tuple[str, ...] | None, bool]:
    """(labels of `choices` named in the answer, an `Answer:` line was found). With an `Answer:` line
    only that line is read; without one, the whole text. Names are matched by
    psybench.data.labels.labels_named_in (aliases, Chinese names, negation). Sorted; None when none."""
    answer = _answer_text(text)
    return labels_named_in(text if answer is None else answer, choices) or None, answer is not None


def parse_labels(text: str, choices: tuple[str, ...]) -> tuple[str, ...] | None:
    """Labels of `choices` named in `text` (see parse_answer), sorted; None when none is named."""
    return parse_answer(text, choices)[0]


# ---- responses -----------------------------------------------------------------------------------

def _is_structured(sample: Sample) -> bool:
    """Tasks 2/3: the target carries Observation/Reasoning sections before the therapist turn."""
    target = sample.target.lstrip()
    return target.startswith(REASONING_MARKER.strip()) or target.startswith(OBSERVATION_MARKER.strip())


def paper_search(sample: Sample) -> str:
    """"first" or "last": which speaker marker paper mode takes for this sample (PAPER_MARKER_SEARCH)."""
    key = sample.meta.get("subtask") or sample.task
    return PAPER_MARKER_SEARCH.get(key) or ("last" if _is_structured(sample) else "first")


def _paper_response(text: str, lang: str, search: str) -> str | None:
    """The authors' `out[beg:end]`, or None when no marker is found (the output is dropped)."""
    with_colon, bare = PAPER_MARKERS.get(lang, PAPER_MARKERS["en"])
    for group in (with_colon, (bare,)):
        hits = [text.find(m) if search == "first" else text.rfind(m) for m in group]
        hits = [h for h in hits if h >= 0]
        if hits:
            beg = min(hits) if search == "first" else max(hits)
            end = text.find(EOS_TEXT)
            return text[beg:end if end >= 0 else len(text)]  # as written: "" when </s> precedes beg
    return None


def _markers(text: str) -> list[_Marker]:
    out = []
    for match in _MARKER.finditer(text):
        kind = match.lastgroup or ""
        if kind == "client" and match.start() > 0 and not text[:match.start()].rstrip(" \t").endswith("\n"):
            continue  # a client marker counts only at a line start ("my client: ..." is prose)
        out.append(_Marker(kind, match.start(), match.end()))
    return out


def _body(text: str, markers: list[_Marker], i: int) -> str:
    end = markers[i + 1].start if i + 1 < len(markers) else len(text)
    return text[markers[i].end:end].split(EOS_TEXT)[0].strip()


def _corrected(text: str, structured: bool) -> tuple[str, str, str, ExtractStatus]:
    """(response, observation, reasoning, status)."""
    markers = _markers(text)
    kinds = [m.kind for m in markers]
    observation = next((_body(text, markers, i) for i, k in enumerate(kinds) if k == "observation"), "")
    reasoning = next((_body(text, markers, i) for i, k in enumerate(kinds) if k == "reasoning"), "")
    if not structured:
        observation = reasoning = ""
    replies = [i for i, k in enumerate(kinds) if k == "therapist"]
    if not replies:
        if structured:  # what is left outside the sections (often nothing)
            head = text[:markers[0].start] if markers else text
            return head.split(EOS_TEXT)[0].strip(), observation, reasoning, "no_marker"
        clients = [m.start for m in markers if m.kind == "client"]  # task 1 needs no marker
        response = text[:clients[0] if clients else len(text)].split(EOS_TEXT)[0].strip()
        return response, "", "", "ok" if response else "empty"
    if structured:  # the reply of the first block: after its sections when they come first
        first_section = next((i for i, k in enumerate(kinds) if k in _SECTIONS), None)
        after = [i for i in replies if first_section is not None and i > first_section]
        replies = after or replies
    complete = [i for i in replies if _body(text, markers, i)]
    response = _body(text, markers, complete[0]) if complete else ""
    counted = ("therapist", *_SECTIONS) if structured else ("therapist",)
    repeated = any(kinds.count(k) > 1 for k in counted)
    status: ExtractStatus = "empty" if not response else ("repeated" if repeated else "ok")
    return response, observation, reasoning, status


def extract(text: str, finish_reason: str | None, sample: Sample, mode: str = "corrected") -> Prediction:
    """Parse one model output for `sample` in `mode` ("corrected" or "paper"); see docs/EXTRACTION.md."""
    if mode not in MODES:
        raise ConfigError(f"unknown extraction mode {mode!r}: choose one of {', '.join(MODES)}")
    raw = text or ""
    visible, thinking_cut = strip_thinking(raw)
    truncated = thinking_cut or finish_reason == "length"
    if not visible.strip():
        return Prediction(sample.id, raw, "", "empty", truncated=truncated)

    if sample.extract == "whole":
        return Prediction(sample.id, raw, visible.strip(), "ok", truncated=truncated)

    if sample.extract == "labels":
        labels, answered = parse_answer(visible, sample.choices)
        status: ExtractStatus = "unparseable" if labels is None else ("ok" if answered else "no_marker")
        return Prediction(sample.id, raw, visible.strip(), status, labels=labels, truncated=truncated)

    structured = _is_structured(sample)
    response, observation, reasoning, status = _corrected(visible, structured)
    if mode == "paper":
        paper = _paper_response(visible, sample.lang, paper_search(sample))
        return Prediction(sample.id, raw, paper or "", "no_marker" if paper is None else "ok",
                          observation, reasoning, truncated=truncated)
    return Prediction(sample.id, raw, response, status, observation, reasoning, truncated=truncated)
