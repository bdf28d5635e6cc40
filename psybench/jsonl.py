"""Reading JSONL files line by line, with errors that name the file and the line."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psybench.errors import PredictionsError


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line; a bad line -> PredictionsError 'path:N: ...'.
    Callers check the shape of each value with their own, more specific message."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                raise PredictionsError(f"{path}:{number}: not valid JSON ({err.msg})") from None
