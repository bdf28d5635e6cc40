"""Builder of the classification tasks: emotion (client turn, multi-label), strategy (therapist turn,
multi-label), psychotherapy and topic (session, one label).

Options (tasks/*.yaml): `label` (emotion | strategy | psychotherapy | topic), `context_turns` (turns of
history shown before a marked utterance), `max_chars` (budget of the dialog/transcript text, in
characters; a session transcript over budget keeps its head and tail around a "shortened" marker),
`background` (show the session background in the prompt; default true, false for psychotherapy: a
background sometimes names the therapy, which turns recognition into reading). The build report counts
`background_names_label` (from the samples' meta): items whose background names one of their own gold labels (label names
and their aliases, psybench.data.labels), whether or not the prompt shows it.

Gold labels are the loader's canonical names (psybench.data.labels). "Unknown" is never a choice nor a
gold label: an item whose labels are only "Unknown" is skipped ("unknown_only"); "Unknown" next to real
labels is dropped from the gold set. Skips are counted: no_label (no annotation), unknown_only,
noncanonical_only (only values outside the vocabulary, kept raw by the loader). The prompt is the
same in both prompt styles (the authors had no classification prompt): one user message in the
session's language, listing the allowed labels by canonical name and asking for one line
"Answer: label; label". turns="last" keeps the last turn of the speaker's role per test row
(session-level tasks ignore `turns`). Ids: f"{task}/{dialog_id}/{turn_index}", turn_index -1 for
session-level items."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psybench.data import labels as vocab
from psybench.data.splits import Split
from psybench.records import Sample, Session, Turn
from psybench.tasks import prompts
from psybench.tasks.common import BuildOptions, base_meta, test_sessions

if TYPE_CHECKING:
    from psybench.tasks.registry import TaskSpec

VOCABULARIES = {"emotion": vocab.EMOTIONS, "strategy": vocab.STRATEGIES,
                "psychotherapy": vocab.PSYCHOTHERAPIES, "topic": vocab.TOPICS}
UNKNOWN = "Unknown"
TURN_LEVEL = ("emotion", "strategy")
DEFAULT_CONTEXT_TURNS = 6
DEFAULT_MAX_CHARS = {"en": 6000, "zh": 3000}


def _gold(raw: Sequence[str], choices: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """Canonical gold labels (sorted) and the skip reason when there are none."""
    if not raw:
        return (), "no_label"
    gold = tuple(sorted(x for x in set(raw) if x in choices))
    if gold:
        return gold, None
    return (), "unknown_only" if UNKNOWN in raw else "noncanonical_only"


def _line(turn: Turn) -> str:
    return f"{turn.participant}: {turn.content}"


def _budget_tail(lines: list[str], max_chars: int) -> list[str]:
    """The last lines that fit in max_chars (at least one)."""
    out: list[str] = []
    used = 0
    for line in reversed(lines):
        if out and used + len(line) + 1 > max_chars:
            break
        out.append(line)
        used += len(line) + 1
    return out[::-1]


def _transcript(session: Session, max_chars: int) -> str:
    lines = [_line(t) for t in session.turns]
    if sum(len(x) + 1 for x in lines) <= max_chars:
        return "\n".join(lines)
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars // 2:
            break
        head.append(line)
        used += len(line) + 1
    tail = _budget_tail(lines[len(head):], max_chars - used)
    return "\n".join(head + [prompts.CLS_TRUNCATED[session.lang]] + tail)


def _prompt(session: Session, label: str, choices: tuple[str, ...], dialog: str, marked: str | None,
            background: bool = True) -> str:
    lang = session.lang
    if background:
        text = prompts.CLS_HEADER[lang].format(background=session.background)
    else:
        text = prompts.CLS_HEADER_NO_BACKGROUND[lang]
    if dialog:
        text += prompts.CLS_DIALOG[lang].format(dialog=dialog)
    if marked is not None:
        text += prompts.CLS_MARKED[lang].format(utterance=marked)
    text += prompts.CLS_QUESTION[(lang, label)] + "\n"
    text += prompts.CLS_CHOICES[lang].format(choices=prompts.LABEL_SEPARATOR.join(choices))
    fmt = prompts.CLS_FORMAT_MULTI if label in TURN_LEVEL else prompts.CLS_FORMAT_SINGLE
    return text + fmt[lang]


def build(spec: TaskSpec, sessions: Sequence[Session], split: Split, options: BuildOptions
          ) -> tuple[list[Sample], dict[str, int]]:
    label = str(options.extra.get("label", spec.name))
    if label not in VOCABULARIES:
        from psybench.errors import ConfigError
        raise ConfigError(f"{spec.path}: field 'options.label': {label!r} is not one of {', '.join(VOCABULARIES)}")
    choices = tuple(x for x in VOCABULARIES[label] if x != UNKNOWN)
    context_turns = int(options.extra.get("context_turns", DEFAULT_CONTEXT_TURNS))
    max_chars = int(options.extra.get("max_chars", DEFAULT_MAX_CHARS[options.lang]))
    show_background = bool(options.extra.get("background", True))
    samples: list[Sample] = []
    skipped: Counter[str] = Counter()

    def add(session: Session, row: dict, index: int, raw: Sequence[str], dialog: str, marked: str | None) -> None:
        gold, reason = _gold(raw, choices)
        if reason:
            skipped[reason] += 1
            return
        content = _prompt(session, label, choices, dialog, marked, show_background)
        named = set(gold) & set(vocab.labels_named_in(session.background, choices))
        meta = base_meta(session, split, row, index)
        meta.update({"background_shown": show_background, "background_names_label": bool(named),
                     "label_kind": label, "multi_label": label in TURN_LEVEL, "answer_prefix": prompts.ANSWER_PREFIX,
                     "position": index, "n_history_messages": 0, "prompt_style": options.prompt_style})
        samples.append(Sample(
            id=f"{spec.name}/{session.dialog_id}/{index}", task=spec.name, lang=session.lang,
            kind="classification", messages=({"role": "user", "content": content},),
            target=prompts.ANSWER_PREFIX + prompts.LABEL_SEPARATOR.join(gold), reference="", extract="labels",
            gold_labels=gold, choices=choices, meta=meta))

    for session, row in test_sessions(sessions, split):
        if label in TURN_LEVEL:
            want_therapist = label == "strategy"
            targets = [t for t in session.turns if t.is_therapist == want_therapist]
            if options.turns == "last":
                targets = targets[-1:]
            for turn in targets:
                before = [_line(t) for t in session.turns[max(0, turn.index - context_turns):turn.index]]
                dialog = "\n".join(_budget_tail(before, max_chars)) if before else ""
                raw = turn.strategies if want_therapist else turn.emotions
                add(session, row, turn.index, sorted(raw), dialog, _line(turn))
        else:
            raw = [session.psychotherapy if label == "psychotherapy" else session.topic]
            add(session, row, -1, [x for x in raw if x], _transcript(session, max_chars), None)
    return samples, dict(skipped)
