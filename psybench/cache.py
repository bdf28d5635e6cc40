"""Content-addressed generation cache: (model fingerprint, messages, decoding params) -> Output.

SQLite in WAL mode, so a killed process never leaves a half-written entry and a concurrent reader
(another run on the same model) sees only committed rows. Every put commits: an output that reached
the cache survives `kill -9`."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from psybench.errors import MissingResourceError
from psybench.paths import cache_subdir
from psybench.records import GenerationParams, Output

CACHE_FILE = "generations.sqlite"
_VALUE_FIELDS = ("text", "finish_reason", "prompt_tokens", "completion_tokens", "history_turns_cut")


def default_cache_path() -> Path:
    return cache_subdir("generations") / CACHE_FILE


def cache_key(fingerprint: str, messages: Sequence[dict[str, str]], params: GenerationParams) -> str:
    """sha256 over a canonical JSON of what determines an output (the sample id is NOT part of it)."""
    payload = {"model": fingerprint, "messages": [dict(m) for m in messages], "params": params.as_dict()}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class GenerationCache:
    """Thread-safe (the openai backend calls back from worker threads) key -> Output store."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
            self._conn.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._conn.commit()
        except sqlite3.Error as err:
            raise MissingResourceError(f"{self.path}: cannot open the generation cache ({err}); "
                                       "pass --cache PATH to use another file") from err
        self._lock = threading.Lock()

    def get(self, key: str, sample_id: str) -> Output | None:
        """The cached Output for `key`, relabelled with `sample_id` and marked cached."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM generations WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return Output(id=sample_id, cached=True, **{k: value.get(k) for k in _VALUE_FIELDS if k in value})

    def get_many(self, items: Iterable[tuple[str, str]]) -> dict[str, Output]:
        """{sample_id: Output} for the (key, sample_id) pairs found in the cache."""
        found = {}
        for key, sample_id in items:
            out = self.get(key, sample_id)
            if out is not None:
                found[sample_id] = out
        return found

    def put(self, key: str, output: Output) -> None:
        value = json.dumps({k: getattr(output, k) for k in _VALUE_FIELDS}, ensure_ascii=False)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO generations (key, value) VALUES (?, ?)", (key, value))
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
