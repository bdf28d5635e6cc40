"""Rules of the code base that a test can hold: test doubles enter through registries, the CLI does not
hide a command that fails to import, layers do not reach into each other's private modules."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sources(folder: str) -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for p in (REPO / folder).rglob("*.py")}


def test_no_test_writes_into_sys_modules() -> None:
    pattern = re.compile(r"sys\.modules\s*\[[^\]]*\]\s*=|setitem\(\s*sys\.modules|sys\.modules\.(update|setdefault)\(")
    assert [path for path, text in _sources("tests").items() if pattern.search(text)] == []


def test_report_does_not_import_the_runner() -> None:
    offenders = [p for p, text in _sources("psybench/report").items() if re.search(r"psybench\.runner|import runner", text)]
    assert offenders == []


def test_every_command_module_imports(tmp_path) -> None:
    from psybench.cli import COMMAND_MODULES, build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert list(commands) == list(COMMAND_MODULES)
