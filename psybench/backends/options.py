"""Backend options, declared once per backend class (`OPTIONS`): name, type, default, help. The
`psybench run` flags, the check that refuses an option a backend does not take, and `--help` derive
from these declarations; RunConfig records the CLI-exposed ones under the same names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BackendOption:
    name: str  # the constructor's keyword and RunConfig's field
    type: type  # int, float, str or bool
    default: Any
    help: str
    cli: bool = True  # a `psybench run` flag (False: programmatic use only, e.g. tests and benches)
    multiple: bool = False  # the flag may be repeated: RunConfig holds a tuple of the values

    @property
    def flag(self) -> str:
        if self.type is bool and self.default is True:
            return "--no-" + self.name.replace("_", "-")  # on by default: the flag turns it off
        return "--" + self.name.replace("_", "-")


def describe(options: tuple[BackendOption, ...]) -> str:
    """'--dtype (str), ...' for the flags; the Python-only ones by keyword."""
    flags = ", ".join(f"{o.flag} ({o.type.__name__})" for o in options if o.cli) or "no flags"
    python = [o.name for o in options if not o.cli]
    return flags + (f"; from Python also {', '.join(python)}" if python else "")
