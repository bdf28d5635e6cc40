"""Serve outputs from a predictions file (generations made elsewhere), so they go through the same
extraction and scoring. JSONL, one object per line: `id` plus the text in `prediction`, `output` or
`raw_output` (the first present wins: `raw_output` first, since a psybench predictions.jsonl also has
an already-extracted `prediction`), optional `finish_reason` (default "stop")."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from psybench.backends.base import OnOutput
from psybench.backends.options import BackendOption
from psybench.backends.fingerprint import file_sha256
from psybench.errors import PredictionsError
from psybench.jsonl import iter_jsonl
from psybench.records import GenerationParams, Output, Request

TEXT_FIELDS = ("raw_output", "output", "prediction")


class ReplayBackend:
    name = "replay"
    prompt_determined = False  # an output belongs to its sample id, whatever the prompt
    structured_output = False  # GenerationParams.json_schema is not enforced: answers are parsed as free text
    OPTIONS = (BackendOption("path", str, None, "replay: the predictions file (or --model)", cli=False),)

    def __init__(self, model: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None) -> None:
        source = path or model
        if source is None:
            raise PredictionsError("replay backend: give the predictions file (--model FILE.jsonl)")
        self.path = Path(source)
        if not self.path.is_file():
            raise PredictionsError(f"{self.path}: predictions file not found")
        self._rows = self._load()

    def _load(self) -> dict[str, tuple[str, str]]:
        rows: dict[str, tuple[str, str]] = {}
        for number, row in iter_jsonl(self.path):
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise PredictionsError(f"{self.path}:{number}: each line needs a string field 'id'")
            field = next((f for f in TEXT_FIELDS if f in row), None)
            if field is None or not isinstance(row[field], str):
                raise PredictionsError(f"{self.path}:{number}: id {row['id']!r} has no string "
                                       f"'prediction', 'output' or 'raw_output'")
            if row["id"] in rows:
                raise PredictionsError(f"{self.path}:{number}: duplicate id {row['id']!r}")
            rows[row["id"]] = (row[field], str(row.get("finish_reason") or "stop"))
        return rows

    @staticmethod
    def offline_fingerprint(model: str | os.PathLike | None = None, path: str | os.PathLike | None = None
                            ) -> str | None:
        """fingerprint() without parsing the file; None when it is missing (creating the backend says so)."""
        source = path or model
        if source is None or not Path(source).is_file():
            return None
        return "replay:sha256:" + file_sha256(Path(source))

    def fingerprint(self) -> str:
        return self.offline_fingerprint(path=self.path)

    def info(self) -> dict:
        return {"backend": self.name, "model": str(self.path), "engine": "replay", "n_predictions": len(self._rows)}

    def generate(self, requests: Sequence[Request], params: GenerationParams,
                 on_output: OnOutput | None = None) -> list[Output]:
        missing = [r.id for r in requests if r.id not in self._rows]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise PredictionsError(f"{self.path}: no prediction for id {missing[0]!r}{more}")
        outputs = []
        for request in requests:
            text, finish = self._rows[request.id]
            output = Output(request.id, text, finish)
            outputs.append(output)
            if on_output:
                on_output(output)
        return outputs

    def close(self) -> None:
        self._rows = {}
