"""Every normalisation psybench applies to Psy-Insight, in one place, each one counted.

What changes (annotation fields only):
- placeholders in annotation text -> "": PLACEHOLDERS below, compared after stripping whitespace,
  in session `theme`, `stage`, `guide`, `reasoning`, `summary` and turn `observation`/`reasoning`;
- LLM refusals left in session `reasoning` (CN: 13, "很抱歉，您…《心理咨询相关介绍》…") -> "";
- LLM replies left in session `guide` (CN): a JSON object with an "output" key is unwrapped to that
  text (2: 000248, 000307); one with only "message"/"error" is an error message -> "" (5: 000039,
  000156, 000373, 000383, 000411; PROTOCOL.md counts the 3 Chinese "请提供/请输入…" ones);
- `is_same_qa` '' -> None (one CN session);
- label lists -> frozensets of canonical names (multi-label kept, "Unknown" kept as a label); a value
  outside the vocabulary is kept as written and counted, never mapped to a guess; duplicates collapse
  (counted).

What never changes: `Turn.content`, `participant` and session `background` stay byte-exact, because
the task builder must rebuild the authors' released prompts byte for byte. Their oddities (speaker
tags, stage directions, newlines, U+3000, one CN background that is an LLM error message) are only
counted, by psybench.data.report."""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from psybench.data import labels

PLACEHOLDERS = frozenset({
    "", "N/A", "None", "Not provided", "***",
    "No specific pre-reasoning provided.", "No specific post-reasoning provided.",
})
# The CN refusals all apologise that the "psychological counselling introduction" was not provided.
REFUSAL_PATTERN = re.compile(r"^\s*(很抱歉|对不起|抱歉).{0,40}(心理咨询相关介绍)", re.S)
# The CN guide errors are an LLM's JSON error reply, e.g. {"error": "请输入有效的input字段值"}.
ERROR_KEYS = frozenset({"message", "error"})


@dataclass
class NormalizationLog:
    """Counts of every change, keyed "kind:field" -> Counter of the original (stripped) values."""

    changes: dict[str, Counter] = field(default_factory=dict)
    unknown_labels: dict[str, Counter] = field(default_factory=dict)  # kind -> raw value -> count
    duplicate_labels: Counter = field(default_factory=Counter)  # kind -> lists with a repeated label
    off_role_annotations: Counter = field(default_factory=Counter)  # e.g. "Supporter.observation"

    def note(self, kind: str, fieldname: str, value: str) -> None:
        self.changes.setdefault(f"{kind}:{fieldname}", Counter())[value.strip()[:80]] += 1

    def summary(self) -> dict:
        return {
            "changes": {key: sum(c.values()) for key, c in sorted(self.changes.items())},
            "changed_values": {key: dict(c.most_common()) for key, c in sorted(self.changes.items())},
            "unknown_labels": {k: dict(c) for k, c in sorted(self.unknown_labels.items())},
            "duplicate_labels": dict(self.duplicate_labels),
            "off_role_annotations_ignored": dict(self.off_role_annotations),
        }


def is_refusal(text: str) -> bool:
    return bool(REFUSAL_PATTERN.match(text))


def _json_object(text: str) -> dict | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        obj = json.loads(stripped)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def is_llm_error(text: str) -> bool:
    """An LLM's JSON error reply: {"message"|"error": ...} with no "output"."""
    obj = _json_object(text)
    return obj is not None and "output" not in obj and bool(ERROR_KEYS & set(obj))


def llm_wrapped_output(text: str) -> str | None:
    """The text inside an LLM's JSON reply {"output": "...", ...}, else None."""
    obj = _json_object(text)
    if obj is not None and isinstance(obj.get("output"), str):
        return obj["output"]
    return None


def clean_text(value: str, fieldname: str, log: NormalizationLog) -> str:
    """Annotation text: placeholders -> "" (counted when not already empty)."""
    if value.strip() in PLACEHOLDERS:
        if value:
            log.note("placeholder", fieldname, value)
        return ""
    return value


def clean_session_reasoning(value: str, log: NormalizationLog) -> str:
    value = clean_text(value, "reasoning", log)
    if value and is_refusal(value):
        log.note("llm_refusal", "reasoning", value)
        return ""
    return value


def clean_guide(value: str, log: NormalizationLog) -> str:
    value = clean_text(value, "guide", log)
    if value and is_llm_error(value):
        log.note("llm_error", "guide", value)
        return ""
    wrapped = llm_wrapped_output(value) if value else None
    if wrapped is not None:
        log.note("llm_json_unwrapped", "guide", value)
        return clean_text(wrapped, "guide", log)
    return value


def clean_is_same_qa(value: int | str, log: NormalizationLog) -> int | None:
    if value == "":
        log.note("empty_to_none", "is_same_qa", "''")
        return None
    return int(value)


_MAPPERS: dict[str, Callable[[object], str | None]] = {
    "emotion": labels.canonical_emotion, "strategy": labels.canonical_strategy,
    "topic": labels.canonical_topic, "psychotherapy": labels.canonical_psychotherapy,
}


def canonical_label(kind: str, raw: str, log: NormalizationLog) -> str:
    """One label value -> canonical name; "" stays "" (no label); unknown kept as written, counted."""
    if not raw.strip():
        return ""
    name = _MAPPERS[kind](raw)
    if name is None:
        log.unknown_labels.setdefault(kind, Counter())[raw] += 1
        return raw
    if name != raw:
        log.note("label_variant", kind, raw)
    return name


def canonical_label_set(kind: str, raw: list[str], log: NormalizationLog) -> frozenset[str]:
    names = [canonical_label(kind, value, log) for value in raw]
    for _ in range(names.count("")):
        log.note("empty_label", kind, "")
    names = [n for n in names if n]
    if len(set(names)) < len(names):
        log.duplicate_labels[kind] += 1
    return frozenset(names)
