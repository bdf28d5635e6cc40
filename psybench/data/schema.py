"""Validate raw Psy-Insight JSON against the v7 schema (PROTOCOL.md) and build typed records.

Every problem raises DataError with one line: file, session dialog_id (or index) and field, e.g.
`en_data_version7.json: session 000432 (index 0): dialog[3].speaker: unknown speaker 'Doctor'
(expected Seeker or Supporter)`. Normalisation of annotation fields happens in normalize.py."""
from __future__ import annotations

from typing import Any

from psybench.data import normalize as nz
from psybench.errors import DataError
from psybench.records import Lang, Session, Turn

SESSION_TEXT_KEYS = ("theme", "psychotherapy", "topic", "stage", "guide", "background", "reasoning", "summary")
SESSION_KEYS = ("dialog_id", *SESSION_TEXT_KEYS, "is_same_qa", "is_same_session", "dialog")
TURN_KEYS = ("speaker", "participant", "content", "id")
SPEAKERS = ("Seeker", "Supporter")
LABEL_KEY = {"Seeker": "emotional label", "Supporter": "strategy"}
LABEL_KIND = {"Seeker": "emotion", "Supporter": "strategy"}
OWN_NOTE = {"Seeker": "observation", "Supporter": "reasoning"}  # the annotation a turn's role carries


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Where:
    """Builds the one-line location prefix of an error."""

    def __init__(self, fname: str, index: int, dialog_id: str | None) -> None:
        self.prefix = f"{fname}: session {dialog_id} (index {index})" if dialog_id else f"{fname}: session at index {index}"

    def error(self, fieldname: str, problem: str) -> DataError:
        return DataError(f"{self.prefix}: {fieldname}: {problem}")


def _expect_str(where: _Where, fieldname: str, value: Any) -> str:
    if not isinstance(value, str):
        raise where.error(fieldname, f"expected a string, got {_type_name(value)}")
    return value


def _expect_label_list(where: _Where, fieldname: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(fieldname, f"expected a list of strings, got {_type_name(value)}"
                          + (f" {value!r}"[:60] if isinstance(value, list) else ""))
    return value


def build_sessions(raw: Any, fname: str, lang: Lang, log: nz.NormalizationLog) -> list[Session]:
    if not isinstance(raw, list):
        raise DataError(f"{fname}: top level: expected a JSON list of sessions, got {_type_name(raw)}")
    if not raw:
        raise DataError(f"{fname}: top level: the list of sessions is empty")
    seen: dict[str, int] = {}
    sessions = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise DataError(f"{fname}: session at index {index}: expected an object, got {_type_name(item)}")
        dialog_id = item.get("dialog_id")
        where = _Where(fname, index, dialog_id if isinstance(dialog_id, str) and dialog_id else None)
        for key in SESSION_KEYS:
            if key not in item:
                raise where.error(key, "missing key")
        _expect_str(where, "dialog_id", dialog_id)
        if not (len(dialog_id) == 6 and dialog_id.isdigit()):
            raise where.error("dialog_id", f"expected a 6-digit string, got {dialog_id!r}")
        if dialog_id in seen:
            raise where.error("dialog_id", f"duplicate dialog_id (first at index {seen[dialog_id]})")
        seen[dialog_id] = index
        sessions.append(_build_session(item, where, dialog_id, lang, log))
    return sessions


def _build_session(item: dict, where: _Where, dialog_id: str, lang: Lang, log: nz.NormalizationLog) -> Session:
    text = {key: _expect_str(where, key, item[key]) for key in SESSION_TEXT_KEYS}
    same_qa = item["is_same_qa"]
    if same_qa not in ("", 0, 1) or isinstance(same_qa, bool):
        raise where.error("is_same_qa", f"expected 0, 1 or '', got {same_qa!r}")
    same_session = item["is_same_session"]
    if same_session not in (-1, 0, 1) or isinstance(same_session, bool):
        raise where.error("is_same_session", f"expected -1, 0 or 1, got {same_session!r}")
    dialog = item["dialog"]
    if not isinstance(dialog, list):
        raise where.error("dialog", f"expected a list of turns, got {_type_name(dialog)}")
    if not dialog:
        raise where.error("dialog", "empty dialog")
    turns = tuple(_build_turn(t, where, i, log) for i, t in enumerate(dialog))
    return Session(
        dialog_id=dialog_id, lang=lang,
        theme=nz.clean_text(text["theme"], "theme", log),
        psychotherapy=nz.canonical_label("psychotherapy", text["psychotherapy"], log),
        topic=nz.canonical_label("topic", text["topic"], log),
        stage=nz.clean_text(text["stage"], "stage", log),
        guide=nz.clean_guide(text["guide"], log),
        is_same_qa=nz.clean_is_same_qa(same_qa, log),
        is_same_session=same_session,
        background=text["background"],  # byte-exact
        reasoning=nz.clean_session_reasoning(text["reasoning"], log),
        summary=nz.clean_text(text["summary"], "summary", log),
        turns=turns,
    )


def _build_turn(raw: Any, where: _Where, index: int, log: nz.NormalizationLog) -> Turn:
    at = f"dialog[{index}]"
    if not isinstance(raw, dict):
        raise where.error(at, f"expected an object, got {_type_name(raw)}")
    for key in TURN_KEYS:
        if key not in raw:
            raise where.error(f"{at}.{key}", "missing key")
        _expect_str(where, f"{at}.{key}", raw[key])
    speaker = raw["speaker"]
    if speaker not in SPEAKERS:
        raise where.error(f"{at}.speaker", f"unknown speaker {speaker!r} (expected Seeker or Supporter)")
    label_key = LABEL_KEY[speaker]
    if label_key not in raw:
        raise where.error(f"{at}.{label_key}", f"missing key (required on {speaker} turns)")
    raw_labels = _expect_label_list(where, f"{at}.{label_key}", raw[label_key])
    notes = {}
    for key in ("observation", "reasoning"):
        value = raw.get(key)
        if value is None:
            notes[key] = ""
            continue
        _expect_str(where, f"{at}.{key}", value)
        if key != OWN_NOTE[speaker]:
            if value.strip():
                log.off_role_annotations[f"{speaker}.{key}"] += 1
            continue
        notes[key] = nz.clean_text(value, f"turn.{key}", log)
    labels = nz.canonical_label_set(LABEL_KIND[speaker], raw_labels, log)
    return Turn(
        index=index, speaker=speaker, participant=raw["participant"], content=raw["content"],
        raw_id=raw["id"],
        strategies=labels if speaker == "Supporter" else frozenset(),
        emotions=labels if speaker == "Seeker" else frozenset(),
        observation=notes.get("observation", "") if speaker == "Seeker" else "",
        reasoning=notes.get("reasoning", "") if speaker == "Supporter" else "",
    )
