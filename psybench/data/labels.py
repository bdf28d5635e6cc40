"""Canonical label vocabularies of Psy-Insight v7, one per label kind, built by inspecting both
release files. `canonical_*()` maps a raw value (case and surrounding space ignored, known EN/CN
spelling variants folded) to its canonical name, and returns None for anything else: unknown values
are never guessed; the loader keeps them as written and counts them (data report)."""
from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "Neutral", "Happiness", "Anxiety", "Anger", "Sadness", "Depression", "Fear", "Guilty", "Shame",
    "Others", "Unknown",
)
STRATEGIES: tuple[str, ...] = (
    "Question", "Reflection of Feelings", "Restatement or Paraphrasing", "Affirmation and Reassurance",
    "Providing Suggestions", "Information", "Self-disclosure", "Role-play", "Others", "Unknown",
)
TOPICS: tuple[str, ...] = (
    "Ongoing Depression", "Partner Relationship Issues", "Child-Parent Relationship Issues",
    "Appearance Anxiety", "Academic Pressure", "Job Crisis", "Substance Abuse", "School Bullying",
    "Friend Problems", "Sleep Problems", "Procrastination",
)  # 11 names; PROTOCOL.md's "12 topics" counts the empty value too (EN 19 sessions, CN 1 have none)
PSYCHOTHERAPIES: tuple[str, ...] = (
    "Acceptance Commitment Therapy", "Adlerian Therapy", "Client-Centered Therapy",
    "Cognitive Behavioral Therapy", "Existential Therapy", "Family Therapy", "Feminist Therapy",
    "Gestalt Therapy", "Marriage and Family Systems Therapy", "Multicultural Integration Therapy",
    "Postmodern Therapy", "Psychoanalytic Therapy", "Psychodynamic Therapy with Infants and Parents",
    "Rational Emotive Behavior Therapy", "Reality Therapy", "Solution-Focused Brief Therapy", "Unknown",
)
# Spelling variants seen in the release -> canonical name (EN writes the British form).
_PSYCHOTHERAPY_VARIANTS = {
    "cognitive behaviour therapy": "Cognitive Behavioral Therapy",
}


def _fold(vocab: tuple[str, ...], variants: dict[str, str] | None = None) -> dict[str, str]:
    table = {name.casefold(): name for name in vocab}
    table.update(variants or {})
    return table


_EMOTION_TABLE = _fold(EMOTIONS)
_STRATEGY_TABLE = _fold(STRATEGIES)
_TOPIC_TABLE = _fold(TOPICS)
_PSYCHOTHERAPY_TABLE = _fold(PSYCHOTHERAPIES, _PSYCHOTHERAPY_VARIANTS)


def _lookup(table: dict[str, str], raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    return table.get(" ".join(raw.split()).casefold())


def canonical_emotion(raw: object) -> str | None:
    return _lookup(_EMOTION_TABLE, raw)


def canonical_strategy(raw: object) -> str | None:
    return _lookup(_STRATEGY_TABLE, raw)


def canonical_topic(raw: object) -> str | None:
    return _lookup(_TOPIC_TABLE, raw)


def canonical_psychotherapy(raw: object) -> str | None:
    return _lookup(_PSYCHOTHERAPY_TABLE, raw)
