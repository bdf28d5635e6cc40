"""What the judge judges: one therapist reply in its session, as the counsellor saw it (the background and
the gold history up to the turn) plus, for tasks that ask for reasoning (2, 3, mix), the model's stated
reasoning. Items come from a run's predictions (the corrected-mode extraction: the reply without its
speaker marker) or from the gold references of a split (`--references`: the paper's "Human" row)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psybench.constants import JUDGE_HISTORY_TURNS
from psybench.errors import PredictionsError
from psybench.records import Session

SKIPPED_SUBTASKS = ("reasoning_only", "observation_only")  # mix's auxiliary targets are no replies


@dataclass(frozen=True)
class JudgeItem:
    id: str  # the sample id
    task: str
    lang: str
    background: str
    history: tuple[tuple[str, str], ...]  # ("client" | "therapist", text), the last JUDGE_HISTORY_TURNS turns
    omitted: int  # earlier turns left out
    reply: str
    reasoning: str | None  # None: the task states no reasoning (Explainability not applicable)
    dialog_id: str = ""
    turn_index: int = -1


def _task_states_reasoning(task: str) -> bool:
    from psybench.tasks import get_task

    try:
        return "reasoning" in get_task(task).target
    except Exception:  # a task this psybench does not know: judge the reply only
        return False


def _states_reasoning(task: str, meta: dict[str, Any], known: dict[str, bool]) -> bool:
    """`known`: the answer per task, filled as tasks come (one spec lookup per task, not per record)."""
    if meta.get("subtask"):
        return meta["subtask"] in ("reasoning", "observation")
    if task not in known:
        known[task] = _task_states_reasoning(task)
    return known[task]


def session_history(session: Session, turn_index: int) -> tuple[tuple[tuple[str, str], ...], int]:
    turns = [("therapist" if t.is_therapist else "client", t.content) for t in session.turns[:max(turn_index, 0)]]
    kept = turns[-JUDGE_HISTORY_TURNS:]
    return tuple(kept), len(turns) - len(kept)


def _sessions(lang: str, data_dir: Path | None) -> dict[str, Session]:
    from psybench.data import load_sessions

    return {s.dialog_id: s for s in load_sessions(lang, data_dir)}


def items_from_predictions(records: Sequence[dict[str, Any]], source: Path, data_dir: Path | None,
                           limit: int | None = None) -> tuple[list[JudgeItem], dict[str, int]]:
    """Judge items of a run's predictions (file order), and the counts of records left out by reason."""
    skipped = {"classification": 0, "auxiliary": 0}
    items: list[JudgeItem] = []
    sessions: dict[str, dict[str, Session]] = {}
    states_reasoning: dict[str, bool] = {}
    for number, r in enumerate(records, 1):
        meta = r.get("meta") or {}
        if meta.get("kind") == "classification" or r.get("gold_labels"):
            skipped["classification"] += 1
            continue
        if meta.get("subtask") in SKIPPED_SUBTASKS:
            skipped["auxiliary"] += 1
            continue
        lang, dialog_id, turn = r.get("lang"), r.get("dialog_id"), r.get("turn_index")
        if lang not in ("en", "zh") or not isinstance(dialog_id, str) or not isinstance(turn, int):
            raise PredictionsError(f"{source}:{number}: needs 'lang', 'dialog_id' and 'turn_index' to show the "
                                   "judge the session")
        if lang not in sessions:
            sessions[lang] = _sessions(lang, data_dir)
        session = sessions[lang].get(dialog_id)
        if session is None:
            raise PredictionsError(f"{source}:{number}: dialog_id {dialog_id!r} is not in the {lang} data")
        history, omitted = session_history(session, turn)
        reasoning = (r.get("reasoning") or "") if _states_reasoning(str(r.get("task")), meta, states_reasoning) else None
        items.append(JudgeItem(r["id"], str(r.get("task")), lang, session.background, history, omitted,
                               str(r.get("prediction") or ""), reasoning, dialog_id, turn))
        if limit is not None and len(items) >= limit:
            break
    return items, skipped


def items_from_samples(samples: Iterable[Any], data_dir: Path | None, limit: int | None = None) -> list[JudgeItem]:
    """The gold replies of built samples (the "Human" row): the reference without its speaker marker."""
    from psybench.metrics.tokenize import strip_speaker

    records, sessions = [], {}
    for s in samples:
        if s.kind != "generation" or s.meta.get("subtask") in SKIPPED_SUBTASKS:
            continue
        if s.lang not in sessions:
            sessions[s.lang] = _sessions(s.lang, data_dir)
        turn = s.meta.get("turn_index")
        session = sessions[s.lang].get(s.meta.get("dialog_id"))
        reasoning = session.turns[turn].reasoning if session is not None and isinstance(turn, int) else ""
        records.append({"id": s.id, "task": s.task, "lang": s.lang, "dialog_id": s.meta.get("dialog_id"),
                        "turn_index": turn, "prediction": strip_speaker(s.reference), "reasoning": reasoning,
                        "meta": {"kind": s.kind, **({"subtask": s.meta["subtask"]} if "subtask" in s.meta else {})}})
    items, _ = items_from_predictions(records, Path("<references>"), data_dir, limit)
    return items
