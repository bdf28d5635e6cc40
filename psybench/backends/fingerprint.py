"""Model fingerprints: sha256 over a model folder's config and weight files. The hash of each file
is cached in the psybench cache by (path, size, mtime), so reruns don't re-read gigabytes."""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from psybench.paths import cache_subdir

_HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".gguf", ".model", ".jinja", ".txt")
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_file_hash(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    store = cache_subdir("fingerprints") / "files.json"
    with _lock:
        try:
            table = json.loads(store.read_text())
        except (OSError, ValueError):
            table = {}
        if key in table:
            return table[key]
    value = file_sha256(path)
    with _lock:
        try:
            table = json.loads(store.read_text())
        except (OSError, ValueError):
            table = {}
        table[key] = value
        tmp = store.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table))
        os.replace(tmp, store)  # atomic: concurrent writers never leave a torn file
    return value


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """sha256 over (relative name, file sha256) of the folder's config/tokenizer/weight files; a
    name that is not a local folder (a hub id) is fingerprinted by its name."""
    root = Path(folder)
    if not root.is_dir():
        return "name:" + hashlib.sha256(str(folder).encode()).hexdigest()
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in _HASHED_SUFFIXES and not path.name.startswith("."):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(_cached_file_hash(path).encode())
    return "sha256:" + digest.hexdigest()


def model_fingerprint(model: str | os.PathLike, lora: str | os.PathLike | None = None) -> str:
    """A local model's identity for the generation cache: its folder fingerprint, plus the adapter's."""
    value = folder_fingerprint(model)
    if lora:
        value += "+lora:" + folder_fingerprint(lora)
    return value
