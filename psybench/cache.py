"""Content-addressed generation cache: (model identity, messages, decoding params[, sample id]) -> Output.

The sharing rule (`shares_outputs`): two samples may share one output only when the backend's output
is a function of the prompt (vllm, hf, openai; not replay, whose output belongs to a sample id) and
decoding is greedy (a sampled output belongs to its per-sample seed). Otherwise the key holds the
sample id, which names its task, so an output is only ever served back to the sample it was made for.

SQLite in WAL mode, so a killed process never leaves a half-written entry and a concurrent reader
(another run on the same model) sees only committed rows. Every put commits: an output that reached
the cache survives `kill -9`. The `engines` table keeps each model identity's backend info, so a
fully cached run can record which engine made its outputs without starting one."""
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


def shares_outputs(prompt_determined: bool, params: GenerationParams) -> bool:
    """May samples with the same model, messages and params share one output? Only greedy decoding on
    a backend whose output is a function of the prompt: replay serves by sample id, and sampling seeds
    each request from its sample id (backends.common.request_seed), so equal prompts draw differently."""
    return prompt_determined and params.temperature <= 0.0  # backends.common.is_greedy


def cache_key(fingerprint: str, messages: Sequence[dict[str, str]], params: GenerationParams,
              sample_id: str | None) -> str:
    """sha256 over a canonical JSON of what determines an output. `sample_id`: None for an output any
    sample may share (see shares_outputs), else the id of the only sample it belongs to."""
    payload = {"model": fingerprint, "messages": [dict(m) for m in messages], "params": params.as_dict()}
    if sample_id is not None:  # absent, not null, for shared outputs: keys of older caches stay valid
        payload["sample"] = sample_id
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def sample_key(fingerprint: str, sample_id: str, messages: Sequence[dict[str, str]], params: GenerationParams,
               prompt_determined: bool) -> str:
    """The cache key of one sample's request under the sharing rule."""
    shared = shares_outputs(prompt_determined, params)
    return cache_key(fingerprint, messages, params, None if shared else sample_id)


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
            self._conn.execute("CREATE TABLE IF NOT EXISTS engines (identity TEXT PRIMARY KEY, info TEXT NOT NULL)")
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

    def put_engine(self, identity: str, info: dict) -> None:
        """Record the backend info of the engine behind a model identity (the last one to run wins)."""
        value = json.dumps(info, ensure_ascii=False, default=str)
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO engines (identity, info) VALUES (?, ?)", (identity, value))
            self._conn.commit()

    def get_engine(self, identity: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT info FROM engines WHERE identity = ?", (identity,)).fetchone()
        return None if row is None else json.loads(row[0])

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
