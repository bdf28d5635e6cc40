"""The reference side's BERTScore token embeddings, kept between runs: a leaderboard scores every
checkpoint against the same references, so from the second run on only the outputs are encoded.

Content-addressed (encoder name and path, layer, psybench version, the encoding scheme, the text), in one
SQLite file under the cache folder; float32 bytes stored as computed, so a hit is bit-identical to a fresh
encoding (which is batch-invariant: psybench.metrics._bertscore). Bounded: past `max_bytes` the least
recently used entries go. `--no-reference-cache` (MetricSettings.reference_cache) turns it off."""
from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from psybench.constants import REFERENCE_CACHE_MAX_BYTES

REFERENCE_CACHE_FILE = "bertscore_references.sqlite"
_SCHEMA = """CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, rows INTEGER, cols INTEGER, data BLOB,
             bytes INTEGER, used REAL)"""


def embedding_key(encoder_id: str, text: str) -> str:
    return hashlib.sha256(f"{encoder_id}\n{text}".encode("utf-8")).hexdigest()


class ReferenceEmbeddingCache:
    def __init__(self, path: Path, max_bytes: int = REFERENCE_CACHE_MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last writes, never the file
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """key -> (tokens, dim) float32 array for the keys present; marks them used."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for key, rows, cols, data in self._db.execute(
                    f"SELECT key, rows, cols, data FROM emb WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(data, dtype=np.float32).reshape(rows, cols).copy()
        if found:
            now = time.time()
            self._db.executemany("UPDATE emb SET used=? WHERE key=?", [(now, k) for k in found])
            self._db.commit()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        now = time.time()
        rows = []
        for key, array in items.items():
            data = np.ascontiguousarray(array, dtype=np.float32)
            rows.append((key, data.shape[0], data.shape[1], data.tobytes(), data.nbytes, now))
        self._db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._db.commit()
        self._evict()

    def total_bytes(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(bytes), 0) FROM emb").fetchone()[0])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def _evict(self) -> None:
        excess = self.total_bytes() - self.max_bytes
        if excess <= 0:
            return
        victims, freed = [], 0
        for key, size in self._db.execute("SELECT key, bytes FROM emb ORDER BY used ASC, key ASC"):
            victims.append((key,))
            freed += size
            if freed >= excess:
                break
        self._db.executemany("DELETE FROM emb WHERE key=?", victims)
        self._db.commit()

    def close(self) -> None:
        self._db.close()
