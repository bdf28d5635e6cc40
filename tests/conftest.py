"""Shared fixtures. Real-data tests read Psy-Insight from $PSYBENCH_DATA_DIR (CI sets it to
../shared/psy-insight); on a developer machine without the data they are skipped, in CI they fail."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _find_data_dir() -> Path | None:
    env = os.environ.get("PSYBENCH_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "psy-insight")
    for path in candidates:
        if (path / "en_data_version7.json").is_file():
            return path.resolve()
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _find_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Psy-Insight data not found: set PSYBENCH_DATA_DIR")
        pytest.skip("Psy-Insight data not found: set PSYBENCH_DATA_DIR to run real-data tests")
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep test runs from writing the user's cache, except for expensive converted models, which
    live in a shared per-user cache so the suite does not rebuild them (PSYBENCH_CACHE_DIR wins)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A scored run of 8 Chinese dialog replies (replay backend, BLEU only: fast), for the judge's tests."""
    from psybench.runner import RunConfig, run

    out = tmp_path_factory.mktemp("run") / "zh"
    run(RunConfig(model=str(REPO / "tests/replays/dialog_zh.jsonl"), backend="replay", lang="zh", limit=8,
                  metrics=("bleu",), out=out, data_dir=data_dir, use_cache=False, progress=False))
    return out
