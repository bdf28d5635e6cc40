"""Builder of task 4, retrieval-augmented counselling (Table 5's GLM4 rows): `rag_dialog` and
`rag_explained`. Design and every choice: docs/RAG.md.

Each sample is a task-1 dialogue sample (dialogue.build: same targets, references, paper/clean prompt)
whose prompt also carries excerpts of the top-k most similar TRAINING sessions (psybench.retrieval).
The block goes into the system message when the prompt has one (clean style), else before the first
user message's text (paper style: the authors' instruction stays verbatim after it). Only the examples
are budgeted (`rag_max_chars`); the evaluated history is never cut here (the backend cuts the OLDEST
history to fit the model's context, never the last turn).

Options (tasks/rag_*.yaml `options:`, overridable by build_samples(**options)):
  retrieval_model  alias/hub id/folder (default: $PSYBENCH_RETRIEVAL_MODEL, else minilm for en, e5 for zh)
  rag_k (3), rag_query_turns (4), rag_max_chars (per-prompt budget of the examples block),
  rag_chunk_turns / rag_chunk_stride (index passages), rag_explanations (false: rag_dialog; true: rag_explained)
meta["retrieved"] = [{"dialog_id", "score", "turns": [start, end]}...] for audit."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from psybench import retrieval
from psybench.data.splits import Split
from psybench.errors import ConfigError
from psybench.records import Sample, Session, Turn
from psybench.tasks import dialogue
from psybench.tasks.common import BuildOptions

if TYPE_CHECKING:
    from psybench.tasks.registry import TaskSpec

RETRIEVAL_MODEL_ENV = "PSYBENCH_RETRIEVAL_MODEL"
TEXT = {
    "en": {"intro": "Here are excerpts from similar counselling sessions with other clients, for reference "
                    "only (do not copy them; respond to the current client):",
           "example": "Example {i}", "background": "Background", "guide": "Counselling guide",
           "summary": "Session summary", "analysis": "Case analysis", "reasoning": "Therapist's reasoning",
           "observation": "Observation of the client", "end": "End of examples."},
    "zh": {"intro": "以下是其他来访者的相似咨询案例片段，仅供参考（不要照抄，请回应当前来访者）：",
           "example": "案例{i}", "background": "背景", "guide": "咨询指导", "summary": "会谈总结",
           "analysis": "案例分析", "reasoning": "咨询师的思路", "observation": "对来访者的观察",
           "end": "案例结束。"},
}
ELLIPSIS = "…"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:max(0, limit - 1)] + ELLIPSIS


def format_example(i: int, session: Session, hit: retrieval.Hit, explained: bool, budget: int) -> str:
    """One retrieved session as prompt text within `budget` characters: header, background, the best
    matching turns (with turn reasoning/observation when explained), then session-level explanations.
    Over budget: explanations and background are shortened first, then turns dropped from the end."""
    t = TEXT[session.lang]
    head = [f"{t['example'].format(i=i)}", f"{t['background']}: {_cut(session.background, budget // 4)}"]
    tail = []
    if explained:
        for key, value in (("guide", session.guide), ("summary", session.summary), ("analysis", session.reasoning)):
            if value:
                tail.append(f"{t[key]}: {_cut(value, budget // 6)}")
    turns = [_turn_lines(turn, session.lang, explained) for turn in session.turns[hit.start:hit.end]]
    while True:
        text = "\n".join(head + turns + tail)
        if len(text) <= budget or len(turns) <= 1:
            return _cut(text, budget)
        turns.pop()


def _turn_lines(turn: Turn, lang: str, explained: bool) -> str:
    t = TEXT[lang]
    line = retrieval.turn_line(turn, lang)
    if explained and turn.observation:
        line += f"\n  ({t['observation']}: {turn.observation})"
    if explained and turn.reasoning:
        line += f"\n  ({t['reasoning']}: {turn.reasoning})"
    return line


def examples_block(lang: str, examples: Sequence[str]) -> str:
    t = TEXT[lang]
    return "\n\n".join([t["intro"], *examples, t["end"]])


def _inject(messages: tuple[dict[str, str], ...], block: str) -> tuple[dict[str, str], ...]:
    out = [dict(m) for m in messages]  # the dialogue builder shares dicts between samples: copy
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{out[0]['content']}\n\n{block}"
    else:
        first = next((i for i, m in enumerate(out) if m["role"] == "user"), None)
        if first is None:
            out.insert(0, {"role": "user", "content": block})
        else:
            out[first]["content"] = f"{block}\n\n{out[first]['content']}"
    return tuple(out)


def build(spec: TaskSpec, sessions: Sequence[Session], split: Split, options: BuildOptions
          ) -> tuple[list[Sample], dict[str, int]]:
    explained = options.extra["rag_explanations"]
    # typed, with the task file's defaults (tasks/rag_*.yaml `options:`): build_samples fills them in
    k, query_turns, max_chars = options.extra["rag_k"], options.extra["rag_query_turns"], options.extra["rag_max_chars"]
    params = retrieval.IndexParams(chunk_turns=options.extra["rag_chunk_turns"],
                                   chunk_stride=options.extra["rag_chunk_stride"])
    if k < 1 or query_turns < 0 or max_chars < 200:
        raise ConfigError(f"task {spec.name}: need rag_k >= 1, rag_query_turns >= 0, rag_max_chars >= 200")
    base_opts = replace(options, extra={**options.extra, "variant": "dialog", "mix": False})
    samples, skipped = dialogue.build(spec, sessions, split, base_opts)
    if options.limit is not None:
        samples = samples[:options.limit]  # retrieve only for the samples that will be kept
    if not samples:
        return samples, skipped
    model = options.extra.get("retrieval_model") or os.environ.get(RETRIEVAL_MODEL_ENV) or None
    embedder = retrieval.resolve_embedder(model, options.lang)
    index = retrieval.build_index(sessions, split, embedder, params)
    queries = [(s.meta["dialog_id"], s.meta["turn_index"]) for s in samples]
    hits = retrieval.retrieve(index, embedder, sessions, queries, k=k, query_turns=query_turns,
                              test_ids=split.test_ids)
    by_id = {s.dialog_id: s for s in sessions}
    per_example = max_chars // k
    out = []
    for sample, found in zip(samples, hits):
        examples = [format_example(i + 1, by_id[h.dialog_id], h, explained, per_example)
                    for i, h in enumerate(found)]
        meta = {**sample.meta, "retrieved": [h.as_meta() for h in found], "retrieval_model": embedder.name,
                "retrieval_index": index.key[:16], "rag_explanations": explained}
        out.append(replace(sample, messages=_inject(sample.messages, examples_block(options.lang, examples)),
                           meta=meta))
    return out, skipped
