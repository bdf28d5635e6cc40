"""A session as a chat: the dialogue prompt helpers shared by the dialogue and retrieval builders.

Role mapping: a turn is the assistant's iff `turn.is_therapist` (speaker "Supporter"). The authors
mapped by participant name ("Therapist" in the name -> assistant); on the English release the two
rules agree on every turn (the one participant "Client to Therapist" of 000840 is a Supporter turn),
and the speaker rule also covers the Chinese therapist "治疗师", which the name rule would make a user.

`paper` style (PROTOCOL.md, "How the authors built task examples"; rebuilds 75 of the 79 lines of the
released test file byte for byte, see tests/test_tasks_paper.py):
- consecutive turns of one role form one message: a therapist run is ONE assistant message,
  `"Therapist: " + " ".join(contents)`; a client run is one user message, each turn keeping its own
  `"Name: "` prefix, concatenated with NO separator;
- the first user message is the instruction (constants.PAPER_INSTRUCTION with the background); it
  takes the first client run when the session starts with the client, and stands alone when it starts
  with the therapist; then, when `is_same_qa == 1`, it also gets "There is the dialog history: " plus
  the last PREVIOUS_TURNS turns of the previous session (the session with the previous dialog_id),
  each written `"Name: content "`;
- variants (Eq. 1/2): an assistant message is `"Observation: {o}\n Reasoning: {r}\n Therapist: {t}"`
  (variant "observation"), `"Reasoning: {r}\n Therapist: {t}"` ("reasoning") or `"Therapist: {t}"`
  ("dialog"), in the history and in the target alike. For a merged run, t = the run's contents joined
  by a space, r = the run's non-empty reasonings joined by a space, o = the observation of the client
  turn just before the run; a missing o or r is left out of a history message (the target of a sample
  that needs it is skipped by the builder and counted).

`clean` style: a system prompt (instruction + background in the session's language, prompts.py), then
the turns with no speaker names, same-role runs merged with a newline; a user opener when the session
starts with the therapist; the previous session's last turns, when `paper` would add them, go into the
system prompt with neutral role tags. Dialog targets are bare text; reasoning/observation targets keep
the "Reasoning:/Therapist:" markers because the model must write that structure.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from psybench.constants import (
    OBSERVATION_MARKER, PAPER_HISTORY_PREFIX, PAPER_INSTRUCTION, REASONING_MARKER, THERAPIST_PREFIX,
)
from psybench.records import Session, Turn
from psybench.tasks import prompts

Variant = Literal["dialog", "reasoning", "observation"]
Style = Literal["paper", "clean"]
VARIANTS: tuple[str, ...] = ("dialog", "reasoning", "observation")
PREVIOUS_TURNS = 3  # turns of the previous session the authors prepended (is_same_qa == 1)
CLEAN_TAIL_TAGS = {"en": {"assistant": "[therapist]", "user": "[client]"},
                   "zh": {"assistant": "[咨询师]", "user": "[来访者]"}}


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str
    turns: tuple[Turn, ...] = ()  # the session turns this message holds (none: instruction/opener/system)

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


def role_of(turn: Turn) -> str:
    return "assistant" if turn.is_therapist else "user"


def runs(turns: Sequence[Turn]) -> list[tuple[str, tuple[Turn, ...]]]:
    """Consecutive same-role turns grouped: [(role, turns), ...]."""
    out: list[tuple[str, list[Turn]]] = []
    for turn in turns:
        role = role_of(turn)
        if out and out[-1][0] == role:
            out[-1][1].append(turn)
        else:
            out.append((role, [turn]))
    return [(role, tuple(ts)) for role, ts in out]


def therapist_prefix(lang: str) -> str:
    return prompts.THERAPIST_PREFIXES.get(lang, THERAPIST_PREFIX)


def reference_text(lang: str, run: Sequence[Turn]) -> str:
    """What a dialog target is scored against: "Therapist: {t}" (the authors kept the prefix)."""
    return therapist_prefix(lang) + " ".join(t.content for t in run)


def run_reasoning(run: Sequence[Turn]) -> str:
    return " ".join(t.reasoning for t in run if t.reasoning)


def run_observation(session: Session, run: Sequence[Turn]) -> str:
    """Observation of the client turn just before the run ("" when none)."""
    first = run[0].index
    if first == 0:
        return ""
    before = session.turns[first - 1]
    return "" if before.is_therapist else before.observation


def annotated(response: str, variant: str, observation: str, reasoning: str) -> str:
    """Eq. 2 shape: "Observation: o\\n Reasoning: r\\n Therapist: t", missing parts left out."""
    parts = []
    if variant == "observation" and observation:
        parts.append(OBSERVATION_MARKER + observation)
    if variant in ("reasoning", "observation") and reasoning:
        parts.append(REASONING_MARKER + reasoning)
    parts.append(response)
    return "\n ".join(parts)


def needs_previous(session: Session) -> bool:
    """The authors prepend the previous session's tail iff the session opens with the therapist and
    is_same_qa == 1."""
    return bool(session.turns) and session.turns[0].is_therapist and session.is_same_qa == 1


def previous_sessions(sessions: Sequence[Session]) -> dict[str, Session]:
    """dialog_id -> the session with the previous dialog_id (by id order), for every session."""
    ordered = sorted(sessions, key=lambda s: s.dialog_id)
    return {b.dialog_id: a for a, b in zip(ordered, ordered[1:])}


def _assistant_content(session: Session, run: tuple[Turn, ...], variant: str, style: str) -> str:
    lang = session.lang
    if style == "clean" and variant == "dialog":
        response = " ".join(t.content for t in run)
    else:
        response = reference_text(lang, run)
    return annotated(response, variant, run_observation(session, run), run_reasoning(run))


def paper_chat(session: Session, previous: Session | None = None, variant: str = "dialog") -> list[ChatMessage]:
    """The authors' chat for a whole session (targets included). `previous` is used only when
    needs_previous(session)."""
    lang = session.lang
    if lang == "zh":
        instruction = prompts.PAPER_INSTRUCTION_ZH.format(background=session.background)
        history_prefix = prompts.PAPER_HISTORY_PREFIX_ZH
    else:
        instruction = PAPER_INSTRUCTION.format(background=session.background)
        history_prefix = PAPER_HISTORY_PREFIX
    grouped = runs(session.turns)
    chat: list[ChatMessage] = []
    if grouped and grouped[0][0] == "user":
        role, first = grouped.pop(0)
        chat.append(ChatMessage("user", instruction + "".join(f"{t.participant}: {t.content}" for t in first),
                                first))
    else:
        if previous is not None and needs_previous(session):
            instruction += history_prefix + "".join(
                f"{t.participant}: {t.content} " for t in previous.turns[-PREVIOUS_TURNS:])
        chat.append(ChatMessage("user", instruction))
    for role, run in grouped:
        if role == "user":
            chat.append(ChatMessage("user", "".join(f"{t.participant}: {t.content}" for t in run), run))
        else:
            chat.append(ChatMessage("assistant", _assistant_content(session, run, variant, "paper"), run))
    return chat


def clean_chat(session: Session, previous: Session | None = None, variant: str = "dialog") -> list[ChatMessage]:
    """A system prompt plus clean alternating turns with no speaker names."""
    lang = session.lang
    fmt = prompts.CLEAN_FORMAT.get((lang, variant), prompts.CLEAN_FORMAT[("en", variant)])
    system = prompts.CLEAN_SYSTEM[lang].format(background=session.background) + fmt
    if previous is not None and needs_previous(session):
        tags = CLEAN_TAIL_TAGS[lang]
        system += prompts.CLEAN_PREVIOUS_NOTE[lang] + "".join(
            f"\n{tags[role_of(t)]} {t.content}" for t in previous.turns[-PREVIOUS_TURNS:])
    chat = [ChatMessage("system", system)]
    grouped = runs(session.turns)
    if grouped and grouped[0][0] == "assistant":
        chat.append(ChatMessage("user", prompts.CLEAN_OPENER[lang]))
    for role, run in grouped:
        if role == "user":
            chat.append(ChatMessage("user", "\n".join(t.content for t in run), run))
        else:
            chat.append(ChatMessage("assistant", _assistant_content(session, run, variant, "clean"), run))
    return chat


def session_chat(session: Session, previous: Session | None = None, variant: str = "dialog",
                 style: str = "paper") -> list[ChatMessage]:
    """The whole session as a chat in the given style and variant (targets included)."""
    if style == "paper":
        return paper_chat(session, previous, variant)
    if style == "clean":
        return clean_chat(session, previous, variant)
    raise ValueError(f"unknown prompt style {style!r}")


def released_messages(session: Session, previous: Session | None = None) -> list[dict[str, str]]:
    """The task-1 chat as a line of the authors' released en_test_dataset.jsonl ("messages")."""
    return [m.as_dict() for m in paper_chat(session, previous, "dialog")]
