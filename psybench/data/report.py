"""Counts for `psybench data check`: sizes, annotation coverage, anomalies, label frequencies,
normalisations applied and splits. Definitions (each reproduces PROTOCOL.md where it gives a figure):
- consecutive same-speaker pair: adjacent turns with the same `speaker`;
- adjacent duplicate turn: adjacent turns with the same speaker and byte-identical content;
- overlapping session pair: two sessions sharing a turn content of >= MIN_SHARED_CHARS characters;
- speaker tag in content: the content holds "NAME:" or "NAME：" for a participant NAME of its session;
- stage direction: the content holds a bracketed span [...], (...) or （...）."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from psybench.data import labels
from psybench.data.loader import load
from psybench.data.splits import SPLIT_NAMES, get_split, overlapping_pairs
from psybench.errors import ConfigError

STAGE_DIRECTION = re.compile(r"\[[^\]]*\]|\([^)]*\)|（[^）]*）")
VOCABULARIES = {"emotion": labels.EMOTIONS, "strategy": labels.STRATEGIES, "topic": labels.TOPICS,
                "psychotherapy": labels.PSYCHOTHERAPIES}


def _ordered(counter: Counter, vocab: tuple[str, ...]) -> dict[str, int]:
    """Vocabulary order first (zeros included), then anything outside it."""
    out = {name: counter.get(name, 0) for name in vocab}
    out.update({k: v for k, v in sorted(counter.items()) if k not in out})
    return out


def data_report(lang: str, data_dir: Path | None = None, strict: bool = False) -> dict:
    loaded = load(lang, data_dir, strict)
    sessions = list(loaded.sessions)
    turns = [t for s in sessions for t in s.turns]
    seeker = [t for t in turns if t.speaker == "Seeker"]
    supporter = [t for t in turns if t.speaker == "Supporter"]
    adjacent = [(a, b) for s in sessions for a, b in zip(s.turns, s.turns[1:])]
    pairs = overlapping_pairs(sessions)
    emotion_sizes = Counter(len(t.emotions) for t in seeker)
    strategy_sizes = Counter(len(t.strategies) for t in supporter)

    def speaker_tag(session, turn) -> bool:  # noqa: ANN001
        names = {u.participant for u in session.turns}
        return any(f"{n}:" in turn.content or f"{n}：" in turn.content for n in names)

    splits = {}
    for name in SPLIT_NAMES:
        try:
            split = get_split(name, lang, data_dir)
        except ConfigError:
            continue  # table5/released are English only
        splits[name] = {"test": len(split.test_ids), "train": len(split.train_ids),
                        "excluded": len(split.excluded_ids), "content_hash": split.content_hash}
        if name == "table5":  # rows naming one chunk of a long session: psybench scores the whole session
            splits[name]["rows"] = len(split.rows)
            splits[name]["chunk_rows_as_whole_session"] = sum(r.get("n_chunks", 1) > 1 for r in split.rows)
    return {
        "lang": lang,
        "file": loaded.path.name,
        "sha256": loaded.sha256,
        "checksum_ok": loaded.checksum_ok,
        "sessions": len(sessions),
        "turns": len(turns),
        "seeker_turns": len(seeker),
        "supporter_turns": len(supporter),
        "supporter_turns_with_reasoning": sum(bool(t.reasoning) for t in supporter),
        "seeker_turns_with_observation": sum(bool(t.observation) for t in seeker),
        "sessions_starting_with_therapist": sum(s.turns[0].is_therapist for s in sessions),
        "consecutive_same_speaker_pairs": sum(a.speaker == b.speaker for a, b in adjacent),
        "adjacent_duplicate_turns": sum(a.speaker == b.speaker and a.content == b.content for a, b in adjacent),
        "overlapping_session_pairs": len(pairs),
        "max_shared_turns": max(pairs.values(), default=0),
        "sessions_without_topic": sum(not s.topic for s in sessions),
        "sessions_without_psychotherapy": sum(not s.psychotherapy for s in sessions),
        "seeker_turns_by_emotion_count": {str(k): v for k, v in sorted(emotion_sizes.items())},
        "seeker_turns_2_emotions": emotion_sizes.get(2, 0),
        "seeker_turns_5plus_emotions": sum(v for k, v in emotion_sizes.items() if k >= 5),
        "supporter_turns_by_strategy_count": {str(k): v for k, v in sorted(strategy_sizes.items())},
        "unknown_with_other_emotions": sum("Unknown" in t.emotions and len(t.emotions) > 1 for t in seeker),
        "labels": {
            "emotion": _ordered(Counter(e for t in seeker for e in t.emotions), labels.EMOTIONS),
            "strategy": _ordered(Counter(x for t in supporter for x in t.strategies), labels.STRATEGIES),
            "topic": _ordered(Counter(s.topic or "(none)" for s in sessions), labels.TOPICS),
            "psychotherapy": _ordered(Counter(s.psychotherapy or "(none)" for s in sessions),
                                      labels.PSYCHOTHERAPIES),
        },
        "normalisations": loaded.log.summary(),
        "content_oddities": {  # counted only: content/participant/background stay byte-exact
            "turns_with_speaker_tag": sum(speaker_tag(s, t) for s in sessions for t in s.turns),
            "turns_with_stage_direction": sum(bool(STAGE_DIRECTION.search(t.content)) for t in turns),
            "turns_with_newline": sum("\n" in t.content for t in turns),
            "turns_with_u3000": sum("\u3000" in t.content for t in turns),
            "turns_with_curly_apostrophe": sum("\u2019" in t.content for t in turns),
            "turns_with_straight_apostrophe": sum("'" in t.content for t in turns),
            "sessions_mixing_apostrophes": sum(any("'" in t.content for t in s.turns)
                                               and any("\u2019" in t.content for t in s.turns)
                                               for s in sessions),
        },
        "splits": splits,
    }
