"""Reading the files psybench takes as input (JSONL, JSON, text), with errors that name the file and
the place. Every reader of a user-supplied file goes through here, so bytes that are not UTF-8 become
one line ("FILE:LINE: not UTF-8 text (byte 0xff at byte offset N)") instead of a UnicodeDecodeError
traceback. `error` picks the PsybenchError subclass, so each caller keeps its own exit code and kind."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psybench.errors import PredictionsError, PsybenchError

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark (Windows editors write one): skipped, not an error


def decode_utf8(data: bytes, source: str | Path, error: type[PsybenchError] = PredictionsError,
                first_line: int = 1, first_offset: int = 0) -> str:
    """`data` as text; bad bytes -> error('SOURCE:LINE: not UTF-8 text (byte 0x.. at byte offset N)').
    `first_line`/`first_offset` place a chunk (one line of a file) within its file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = first_line + data.count(b"\n", 0, err.start)
        raise error(f"{source}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x} at byte offset "
                    f"{first_offset + err.start}); save the file as UTF-8") from None


def _os_error(path: str | Path, err: OSError, error: type[PsybenchError]) -> PsybenchError:
    if isinstance(err, FileNotFoundError):
        return error(f"{path}: no such file")
    if isinstance(err, IsADirectoryError):
        return error(f"{path}: is a directory, expected a file")
    return error(f"{path}: cannot read ({err.strerror or err})")


def read_bytes(path: str | Path, error: type[PsybenchError] = PredictionsError) -> bytes:
    """The file's bytes; a missing or unreadable file -> one-line `error` naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise _os_error(path, err, error) from None


def read_text(path: str | Path, error: type[PsybenchError] = PredictionsError) -> str:
    """The whole file as UTF-8 text (a leading byte-order mark dropped)."""
    data = read_bytes(path, error)
    body = data.removeprefix(BOM)
    return decode_utf8(body, path, error, first_offset=len(data) - len(body))


def read_json(path: str | Path, error: type[PsybenchError] = PredictionsError, hint: str = "") -> Any:
    """A whole JSON file; bad bytes or bad JSON -> error('PATH:LINE: ...' + hint)."""
    text = read_text(path, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{path}:{err.lineno}: not valid JSON ({err.msg}, column {err.colno}){hint}") from None


def iter_lines(path: str | Path, error: type[PsybenchError] = PredictionsError) -> Iterator[tuple[int, str]]:
    """(line number, text) for every line, streamed; a line that is not UTF-8 -> one-line `error`
    naming the line and the byte offset in the file."""
    try:
        handle = open(path, "rb")
    except OSError as err:
        raise _os_error(path, err, error) from None
    with handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start = 0
            if number == 1 and raw.startswith(BOM):
                start = len(BOM)
            yield number, decode_utf8(raw[start:], path, error, first_line=number, first_offset=offset + start)
            offset += len(raw)


def iter_jsonl(path: str | Path, error: type[PsybenchError] = PredictionsError,
               blank_lines: bool = True) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each line; a bad line -> error('path:N: ...'). Blank lines are
    skipped, or with blank_lines=False an error (files whose line numbers must stay exact). Callers check
    the shape of each value with their own, more specific message."""
    for number, line in iter_lines(path, error):
        if not line.strip():
            if blank_lines:
                continue
            raise error(f"{path}:{number}: blank line (one JSON object per line)")
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{path}:{number}: not valid JSON ({err.msg}, column {err.colno})") from None
