"""What every builder shares: build options, the split's test sessions in order, sample metadata."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psybench.data.splits import Split
from psybench.errors import DataError
from psybench.records import Session


@dataclass(frozen=True)
class BuildOptions:
    """What build_samples passes to a builder besides the spec, the sessions and the split."""

    lang: str
    turns: str = "all"  # "all" | "last"
    prompt_style: str = "paper"  # "paper" | "clean"
    extra: dict[str, Any] = field(default_factory=dict)  # spec.options overridden by build_samples(**options)
    limit: int | None = None  # build_samples keeps the first `limit`; costly builders may stop there early


def test_sessions(sessions: Sequence[Session], split: Split) -> list[tuple[Session, dict[str, Any]]]:
    """(session, row meta) for each test row of the split, in split order. Row meta carries the
    table5 chunk info ({"chunk", "n_chunks"}; psybench uses the whole session), else is empty."""
    by_id = {s.dialog_id: s for s in sessions}
    rows = {}
    for row in split.rows:
        row = dict(row)
        rows.setdefault(str(row.get("dialog_id")), {k: v for k, v in row.items() if k != "dialog_id"})
    out = []
    for dialog_id in split.test_ids:
        if dialog_id not in by_id:
            raise DataError(f"split {split.name!r}: test session {dialog_id} is not in the {split.lang} data")
        out.append((by_id[dialog_id], rows.get(dialog_id, {})))
    return out


def base_meta(session: Session, split: Split, row: dict[str, Any], turn_index: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"dialog_id": session.dialog_id, "turn_index": turn_index, "topic": session.topic,
                            "psychotherapy": session.psychotherapy, "split": split.name}
    meta.update(row)
    return meta
