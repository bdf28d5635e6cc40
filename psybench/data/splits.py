"""Deterministic session-level test/train splits.

- `table5`: the 81 test rows behind the paper's Table 5 (`splits/en_table5_test.json`, EN only). 4 rows
  name one chunk of a long session (the authors cut 14 long sessions by token length); psybench has no
  chunker, so such a row stands for the WHOLE session. No two rows name the same session in the release
  (81 rows, 81 sessions); if a file ever did, the session would appear once in `test_ids`, at its first
  row, and `rows` would keep every row.
- `released`: the 79 sessions of the authors' released test file (`splits/en_released_test.json`, EN only).
- `seeded` (default): our own 85/15 split for EN and ZH. Sessions are joined by union-find when they
  share a turn (identical content of at least MIN_SHARED_CHARS characters: e.g. 000618/000619 share 22)
  or belong to one `is_same_session` chain (a session with is_same_session == 1 continues the one before
  it in the file: the pieces of one long conversation, same client and case; EN 259 chains of 1-9
  sessions, ZH chains of up to 30; CN -1 = not marked). 7 of the 10 EN share-a-turn groups lie inside one
  chain, 3 span two chains, so both relations are needed. Each group goes to one side, so no test turn,
  and no other part of a test conversation, is seen in training. Groups are drawn in
  `numpy.random.default_rng(SEEDED_SPLIT_SEED).permutation` order and added to test while they fit in
  round(0.15 * N).
- `table5`/`released` keep the authors' test sets as they are; only train sessions that share a turn
  with a test session are excluded (chain-mates stay in train, as in the authors' own training set).

`test_ids` are in the split file's row order (table5, released) or sorted (seeded); `train_ids` and
`excluded_ids` are sorted. For table5/released, train sessions that share a turn with a test session are
moved to `excluded_ids` (neither side). The split files are read from DATA_DIR/splits/ when present,
else from the copies shipped with psybench (id lists derived by the psybench team, not licensed data)."""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from psybench.constants import SPLIT_FILES
from psybench.data.loader import check_lang, load_sessions, resolve_data_dir
from psybench.errors import ConfigError, DataError, MissingResourceError
from psybench.records import Session

SPLIT_NAMES = ("seeded", "table5", "released")
SEEDED_SPLIT_SEED = 0
SEEDED_TEST_FRACTION = 0.15
# Shortest content counted as a shared turn. Shorter repeats are back-channels ("Yeah.", "是的。") or
# templated questions; 60 reproduces PROTOCOL.md's figures (23 EN pairs, 000618/000619 sharing 22).
MIN_SHARED_CHARS = 60
PACKAGED_SPLITS = Path(__file__).resolve().parent / "splits"


@dataclass(frozen=True)
class Split:
    name: str
    lang: str
    test_ids: tuple[str, ...]
    train_ids: tuple[str, ...]
    excluded_ids: tuple[str, ...] = ()
    rows: tuple[dict, ...] = field(default=(), compare=False)  # table5: dialog_id, chunk, n_chunks
    content_hash: str = ""


def shared_contents(sessions: list[Session]) -> dict[str, set[str]]:
    """Content (>= MIN_SHARED_CHARS) -> ids of the sessions holding it, for contents in 2+ sessions."""
    index: dict[str, set[str]] = defaultdict(set)
    for session in sessions:
        for turn in session.turns:
            if len(turn.content) >= MIN_SHARED_CHARS:
                index[turn.content].add(session.dialog_id)
    return {content: ids for content, ids in index.items() if len(ids) > 1}


def overlapping_pairs(sessions: list[Session]) -> dict[tuple[str, str], int]:
    """(id_a, id_b) -> number of distinct shared turn contents, for every pair of sessions sharing one."""
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for ids in shared_contents(sessions).values():
        for pair in combinations(sorted(ids), 2):
            pairs[pair] += 1
    return dict(sorted(pairs.items()))


