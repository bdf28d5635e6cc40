"""Locate, read, checksum-verify and cache the Psy-Insight v7 files."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from psybench.constants import DATA_FILES, LANGS
from psybench.data.normalize import NormalizationLog
from psybench.data.schema import build_sessions
from psybench.errors import ConfigError, DataError, MissingResourceError
from psybench.jsonl import BOM, decode_utf8, read_bytes
from psybench.paths import DATA_DIR_ENV, cache_subdir
from psybench.records import Lang, Session

HOW_TO_GET_DATA = (f"pass --data-dir DIR, set {DATA_DIR_ENV}, or run `psybench data fetch`")


def data_cache_dir() -> Path:
    """Where `psybench data fetch` puts the files."""
    return cache_subdir("data")


def _holds_data(path: Path) -> bool:
    return all((path / fname).is_file() for fname, _ in DATA_FILES.values())


def resolve_data_dir(data_dir: Path | None = None) -> Path:
    """The argument, else $PSYBENCH_DATA_DIR, else the fetch cache if it holds the files."""
    if data_dir is None and os.environ.get(DATA_DIR_ENV):
        data_dir = Path(os.environ[DATA_DIR_ENV])
    if data_dir is not None:
        data_dir = Path(data_dir).expanduser()
        if not data_dir.is_dir():
            raise MissingResourceError(f"data directory {data_dir} does not exist: {HOW_TO_GET_DATA}")
        return data_dir
    cached = data_cache_dir()
    if _holds_data(cached):
        return cached
    raise MissingResourceError(f"no Psy-Insight data found: {HOW_TO_GET_DATA}")


def check_lang(lang: str) -> Lang:
    if lang not in LANGS:
        raise ConfigError(f"unknown language {lang!r} (expected one of {', '.join(LANGS)})")
    return lang  # type: ignore[return-value]


@dataclass(frozen=True)
class Loaded:
    path: Path
    sha256: str
    expected_sha256: str
    sessions: tuple[Session, ...]
    log: NormalizationLog

    @property
    def checksum_ok(self) -> bool:
        return self.sha256 == self.expected_sha256


_CACHE: dict[tuple, Loaded] = {}  # per process: (resolved path, lang, mtime_ns, size) -> Loaded
_WARNED: set[tuple[str, str]] = set()


def load(lang: str, data_dir: Path | None = None, strict: bool = False) -> Loaded:
    """Validated, normalised sessions of one language with their checksum and normalisation log."""
    lang = check_lang(lang)
    fname, expected = DATA_FILES[lang]
    path = (resolve_data_dir(data_dir) / fname).resolve()
    if not path.is_file():
        raise MissingResourceError(f"{fname} not found in {path.parent}: {HOW_TO_GET_DATA}")
    stat = path.stat()
    key = (str(path), lang, stat.st_mtime_ns, stat.st_size)
    loaded = _CACHE.get(key)
    if loaded is None:
        blob = read_bytes(path, DataError)
        digest = hashlib.sha256(blob).hexdigest()
        body = blob.removeprefix(BOM)
        text = decode_utf8(body, fname, DataError, first_offset=len(blob) - len(body))
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise DataError(f"{fname}: not valid JSON: {err}") from None
        log = NormalizationLog()
        sessions = tuple(build_sessions(raw, fname, lang, log))
        loaded = Loaded(path, digest, expected, sessions, log)
        _CACHE[key] = loaded
    if not loaded.checksum_ok:
        message = (f"{fname}: sha256 {loaded.sha256} differs from the Psy-Insight v7 release "
                   f"({expected}); results may not be comparable")
        if strict:
            raise DataError(message + " (--strict)")
        if (str(path), loaded.sha256) not in _WARNED:
            _WARNED.add((str(path), loaded.sha256))
            print(f"psybench: warning: {message}", file=sys.stderr)
    return loaded


def load_sessions(lang: str, data_dir: Path | None = None, strict: bool = False) -> list[Session]:
    """Validated, normalised sessions in file order (cached per process; a new list each call)."""
    return list(load(lang, data_dir, strict).sessions)
