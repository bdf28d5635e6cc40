"""Builder of the response-generation tasks (1 dialog, 2 reasoning, 3 observation, mix).

Teacher-forced: one sample per target assistant message of the session chat (chat.py), whose
messages are every chat message before it (instruction + background + gold history, Eq. 1) and whose
target is that message (Eq. 2). A run of consecutive therapist turns is ONE assistant message, hence
one sample, with turn_index = the run's first turn (all of them in meta["turn_indices"]).
turns="all": every assistant message; turns="last": the last assistant message of each test row.

Options (tasks/*.yaml `options:`): `variant` (dialog | reasoning | observation) or `mix: true`.
`mix` = the union, per target, of the task 1-3 instances and the authors' two auxiliary
instructions (mix_parts below): reasoning-only (the therapist utterance appended to the preceding user
message, then constants.PAPER_REASONING_ONLY_INSTRUCTION; target = the run's reasoning) and
observation-only (the preceding user message followed by PAPER_OBSERVATION_ONLY_INSTRUCTION; target
= the observation of the client turn before the run). Each is scored against its own target; ids are
f"mix.{part}/{dialog_id}/{turn_index}", meta["subtask"] = part.

Skipped targets are counted by reason: no_reasoning (task 2/3 and reasoning-only: no turn of the run
has reasoning), no_observation (task 3 and observation-only: the client turn before the run has no
observation, or the run opens the session)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psybench.constants import PAPER_OBSERVATION_ONLY_INSTRUCTION, PAPER_REASONING_ONLY_INSTRUCTION
from psybench.data.splits import Split
from psybench.records import Sample, Session
from psybench.tasks.chat import (
    ChatMessage, needs_previous, previous_sessions, reference_text, run_observation, run_reasoning, session_chat,
)
from psybench.tasks.common import BuildOptions, base_meta, test_sessions

if TYPE_CHECKING:
    from psybench.tasks.registry import TaskSpec

MIX_PARTS = ("dialog", "reasoning", "observation", "reasoning_only", "observation_only")


def _skip_reason(part: str, observation: str, reasoning: str) -> str | None:
    if part in ("reasoning", "observation", "reasoning_only") and not reasoning:
        return "no_reasoning"
    if part in ("observation", "observation_only") and not observation:
        return "no_observation"
    return None


def _aux_messages(chat: list[ChatMessage], k: int, part: str, lang: str) -> tuple[dict[str, str], ...]:
    history = [m.as_dict() for m in chat[:k]]
    last = history[-1]
    if part == "reasoning_only":
        content = f"{last['content']}{reference_text(lang, chat[k].turns)} {PAPER_REASONING_ONLY_INSTRUCTION}"
    else:
        content = f"{last['content']} {PAPER_OBSERVATION_ONLY_INSTRUCTION}"
    history[-1] = {"role": last["role"], "content": content}
    return tuple(history)


def build(spec: TaskSpec, sessions: Sequence[Session], split: Split, options: BuildOptions
          ) -> tuple[list[Sample], dict[str, int]]:
    mix = bool(options.extra.get("mix"))
    parts = MIX_PARTS if mix else (str(options.extra.get("variant", "dialog")),)
    chat_variants = [p for p in parts if not p.endswith("_only")]
    previous = previous_sessions(sessions)
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()
    for session, row in test_sessions(sessions, split):
        prev = previous.get(session.dialog_id)
        chats = {v: session_chat(session, prev, v, options.prompt_style) for v in chat_variants}
        base = chats.get("dialog") or session_chat(session, prev, "dialog", options.prompt_style)
        # message dicts are shared by the samples of a session (Sample is frozen: never mutate them)
        dicts = {v: [m.as_dict() for m in chat] for v, chat in chats.items()}
        targets = [k for k, m in enumerate(base) if m.role == "assistant"]
        n_assistant = len(targets)
        positions = {k: i for i, k in enumerate(targets)}
        if options.turns == "last":
            targets = targets[-1:]
        for k in targets:
            run = base[k].turns
            observation, reasoning = run_observation(session, run), run_reasoning(run)
            position = positions[k]
            for part in parts:
                reason = _skip_reason(part, observation, reasoning)
                if reason:
                    skipped[reason if not mix else f"{part}:{reason}"] += 1
                    continue
                if part.endswith("_only"):
                    messages = _aux_messages(base, k, part, session.lang)
                    target = reasoning if part == "reasoning_only" else observation
                    reference, extract = target, "whole"
                else:
                    messages = tuple(dicts[part][:k])
                    target = chats[part][k].content
                    reference, extract = reference_text(session.lang, run), spec.extract
                task_id = f"{spec.name}.{part}" if mix else spec.name
                meta = base_meta(session, split, row, run[0].index)
                meta.update({"turn_indices": [t.index for t in run], "position": position,
                             "n_positions": n_assistant, "n_history_messages": len(messages),
                             "prompt_style": options.prompt_style, "turns": options.turns,
                             "response_prefix": reference_text(session.lang, ())})
                if mix:
                    meta["subtask"] = part
                if prev is not None and needs_previous(session):
                    meta["previous_dialog_id"] = prev.dialog_id
                samples.append(Sample(
                    id=f"{task_id}/{session.dialog_id}/{run[0].index}", task=spec.name, lang=session.lang,
                    kind="generation", messages=messages, target=target, reference=reference,
                    extract=extract, meta=meta))
    return samples, dict(skipped)