def overlap_groups(sessions: list[Session], chains: bool = False) -> list[tuple[str, ...]]:
    """Connected components (union-find) of the share-a-turn relation, plus `is_same_session` chain
    links when `chains`; sorted ids, groups ordered by their first id."""
    parent = {s.dialog_id: s.dialog_id for s in sessions}
    links = list(overlapping_pairs(sessions))
    if chains:
        links += [(prev.dialog_id, cur.dialog_id) for prev, cur in zip(sessions, sessions[1:])
                  if cur.is_same_session == 1]

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = defaultdict(list)
    for dialog_id in sorted(parent):
        groups[find(dialog_id)].append(dialog_id)
    return sorted(tuple(g) for g in groups.values())


def _hash(name: str, lang: str, test: tuple, train: tuple, excluded: tuple) -> str:
    payload = json.dumps({"name": name, "lang": lang, "test_ids": test, "train_ids": train,
                          "excluded_ids": excluded}, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _make(name: str, lang: str, test: tuple[str, ...], sessions: list[Session], rows: tuple = ()) -> Split:
    test_set = set(test)
    blocked = set()
    for group in overlap_groups(sessions):
        if test_set & set(group):
            blocked |= set(group) - test_set
    train = tuple(sorted(s.dialog_id for s in sessions if s.dialog_id not in test_set | blocked))
    excluded = tuple(sorted(blocked))
    return Split(name, lang, test, train, excluded, rows, _hash(name, lang, test, train, excluded))


def _seeded(lang: str, sessions: list[Session]) -> Split:
    groups = overlap_groups(sessions, chains=True)
    target = round(SEEDED_TEST_FRACTION * len(sessions))
    test: list[str] = []
    for g in np.random.default_rng(SEEDED_SPLIT_SEED).permutation(len(groups)):
        if len(test) + len(groups[g]) <= target:
            test.extend(groups[g])
            if len(test) == target:
                break
    return _make("seeded", lang, tuple(sorted(test)), sessions)


def _split_file(name: str, data_dir: Path | None) -> Path:
    rel = SPLIT_FILES[name]
    try:
        candidate = resolve_data_dir(data_dir) / rel
        if candidate.is_file():
            return candidate
    except MissingResourceError:  # no data dir: the shipped copy
        pass
    return PACKAGED_SPLITS / Path(rel).name


def _read_rows(name: str, path: Path, known: set[str]) -> tuple[dict, ...]:
    try:
        obj = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise DataError(f"{path.name}: cannot read split file: {err}") from None
    key = "rows" if name == "table5" else "dialog_ids"
    items = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(items, list) or not items:
        raise DataError(f"{path.name}: expected an object with a non-empty list '{key}'")
    rows = []
    for i, item in enumerate(items):
        row = item if name == "table5" else {"dialog_id": item, "line": i + 1}
        dialog_id = row.get("dialog_id") if isinstance(row, dict) else None
        if not isinstance(dialog_id, str):
            raise DataError(f"{path.name}: {key}[{i}]: expected a dialog_id string")
        if dialog_id not in known:
            raise DataError(f"{path.name}: {key}[{i}]: dialog_id {dialog_id} is not in the data")
        rows.append(dict(row))
    return tuple(rows)


def get_split(name: str, lang: str, data_dir: Path | None = None) -> Split:
    lang = check_lang(lang)
    if name not in SPLIT_NAMES:
        raise ConfigError(f"unknown split {name!r} (expected one of {', '.join(SPLIT_NAMES)})")
    if name != "seeded" and lang != "en":
        raise ConfigError(f"split {name!r} exists for English only (the authors' test set); "
                          "use split 'seeded' for Chinese")
    sessions = load_sessions(lang, data_dir)
    if name == "seeded":
        return _seeded(lang, sessions)
    rows = _read_rows(name, _split_file(name, data_dir), {s.dialog_id for s in sessions})
    test = tuple(dict.fromkeys(r["dialog_id"] for r in rows))  # first occurrence, file order
    return _make(name, lang, test, sessions, rows)
