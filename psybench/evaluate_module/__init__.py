"""psybench's generation metrics as a Hugging Face `evaluate` module, loaded from a local path (no hub):

    import evaluate, psybench
    metric = evaluate.load(psybench.evaluate_module_path())
    metric.compute(predictions=[...], references=[...], lang="en", mode="corrected")

`evaluate` (and `datasets`) are needed only to load it: `pip install 'psybench[evaluate]'`."""
from __future__ import annotations

from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent / "psybench_generation"


def evaluate_module_path() -> str:
    """The folder `evaluate.load()` accepts (it holds psybench_generation.py)."""
    return str(MODULE_DIR)
