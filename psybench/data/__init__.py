"""Psy-Insight data: locate and verify the files, validate and normalise them into typed records
(Session/Turn), deterministic splits and a data report. See normalize.py for every change made."""
from psybench.data.loader import load_sessions, resolve_data_dir
from psybench.data.splits import Split, get_split

__all__ = ["Split", "data_report", "get_split", "load_sessions", "resolve_data_dir"]


def data_report(lang: str, data_dir=None, strict: bool = False) -> dict:  # noqa: ANN001
    from psybench.data.report import data_report as _report

    return _report(lang, data_dir, strict)
