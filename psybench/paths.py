"""Where psybench keeps things on disk. One place, so every module agrees."""
from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "PSYBENCH_DATA_DIR"
CACHE_DIR_ENV = "PSYBENCH_CACHE_DIR"


def cache_dir() -> Path:
    """User cache root (converted models, NLTK data, generation cache, downloaded data, indexes)."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        root = Path(env)
    else:
        from platformdirs import user_cache_dir

        root = Path(user_cache_dir("psybench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_subdir(name: str) -> Path:
    path = cache_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The source checkout (holds tasks/ and leaderboards/) when psybench runs from one."""
    return Path(__file__).resolve().parent.parent
