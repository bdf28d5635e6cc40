"""The psybench exception family. The CLI turns any PsybenchError into one line on stderr and a
non-zero exit, with no traceback: these are errors in the user's input or environment, not bugs."""
from __future__ import annotations


class PsybenchError(Exception):
    """Base class. `str(err)` is the one line shown to the user: say what, where, and how to fix."""

    exit_code: int = 2


class DataError(PsybenchError):
    """Malformed Psy-Insight data: name the file, the session dialog_id (or index) and the field."""


class ConfigError(PsybenchError):
    """A bad flag, task file or combination (e.g. task 2 in Chinese)."""


class PredictionsError(PsybenchError):
    """A bad predictions/run file: name the file and the line number."""


class RatingsError(PsybenchError):
    """A bad human-ratings file (judge calibration): name the file and the line number."""


class MissingResourceError(PsybenchError):
    """A model, WordNet, data file or package that cannot be found: say how to get it."""


class BackendError(PsybenchError):
    """A generation backend failed (server errors after retries, engine start-up failure)."""

    exit_code = 3
