"""Typed records that flow through psybench, in pipeline order:

    Session/Turn (data) -> Sample (tasks) -> Request (backends) -> Output (backends)
    -> Prediction (extract) -> per-sample scores (metrics) -> results (runner/report)

Everything here is plain data: no I/O, no model code."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Lang = Literal["en", "zh"]
Speaker = Literal["Seeker", "Supporter"]


@dataclass(frozen=True)
class Turn:
    """One utterance of a session, after validation and normalisation (psybench/data/normalize.py)."""

    index: int  # position in the session's dialog list (0-based); the raw "id" is NOT a position
    speaker: Speaker  # "Seeker" (client) or "Supporter" (therapist)
    participant: str  # the name as written in the data: "Therapist", "Beth", "治疗师", ...
    content: str
    raw_id: str  # the data's "chunk-index" id, kept for audit; not unique
    strategies: frozenset[str] = frozenset()  # Supporter turns; canonical names
    emotions: frozenset[str] = frozenset()  # Seeker turns; canonical names
    observation: str = ""  # Seeker turns: the annotated observation ("" when none)
    reasoning: str = ""  # Supporter turns: the annotated reasoning ("" when none)

    @property
    def is_therapist(self) -> bool:
        return self.speaker == "Supporter"


@dataclass(frozen=True)
class Session:
    dialog_id: str  # 6-digit string, unique within the release
    lang: Lang
    theme: str
    psychotherapy: str  # canonical name ("" when missing)
    topic: str  # canonical name ("" when missing)
    stage: str
    guide: str
    is_same_qa: int | None  # 0/1; None where the data has '' (one CN session)
    is_same_session: int  # EN 0/1, CN -1/0/1
    background: str
    reasoning: str  # session-level reasoning ("" when a placeholder or an LLM refusal)
    summary: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Sample:
    """One evaluation item: what a model is asked (messages) and what it is scored against."""

    id: str  # stable: f"{task}/{dialog_id}/{turn_index}" (turn_index of the target turn; -1 for session-level)
    task: str  # task name from the registry, e.g. "dialog", "reasoning", "emotion"
    lang: Lang
    kind: Literal["generation", "classification"]
    messages: tuple[dict[str, str], ...]  # chat messages: {"role": "system"|"user"|"assistant", "content": str}
    target: str  # full training target (Eq. 2), e.g. "Reasoning: ...\n Therapist: ..."
    reference: str  # what is scored: "Therapist: {t}" for dialog tasks (prefix kept, as the authors did),
    #                 the bare text for auxiliary reasoning/observation instructions, "" for classification
    extract: Literal["response", "whole", "labels"]  # how a model output becomes the scored prediction
    gold_labels: tuple[str, ...] = ()  # classification: canonical gold labels (sorted)
    choices: tuple[str, ...] = ()  # classification: allowed labels, in prompt order
    meta: dict[str, Any] = field(default_factory=dict)  # dialog_id, turn_index, topic, psychotherapy, position, ...


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    # 1.0 = off; > 1 divides the logit of every token already in the prompt or the output (the CTRL rule
    # that vLLM and transformers both apply): keeps a small model out of greedy loops
    repetition_penalty: float = 1.0
    # 0 = off; > 0 subtracts penalty x (times the token was already generated) from its logit, output tokens
    # only (OpenAI's rule, which vLLM follows): breaks loops without penalising the prompt's speaker marker
    frequency_penalty: float = 0.0
    # a JSON schema (as canonical JSON text, so the record stays hashable) the output must follow, where
    # the backend can enforce it (vllm: structured outputs; openai: response_format); None: free text
    json_schema: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
               "seed": self.seed, "stop": list(self.stop)}
        if self.repetition_penalty != 1.0:  # absent when off: cache keys made before it existed stay valid
            out["repetition_penalty"] = self.repetition_penalty
        if self.frequency_penalty != 0.0:  # likewise
            out["frequency_penalty"] = self.frequency_penalty
        if self.json_schema is not None:  # likewise
            out["json_schema"] = self.json_schema
        return out


@dataclass(frozen=True)
class Request:
    id: str  # the Sample id
    messages: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Output:
    id: str
    text: str
    finish_reason: str  # "stop" | "length" | "error" | other backend value
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    history_turns_cut: int = 0  # oldest history messages removed to fit the model's context
    cached: bool = False  # served from the generation cache


# Extraction statuses (docs/EXTRACTION.md): ok, no_marker (a required marker is missing; paper mode
# drops these), empty (nothing to score), repeated (several replies; the first one is scored),
# unparseable (classification: no label named). Truncation is a generation fact: Prediction.truncated.
ExtractStatus = Literal["ok", "no_marker", "empty", "repeated", "unparseable"]


@dataclass(frozen=True)
class Prediction:
    """A model output parsed for scoring (psybench/extract.py)."""

    id: str
    raw: str
    response: str  # the scored text (paper mode keeps the "Therapist:" prefix; see extract.py)
    status: ExtractStatus
    observation: str = ""
    reasoning: str = ""
    labels: tuple[str, ...] | None = None  # classification: parsed canonical labels, None if unparseable
    truncated: bool = False  # cut at the token limit (finish_reason "length") or inside an unclosed <think>
